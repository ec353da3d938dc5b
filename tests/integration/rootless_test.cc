// Rootless: skiff-runtime run by an unprivileged user (skiff-itest, made here if missing and removed after)
// with a spec from `spec --rootless`: root inside is that user outside, the state goes to
// a directory of the user's own, and limits that need cgroups are refused, not dropped.
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "bundle.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

constexpr const char* kUser = "skiff-itest";

uid_t g_uid = 0;
gid_t g_gid = 0;

int ChownEntry(const char* path, const struct stat*, int, struct FTW*) {
  (void)::lchown(path, g_uid, g_gid);
  return 0;
}

std::vector<std::string> Words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

class RootlessTest : public BundleTest {
 protected:
  void SetUp() override {
    BundleTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (!::getpwnam(kUser)) {
      CmdResult u = RunCommand({"/usr/sbin/useradd", "--system", "--no-create-home", "--shell",
                                "/usr/sbin/nologin", kUser},
                               work_);
      ASSERT_EQ(u.code, 0) << u.err;
      made_user_ = true;
    }
    struct passwd* pw = ::getpwnam(kUser);
    ASSERT_NE(pw, nullptr);
    g_uid = uid_ = pw->pw_uid;
    g_gid = gid_ = pw->pw_gid;
    ASSERT_NE(uid_, 0u);
    // The user owns the bundle (it writes config.json, and its root is the rootfs' owner)
    // and an XDG_RUNTIME_DIR of its own, 0700 as pam_systemd makes it.
    xdg_ = TempDir("xdg");
    ASSERT_EQ(::chmod(xdg_.c_str(), 0700), 0);
    ::nftw(work_.c_str(), ChownEntry, 16, FTW_PHYS | FTW_MOUNT);
    ::unlink((bundle_ + "/config.json").c_str());
    CmdResult s = AsUser({"spec", "--rootless", "-b", bundle_});
    ASSERT_EQ(s.code, 0) << s.err;
    spec_ = json::parse(ReadText(bundle_ + "/config.json"), nullptr, false);
    ASSERT_TRUE(spec_.is_object()) << "spec --rootless wrote bad JSON";
    spec_["process"]["terminal"] = false;
  }

  void TearDown() override {
    // Containers the user left: delete them where they are (BundleTest only knows root_).
    for (const auto& dir : state_dirs_) {
      for (const auto& id : my_ids_)
        if (Exists(dir + "/" + id))
          (void)RunCommand({SKIFF_RUNTIME_BIN, "--root", dir, "delete", "--force", id}, work_);
    }
    if (Exists(tmp_root_) && made_tmp_root_) {
      CmdResult r = RunCommand({"/bin/rm", "-rf", tmp_root_}, work_);
      EXPECT_EQ(r.code, 0) << r.err;
    }
    // The user goes with the test that made it (ctest runs every test in a process of its own).
    if (made_user_) {
      CmdResult r = RunCommand({"/usr/sbin/userdel", kUser}, work_);
      EXPECT_EQ(r.code, 0) << r.err;
    }
    BundleTest::TearDown();
  }

  std::string UserId(const std::string& tag) {
    std::string id = NewId(tag);
    my_ids_.push_back(id);
    return id;
  }

  // skiff-runtime args as the user, without --root, XDG_RUNTIME_DIR=xdg_ unless xdg is false.
  CmdResult AsUser(const std::vector<std::string>& args, bool xdg = true, int timeout_ms = 20000) {
    CmdOptions o;
    o.timeout_ms = timeout_ms;
    o.uid = static_cast<int>(uid_);
    o.gid = static_cast<int>(gid_);
    o.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "HOME=/nonexistent"};
    if (xdg) o.env->push_back("XDG_RUNTIME_DIR=" + xdg_);
    std::vector<std::string> argv = {SKIFF_RUNTIME_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, work_, o);
  }

  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::string xdg_;
  std::string tmp_root_;
  bool made_tmp_root_ = false;
  bool made_user_ = false;
  std::vector<std::string> state_dirs_;
  std::vector<std::string> my_ids_;
};

TEST_F(RootlessTest, SpecRootlessMapsTheUser) {
  const json& l = spec_["linux"];
  ASSERT_TRUE(l.is_object());
  EXPECT_EQ(l["uidMappings"], json::parse("[{\"containerID\":0,\"hostID\":" + std::to_string(uid_) +
                                          ",\"size\":1}]"));
  EXPECT_EQ(l["gidMappings"], json::parse("[{\"containerID\":0,\"hostID\":" + std::to_string(gid_) +
                                          ",\"size\":1}]"));
  std::vector<std::string> types;
  for (const auto& ns : l["namespaces"]) types.push_back(ns.value("type", ""));
  EXPECT_NE(std::find(types.begin(), types.end(), "user"), types.end());
  EXPECT_EQ(std::find(types.begin(), types.end(), "network"), types.end());
  EXPECT_FALSE(l.contains("resources"));
}

TEST_F(RootlessTest, RunIsRootInsideTheUserOutside) {
  spec_["process"]["args"] = {"/bin/sh", "-c",
                              "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map"};
  WriteConfig();
  state_dirs_.push_back(xdg_ + "/skiff-runtime");
  std::string id = UserId("rl");
  CmdResult r = AsUser({"run", "-b", bundle_, id});
  ASSERT_EQ(r.code, 0) << r.err;
  auto w = Words(r.out);
  std::string u = std::to_string(uid_), g = std::to_string(gid_);
  EXPECT_EQ(w, (std::vector<std::string>{"0", "0", "0", u, "1", "0", g, "1"})) << r.out;
  EXPECT_FALSE(Exists(xdg_ + "/skiff-runtime/" + id));
}

