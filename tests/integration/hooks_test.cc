// OCI hooks (config.md "POSIX-platform Hooks"): the order they run in, the state each gets
// on stdin, the namespaces createContainer and startContainer run in, and what a failing or
// hanging hook does to the lifecycle.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

#include "bundle.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

// One line of the hook log: "<name> <mnt ns link> <state json>".
struct HookCall {
  std::string name, mnt_ns;
  json state;
};

std::string MntNs(pid_t pid) {
  char buf[64] = {};
  std::string link = "/proc/" + std::to_string(pid) + "/ns/mnt";
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, n) : "";
}

class HooksTest : public BundleTest {
 protected:
  void SetUp() override {
    BundleTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    log_dir_ = TempDir("hooklog");
    log_ = log_dir_ + "/log";
    // The startContainer hook runs after pivot_root: it logs through this bind mount.
    spec_["mounts"].push_back({{"destination", "/hooklog"},
                               {"type", "bind"},
                               {"source", log_dir_},
                               {"options", {"rbind", "rw"}}});
  }

  // A script that logs its name, its mount namespace and its stdin, then exits with code.
  // Hooks get no PATH unless the spec gives one: every command is spelled out.
  static std::string Script(const std::string& name, const std::string& log, int code,
                            const std::string& extra = "") {
    return "#!/bin/busybox sh\n"
           "state=$(/bin/busybox cat)\n" +
           extra + "echo \"" + name + " $(/bin/busybox readlink /proc/self/ns/mnt) $state\" >> " +
           log +
           "\n"
           "exit " +
           std::to_string(code) + "\n";
  }
  // A hook whose script lives on the host (work_/NAME.sh).
  json HostHook(const std::string& name, int code = 0, const std::string& extra = "") {
    std::string path = work_ + "/" + name + ".sh";
    WriteExecutable(path, Script(name, log_, code, extra));
    return {{"path", path}};
  }
  // A hook whose script lives in the rootfs only (/NAME.sh): it must be resolved there.
  json RootfsHook(const std::string& name, int code = 0) {
    WriteExecutable(rootfs_ + "/" + name + ".sh", Script(name, "/hooklog/log", code));
    return {{"path", "/" + name + ".sh"}};
  }
  static void WriteExecutable(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
    ::chmod(path.c_str(), 0755);
  }
  // Every hook point, each with one logging hook that succeeds.
  void AllHooks() {
    spec_["hooks"] = {{"prestart", {HostHook("prestart")}},
                      {"createRuntime", {HostHook("createRuntime")}},
                      {"createContainer", {HostHook("createContainer")}},
                      {"startContainer", {RootfsHook("startContainer")}},
                      {"poststart", {HostHook("poststart")}},
                      {"poststop", {HostHook("poststop")}}};
  }
  std::vector<HookCall> Calls() {
    std::vector<HookCall> out;
    std::istringstream in(ReadText(log_));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream f(line);
      HookCall c;
      f >> c.name >> c.mnt_ns;
      std::string rest;
      std::getline(f, rest);
      c.state = json::parse(rest, nullptr, false);
      out.push_back(c);
    }
    return out;
  }
  static std::vector<std::string> Names(const std::vector<HookCall>& calls) {
    std::vector<std::string> out;
    for (const auto& c : calls) out.push_back(c.name);
    return out;
  }
  void ExpectNothingLeft(const std::string& id) {
    EXPECT_FALSE(Exists(root_ + "/" + id));
    for (const auto& m : CgroupMounts())
      EXPECT_FALSE(Exists(m + "/skiff/" + id)) << m << "/skiff/" << id;
    EXPECT_EQ(FindProcess(id), 0) << "a process of " << id << " is still there";
  }
  // The state every hook got, checked against what the runtime reports.
  void ExpectStates(const std::vector<HookCall>& calls, const std::string& id, pid_t pid,
                    const std::string& container_ns) {
    const std::string host_ns = MntNs(::getpid());
    const std::map<std::string, std::string> status = {
        {"prestart", "created"},        {"createRuntime", "creating"},
        {"createContainer", "created"}, {"startContainer", "created"},
        {"poststart", "running"},       {"poststop", "stopped"}};
    for (const auto& c : calls) {
      SCOPED_TRACE(c.name);
      ASSERT_TRUE(c.state.is_object()) << "not JSON on stdin";
      EXPECT_EQ(c.state.value("ociVersion", ""), "1.2.0");
      EXPECT_EQ(c.state.value("id", ""), id);
      EXPECT_EQ(c.state.value("bundle", ""), bundle_);
      EXPECT_EQ(c.state.value("status", ""), status.at(c.name));
      // The host's pid of the container's init, whichever namespace the hook runs in.
      EXPECT_EQ(c.state.value("pid", -1), c.name == "poststop" ? 0 : pid);
      bool in_container = c.name == "createContainer" || c.name == "startContainer";
      EXPECT_EQ(c.mnt_ns, in_container ? container_ns : host_ns);
    }
  }

  std::string log_dir_, log_;
};

