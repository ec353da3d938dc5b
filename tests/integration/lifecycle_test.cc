// create / start / state / kill / delete / list / run against the real kernel.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "bundle.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

class LifecycleTest : public BundleTest {
 protected:
  // No cgroup dir for id under any hierarchy's skiff/ parent.
  void ExpectNoCgroup(const std::string& id) {
    for (const auto& m : CgroupMounts())
      EXPECT_FALSE(Exists(m + "/skiff/" + id)) << m << "/skiff/" << id;
  }
  std::vector<std::string> Lines(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < s.size()) {
      size_t end = s.find('\n', start);
      if (end == std::string::npos) end = s.size();
      out.push_back(s.substr(start, end - start));
      start = end + 1;
    }
    return out;
  }
  // A failed create: one line "skiff-runtime: create <id>: ...", nothing left behind.
  void ExpectCleanFailedCreate(const std::string& id, const CmdResult& r,
                               const std::string& reason) {
    EXPECT_NE(r.code, 0);
    auto lines = Lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_EQ(lines[0].rfind("skiff-runtime: create " + id + ":", 0), 0u) << lines[0];
    EXPECT_NE(lines[0].find(reason), std::string::npos) << lines[0];
    EXPECT_FALSE(Exists(root_ + "/" + id));
    EXPECT_FALSE(Exists("/sys/fs/cgroup/memory/skiff/" + id));
    ExpectNoCgroup(id);
    EXPECT_EQ(FindProcess(id), 0) << "a process of " << id << " is still there";
  }
};

TEST_F(LifecycleTest, RunPassesExitCode) {
  CmdResult r = RunProbe({"exit", "3"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST_F(LifecycleTest, RunKilledBySignalIs128PlusSignal) {
  // Without a pid namespace: as pid 1 of one the shell could not kill itself (the kernel
  // drops signals pid 1 has no handler for, when they come from inside).
  auto& ns = spec_["linux"]["namespaces"];
  for (size_t i = 0; i < ns.size(); ++i)
    if (ns[i]["type"] == "pid") ns.erase(i);
  CmdResult r = RunArgs({"/bin/sh", "-c", "kill -USR1 $$; sleep 5"});
  EXPECT_EQ(r.code, 128 + SIGUSR1) << r.err;
}

TEST_F(LifecycleTest, CreateStartKillDelete) {
  std::string id = NewId();
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  CmdResult c = Runtime({"create", "-b", bundle_, id});
  ASSERT_EQ(c.code, 0) << c.err;

  json st = State(id);
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st["status"], "created");
  EXPECT_EQ(st["id"], id);
  EXPECT_EQ(st["ociVersion"], "1.2.0");
  EXPECT_EQ(st["bundle"], bundle_);
  pid_t pid = st.value("pid", 0);
  EXPECT_GT(pid, 0);
  EXPECT_TRUE(Alive(pid));
  std::string memcg = HostCgroupDir(pid, "memory");
  EXPECT_EQ(memcg, "/sys/fs/cgroup/memory/skiff/" + id);

  CmdResult s = Runtime({"start", id});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(State(id)["status"], "running");
  // start on a running container is refused.
  CmdResult again = Runtime({"start", id});
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.err.find("not created"), std::string::npos) << again.err;

  CmdResult k = Runtime({"kill", id, "SIGKILL"});
  ASSERT_EQ(k.code, 0) << k.err;
  EXPECT_TRUE(WaitStatus(id, "stopped"));
  EXPECT_EQ(State(id)["pid"], 0);

  CmdResult d = Runtime({"delete", id});
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_FALSE(Exists(root_ + "/" + id));
  ExpectNoCgroup(id);
  CmdResult gone = Runtime({"state", id});
  EXPECT_NE(gone.code, 0);
  EXPECT_NE(gone.err.find("does not exist"), std::string::npos) << gone.err;
}

TEST_F(LifecycleTest, DeleteRunningNeedsForce) {
  std::string id = NewId();
  pid_t pid = CreateStarted(id, {"/bin/skiff-probe", "sleep", "30"});
  ASSERT_GT(pid, 0);
  CmdResult d = Runtime({"delete", id});
  EXPECT_NE(d.code, 0);
  EXPECT_NE(d.err.find("running"), std::string::npos) << d.err;
  EXPECT_NE(d.err.find("--force"), std::string::npos) << d.err;
  EXPECT_EQ(State(id)["status"], "running");

  CmdResult f = Runtime({"delete", "--force", id});
  EXPECT_EQ(f.code, 0) << f.err;
  EXPECT_FALSE(Exists(root_ + "/" + id));
  ExpectNoCgroup(id);
  EXPECT_FALSE(Alive(pid)) << "the container's init survived delete --force";
}

// runtime.md: delete of a missing container is an error. `delete --force` of one succeeds,
// as in runc: containerd's shim and podman's cleanup call it on containers already gone.
TEST_F(LifecycleTest, DeleteMissing) {
  std::string id = NewId();
  CmdResult d = Runtime({"delete", id});
  EXPECT_NE(d.code, 0);
  EXPECT_NE(d.err.find("does not exist"), std::string::npos) << d.err;
  CmdResult f = Runtime({"delete", "--force", id});
  EXPECT_EQ(f.code, 0) << f.err;
  EXPECT_EQ(f.err, "");

  pid_t pid = CreateStarted(id, {"/bin/skiff-probe", "sleep", "30"});
  ASSERT_GT(pid, 0);
  ASSERT_EQ(Runtime({"delete", "--force", id}).code, 0);
  CmdResult again = Runtime({"delete", "--force", id});
  EXPECT_EQ(again.code, 0) << again.err;
}

TEST_F(LifecycleTest, DeleteCreatedWithoutForce) {
  std::string id = NewId();
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  ASSERT_EQ(Runtime({"create", "-b", bundle_, id}).code, 0);
  CmdResult d = Runtime({"delete", id});
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_FALSE(Exists(root_ + "/" + id));
  ExpectNoCgroup(id);
  EXPECT_EQ(FindProcess(id), 0);
}

TEST_F(LifecycleTest, DuplicateIdFails) {
  std::string id = NewId();
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  ASSERT_EQ(Runtime({"create", "-b", bundle_, id}).code, 0);
  CmdResult again = Runtime({"create", "-b", bundle_, id});
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  // The first one is untouched.
  EXPECT_EQ(State(id)["status"], "created");
}

TEST_F(LifecycleTest, ListShowsContainer) {
  std::string id = NewId();
  ASSERT_GT(CreateStarted(id, {"/bin/skiff-probe", "sleep", "30"}), 0);
  CmdResult t = Runtime({"list"});
  ASSERT_EQ(t.code, 0) << t.err;
  auto lines = Lines(t.out);
  ASSERT_EQ(lines.size(), 2u) << t.out;
  EXPECT_EQ(lines[0].rfind("ID", 0), 0u);
  EXPECT_EQ(lines[1].rfind(id, 0), 0u);
  EXPECT_NE(lines[1].find("running"), std::string::npos);

  CmdResult j = Runtime({"list", "--format", "json"});
  ASSERT_EQ(j.code, 0) << j.err;
  json list = json::parse(j.out, nullptr, false);
  ASSERT_TRUE(list.is_array()) << j.out;
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], id);
  EXPECT_EQ(list[0]["status"], "running");
  EXPECT_GT(list[0].value("pid", 0), 0);

  CmdResult q = Runtime({"list", "-q"});
  EXPECT_EQ(q.out, id + "\n");
}

