// Fixes that the runtime-tools validation suite found, each with a test of our own.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "bundle.h"

namespace skiff::itest {
namespace {

class ConformanceTest : public BundleTest {
 protected:
  // The container's mountinfo line for "/", under the given rootfsPropagation.
  std::string RootMountLine(const std::string& propagation) {
    spec_["linux"]["rootfsPropagation"] = propagation;
    CmdResult r = RunArgs({"/bin/cat", "/proc/self/mountinfo"});
    EXPECT_EQ(r.code, 0) << r.err;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      std::istringstream f(line);
      std::string id, parent, dev, root, mp;
      f >> id >> parent >> dev >> root >> mp;
      if (mp == "/") return line;
    }
    ADD_FAILURE() << "no / in " << r.out;
    return "";
  }
};

// linux_rootfs_propagation: "unbindable" must hold on the new root after pivot_root.
TEST_F(ConformanceTest, UnbindableRootPropagation) {
  std::string line = RootMountLine("unbindable");
  EXPECT_NE(line.find("unbindable"), std::string::npos) << line;
}

TEST_F(ConformanceTest, SharedRootPropagation) {
  std::string line = RootMountLine("rshared");
  EXPECT_NE(line.find("shared:"), std::string::npos) << line;
}

TEST_F(ConformanceTest, DefaultRootPropagationIsNotShared) {
  std::string line = RootMountLine("");
  EXPECT_EQ(line.find("shared:"), std::string::npos) << line;
}

// hooks_stdin: prestart gets the state with status "created", createRuntime "creating".
TEST_F(ConformanceTest, PrestartStateIsCreated) {
  std::string log = work_ + "/hooks.log";
  std::string hook = work_ + "/hook.sh";
  {
    std::ofstream h(hook);
    h << "#!/bin/sh\necho \"$1 $(cat)\" >> " << log << "\n";
  }
  ASSERT_EQ(::chmod(hook.c_str(), 0755), 0);
  spec_["hooks"]["prestart"] = {{{"path", hook}, {"args", {"hook.sh", "prestart"}}}};
  spec_["hooks"]["createRuntime"] = {{{"path", hook}, {"args", {"hook.sh", "createRuntime"}}}};
  CmdResult r = RunArgs({"/bin/true"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string text = ReadText(log);
  auto pre = text.find("prestart {");
  auto cr = text.find("createRuntime {");
  ASSERT_NE(pre, std::string::npos) << text;
  ASSERT_NE(cr, std::string::npos) << text;
  EXPECT_LT(pre, cr);
  auto pre_json = nlohmann::json::parse(text.substr(pre + 9, text.find('\n', pre) - pre - 9));
  auto cr_json = nlohmann::json::parse(text.substr(cr + 14, text.find('\n', cr) - cr - 14));
  EXPECT_EQ(pre_json["status"], "created");
  EXPECT_EQ(cr_json["status"], "creating");
  EXPECT_GT(pre_json["pid"].get<int>(), 0);
}

// process_capabilities: a capability the runtime itself lacks (this host's root has no
// CAP_SYS_RESOURCE) is skipped with a warning; the container still runs.
TEST_F(ConformanceTest, UngrantableCapabilityIsAWarning) {
  constexpr int kSysResource = 24;
  if (::prctl(PR_CAPBSET_READ, kSysResource, 0, 0, 0) == 1)
    GTEST_SKIP() << "this host can grant CAP_SYS_RESOURCE";
  for (const char* set : {"bounding", "effective", "permitted"})
    spec_["process"]["capabilities"][set] = {"CAP_KILL", "CAP_SYS_RESOURCE"};
  CmdResult r = RunProbe({"caps"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("CAP_SYS_RESOURCE: not in the runtime's bounding set"), std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("0000000000000020"), std::string::npos) << r.out;  // CAP_KILL only
}

// runtime.md: a config without process can be created; start MUST fail, and the
// container then stops and can be deleted.
TEST_F(ConformanceTest, CreateWithoutProcessStartFails) {
  spec_.erase("process");
  WriteConfig();
  std::string id = NewId("noproc");
  CmdResult c = Runtime({"create", "-b", bundle_, id});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(State(id)["status"], "created");
  CmdResult s = Runtime({"start", id});
  EXPECT_NE(s.code, 0);
  EXPECT_NE(s.err.find("process: not set"), std::string::npos) << s.err;
  EXPECT_TRUE(WaitStatus(id, "stopped"));
  EXPECT_EQ(Runtime({"delete", id}).code, 0);
}

// The time namespace with offsets: the container's boot clock is a day ahead.
TEST_F(ConformanceTest, TimeNamespaceOffsets) {
  spec_["linux"]["namespaces"].push_back({{"type", "time"}});
  spec_["linux"]["timeOffsets"] = {{"boottime", {{"secs", 86400}, {"nanosecs", 0}}}};
  CmdResult r = RunArgs({"/bin/cat", "/proc/uptime"});
  ASSERT_EQ(r.code, 0) << r.err;
  double inside = std::stod(r.out);
  double host = std::stod(ReadText("/proc/uptime"));
  EXPECT_GT(inside, host + 86000) << r.out;
  EXPECT_LT(inside, host + 86800) << r.out;
}

// Socket activation (runc's behaviour): LISTEN_FDS fds go in first, the variables with them.
TEST_F(ConformanceTest, ListenFdsArePassedOn) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ::setenv("LISTEN_FDS", "1", 1);
  CmdOptions o;
  o.pass_fds = {p[0]};
  CmdResult r = RunProbe({"all"}, {}, o);
  ::unsetenv("LISTEN_FDS");
  ::close(p[0]);
  ::close(p[1]);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["fds"], nlohmann::json::array({0, 1, 2, 3})) << r.out;
  auto env = j["env"];
  EXPECT_NE(std::find(env.begin(), env.end(), "LISTEN_FDS=1"), env.end()) << env;
  EXPECT_NE(std::find(env.begin(), env.end(), "LISTEN_PID=1"), env.end()) << env;
}

// An overlay mount from the spec (lowerdir/upperdir/workdir), as engines build roots.
TEST_F(ConformanceTest, OverlayMount) {
  std::string lower = TempDir("lower"), upper = TempDir("upper"), workdir = TempDir("work");
  std::ofstream(lower + "/from-lower") << "L";
  spec_["mounts"].push_back(
      {{"destination", "/ov"}, {"type", "overlay"}, {"source", "overlay"},
       {"options", {"lowerdir=" + lower, "upperdir=" + upper, "workdir=" + workdir}}});
  CmdResult r = RunArgs({"/bin/sh", "-c", "cat /ov/from-lower; echo U > /ov/new"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "L");
  EXPECT_EQ(ReadText(upper + "/new"), "U\n");
  EXPECT_FALSE(Exists(lower + "/new"));
}

// A caller that ignores SIGINT and SIGQUIT (a shell's background job, CI) must not pass that
// on: execve keeps ignored signals, so the runtime resets them.
TEST_F(ConformanceTest, IgnoredSignalsOfTheCallerAreReset) {
  struct sigaction ign = {}, old_int, old_quit;
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGINT, &ign, &old_int);
  ::sigaction(SIGQUIT, &ign, &old_quit);
  // Also a real-time signal glibc keeps to itself (33): only the raw syscall resets it.
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    unsigned long mask;
  } kign = {reinterpret_cast<void*>(SIG_IGN), 0, nullptr, 0}, kold = {};
  ::syscall(SYS_rt_sigaction, 33, &kign, &kold, sizeof kign.mask);
  CmdResult r = RunArgs({"/bin/grep", "^SigIgn", "/proc/self/status"});
  ::syscall(SYS_rt_sigaction, 33, &kold, nullptr, sizeof kold.mask);
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGQUIT, &old_quit, nullptr);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "SigIgn:\t0000000000000000\n");
}

