// containerd as a client of the runtime: Debian's containerd and its io.containerd.runc.v2
// shim, driven with ctr, with `--runc-binary` set to skiff-runtime and, in the same run, to
// runc and crun. A scenario that passes with them and fails with skiff is skiff's fault.
//
// Each test starts its own containerd (config, root, state and socket in a temp dir, no CRI
// plugin) and uses `ctr run --rootfs`, so no image or snapshotter is involved. TearDown kills
// containerd, its shims and every container whatever the test did, and checks that no
// cgroup, mount or process is left.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "bundle.h"
#include "client_env.h"

namespace skiff::itest {
namespace {

constexpr const char* kContainerd = "/usr/bin/containerd";
constexpr const char* kCtr = "/usr/bin/ctr";
constexpr const char* kShim = "/usr/bin/containerd-shim-runc-v2";

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

struct Task {
  pid_t pid = 0;
  std::string status;  // RUNNING, PAUSED, STOPPED, "" when not listed
};

class ContainerdTest : public ::testing::TestWithParam<ClientRuntime> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    for (const char* tool : {kContainerd, kCtr, kShim})
      if (!Exists(tool)) GTEST_SKIP() << tool << " not installed (make deps)";
    if (!Exists(GetParam().path)) GTEST_SKIP() << GetParam().path << " not installed";
    // The shim daemonizes; as the subreaper we get it (and its containers) when it is orphaned,
    // so TearDown can kill and reap everything.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    // The shim puts its sockets under /run/containerd/s whatever the config says.
    host_dirs_.emplace(std::vector<std::string>{"/run/containerd"});
    char tmpl[] = "/tmp/skiff-ctrd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << strerror(errno);
    work_ = tmpl;
    ASSERT_EQ(::chmod(work_.c_str(), 0755), 0);
    ns_ = "skiff-itest-" + std::to_string(::getpid());
    sock_ = work_ + "/containerd.sock";
    rootfs_ = work_ + "/rootfs";
    MakeBusyboxRootfs(rootfs_);
    if (HasFatalFailure()) return;
    runtime_ = ClientRuntimeBinary(GetParam(), work_);
    ASSERT_NE(runtime_, "") << "can't write the wrapper for " << GetParam().name;
    StartContainerd();
  }

  void StartContainerd() {
    std::string config = work_ + "/config.toml";
    std::ofstream(config) << "version = 2\n"
                          << "root = \"" << work_ << "/root\"\n"
                          << "state = \"" << work_ << "/state\"\n"
                          << "disabled_plugins = [\"io.containerd.grpc.v1.cri\", "
                             "\"io.containerd.snapshotter.v1.aufs\", "
                             "\"io.containerd.snapshotter.v1.btrfs\", "
                             "\"io.containerd.snapshotter.v1.zfs\", "
                             "\"io.containerd.snapshotter.v1.devmapper\"]\n"
                          << "[grpc]\n  address = \"" << sock_ << "\"\n"
                          << "[ttrpc]\n  address = \"" << sock_ << ".ttrpc\"\n"
                          << "[plugins.\"io.containerd.internal.v1.opt\"]\n"
                          << "  path = \"" << work_ << "/opt\"\n"
                          << "[plugins.\"io.containerd.runtime.v1.linux\"]\n"
                          << "  runtime_root = \"" << work_ << "/runtime-v1\"\n"
                          << "[plugins.\"io.containerd.grpc.v1.snapshots\"]\n"
                          << "[plugins.\"io.containerd.snapshotter.v1.overlayfs\"]\n"
                          << "  root_path = \"" << work_ << "/root/overlayfs\"\n";
    std::string log = work_ + "/containerd.log";
    containerd_ = ::fork();
    ASSERT_GE(containerd_, 0) << strerror(errno);
    if (containerd_ == 0) {
      ::setpgid(0, 0);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execl(kContainerd, kContainerd, "--config", config.c_str(), nullptr);
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Exists(sock_) && Ctr({"version"}, 5000).code == 0) return;
      ASSERT_EQ(::waitpid(containerd_, nullptr, WNOHANG), 0) << "containerd exited:\n"
                                                             << ReadText(log);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "containerd did not answer on " << sock_ << ":\n" << ReadText(log);
  }

