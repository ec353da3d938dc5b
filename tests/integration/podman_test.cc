// podman (and conmon) as a client of the runtime: `podman --runtime PATH` with skiff-runtime
// and, in the same run, with runc and crun. A scenario that passes with them and fails with
// skiff is skiff's fault.
//
// Each test gets its own podman world in a temp dir: --root, --runroot, --tmpdir, a
// containers.conf (CONTAINERS_CONF) with this machine's ulimits, no network and file events,
// and an image imported from a busybox rootfs tar the test makes. Containers go under a
// cgroup parent of the test's own. TearDown removes every container, kills conmon and
// whatever else is left, and checks that no cgroup, mount or process stays behind.
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "bundle.h"
#include "client_env.h"

namespace skiff::itest {
namespace {

constexpr const char* kPodman = "/usr/bin/podman";
constexpr const char* kConmon = "/usr/bin/conmon";
constexpr const char* kImage = "localhost/busybox";

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Also without the \r a terminal adds.
std::string TrimCrLf(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

class PodmanTest : public ::testing::TestWithParam<ClientRuntime> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    for (const char* tool : {kPodman, kConmon, "/bin/tar"})
      if (!Exists(tool)) GTEST_SKIP() << tool << " not installed (make deps)";
    if (!Exists(GetParam().path)) GTEST_SKIP() << GetParam().path << " not installed";
    // conmon double-forks; as the subreaper we get it, and can kill and reap it in TearDown.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    // containers/image keeps a blob cache for root at /var/lib/containers/cache, whatever
    // --root says. The runtime keeps its state in its default root: podman's
    // `--runtime-flag root=DIR` is not passed on to the `podman container cleanup` that conmon
    // runs at exit, whose `delete` would then look in the default root and miss.
    host_dirs_.emplace(std::vector<std::string>{"/var/lib/containers", "/run/runc", "/run/crun",
                                                "/run/skiff-runtime"});
    char tmpl[] = "/tmp/skiff-podman-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << strerror(errno);
    work_ = tmpl;
    ASSERT_EQ(::chmod(work_.c_str(), 0755), 0);
    cgroup_ = "skiff-itest-" + std::to_string(::getpid());
    runtime_ = ClientRuntimeBinary(GetParam(), work_);
    ASSERT_NE(runtime_, "") << "can't write the wrapper for " << GetParam().name;
    std::string conf = work_ + "/containers.conf";
    // The hard nofile limit here is 20000 and root lacks CAP_SYS_RESOURCE: podman's default
    // of 1048576 would fail in every runtime.
    std::ofstream(conf) << "[containers]\n"
                        << "default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n"
                        << "netns = \"none\"\n"
                        << "log_driver = \"k8s-file\"\n"
                        << "[engine]\n"
                        << "cgroup_manager = \"cgroupfs\"\n"
                        << "events_logger = \"file\"\n"
                        << "events_logfile_path = \"" << work_ << "/events.log\"\n"
                        << "[network]\n"
                        << "network_config_dir = \"" << work_ << "/net\"\n";
    ::setenv("CONTAINERS_CONF", conf.c_str(), 1);

    std::string rootfs = work_ + "/rootfs";
    MakeBusyboxRootfs(rootfs);
    if (HasFatalFailure()) return;
    std::string tar = work_ + "/rootfs.tar";
    CmdResult t = RunCommand({"/bin/tar", "-C", rootfs, "-cf", tar, "."}, work_);
    ASSERT_EQ(t.code, 0) << t.err;
    CmdResult i = Podman({"import", tar, kImage}, 60000);
    ASSERT_EQ(i.code, 0) << i.err;
  }