// config.md: a relative mount destination is relative to "/".
TEST_F(ConformanceTest, RelativeMountDestination) {
  spec_["mounts"].push_back({{"destination", "scratch"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  CmdResult r = RunArgs({"/bin/sh", "-c", "grep ' /scratch ' /proc/self/mountinfo | wc -l"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1\n");
}

TEST_F(ConformanceTest, IdmapWithoutMappingsIsAnError) {
  spec_["mounts"].push_back({{"destination", "/m"}, {"type", "bind"}, {"source", work_},
                             {"options", {"bind", "idmap"}}});
  CmdResult r = RunArgs({"/bin/true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("idmap needs uidMappings"), std::string::npos) << r.err;
}

// runtime.md: changes to config.json after create do not affect the container.
TEST_F(ConformanceTest, ConfigChangesAfterCreateHaveNoEffect) {
  std::string id = NewId("cfg");
  spec_["process"]["args"] = {"/bin/sh", "-c", "echo first"};
  WriteConfig();
  CmdResult c = Runtime({"create", "-b", bundle_, id});
  ASSERT_EQ(c.code, 0) << c.err;
  spec_["process"]["args"] = {"/bin/sh", "-c", "echo second"};
  WriteConfig();
  ASSERT_EQ(Runtime({"start", id}).code, 0);
  ASSERT_TRUE(WaitStatus(id, "stopped"));
  EXPECT_EQ(ReadText(c.out_path), "first\n");
}

// runtime.md: operations on a container in the wrong state, or one that does not exist,
// fail and change nothing.
TEST_F(ConformanceTest, WrongStateAndMissingContainers) {
  std::string id = NewId("st");
  spec_["process"]["args"] = {"/bin/true"};
  WriteConfig();
  ASSERT_EQ(Runtime({"create", "-b", bundle_, id}).code, 0);
  ASSERT_EQ(Runtime({"start", id}).code, 0);
  ASSERT_TRUE(WaitStatus(id, "stopped"));
  CmdResult k = Runtime({"kill", id, "TERM"});
  EXPECT_NE(k.code, 0);
  EXPECT_NE(k.err.find("not running"), std::string::npos) << k.err;
  CmdResult s = Runtime({"start", id});
  EXPECT_NE(s.code, 0);
  EXPECT_NE(s.err.find("not created"), std::string::npos) << s.err;
  EXPECT_EQ(State(id)["status"], "stopped");
  for (const char* op : {"state", "start", "kill", "delete", "pause", "resume", "ps"}) {
    CmdResult r = Runtime({op, "no-such-container"});
    EXPECT_NE(r.code, 0) << op;
    EXPECT_NE(r.err.find("does not exist"), std::string::npos) << op << ": " << r.err;
  }
}

TEST_F(ConformanceTest, SchedulerIoPriorityAndPersonality) {
  spec_["process"]["scheduler"] = {{"policy", "SCHED_BATCH"}, {"nice", 5}};
  spec_["process"]["ioPriority"] = {{"class", "IOPRIO_CLASS_BE"}, {"priority", 6}};
  spec_["linux"]["personality"] = {{"domain", "LINUX32"}};
  CmdResult r = RunArgs({"/bin/sh", "-c",
                         "/bin/busybox ionice -p $$; uname -m; "
                         "cut -d' ' -f19,41 /proc/self/stat"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("best-effort: prio 6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("i686"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n5 3\n"), std::string::npos) << r.out;  // nice 5, SCHED_BATCH (3)
}

// config.md: what the runtime can't do is an error, not a silent omission.
TEST_F(ConformanceTest, UnsupportedFieldsAreRefused) {
  spec_["linux"]["intelRdt"] = {{"closID", "x"}};
  CmdResult r = RunArgs({"/bin/true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("linux.intelRdt: not supported"), std::string::npos) << r.err;
  spec_["linux"].erase("intelRdt");
  spec_["process"]["scheduler"] = {{"policy", "SCHED_MAGIC"}};
  r = RunArgs({"/bin/true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("process.scheduler.policy"), std::string::npos) << r.err;
}

// runtime.md: a failing prestart hook fails create, and the lifecycle still ends with the
// poststop hooks.
TEST_F(ConformanceTest, FailedPrestartStillRunsPoststop) {
  std::string log = work_ + "/hooks.log";
  std::string hook = work_ + "/hook.sh";
  std::ofstream(hook) << "#!/bin/sh\necho \"$1\" >> " << log << "\nexit ${2:-0}\n";
  ASSERT_EQ(::chmod(hook.c_str(), 0755), 0);
  spec_["hooks"]["prestart"] = {{{"path", hook}, {"args", {"hook.sh", "prestart", "3"}}}};
  spec_["hooks"]["poststop"] = {{{"path", hook}, {"args", {"hook.sh", "poststop"}}}};
  std::string id = NewId("pre");
  WriteConfig();
  CmdResult c = Runtime({"create", "-b", bundle_, id});
  EXPECT_NE(c.code, 0);
  EXPECT_NE(c.err.find("prestart hook"), std::string::npos) << c.err;
  EXPECT_EQ(ReadText(log), "prestart\npoststop\n");
  EXPECT_FALSE(Exists(root_ + "/" + id));
}

// A namespace path of the wrong type is refused by setns; create fails and says which.
TEST_F(ConformanceTest, NamespacePathOfTheWrongType) {
  for (auto& ns : spec_["linux"]["namespaces"])
    if (ns["type"] == "network") ns["path"] = "/proc/self/ns/mnt";
  CmdResult r = RunArgs({"/bin/true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("join namespace /proc/self/ns/mnt"), std::string::npos) << r.err;
}

// Without oomScoreAdj the container keeps the runtime's own value (config.md).
TEST_F(ConformanceTest, OomScoreAdjUnsetIsInherited) {
  std::string before = ReadText("/proc/self/oom_score_adj");
  ASSERT_TRUE(WriteText("/proc/self/oom_score_adj", "123"));
  spec_["process"].erase("oomScoreAdj");
  CmdResult r = RunArgs({"/bin/cat", "/proc/self/oom_score_adj"});
  WriteText("/proc/self/oom_score_adj", before);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "123\n");
}

// config.md: without process.user.umask the caller's umask stays.
TEST_F(ConformanceTest, UmaskUnsetIsTheCallers) {
  spec_["process"]["user"].erase("umask");
  mode_t old = ::umask(077);
  CmdResult r = RunArgs({"/bin/sh", "-c", "umask"});
  ::umask(old);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "0077\n");
}

TEST_F(ConformanceTest, CgroupsPathWithDotDotIsRefused) {
  spec_["linux"]["cgroupsPath"] = "/skiff/../../escape";
  CmdResult r = RunArgs({"/bin/true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("linux.cgroupsPath"), std::string::npos) << r.err;
}

// config-linux.md devices: block and fifo nodes are made; a different file already at the
// path is an error, the same device is fine.
TEST_F(ConformanceTest, DeviceTypesAndConflicts) {
  spec_["linux"]["devices"] = {
      {{"path", "/dev/myblk"}, {"type", "b"}, {"major", 7}, {"minor", 0}, {"fileMode", 0600}},
      {{"path", "/dev/myfifo"}, {"type", "p"}, {"fileMode", 0644}}};
  CmdResult r = RunArgs({"/bin/sh", "-c", "stat -c '%F %t:%T' /dev/myblk; stat -c '%F' /dev/myfifo"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "block special file 7:0\nfifo\n");

  ASSERT_EQ(::mkdir((rootfs_ + "/opt").c_str(), 0755), 0);
  std::ofstream(rootfs_ + "/opt/dev") << "not a device";
  spec_["linux"]["devices"] = {
      {{"path", "/opt/dev"}, {"type", "c"}, {"major", 1}, {"minor", 3}}};
  r = RunArgs({"/bin/true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("device /opt/dev: another file is already there"), std::string::npos)
      << r.err;
  EXPECT_EQ(ReadText(rootfs_ + "/opt/dev"), "not a device");
}

}  // namespace
}  // namespace skiff::itest

namespace skiff::itest {
namespace {

// Without a cgroup namespace the container's /sys/fs/cgroup shows its own cgroups (bound
// read-only, as runc), not the host's roots: a program reading its memory limit gets it.
TEST_F(ConformanceTest, OwnCgroupsWithoutCgroupNamespace) {
  auto& nss = spec_["linux"]["namespaces"];
  for (size_t i = 0; i < nss.size(); ++i)
    if (nss[i]["type"] == "cgroup") nss.erase(i--);
  spec_["linux"]["resources"]["memory"] = {{"limit", 67108864}};
  CmdResult r = RunArgs({"/bin/sh", "-c",
                         "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
                         "echo 1 > /sys/fs/cgroup/memory/memory.limit_in_bytes || echo ro"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "67108864\nro\n");
}

}  // namespace
}  // namespace skiff::itest