  void TearDown() override {
    if (work_.empty()) return;
    if (HasFailure()) {
      std::string log = ReadText(work_ + "/containerd.log");
      std::cerr << "containerd.log (tail):\n"
                << log.substr(log.size() > 4000 ? log.size() - 4000 : 0) << "\n";
    }
    ThawCgroups(ns_);
    bool graceful = containerd_ > 0 && ::waitpid(containerd_, nullptr, WNOHANG) == 0;
    if (graceful) {
      // What a user would do; it makes the shim call `delete` on the runtime.
      std::istringstream tasks(Ctr({"task", "ls", "-q"}, 5000).out);
      for (std::string id; std::getline(tasks, id);) {
        if (id.empty()) continue;
        (void)Ctr({"task", "kill", "-a", "-s", "SIGKILL", id}, 5000);
        (void)Ctr({"task", "rm", "-f", id}, 10000);
      }
      std::istringstream containers(Ctr({"container", "ls", "-q"}, 5000).out);
      for (std::string id; std::getline(containers, id);)
        if (!id.empty()) (void)Ctr({"container", "rm", id}, 10000);
    }
    ThawCgroups(ns_);
    KillChildren();  // containerd, the shims, and containers orphaned by a killed shim
    for (const auto& mount : CgroupMounts()) {
      // containerd never removes the namespace's parent cgroup; a container's one is the
      // runtime's `delete` to remove.
      std::string parent = mount + "/" + ns_;
      if (!graceful || !Exists(parent)) continue;
      for (const auto& id : ids_)
        EXPECT_FALSE(Exists(parent + "/" + id)) << "cgroup left behind: " << parent << "/" << id;
    }
    (void)RemoveCgroups(ns_);
    EXPECT_EQ(DetachMountsUnder(work_), 0) << "mounts left under " << work_;
    EXPECT_TRUE(ProcessesMentioning(work_).empty()) << "processes left using " << work_;
    RemoveTree(work_);
    EXPECT_FALSE(Exists(work_)) << "temp dir left behind: " << work_;
    if (host_dirs_) host_dirs_->Restore();
  }

  CmdResult Ctr(const std::vector<std::string>& args, int timeout_ms = 20000) {
    std::vector<std::string> argv = {kCtr, "-a", sock_, "-n", ns_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, work_, {timeout_ms, {}});
  }

  std::string NewId(const std::string& tag) {
    std::string id = tag + "-" + std::to_string(ids_.size());
    ids_.push_back(id);
    return id;
  }

  // `ctr run FLAGS... ROOTFS ID CMD...` with the runtime under test.
  std::vector<std::string> RunArgv(const std::string& id, const std::vector<std::string>& flags,
                                   const std::vector<std::string>& cmd) {
    std::vector<std::string> argv = {"run",           "--runc-binary", runtime_,
                                     "--runc-root",   work_ + "/runc", "--fifo-dir",
                                     work_ + "/fifo", "--env",         "PATH=/bin"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {"--rootfs", rootfs_, id});
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    return argv;
  }

  CmdResult Run(const std::string& id, const std::vector<std::string>& flags,
                const std::vector<std::string>& cmd) {
    return Ctr(RunArgv(id, flags, cmd));
  }

  // A detached task running cmd; its pid, 0 (and the test failed) when it did not start.
  pid_t Detached(const std::string& id, const std::vector<std::string>& cmd = {"sleep", "1000"}) {
    CmdResult r = Run(id, {"-d"}, cmd);
    EXPECT_EQ(r.code, 0) << r.err;
    if (r.code != 0) return 0;
    EXPECT_TRUE(WaitTask(id, "RUNNING")) << TaskOf(id).status;
    return TaskOf(id).pid;
  }

  Task TaskOf(const std::string& id) {
    std::istringstream in(Ctr({"task", "ls"}, 5000).out);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string name;
      Task t;
      if (f >> name >> t.pid >> t.status && name == id) return t;
    }
    return {};
  }

  bool WaitTask(const std::string& id, const std::string& status, int timeout_ms = 10000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (TaskOf(id).status == status) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  CmdResult Exec(const std::string& id, const std::string& exec_id,
                 const std::vector<std::string>& cmd, bool detach = false) {
    std::vector<std::string> argv = {"task",          "exec",      "--fifo-dir",
                                     work_ + "/fifo", "--exec-id", exec_id};
    if (detach) argv.push_back("-d");
    argv.push_back(id);
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    return Ctr(argv);
  }

  std::string work_, ns_, sock_, rootfs_;
  std::string runtime_;  // what --runc-binary names: the runtime, or crun's wrapper
  pid_t containerd_ = 0;
  std::vector<std::string> ids_;
  std::optional<HostDirGuard> host_dirs_;
};