class KillByName : public LifecycleTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(KillByName, DeliversSigterm) {
  std::string id = NewId("kill");
  CmdResult c;
  ASSERT_GT(CreateStarted(id, {"/bin/skiff-probe", "signal-wait"}, &c), 0);
  // The probe prints "ready" once its signals are blocked; before that, SIGTERM to pid 1 of
  // a new pid namespace without a handler would be dropped.
  for (int i = 0; i < 250 && ReadText(c.out_path).find("ready") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CmdResult k = Runtime({"kill", id, GetParam()});
  ASSERT_EQ(k.code, 0) << k.err;
  EXPECT_TRUE(WaitStatus(id, "stopped"));
  EXPECT_NE(ReadText(c.out_path).find("signal 15 SIGTERM"), std::string::npos)
      << ReadText(c.out_path);
}

INSTANTIATE_TEST_SUITE_P(Names, KillByName, ::testing::Values("TERM", "SIGTERM", "15", "term"));

TEST_F(LifecycleTest, KillBadSignal) {
  std::string id = NewId();
  ASSERT_GT(CreateStarted(id, {"/bin/skiff-probe", "sleep", "30"}), 0);
  CmdResult k = Runtime({"kill", id, "NOPE"});
  EXPECT_NE(k.code, 0);
  EXPECT_NE(k.err.find("invalid signal NOPE"), std::string::npos) << k.err;
  EXPECT_EQ(State(id)["status"], "running");
}

TEST_F(LifecycleTest, FailedCreateMissingBindSource) {
  std::string id = NewId("fail");
  spec_["mounts"].push_back({{"destination", "/mnt/x"},
                             {"type", "bind"},
                             {"source", work_ + "/does-not-exist"},
                             {"options", {"rbind", "ro"}}});
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  CmdResult r = Runtime({"create", "-b", bundle_, id});
  ExpectCleanFailedCreate(id, r, "does-not-exist");
}

TEST_F(LifecycleTest, FailedCreateExecutableNotFound) {
  std::string id = NewId("fail");
  spec_["process"]["args"] = {"no-such-binary"};
  WriteConfig();
  CmdResult r = Runtime({"create", "-b", bundle_, id});
  ExpectCleanFailedCreate(id, r, "no-such-binary");
}

TEST_F(LifecycleTest, FailedRunLeavesNothing) {
  CmdResult r = RunArgs({"no-such-binary"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("no-such-binary"), std::string::npos) << r.err;
  EXPECT_EQ(Runtime({"list", "-q"}).out, "");
}

TEST_F(LifecycleTest, InvalidConfigNamesTheField) {
  std::string id = NewId("bad");
  spec_["process"]["args"] = "not-a-list";
  WriteConfig();
  CmdResult r = Runtime({"create", "-b", bundle_, id});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("process.args"), std::string::npos) << r.err;
  EXPECT_FALSE(Exists(root_ + "/" + id));

  spec_["process"]["args"] = {"/bin/true"};
  spec_["process"]["rlimits"] = {{{"type", "RLIMIT_BOGUS"}, {"soft", 1}, {"hard", 1}}};
  WriteConfig();
  r = Runtime({"create", "-b", bundle_, id});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("RLIMIT_BOGUS"), std::string::npos) << r.err;
  EXPECT_FALSE(Exists(root_ + "/" + id));
  ExpectNoCgroup(id);
}

TEST_F(LifecycleTest, PidFileWritten) {
  std::string id = NewId();
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  std::string pid_file = work_ + "/pid";
  CmdResult c = Runtime({"create", "-b", bundle_, "--pid-file", pid_file, id});
  ASSERT_EQ(c.code, 0) << c.err;
  json st = State(id);
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(ReadText(pid_file), std::to_string(st.value("pid", -1)));
}

}  // namespace
}  // namespace skiff::itest
