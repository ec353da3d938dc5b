#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fd.h"
#include "base/file.h"
#include "engine/users.h"

namespace skiff::engine {
namespace {

const char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "\n"
    "  app:x:1000:1000:App:/home/app:/bin/sh  \n"
    "broken:x:notanumber:1::/:\n"
    "dup:x:1001:1001::/first:/bin/sh\n"
    "dup:x:1002:1002::/second:/bin/sh\n";
const char kGroup[] =
    "root:x:0:\n"
    "wheel:x:10:root,app\n"
    "staff:x:50:app\n"
    "app:x:1000:\n"
    "audio:x:29:\n";

Result<ResolvedUser> Resolve(const char* spec) {
  return ResolveUserFromText(spec, std::string(kPasswd), std::string(kGroup));
}

std::string Err(const Result<ResolvedUser>& r) { return r.ok() ? "" : r.error().Message(); }

TEST(EngineUsers, DefaultIsRootWithItsGroups) {
  auto u = Resolve("");
  ASSERT_TRUE(u.ok()) << Err(u);
  EXPECT_EQ(u->uid, 0u);
  EXPECT_EQ(u->gid, 0u);
  EXPECT_EQ(u->home, "/root");
  EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{10}));
}

TEST(EngineUsers, ByNameAndUid) {
  auto u = Resolve("app");
  ASSERT_TRUE(u.ok()) << Err(u);
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1000u);
  EXPECT_EQ(u->home, "/home/app");
  EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{10, 50}));

  u = Resolve("1000");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{10, 50}));

  u = Resolve("dup");  // the first entry wins
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 1001u);
  EXPECT_EQ(u->home, "/first");
}

TEST(EngineUsers, NumericWithoutEntry) {
  auto u = Resolve("4242");
  ASSERT_TRUE(u.ok()) << Err(u);
  EXPECT_EQ(u->uid, 4242u);
  EXPECT_EQ(u->gid, 0u);
  EXPECT_EQ(u->home, "/");
  EXPECT_TRUE(u->additional_gids.empty());

  u = Resolve("4242:4343");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->gid, 4343u);
  EXPECT_FALSE(Resolve("4294967296").ok());
}

TEST(EngineUsers, ExplicitGroupHasNoSupplementaryGroups) {
  auto u = Resolve("app:audio");
  ASSERT_TRUE(u.ok()) << Err(u);
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 29u);
  EXPECT_TRUE(u->additional_gids.empty());
  u = Resolve("app:50");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->gid, 50u);
  u = Resolve("daemon:777");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->gid, 777u);
}

TEST(EngineUsers, UnknownNamesUseDockersText) {
  EXPECT_EQ(Err(Resolve("nobody")),
            "unable to find user nobody: no matching entries in passwd file");
  EXPECT_EQ(Err(Resolve("broken")),
            "unable to find user broken: no matching entries in passwd file");
  EXPECT_EQ(Err(Resolve("app:nogroup")),
            "unable to find group nogroup: no matching entries in group file");
}

TEST(EngineUsers, MissingFiles) {
  auto u = ResolveUserFromText("", std::nullopt, std::nullopt);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 0u);
  EXPECT_EQ(u->home, "/");
  u = ResolveUserFromText("12:34", std::nullopt, std::nullopt);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 12u);
  EXPECT_EQ(u->gid, 34u);
  EXPECT_EQ(Err(ResolveUserFromText("app", std::nullopt, std::nullopt)),
            "unable to find user app: no matching entries in passwd file");
}

class EngineUsersRootfs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-users-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/rootfs";
    ASSERT_TRUE(MkdirAll(root_ + "/etc").ok());
    // What the host would have, outside the rootfs.
    ASSERT_TRUE(MkdirAll(dir_ + "/host/etc").ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/host/etc/passwd", "evil:x:0:0::/evil:/bin/sh\n").ok());
  }
  void TearDown() override { (void)RemoveAll(dir_); }
  UniqueFd RootFd() { return UniqueFd(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)); }
  std::string dir_, root_;
};

TEST_F(EngineUsersRootfs, ReadsTheRootfsFiles) {
  ASSERT_TRUE(WriteFileAtomic(root_ + "/etc/passwd", kPasswd).ok());
  ASSERT_TRUE(WriteFileAtomic(root_ + "/etc/group", kGroup).ok());
  UniqueFd fd = RootFd();
  auto u = ResolveUser(fd.get(), "app");
  ASSERT_TRUE(u.ok()) << Err(u);
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{10, 50}));
}

TEST_F(EngineUsersRootfs, SymlinkInsideTheRootIsFollowedThere) {
  ASSERT_TRUE(WriteFileAtomic(root_ + "/etc/passwd.real", kPasswd).ok());
  ASSERT_EQ(::symlink("/etc/passwd.real", (root_ + "/etc/passwd").c_str()), 0);
  UniqueFd fd = RootFd();
  auto u = ResolveUser(fd.get(), "app");
  ASSERT_TRUE(u.ok()) << Err(u);
  EXPECT_EQ(u->uid, 1000u);
}

TEST_F(EngineUsersRootfs, SymlinkOutOfTheRootStaysInside) {
  // Relative and absolute escapes both resolve inside the rootfs, where host/etc/passwd
  // does not exist: the host's "evil" user must stay unknown.
  for (const char* target :
       {"../../host/etc/passwd", "/etc/../../host/etc/passwd", "/../../../../host/etc/passwd"}) {
    ::unlink((root_ + "/etc/passwd").c_str());
    ASSERT_EQ(::symlink(target, (root_ + "/etc/passwd").c_str()), 0);
    UniqueFd fd = RootFd();
    auto text = ReadFileInRoot(fd.get(), "/etc/passwd");
    ASSERT_TRUE(text.ok()) << text.error().Message();
    EXPECT_FALSE(text->has_value()) << target;
    EXPECT_EQ(Err(ResolveUser(fd.get(), "evil")),
              "unable to find user evil: no matching entries in passwd file")
        << target;
  }
  // And when the rootfs has its own host/etc/passwd, that one is read.
  ASSERT_TRUE(MkdirAll(root_ + "/host/etc").ok());
  ASSERT_TRUE(WriteFileAtomic(root_ + "/host/etc/passwd", "inner:x:7:7::/in:/bin/sh\n").ok());
  UniqueFd fd = RootFd();
  auto u = ResolveUser(fd.get(), "inner");
  ASSERT_TRUE(u.ok()) << Err(u);
  EXPECT_EQ(u->uid, 7u);
}

TEST_F(EngineUsersRootfs, RefusesAFifo) {
  ASSERT_EQ(::mkfifo((root_ + "/etc/passwd").c_str(), 0644), 0);
  UniqueFd fd = RootFd();
  auto u = ResolveUser(fd.get(), "app");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().Message().find("not a regular file"), std::string::npos);
}

TEST_F(EngineUsersRootfs, NoEtcAtAll) {
  ASSERT_TRUE(RemoveAll(root_ + "/etc").ok());
  UniqueFd fd = RootFd();
  auto u = ResolveUser(fd.get(), "123");
  ASSERT_TRUE(u.ok()) << Err(u);
  EXPECT_EQ(u->uid, 123u);
}

}  // namespace
}  // namespace skiff::engine
