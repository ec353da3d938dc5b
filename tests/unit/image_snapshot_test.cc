// Layer snapshots: chain IDs, unpack-then-rename, concurrent unpacks, removal. The unpack
// callbacks here write plain files; the real unpacker has its own root tests.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "base/file.h"
#include "image/snapshot.h"

namespace skiff::image {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

TEST(ChainIds, AsTheImageSpecSays) {
  auto ids = ChainIds({kA, kB, kC});
  ASSERT_TRUE(ids.ok()) << ids.error().Message();
  ASSERT_EQ(ids->size(), 3u);
  EXPECT_EQ((*ids)[0], kA);  // the bottom layer's chain ID is its diff_id
  // sha256("sha256:aaa... sha256:bbb..."), computed with python's hashlib.
  EXPECT_EQ((*ids)[1], "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c");
  EXPECT_EQ((*ids)[2], "sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588");
  EXPECT_TRUE(ChainIds({})->empty());
}

TEST(ChainIds, RefusesWhatIsNoDigest) {
  EXPECT_FALSE(ChainIds({kA, "sha256:../../etc"}).ok());
  EXPECT_FALSE(ChainIds({"md5:abc"}).ok());
  EXPECT_FALSE(ChainIds({"sha256:" + std::string(64, 'A')}).ok());
}

class LayerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-layers-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = LayerStore::Open(dir_ + "/layers");
    ASSERT_TRUE(s.ok()) << s.error().Message();
    store_.emplace(std::move(*s));
  }
  void TearDown() override { (void)RemoveAll(dir_); }
  static Status WriteHello(int dirfd) {
    int fd = ::openat(dirfd, "hello", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("create hello");
    ::close(fd);
    return Ok();
  }
  std::vector<std::string> Names() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_ + "/layers"))
      out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string dir_;
  std::optional<LayerStore> store_;
};

TEST_F(LayerStoreTest, EnsureUnpacksOnceAndRenamesIntoPlace) {
  int calls = 0;
  auto unpack = [&](int fd) {
    ++calls;
    return WriteHello(fd);
  };
  auto p = store_->Ensure(kA, unpack);
  ASSERT_TRUE(p.ok()) << p.error().Message();
  EXPECT_EQ(*p, dir_ + "/layers/" + std::string(64, 'a'));
  EXPECT_TRUE(PathExists(*p + "/hello"));
  struct stat st;
  ASSERT_EQ(::stat(p->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_TRUE(store_->Has(kA));
  auto again = store_->Ensure(kA, unpack);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Names(), (std::vector<std::string>{".locks", std::string(64, 'a')}));
}

TEST_F(LayerStoreTest, FailedUnpackLeavesNothing) {
  auto p = store_->Ensure(kA, [](int fd) -> Status {
    TRY(WriteHello(fd));
    return MakeError(0, "entry \"../x\": path escapes the layer root");
  });
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().msg, "layer " + kA + ": entry \"../x\": path escapes the layer root");
  EXPECT_FALSE(store_->Has(kA));
  EXPECT_EQ(Names(), (std::vector<std::string>{".locks"}));
}

TEST_F(LayerStoreTest, StaleTempDirsAreCleaned) {
  std::string stale = dir_ + "/layers/.tmp-" + std::string(64, 'a') + "-crash1";
  ASSERT_TRUE(MkdirAll(stale + "/half/written").ok());
  std::string other = dir_ + "/layers/.tmp-" + std::string(64, 'b') + "-crash2";
  ASSERT_TRUE(MkdirAll(other).ok());
  ASSERT_TRUE(store_->Ensure(kA, WriteHello).ok());
  EXPECT_FALSE(PathExists(stale));
  EXPECT_TRUE(PathExists(other));  // another layer's: cleaned by its own Ensure or GC
  auto removed = store_->RemoveUnused({kA});
  ASSERT_TRUE(removed.ok()) << removed.error().Message();
  EXPECT_TRUE(removed->empty());
  EXPECT_FALSE(PathExists(other));
  EXPECT_TRUE(store_->Has(kA));
}

TEST_F(LayerStoreTest, ConcurrentEnsureUnpacksOnce) {
  // Four processes race for one layer; the callback counts its runs in a file and sleeps so
  // that the others arrive while it works.
  std::string count = dir_ + "/count";
  std::vector<pid_t> pids;
  for (int i = 0; i < 4; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto p = store_->Ensure(kB, [&](int fd) -> Status {
        int c = ::open(count.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (c < 0 || ::write(c, "x", 1) != 1) return Errno("count");
        ::close(c);
        ::usleep(200 * 1000);
        return WriteHello(fd);
      });
      _exit(p.ok() && PathExists(*p + "/hello") ? 0 : 1);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(ReadFile(count).value(), "x");
}

TEST_F(LayerStoreTest, LowerDirsTopFirst) {
  auto ids = ChainIds({kA, kB});
  ASSERT_TRUE(ids.ok());
  EXPECT_FALSE(store_->LowerDirs(*ids).ok());  // not unpacked yet
  for (const auto& id : *ids) ASSERT_TRUE(store_->Ensure(id, WriteHello).ok());
  auto lower = store_->LowerDirs(*ids);
  ASSERT_TRUE(lower.ok()) << lower.error().Message();
  EXPECT_EQ(*lower, (std::vector<std::string>{store_->Path((*ids)[1]), store_->Path(kA)}));
}

TEST_F(LayerStoreTest, RemoveUnusedKeepsWhatIsInUse) {
  ASSERT_TRUE(store_->Ensure(kA, WriteHello).ok());
  ASSERT_TRUE(store_->Ensure(kB, WriteHello).ok());
  ASSERT_TRUE(store_->Ensure(kC, WriteHello).ok());
  auto removed = store_->RemoveUnused({kB});
  ASSERT_TRUE(removed.ok()) << removed.error().Message();
  std::sort(removed->begin(), removed->end());
  EXPECT_EQ(*removed, (std::vector<std::string>{kA, kC}));
  EXPECT_FALSE(store_->Has(kA));
  EXPECT_TRUE(store_->Has(kB));
  EXPECT_FALSE(store_->Has(kC));
  // A removed layer can come back.
  ASSERT_TRUE(store_->Ensure(kA, WriteHello).ok());
  EXPECT_TRUE(store_->Has(kA));
}

// ext4 spreads the layers over block groups (see HintUnrelatedSubdirs): the layers dir is
// marked as a top of unrelated hierarchies, as chattr +T would.
TEST_F(LayerStoreTest, LayersDirIsATopDirOnExt4) {
  struct statfs fs {};
  ASSERT_EQ(::statfs(dir_.c_str(), &fs), 0);
  if (fs.f_type != EXT4_SUPER_MAGIC) GTEST_SKIP() << "not on ext4";
  int fd = ::open((dir_ + "/layers").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  int flags = 0;
  EXPECT_EQ(::ioctl(fd, FS_IOC_GETFLAGS, &flags), 0);
  ::close(fd);
  EXPECT_TRUE(flags & FS_TOPDIR_FL) << std::hex << flags;
}

TEST_F(LayerStoreTest, RefusesBadChainIds) {
  EXPECT_FALSE(store_->Ensure("sha256:../../x", WriteHello).ok());
  EXPECT_FALSE(store_->Ensure("", WriteHello).ok());
  EXPECT_FALSE(store_->Has("sha256:.."));
}

}  // namespace
}  // namespace skiff::image
