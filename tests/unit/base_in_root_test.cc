// base/in_root: MkdirAllInRoot makes what is missing inside the root, and a link planted on
// the way (to "/" or up past the root) resolves inside it, as the runtime's mount targets
// and a stopped container's cp rely on.
#include "base/in_root.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "base/file.h"

namespace skiff {
namespace {

class BaseInRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-inroot-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    root_ = top_ + "/root";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    rootfd_.reset(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(rootfd_);
  }
  void TearDown() override { (void)RemoveAll(top_); }
  bool IsDir(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
  std::string top_, root_;
  UniqueFd rootfd_;
};

TEST_F(BaseInRoot, MakesDirectoriesAndALastFile) {
  auto d = MkdirAllInRoot(rootfd_.get(), "/a/b/c", false);
  ASSERT_TRUE(d.ok()) << d.error().msg;
  EXPECT_TRUE(IsDir(root_ + "/a/b/c"));
  auto f = MkdirAllInRoot(rootfd_.get(), "/a/etc/hosts", true);
  ASSERT_TRUE(f.ok()) << f.error().msg;
  struct stat st;
  ASSERT_EQ(::stat((root_ + "/a/etc/hosts").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(BaseInRoot, PlantedLinksResolveInsideTheRoot) {
  ASSERT_EQ(::symlink("/", (root_ + "/esc").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../..", (root_ + "/up").c_str()), 0);
  ASSERT_EQ(::symlink("../outside", (root_ + "/side").c_str()), 0);
  ASSERT_EQ(::mkdir((root_ + "/outside").c_str(), 0755), 0);
  for (const char* p : {"/esc/x1", "/up/x2", "/up/../../x3"}) {
    auto r = MkdirAllInRoot(rootfd_.get(), p, false);
    EXPECT_TRUE(r.ok()) << p << ": " << r.error().msg;
  }
  EXPECT_TRUE(IsDir(root_ + "/x1"));
  EXPECT_TRUE(IsDir(root_ + "/x2"));
  EXPECT_TRUE(IsDir(root_ + "/x3"));
  EXPECT_FALSE(IsDir(top_ + "/x2"));
  EXPECT_FALSE(IsDir(top_ + "/x3"));
  // "../outside" from the root's top is the root's own /outside, not top_/outside.
  ASSERT_TRUE(MkdirAllInRoot(rootfd_.get(), "/side/in", false).ok());
  EXPECT_TRUE(IsDir(root_ + "/outside/in"));
  EXPECT_FALSE(IsDir(top_ + "/outside"));
}

// The fd is the target's, whether it existed, only its last component was missing (the
// lookup from the deepest existing parent) or a whole branch was made.
TEST_F(BaseInRoot, ReturnsTheTargetsFdWhateverWasMissing) {
  ASSERT_EQ(::mkdir((root_ + "/sys").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root_ + "/sys/fs").c_str(), 0755), 0);
  auto same = [&](const UniqueFd& fd, const std::string& p) {
    struct stat a, b;
    return ::fstat(fd.get(), &a) == 0 && ::stat(p.c_str(), &b) == 0 && a.st_ino == b.st_ino &&
           a.st_dev == b.st_dev;
  };
  for (const char* p : {"/sys/fs", "/sys/fs/cgroup", "/sys/fs/cgroup/a/b", "/sys/fs/cgroup"}) {
    auto r = MkdirAllInRoot(rootfd_.get(), p, false);
    ASSERT_TRUE(r.ok()) << p << ": " << r.error().msg;
    EXPECT_TRUE(same(*r, root_ + p)) << p;
  }
  // A dangling link on the way is an error, not a directory made where it points.
  ASSERT_EQ(::symlink("/nowhere", (root_ + "/sys/dangling").c_str()), 0);
  auto r = MkdirAllInRoot(rootfd_.get(), "/sys/dangling/x", false);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(IsDir(root_ + "/nowhere"));
}

}  // namespace
}  // namespace skiff