TEST_P(ContainerdTest, RunPassesExitCodeOn) {
  CmdResult r = Run(NewId("exit"), {"--rm"}, {"sh", "-c", "echo from-container; exit 3"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(Contains(r.out, "from-container")) << r.out;
}

TEST_P(ContainerdTest, DetachedTaskIsRunningInItsCgroup) {
  std::string id = NewId("detached");
  pid_t pid = Detached(id);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(Alive(pid));
  EXPECT_EQ(HostCgroupDir(pid, "memory"), "/sys/fs/cgroup/memory/" + ns_ + "/" + id);
}

TEST_P(ContainerdTest, ExecPassesOutputAndExitCodeOn) {
  std::string id = NewId("exec");
  ASSERT_GT(Detached(id), 0);
  CmdResult r = Exec(id, "x1", {"sh", "-c", "echo from-exec; exit 5"});
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_TRUE(Contains(r.out, "from-exec")) << r.out;
}

TEST_P(ContainerdTest, KillTermReachesTheTrap) {
  std::string id = NewId("term");
  ASSERT_GT(Detached(id, {"sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done"}), 0);
  CmdResult k = Ctr({"task", "kill", "-s", "SIGTERM", id});
  EXPECT_EQ(k.code, 0) << k.err;
  EXPECT_TRUE(WaitTask(id, "STOPPED")) << TaskOf(id).status;
  CmdResult rm = Ctr({"task", "rm", id});
  EXPECT_EQ(rm.code, 0) << rm.err;
  EXPECT_TRUE(Contains(rm.err, "exit code 7")) << rm.err;
}

TEST_P(ContainerdTest, KillKillStopsAnInitThatIgnoresTerm) {
  std::string id = NewId("kill");
  ASSERT_GT(Detached(id), 0);  // sleep as pid 1 has no TERM handler: TERM does nothing
  CmdResult k = Ctr({"task", "kill", "-s", "SIGKILL", id});
  EXPECT_EQ(k.code, 0) << k.err;
  EXPECT_TRUE(WaitTask(id, "STOPPED")) << TaskOf(id).status;
  CmdResult rm = Ctr({"task", "rm", id});
  EXPECT_TRUE(Contains(rm.err, "exit code 137")) << rm.err;
}

TEST_P(ContainerdTest, KillAllReachesExecedProcesses) {
  std::string id = NewId("killall");
  ASSERT_GT(Detached(id), 0);
  CmdResult e = Exec(id, "bg", {"sleep", "1000"}, /*detach=*/true);
  ASSERT_EQ(e.code, 0) << e.err;
  CmdResult k = Ctr({"task", "kill", "-a", "-s", "SIGKILL", id});  // the shim: kill --all
  EXPECT_EQ(k.code, 0) << k.err;
  EXPECT_TRUE(WaitTask(id, "STOPPED")) << TaskOf(id).status;
  std::string procs = ReadText("/sys/fs/cgroup/pids/" + ns_ + "/" + id + "/cgroup.procs");
  EXPECT_EQ(procs, "") << "still in the container's cgroup";
}

TEST_P(ContainerdTest, PauseAndResume) {
  std::string id = NewId("pause");
  ASSERT_GT(Detached(id), 0);
  CmdResult p = Ctr({"task", "pause", id});
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(TaskOf(id).status, "PAUSED");
  std::string state = "/sys/fs/cgroup/freezer/" + ns_ + "/" + id + "/freezer.state";
  EXPECT_EQ(ReadText(state), "FROZEN\n");
  CmdResult r = Ctr({"task", "resume", id});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(TaskOf(id).status, "RUNNING");
  EXPECT_EQ(ReadText(state), "THAWED\n");
  CmdResult e = Exec(id, "after", {"echo", "awake"});
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_TRUE(Contains(e.out, "awake")) << e.out;
}

TEST_P(ContainerdTest, PsListsInitAndExecedProcesses) {
  std::string id = NewId("ps");
  pid_t pid = Detached(id);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(Exec(id, "bg", {"sleep", "1000"}, true).code, 0);
  CmdResult r = Ctr({"task", "ps", id});  // the shim: ps --format json
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);
  std::vector<pid_t> pids;
  for (pid_t p; in >> p;) {
    pids.push_back(p);
    in.ignore(1 << 20, '\n');
  }
  EXPECT_EQ(pids.size(), 2u) << r.out;
  EXPECT_NE(std::find(pids.begin(), pids.end(), pid), pids.end()) << r.out;
}

TEST_P(ContainerdTest, MetricsShowMemoryAndCpu) {
  std::string id = NewId("metrics");
  ASSERT_GT(Detached(id), 0);
  CmdResult r = Ctr({"task", "metrics", id});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::map<std::string, std::string> values;
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string key, value;
    if (f >> key >> value) values[key] = value;
  }
  for (const char* key : {"memory.usage_in_bytes", "cpuacct.usage"}) {
    ASSERT_TRUE(values.count(key)) << key << " missing:\n" << r.out;
    EXPECT_GT(std::stoull(values[key]), 0u) << key;
  }
  EXPECT_EQ(values["pids.current"], "1") << r.out;
}