  void TearDown() override {
    if (work_.empty()) return;
    // What a user would do; conmon and podman call the runtime's kill and delete (and resume
    // first for a paused container: so no thawing behind podman's back before this).
    CmdResult rm = Podman({"rm", "-a", "-f", "-t", "0"}, 30000);
    if (rm.code != 0) {
      // podman's own race, seen with runc as with skiff under load: a container that dies
      // between its stop and its kill fails the rm with "container does not exist". Once
      // more, as a user would; the leak checks below still hold the runtime to account.
      std::fprintf(stderr, "podman rm -a -f failed once, again: %s\n", rm.err.c_str());
      rm = Podman({"rm", "-a", "-f", "-t", "0"}, 30000);
    }
    EXPECT_EQ(rm.code, 0) << rm.err;
    ThawCgroups(cgroup_);
    KillChildren();
    for (const auto& mount : CgroupMounts()) {
      // podman leaves <parent>/conmon; a container's libpod-<id> is the runtime's to remove.
      for (const auto& id : ids_) {
        std::string dir = mount + "/" + cgroup_ + "/libpod-" + id;
        EXPECT_FALSE(Exists(dir)) << "cgroup left behind: " << dir;
      }
    }
    (void)RemoveCgroups(cgroup_);
    // The overlay driver may keep its home bind-mounted private; container rootfs or shm
    // mounts are leaks.
    for (const auto& m : MountsUnder(work_))
      EXPECT_FALSE(Contains(m, "/merged") || Contains(m, "/shm")) << "mount left behind: " << m;
    (void)DetachMountsUnder(work_);
    EXPECT_TRUE(ProcessesMentioning(work_).empty()) << "processes left using " << work_;
    RemoveTree(work_);
    EXPECT_FALSE(Exists(work_)) << "temp dir left behind: " << work_;
    if (host_dirs_) host_dirs_->Restore();
    ::unsetenv("CONTAINERS_CONF");
  }