const std::vector<std::string> kAll = {"prestart",       "createRuntime", "createContainer",
                                       "startContainer", "poststart",     "poststop"};

TEST_F(HooksTest, CreateStartDeleteRunsEveryHookInOrder) {
  AllHooks();
  std::string id = NewId("hooks");
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  CmdResult c = Runtime({"create", "-b", bundle_, id});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(c.err, "");
  json st = State(id);
  ASSERT_TRUE(st.is_object());
  pid_t pid = st.value("pid", 0);
  ASSERT_GT(pid, 0);
  std::string container_ns = MntNs(pid);
  ASSERT_NE(container_ns, "");
  ASSERT_NE(container_ns, MntNs(::getpid()));
  EXPECT_EQ(Names(Calls()),
            (std::vector<std::string>{"prestart", "createRuntime", "createContainer"}));

  CmdResult s = Runtime({"start", id});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(s.err, "");
  EXPECT_EQ(Names(Calls()),
            (std::vector<std::string>{"prestart", "createRuntime", "createContainer",
                                      "startContainer", "poststart"}));
  ASSERT_EQ(Runtime({"kill", id, "KILL"}).code, 0);
  ASSERT_TRUE(WaitStatus(id, "stopped"));
  CmdResult d = Runtime({"delete", id});
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(d.err, "");
  auto calls = Calls();
  EXPECT_EQ(Names(calls), kAll);
  ExpectStates(calls, id, pid, container_ns);
}

TEST_F(HooksTest, RunRunsEveryHookInOrder) {
  AllHooks();
  // The container logs too: startContainer comes before its process, poststop after.
  CmdResult r = RunArgs(
      {"/bin/sh", "-c", "echo \"main $(readlink /proc/self/ns/mnt) {}\" >> /hooklog/log; exit 5"});
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_EQ(r.err, "");
  auto calls = Calls();
  auto names = Names(calls);
  ASSERT_EQ(names.size(), 7u) << ReadText(log_);
  // main and poststart race (poststart runs once the exec is seen): compare without main.
  auto main_at = std::find(names.begin(), names.end(), "main");
  ASSERT_NE(main_at, names.end());
  EXPECT_GT(main_at - names.begin(), 3) << "the process ran before startContainer";
  EXPECT_EQ(names.back(), "poststop");
  std::string main_ns = calls[main_at - names.begin()].mnt_ns;
  calls.erase(calls.begin() + (main_at - names.begin()));
  EXPECT_EQ(Names(calls), kAll);
  // The container is gone: its pid is the one every hook but poststop got.
  pid_t pid = calls[0].state.value("pid", 0);
  EXPECT_GT(pid, 0);
  ExpectStates(calls, calls[0].state.value("id", ""), pid, main_ns);
  EXPECT_EQ(Runtime({"list", "-q"}).out, "");
}