TEST_F(RootlessTest, MapsWrittenEveryTime) {
  // The unprivileged parent writes the child's maps while the child runs on: a child that
  // made itself non-dumpable first (its /proc files then belong to root) made this fail
  // about one time in fifteen, as "write gid_map: ... Permission denied".
  spec_["process"]["args"] = {"/bin/true"};
  WriteConfig();
  state_dirs_.push_back(xdg_ + "/skiff-runtime");
  for (int i = 0; i < 40; ++i) {
    CmdResult r = AsUser({"run", "-b", bundle_, UserId("rl")});
    ASSERT_EQ(r.code, 0) << "run " << i << ": " << r.err;
  }
}

TEST_F(RootlessTest, StateGoesToXdgRuntimeDir) {
  spec_["process"]["args"] = {"/bin/sleep", "30"};
  WriteConfig();
  std::string dir = xdg_ + "/skiff-runtime";
  state_dirs_.push_back(dir);
  std::string id = UserId("rl");
  CmdResult c = AsUser({"create", "-b", bundle_, id});
  ASSERT_EQ(c.code, 0) << c.err;
  ASSERT_TRUE(Exists(dir + "/" + id));
  struct stat st;
  ASSERT_EQ(::stat((dir + "/" + id).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, uid_);
  CmdResult s = AsUser({"state", id});
  ASSERT_EQ(s.code, 0) << s.err;
  json j = json::parse(s.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << s.out;
  EXPECT_EQ(j["status"], "created");
  pid_t pid = j.value("pid", 0);
  ASSERT_GT(pid, 0);
  // The container runs as the user on the host, and outside any skiff cgroup (it could not
  // make one, and needs none).
  ASSERT_EQ(::stat(("/proc/" + std::to_string(pid)).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, uid_);
  EXPECT_EQ(HostCgroupDir(pid, "memory").find("/skiff/"), std::string::npos);
  // Without CAP_SYS_ADMIN no read-only mount can be cloned: the waiting init runs from a
  // sealed memfd copy (CVE-2019-5736), which can't be written to.
  std::string exe = "/proc/" + std::to_string(pid) + "/exe";
  char link[256] = {};
  ASSERT_GT(::readlink(exe.c_str(), link, sizeof link - 1), 0);
  EXPECT_EQ(std::string(link).rfind("/memfd:skiff-runtime", 0), 0u) << link;
  int path_fd = ::open(exe.c_str(), O_PATH | O_CLOEXEC);
  ASSERT_GE(path_fd, 0) << strerror(errno);
  ASSERT_EQ(AsUser({"start", id}).code, 0);
  EXPECT_EQ(AsUser({"state", id}).out.find("\"running\"") != std::string::npos, true);
  CmdResult d = AsUser({"delete", "--force", id});
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_FALSE(Exists(dir + "/" + id));
  EXPECT_FALSE(Alive(pid));
  // Nothing executes it any more (no ETXTBSY): only the seals stand in the way.
  std::string through = "/proc/self/fd/" + std::to_string(path_fd);
  int fd = ::open(through.c_str(), O_WRONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : ::write(fd, "x", 1);
  int err = errno;
  if (fd >= 0) ::close(fd);
  ::close(path_fd);
  EXPECT_EQ(n, -1);
  EXPECT_EQ(err, EPERM) << strerror(err);
}

TEST_F(RootlessTest, StateGoesToTmpWithoutXdg) {
  tmp_root_ = "/tmp/skiff-runtime-" + std::to_string(uid_);
  made_tmp_root_ = !Exists(tmp_root_);
  state_dirs_.push_back(tmp_root_);
  spec_["process"]["args"] = {"/bin/sleep", "30"};
  WriteConfig();
  std::string id = UserId("rl");
  CmdResult c = AsUser({"create", "-b", bundle_, id}, false);
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_TRUE(Exists(tmp_root_ + "/" + id));
  struct stat st;
  ASSERT_EQ(::stat(tmp_root_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, uid_);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "another user could read or plant state";
  EXPECT_FALSE(Exists(xdg_ + "/skiff-runtime"));
  EXPECT_EQ(AsUser({"delete", id}, false).code, 0);
  EXPECT_FALSE(Exists(tmp_root_ + "/" + id));
}

TEST_F(RootlessTest, MemoryLimitRefused) {
  spec_["process"]["args"] = {"/bin/true"};
  spec_["linux"]["resources"] = {{"memory", {{"limit", 64L << 20}}}};
  WriteConfig();
  std::string dir = xdg_ + "/skiff-runtime";
  state_dirs_.push_back(dir);
  std::string id = UserId("rl");
  CmdResult c = AsUser({"create", "-b", bundle_, id});
  EXPECT_NE(c.code, 0) << "created without the memory limit";
  EXPECT_EQ(c.err.rfind("skiff-runtime: create " + id + ": ", 0), 0u) << c.err;
  EXPECT_EQ(c.err.find('\n'), c.err.size() - 1) << c.err;
  EXPECT_NE(c.err.find("cgroup"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("Permission denied"), std::string::npos) << c.err;
  EXPECT_FALSE(Exists(dir + "/" + id));
  EXPECT_EQ(FindProcess(id), 0);
  CmdResult r = AsUser({"run", "-b", bundle_, UserId("rl")});
  EXPECT_NE(r.code, 0) << "ran without the memory limit";
}

}  // namespace
}  // namespace skiff::itest
