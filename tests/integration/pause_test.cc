// pause / resume: the container's freezer cgroup (cgroup v1 freezer.state here), a process
// that really stops making progress while frozen, the status checks, and delete --force
// of a frozen container.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "bundle.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

long FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<long>(st.st_size) : -1;
}

class PauseTest : public BundleTest {
 protected:
  // A container appending to a host file (through a bind mount) every 20 ms.
  pid_t StartCounter(const std::string& id) {
    std::string dir = TempDir("count");
    count_file_ = dir + "/f";
    spec_["mounts"].push_back({{"destination", "/count"},
                               {"type", "bind"},
                               {"source", dir},
                               {"options", {"rbind", "rw"}}});
    pid_t pid =
        CreateStarted(id, {"/bin/sh", "-c", "while true; do echo x >> /count/f; sleep 0.02; done"});
    // Running: the file grows.
    for (int i = 0; i < 250 && FileSize(count_file_) < 4; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_GE(FileSize(count_file_), 4) << "the counter never ran";
    return pid;
  }
  static std::string Freezer(pid_t pid) {
    std::string dir = HostCgroupDir(pid, "freezer");
    return dir.empty() ? "" : ReadText(dir + "/freezer.state");
  }
  static void Sleep(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

  std::string count_file_;
};

TEST_F(PauseTest, PauseStopsProgressResumeRestartsIt) {
  std::string id = NewId("pause");
  pid_t pid = StartCounter(id);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(HostCgroupDir(pid, "freezer"), "/sys/fs/cgroup/freezer/skiff/" + id);
  EXPECT_EQ(Freezer(pid), "THAWED\n");

  CmdResult p = Runtime({"pause", id});
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.err, "");
  EXPECT_EQ(State(id).value("status", ""), "paused");
  EXPECT_EQ(Freezer(pid), "FROZEN\n");
  EXPECT_TRUE(Alive(pid));
  long frozen = FileSize(count_file_);
  Sleep(300);  // fifteen ticks of the counter
  EXPECT_EQ(FileSize(count_file_), frozen) << "the container ran while paused";
  // list agrees with state.
  CmdResult l = Runtime({"list", "--format", "json"});
  json list = json::parse(l.out, nullptr, false);
  ASSERT_TRUE(list.is_array() && list.size() == 1) << l.out;
  EXPECT_EQ(list[0]["status"], "paused");

  CmdResult r = Runtime({"resume", id});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(State(id).value("status", ""), "running");
  EXPECT_EQ(Freezer(pid), "THAWED\n");
  Sleep(300);
  EXPECT_GT(FileSize(count_file_), frozen + 4) << "the container did not run after resume";
}

TEST_F(PauseTest, PauseTwiceAndResumeRunningAreRefused) {
  std::string id = NewId("pause");
  pid_t pid = StartCounter(id);
  ASSERT_GT(pid, 0);
  CmdResult r = Runtime({"resume", id});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("resume " + id + ": container is running, not paused"), std::string::npos)
      << r.err;
  ASSERT_EQ(Runtime({"pause", id}).code, 0);
  CmdResult again = Runtime({"pause", id});
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.err.find("pause " + id + ": container is paused, not running"), std::string::npos)
      << again.err;
  // The failed pause changed nothing.
  EXPECT_EQ(State(id).value("status", ""), "paused");
  EXPECT_EQ(Freezer(pid), "FROZEN\n");
}

TEST_F(PauseTest, PauseCreatedOrStoppedRefused) {
  std::string id = NewId("pause");
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  ASSERT_EQ(Runtime({"create", "-b", bundle_, id}).code, 0);
  CmdResult p = Runtime({"pause", id});
  EXPECT_NE(p.code, 0);
  EXPECT_NE(p.err.find("container is created, not running"), std::string::npos) << p.err;
  ASSERT_EQ(Runtime({"start", id}).code, 0);
  ASSERT_EQ(Runtime({"kill", id, "KILL"}).code, 0);
  ASSERT_TRUE(WaitStatus(id, "stopped"));
  p = Runtime({"pause", id});
  EXPECT_NE(p.code, 0);
  EXPECT_NE(p.err.find("container is stopped, not running"), std::string::npos) << p.err;
}

TEST_F(PauseTest, DeleteForcePaused) {
  std::string id = NewId("pause");
  pid_t pid = StartCounter(id);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(Runtime({"pause", id}).code, 0);
  CmdResult d = Runtime({"delete", id});
  EXPECT_NE(d.code, 0);
  EXPECT_NE(d.err.find("container is paused"), std::string::npos) << d.err;
  auto t0 = std::chrono::steady_clock::now();
  CmdResult f = Runtime({"delete", "--force", id});
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_EQ(f.code, 0) << f.err;
  // Before Linux 6.1 a frozen task could not die until thawed: a delete that forgot to thaw
  // waited out its timeout there.
  EXPECT_LT(ms, 3000);
  EXPECT_FALSE(Alive(pid));
  EXPECT_FALSE(Exists(root_ + "/" + id));
  for (const auto& m : CgroupMounts())
    EXPECT_FALSE(Exists(m + "/skiff/" + id)) << m << "/skiff/" << id;
  long after = FileSize(count_file_);
  Sleep(100);
  EXPECT_EQ(FileSize(count_file_), after) << "something of the container still runs";
}

TEST_F(PauseTest, KillAllEndsPausedContainer) {
  // SIGKILL wakes frozen tasks (the freezer has let fatal signals through since Linux 6.1):
  // kill --all of a paused container needs no resume, and its status follows.
  std::string id = NewId("pause");
  pid_t pid = StartCounter(id);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(Runtime({"pause", id}).code, 0);
  ASSERT_EQ(Runtime({"kill", "--all", id, "KILL"}).code, 0);
  EXPECT_TRUE(WaitStatus(id, "stopped")) << State(id).dump();
  EXPECT_FALSE(Alive(pid));
  CmdResult r = Runtime({"resume", id});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("container is stopped, not paused"), std::string::npos) << r.err;
  CmdResult d = Runtime({"delete", id});
  EXPECT_EQ(d.code, 0) << d.err;
  for (const auto& m : CgroupMounts())
    EXPECT_FALSE(Exists(m + "/skiff/" + id)) << m << "/skiff/" << id;
}

}  // namespace
}  // namespace skiff::itest