TEST_F(HooksTest, StartContainerRunsInsideTheRoot) {
  // /startContainer.sh exists only in the rootfs and /hooklog only in the container: the
  // hook found both, so it ran after pivot_root. It also sees the container's hostname.
  spec_["hostname"] = "hooked";
  WriteExecutable(rootfs_ + "/startContainer.sh",
                  "#!/bin/busybox sh\n/bin/busybox hostname > /hooklog/where\n"
                  "/bin/busybox ls /bin/skiff-probe >> /hooklog/where\n");
  spec_["hooks"] = {{"startContainer", {{{"path", "/startContainer.sh"}}}}};
  ASSERT_FALSE(Exists("/startContainer.sh"));
  CmdResult r = RunArgs({"/bin/true"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadText(log_dir_ + "/where"), "hooked\n/bin/skiff-probe\n");
}

TEST_F(HooksTest, FailingCreateRuntimeHookFailsCreate) {
  spec_["hooks"] = {{"createRuntime", {HostHook("createRuntime", 3)}},
                    {"createContainer", {HostHook("createContainer")}}};
  std::string id = NewId("fail");
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  CmdResult r = Runtime({"create", "-b", bundle_, id});
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.err, "skiff-runtime: create " + id + ": createRuntime hook " + work_ +
                       "/createRuntime.sh: exited with status 3\n");
  EXPECT_EQ(Names(Calls()), std::vector<std::string>{"createRuntime"});
  ExpectNothingLeft(id);
}

TEST_F(HooksTest, FailingCreateContainerHookFailsCreate) {
  spec_["hooks"] = {{"createContainer", {HostHook("createContainer", 4)}}};
  std::string id = NewId("fail");
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  CmdResult r = Runtime({"create", "-b", bundle_, id});
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.err, "skiff-runtime: create " + id + ": createContainer hook " + work_ +
                       "/createContainer.sh: exited with status 4\n");
  ExpectNothingLeft(id);
}

TEST_F(HooksTest, FailingStartContainerHookFailsStart) {
  spec_["hooks"] = {{"startContainer", {RootfsHook("startContainer", 6)}},
                    {"poststart", {HostHook("poststart")}}};
  std::string id = NewId("fail");
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  ASSERT_EQ(Runtime({"create", "-b", bundle_, id}).code, 0);
  pid_t pid = State(id).value("pid", 0);
  ASSERT_GT(pid, 0);
  CmdResult s = Runtime({"start", id});
  EXPECT_NE(s.code, 0);
  EXPECT_NE(s.err.find("startContainer hook /startContainer.sh: exited with status 6"),
            std::string::npos)
      << s.err;
  EXPECT_TRUE(WaitStatus(id, "stopped")) << State(id).dump();
  EXPECT_FALSE(Alive(pid));
  // The process never ran, so neither does poststart.
  EXPECT_EQ(Names(Calls()), std::vector<std::string>{"startContainer"});
  CmdResult d = Runtime({"delete", id});
  EXPECT_EQ(d.code, 0) << d.err;
  ExpectNothingLeft(id);
}