// CVE-2024-21626: no fd of the shim or the runtime reaches the container.
TEST_P(ContainerdTest, ContainerSeesOnlyItsStdio) {
  CmdResult r = Run(NewId("fds"), {"--rm"}, {"/bin/skiff-probe", "fds"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[0,1,2]\n");
  std::string id = NewId("fds-host");
  pid_t pid = Detached(id);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(HostFds(pid), "0 1 2");
  CmdResult e = Exec(id, "x", {"/bin/skiff-probe", "fds"});
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.out, "[0,1,2]\n");
}

// The shim passes --log FILE --log-format json and quotes the last error in it.
TEST_P(ContainerdTest, RuntimeErrorReachesCtr) {
  CmdResult r = Run(NewId("missing"), {"--rm"}, {"/nonexistent"});
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(Contains(r.err, "OCI runtime create failed")) << r.err;
  EXPECT_TRUE(Contains(r.err, "/nonexistent")) << r.err;
}

TEST_P(ContainerdTest, TtyRun) {
  std::vector<std::string> argv = {kCtr, "-a", sock_, "-n", ns_};
  auto run = RunArgv(NewId("tty"), {"--rm", "-t"}, {"sh", "-c", "tty; stty size; exit 4"});
  argv.insert(argv.end(), run.begin(), run.end());
  CmdResult r = RunInPty(argv);
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_TRUE(Contains(r.out, "/dev/pts/0")) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Runtimes, ContainerdTest, ::testing::ValuesIn(ClientRuntimes()),
                         ClientRuntimeName);

// CVE-2019-5736 through containerd, with a copy of skiff-runtime as the runtime binary (see
// ExeAttack): `ctr task exec` makes the shim call the runtime's exec, whose process turns into
// the runtime's binary inside the container, where the container's init gets hold of it.
class ContainerdExeTest : public ContainerdTest {};

TEST_P(ContainerdExeTest, ContainerCannotWriteTheRuntimeBinary) {
  const std::string sha = Sha256Of(runtime_);
  ASSERT_NE(sha, "");
  ExeAttack attack;
  attack.Prepare(work_ + "/attack");
  if (HasFatalFailure()) return;
  std::string id = NewId("exe");
  std::string mount =
      "type=bind,src=" + work_ + "/attack,dst=" + ExeAttack::kMountPoint + ",options=rbind:rw";
  CmdResult r = Run(id, {"-d", "--mount", mount}, attack.InitCmd());
  ASSERT_EQ(r.code, 0) << r.err;
  CmdResult e = Exec(id, "evil", attack.ExecCmd());
  auto report = attack.Report();
  attack.ExpectFailed(report, runtime_, sha);
  if (HasFailure()) std::cerr << "exec: " << e.code << " " << e.out << e.err << "\n";
}

INSTANTIATE_TEST_SUITE_P(Copy, ContainerdExeTest, ::testing::Values(SkiffRuntimeCopy()),
                         ClientRuntimeName);

}  // namespace
}  // namespace skiff::itest