  std::vector<std::string> PodmanArgv(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {
        kPodman,    "--root",           work_ + "/root",    "--runroot", work_ + "/runroot",
        "--tmpdir", work_ + "/tmp",     "--cgroup-manager", "cgroupfs",  "--events-backend",
        "file",     "--storage-driver", "overlay",          "--runtime", runtime_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  CmdResult Podman(const std::vector<std::string>& args, int timeout_ms = 30000) {
    return RunCommand(PodmanArgv(args), work_, {timeout_ms, {}});
  }

  // `podman run FLAGS... IMAGE CMD...` under the test's cgroup parent.
  std::vector<std::string> RunArgs(const std::vector<std::string>& flags,
                                   const std::vector<std::string>& cmd) {
    std::vector<std::string> args = {"run", "--cgroup-parent", "/" + cgroup_};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(kImage);
    args.insert(args.end(), cmd.begin(), cmd.end());
    return args;
  }

  // A detached container running cmd, by name; its full id is kept for the cgroup check.
  std::string Detached(const std::string& name,
                       const std::vector<std::string>& cmd = {"sleep", "1000"},
                       const std::vector<std::string>& flags = {}) {
    std::vector<std::string> all = {"-d", "--name", name};
    all.insert(all.end(), flags.begin(), flags.end());
    CmdResult r = Podman(RunArgs(all, cmd));
    EXPECT_EQ(r.code, 0) << r.err;
    if (r.code == 0) ids_.push_back(TrimCrLf(r.out));
    return r.code == 0 ? name : "";
  }

  std::string Inspect(const std::string& name, const std::string& format) {
    return TrimCrLf(Podman({"inspect", "-f", format, name}).out);
  }

  bool WaitStatus(const std::string& name, const std::string& want, int timeout_ms = 15000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Inspect(name, "{{.State.Status}}") == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  pid_t PidOf(const std::string& name) { return atoi(Inspect(name, "{{.State.Pid}}").c_str()); }

  std::string work_, cgroup_;
  std::string runtime_;  // what --runtime names: the runtime, or crun's wrapper
  std::vector<std::string> ids_;
  std::optional<HostDirGuard> host_dirs_;
};

TEST_P(PodmanTest, RunPassesExitCodeOn) {
  CmdResult r = Podman(RunArgs({"--rm"}, {"sh", "-c", "echo from-container; exit 3"}));
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(Contains(r.out, "from-container")) << r.out;
}

TEST_P(PodmanTest, DetachedShowsInPsInItsCgroup) {
  ASSERT_NE(Detached("detached"), "");
  CmdResult ps = Podman({"ps", "--format", "{{.Names}} {{.Status}}"});
  EXPECT_EQ(ps.code, 0) << ps.err;
  EXPECT_TRUE(Contains(ps.out, "detached Up")) << ps.out;
  pid_t pid = PidOf("detached");
  ASSERT_GT(pid, 0);
  EXPECT_EQ(HostCgroupDir(pid, "memory"),
            "/sys/fs/cgroup/memory/" + cgroup_ + "/libpod-" + ids_.at(0));
}

TEST_P(PodmanTest, ExecPassesOutputAndExitCodeOn) {
  ASSERT_NE(Detached("exec"), "");
  CmdResult r = Podman({"exec", "exec", "sh", "-c", "echo from-exec; exit 4"});
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_TRUE(Contains(r.out, "from-exec")) << r.out;
}

TEST_P(PodmanTest, StopSendsTermToTheTrap) {
  ASSERT_NE(Detached("term", {"sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done"}), "");
  CmdResult s = Podman({"stop", "-t", "10", "term"});
  EXPECT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(Inspect("term", "{{.State.Status}} {{.State.ExitCode}}"), "exited 7");
}

TEST_P(PodmanTest, StopFallsBackToKill) {
  ASSERT_NE(Detached("kill"), "");  // sleep as pid 1 ignores TERM
  CmdResult s = Podman({"stop", "-t", "1", "kill"});
  EXPECT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(Inspect("kill", "{{.State.Status}} {{.State.ExitCode}}"), "exited 137");
}

TEST_P(PodmanTest, LogsShowWhatTheContainerWrote) {
  ASSERT_NE(Detached("logs", {"sh", "-c", "echo hello-logs; echo to-stderr >&2; sleep 1000"}), "");
  CmdResult r;
  for (int i = 0; i < 100 && !Contains(r.out + r.err, "to-stderr"); ++i) {
    r = Podman({"logs", "logs"});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(Contains(r.out, "hello-logs")) << r.out;
  EXPECT_TRUE(Contains(r.err, "to-stderr")) << r.err;
}

TEST_P(PodmanTest, PauseAndUnpause) {
  ASSERT_NE(Detached("pause"), "");
  CmdResult p = Podman({"pause", "pause"});
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(Inspect("pause", "{{.State.Status}}"), "paused");
  std::string state =
      "/sys/fs/cgroup/freezer/" + cgroup_ + "/libpod-" + ids_.at(0) + "/freezer.state";
  EXPECT_EQ(ReadText(state), "FROZEN\n");
  CmdResult u = Podman({"unpause", "pause"});
  EXPECT_EQ(u.code, 0) << u.err;
  EXPECT_EQ(Inspect("pause", "{{.State.Status}}"), "running");
  CmdResult e = Podman({"exec", "pause", "echo", "awake"});
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_TRUE(Contains(e.out, "awake")) << e.out;
}

TEST_P(PodmanTest, InspectFollowsTheLifecycle) {
  CmdResult c = Podman({"create", "--cgroup-parent", "/" + cgroup_, "--name", "life", kImage, "sh",
                        "-c", "sleep 1000"});
  ASSERT_EQ(c.code, 0) << c.err;
  ids_.push_back(TrimCrLf(c.out));
  EXPECT_EQ(Inspect("life", "{{.State.Status}}"), "created");
  CmdResult s = Podman({"start", "life"});
  EXPECT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(Inspect("life", "{{.State.Status}}"), "running");
  CmdResult k = Podman({"kill", "-s", "KILL", "life"});
  EXPECT_EQ(k.code, 0) << k.err;
  EXPECT_TRUE(WaitStatus("life", "exited"));
  EXPECT_EQ(Inspect("life", "{{.State.ExitCode}}"), "137");
}

TEST_P(PodmanTest, TtyRun) {
  CmdResult r = RunInPty(PodmanArgv(RunArgs({"--rm", "-t"}, {"sh", "-c", "tty; exit 6"})));
  EXPECT_EQ(r.code, 6) << r.out;
  EXPECT_TRUE(Contains(r.out, "/dev/pts/0")) << r.out;
}

// CVE-2024-21626: no fd of podman, conmon or the runtime reaches the container.
TEST_P(PodmanTest, ContainerSeesOnlyItsStdio) {
  CmdResult r = Podman(RunArgs({"--rm"}, {"/bin/skiff-probe", "fds"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[0,1,2]\n");
  ASSERT_NE(Detached("fds"), "");
  pid_t pid = PidOf("fds");
  ASSERT_GT(pid, 0);
  EXPECT_EQ(HostFds(pid), "0 1 2");
  CmdResult e = Podman({"exec", "fds", "/bin/skiff-probe", "fds"});
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.out, "[0,1,2]\n");
}

TEST_P(PodmanTest, RuntimeErrorReachesPodman) {
  CmdResult r = Podman(RunArgs({"--rm"}, {"/nonexistent"}));
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(Contains(r.err, "/nonexistent")) << r.err;
}

// A container without a cgroup namespace (podman's default on cgroup v1) must see its own
// cgroup at /sys/fs/cgroup/<controller>, as runc arranges by bind-mounting the container's
// cgroup dirs: tools read their memory limit there. Mounting each v1 hierarchy afresh would,
// without a cgroup namespace, show the host's root cgroup (and every other
// container's) instead; skiff binds the container's dirs too now.
TEST_P(PodmanTest, OwnCgroupAtSysFsCgroup) {
  CmdResult r = Podman(
      RunArgs({"--rm", "--memory", "64m"}, {"cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "67108864\n");
}

// podman's --tmpfs asks for "tmpcopyup" by default: the tmpfs starts with a copy of what the
// image has at that path (runc and crun both implement it).
TEST_P(PodmanTest, TmpfsCopiesUpTheImageDir) {
  CmdResult r = Podman(RunArgs({"--rm", "--tmpfs", "/etc"}, {"cat", "/etc/passwd"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "root:x:0:0:root:/:/bin/sh\n");
}

INSTANTIATE_TEST_SUITE_P(Runtimes, PodmanTest, ::testing::ValuesIn(ClientRuntimes()),
                         ClientRuntimeName);

// CVE-2019-5736 through podman, with a copy of skiff-runtime as the runtime binary (see
// ExeAttack): `podman exec` makes conmon call the runtime's exec, whose process turns into the
// runtime's binary inside the container, where the container's init gets hold of it.
class PodmanExeTest : public PodmanTest {};

TEST_P(PodmanExeTest, ContainerCannotWriteTheRuntimeBinary) {
  const std::string sha = Sha256Of(runtime_);
  ASSERT_NE(sha, "");
  ExeAttack attack;
  attack.Prepare(work_ + "/attack");
  if (HasFatalFailure()) return;
  std::string volume = work_ + "/attack:" + ExeAttack::kMountPoint;
  ASSERT_NE(Detached("exe", attack.InitCmd(), {"-v", volume}), "");
  std::vector<std::string> exec = {"exec", "exe"};
  for (const auto& a : attack.ExecCmd()) exec.push_back(a);
  CmdResult e = Podman(exec);
  auto report = attack.Report();
  attack.ExpectFailed(report, runtime_, sha);
  if (HasFailure()) std::cerr << "exec: " << e.code << " " << e.out << e.err << "\n";
}

INSTANTIATE_TEST_SUITE_P(Copy, PodmanExeTest, ::testing::Values(SkiffRuntimeCopy()),
                         ClientRuntimeName);

}  // namespace
}  // namespace skiff::itest