TEST_F(HooksTest, FailingPoststartAndPoststopOnlyWarn) {
  spec_["hooks"] = {{"poststart", {HostHook("poststart", 1), HostHook("poststart2")}},
                    {"poststop", {HostHook("poststop", 2), HostHook("poststop2")}}};
  std::string id = NewId("warn");
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  ASSERT_EQ(Runtime({"create", "-b", bundle_, id}).code, 0);
  CmdResult s = Runtime({"start", id});
  EXPECT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(s.err, "skiff-runtime: warning: poststart hook " + work_ +
                       "/poststart.sh: exited with status 1\n");
  EXPECT_EQ(State(id).value("status", ""), "running");
  CmdResult d = Runtime({"delete", "--force", id});
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(d.err, "skiff-runtime: warning: poststop hook " + work_ +
                       "/poststop.sh: exited with status 2\n");
  // A failing hook does not stop the ones after it.
  EXPECT_EQ(Names(Calls()),
            (std::vector<std::string>{"poststart", "poststart2", "poststop", "poststop2"}));
  ExpectNothingLeft(id);

  // run: the container's exit code, not the hooks'.
  ::unlink(log_.c_str());
  CmdResult r = RunArgs({"/bin/sh", "-c", "exit 9"});
  EXPECT_EQ(r.code, 9) << r.err;
  EXPECT_NE(r.err.find("warning: poststart hook"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("warning: poststop hook"), std::string::npos) << r.err;
  EXPECT_EQ(Names(Calls()),
            (std::vector<std::string>{"poststart", "poststart2", "poststop", "poststop2"}));
}

TEST_F(HooksTest, HookTimeoutFailsCreate) {
  // exec: the hook is the sleep itself, so the kill at the timeout ends it.
  std::string path = work_ + "/slow.sh";
  WriteExecutable(path, "#!/bin/busybox sh\nexec /bin/busybox sleep 5\n");
  for (const char* point : {"createRuntime", "createContainer"}) {
    SCOPED_TRACE(point);
    spec_["hooks"] = {{point, {{{"path", path}, {"timeout", 1}}}}};
    std::string id = NewId("slow");
    spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
    WriteConfig();
    auto t0 = std::chrono::steady_clock::now();
    CmdResult r = Runtime({"create", "-b", bundle_, id});
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    EXPECT_NE(r.code, 0);
    EXPECT_EQ(r.err, "skiff-runtime: create " + id + ": " + point + " hook " + path +
                         ": timed out after 1 s\n");
    EXPECT_GE(ms, 900);
    EXPECT_LT(ms, 2500);
    ExpectNothingLeft(id);
  }
}

TEST_F(HooksTest, ArgsAndEnvArePassed) {
  // path is busybox and args[0] "sh": busybox picks its applet from argv[0], so the hook
  // only runs as a shell when args[0] really is argv[0].
  std::string cmd = "echo \"$0|$1|$2|$FOO|$BAR\" > " + log_dir_ + "/args";
  spec_["hooks"] = {{"createRuntime",
                     {{{"path", "/bin/busybox"},
                       {"args", {"sh", "-c", cmd, "name0", "one", "two words"}},
                       {"env", {"FOO=foo", "BAR=bar baz"}}}}}};
  CmdResult r = RunArgs({"/bin/true"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadText(log_dir_ + "/args"), "name0|one|two words|foo|bar baz\n");
}

TEST_F(HooksTest, ContainerProcessKeepsDefaultSignals) {
  // Hooks run inside the container's init (createContainer, startContainer) must not leave
  // their bookkeeping in the process that execs: an ignored signal survives execve.
  spec_["hooks"] = {{"createContainer", {HostHook("createContainer")}},
                    {"startContainer", {RootfsHook("startContainer")}}};
  CmdResult r = RunArgs({"/bin/grep", "^SigIgn", "/proc/self/status"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "SigIgn:\t0000000000000000\n");
}

TEST_F(HooksTest, HooksRunWithTheCallersUmask) {
  // The container's setup runs with umask 0 (device nodes get exactly their modes): the hooks
  // it forks must not, or every file they create is world-writable.
  mode_t mine = ::umask(022);
  ::umask(mine);
  std::string cmd = "umask >> " + log_dir_ + "/umask";
  json hook = {{"path", "/bin/busybox"}, {"args", {"sh", "-c", cmd}}};
  json in_root = {{"path", "/bin/busybox"}, {"args", {"sh", "-c", "umask >> /hooklog/umask"}}};
  spec_["hooks"] = {{"createRuntime", {hook}},
                    {"createContainer", {hook}},
                    {"startContainer", {in_root}},
                    {"poststart", {hook}}};
  CmdResult r = RunArgs({"/bin/true"});
  EXPECT_EQ(r.code, 0) << r.err;
  char want[8];
  snprintf(want, sizeof want, "%04o\n", mine);
  EXPECT_EQ(ReadText(log_dir_ + "/umask"), std::string(want) + want + want + want);
}

}  // namespace
}  // namespace skiff::itest
