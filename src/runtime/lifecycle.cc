// start, run, kill, delete, state, list.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "base/file.h"
#include "base/syscalls.h"
#include "cgroup/manager.h"
#include "runtime/child/hook_exec.h"
#include "runtime/console.h"
#include "runtime/container.h"
#include "runtime/create_internal.h"
#include "runtime/explain.h"
#include "runtime/planner.h"
#include "runtime/sync.h"

namespace skiff::runtime {
namespace {

// After kStart (run) or connect (start), the child's report fd reads EOF once execve
// succeeded, or a kError if the last steps failed.
Status WaitExec(int fd) {
  SyncMsg m;
  bool got = TRY(RecvSync(fd, &m));
  if (!got) return Ok();
  if (m.type == SyncType::kError) return Error{m.err, m.msg};
  return MakeError(EPROTO, "unexpected sync message %u", static_cast<unsigned>(m.type));
}

Result<UniqueFd> OpenPidfd(const ContainerState& s) {
  UniqueFd fd(sys::PidfdOpen(s.pid, 0));
  if (!fd) {
    if (errno == ESRCH) return MakeError(ESRCH, "container %s is not running", s.id.c_str());
    return Errno("pidfd_open %d", s.pid);
  }
  // The pidfd pins the process; checking its start time after opening closes the window in
  // which the pid could have been reused.
  if (!ProcessAlive(s.pid, s.pid_start))
    return MakeError(ESRCH, "container %s is not running", s.id.c_str());
  return fd;
}

Status WaitPidfd(int pidfd, int timeout_ms) {
  struct pollfd p = {pidfd, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Errno("wait for the container to exit");
  if (n == 0) return MakeError(ETIMEDOUT, "the container did not exit");
  return Ok();
}

Status Cleanup(const std::string& root, const ContainerState& s) {
  if (!s.cgroup_paths.empty()) {
    cgroup::Hierarchies h = TRY(cgroup::Detect());
    auto m = TRY(cgroup::Open(h, s.cgroup_paths));
    TRY(m->Destroy().Wrap("remove cgroup"));
  }
  return RemoveAll(StateDir(root, s.id));
}

volatile sig_atomic_t g_forward_pid = 0;

void ForwardSignal(int sig) {
  if (g_forward_pid > 0) ::kill(g_forward_pid, sig);
}

// run stays in the foreground: the signals a terminal or a supervisor sends go on to the
// container, as runc does.
void InstallForwarding(pid_t pid) {
  g_forward_pid = pid;
  struct sigaction sa = {};
  sa.sa_handler = ForwardSignal;
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH})
    ::sigaction(sig, &sa, nullptr);
}

// poststart and poststop failures are warnings (config.md): the lifecycle goes on.
void RunWarnHooks(const ContainerState& s, ContainerStatus status, bool poststart) {
  if (s.config_json.find("\"hooks\"") == std::string::npos) return;  // the common case
  auto spec = oci::ParseSpec(s.config_json);
  if (!spec.ok() || !spec->hooks) return;
  const auto& hooks = poststart ? spec->hooks->poststart : spec->hooks->poststop;
  std::string state = StateJson(s, status, -1);
  for (const HookSpec& h : ToHookSpecs(hooks)) {
    Status st = RunHook(h, state, poststart ? "poststart" : "poststop");
    if (!st.ok()) fprintf(stderr, "skiff-runtime: warning: %s\n", st.error().Message().c_str());
  }
}

}  // namespace

Status Start(const std::string& root, const std::string& id) {
  auto run = [&]() -> Status {
    UniqueFd lock = TRY(LockContainer(root, id));
    ContainerState s = TRY(LoadState(root, id));
    ContainerStatus st = CurrentStatus(root, s);
    if (st != ContainerStatus::kCreated)
      return MakeError(EINVAL, "container is %s, not created", StatusName(st));
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!fd) return Errno("socket");
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/start.sock", lock.get());
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
      return Errno("connect to the container");
    // From here on the container counts as started, whether exec succeeds or not.
    ::unlinkat(lock.get(), "start.sock", 0);
    TRY(WaitExec(fd.get()));
    RunWarnHooks(s, ContainerStatus::kRunning, true);
    return Ok();
  };
  return run().Wrap("start " + id);
}

Result<int> Run(const CreateOptions& in, bool detach, bool keep) {
  CreateOptions opts = in;
  opts.detach = detach;
  Created c = TRY(CreateContainer(opts, true).Wrap("run " + opts.id));
  SyncMsg start = {};
  start.type = SyncType::kStart;
  if (opts.explain)
    opts.explain->Step("runtime", "start", "release the container process to execve");
  Status st = SendSync(c.sync_fd.get(), start);
  if (st.ok()) st = WaitExec(c.sync_fd.get());
  if (opts.explain) {
    // The child's last lines (capabilities, seccomp, execve) are in the pipe by now: its
    // write end closed at execve, or when it died.
    if (st.ok())
      opts.explain->Step("runtime", "running", "execve succeeded (sync socket closed on exec)");
    opts.explain->Flush(true);
  }
  if (!st.ok()) {
    if (c.cgroup) (void)c.cgroup->Destroy();
    c.pid.reset();
    (void)RemoveAll(StateDir(opts.root, opts.id));
    return std::move(st).error().Wrap("run " + opts.id);
  }
  RunWarnHooks(c.state, ContainerStatus::kRunning, true);
  if (detach) {
    (void)c.pid.release();
    return 0;
  }
  c.dir_fd.reset();  // let state/kill from other processes in while we wait
  pid_t pid = c.pid.release();
  InstallForwarding(pid);
  if (c.console_master) {
    UniqueFd pidfd(sys::PidfdOpen(pid, 0));
    if (pidfd) ProxyConsole(c.console_master.get(), pidfd.get());
    c.console_master.reset();
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Errno("wait for %d", pid);
  }
  g_forward_pid = 0;
  if (!keep) {
    // Processes the container left behind in its cgroup go with it.
    if (c.cgroup) (void)c.cgroup->Destroy();
    (void)RemoveAll(StateDir(opts.root, opts.id));
    RunWarnHooks(c.state, ContainerStatus::kStopped, false);
  }
  return ExitCodeOf(status);
}

Status Kill(const std::string& root, const std::string& id, int sig, bool all) {
  auto run = [&]() -> Status {
    ContainerState s = TRY(LoadState(root, id));
    if (all) {
      cgroup::Hierarchies h = TRY(cgroup::Detect());
      auto m = TRY(cgroup::Open(h, s.cgroup_paths));
      return m->Signal(sig);
    }
    UniqueFd pidfd = TRY(OpenPidfd(s));
    if (sys::PidfdSendSignal(pidfd.get(), sig, 0) < 0) return Errno("signal %d", sig);
    return Ok();
  };
  return run().Wrap("kill " + id);
}

// pause/resume: the freezer of the container's cgroup (v1 freezer.state, v2 cgroup.freeze).
Status SetFrozen(const std::string& root, const std::string& id, bool frozen) {
  UniqueFd lock = TRY(LockContainer(root, id));
  ContainerState s = TRY(LoadState(root, id));
  ContainerStatus st = CurrentStatus(root, s);
  ContainerStatus want = frozen ? ContainerStatus::kRunning : ContainerStatus::kPaused;
  if (st != want)
    return MakeError(EINVAL, "container is %s, not %s", StatusName(st), StatusName(want));
  cgroup::Hierarchies h = TRY(cgroup::Detect());
  auto m = TRY(cgroup::Open(h, s.cgroup_paths));
  return frozen ? m->Freeze() : m->Thaw();
}

Status Pause(const std::string& root, const std::string& id) {
  return SetFrozen(root, id, true).Wrap("pause " + id);
}

Status Resume(const std::string& root, const std::string& id) {
  return SetFrozen(root, id, false).Wrap("resume " + id);
}

Status Delete(const std::string& root, const std::string& id, bool force) {
  auto run = [&]() -> Status {
    // `delete --force` of a container that is gone succeeds, as in runc: containerd's shim
    // calls it after its own `delete` when it cleans up, and podman's cleanup (run by conmon
    // at exit) calls it on containers another delete may have removed; podman leaves the
    // container "stopped" instead of "exited" when it fails. Without --force it is an error
    // (runtime.md).
    auto lock = LockContainer(root, id);
    if (!lock.ok() && force && lock.error().code == ENOENT) return Ok();
    if (!lock.ok()) return std::move(lock).error();
    auto state = LoadState(root, id);
    if (!state.ok() && force && state.error().code == ENOENT) return Ok();
    ContainerState s = TRY(std::move(state));
    ContainerStatus st = CurrentStatus(root, s);
    if (st == ContainerStatus::kRunning || st == ContainerStatus::kPaused) {
      if (!force)
        return MakeError(EBUSY, "container is %s: stop it first or use --force", StatusName(st));
    }
    if (st != ContainerStatus::kStopped) {
      // A created container is deleted without --force, as runc does: it never ran.
      auto pidfd = OpenPidfd(s);
      if (pidfd.ok()) {
        (void)sys::PidfdSendSignal(pidfd->get(), SIGKILL, 0);
        if (st == ContainerStatus::kPaused) {
          cgroup::Hierarchies h = TRY(cgroup::Detect());
          auto m = TRY(cgroup::Open(h, s.cgroup_paths));
          (void)m->Thaw();
        }
        (void)WaitPidfd(pidfd->get(), 10000);
      }
    }
    TRY(Cleanup(root, s));
    RunWarnHooks(s, ContainerStatus::kStopped, false);
    return Ok();
  };
  return run().Wrap("delete " + id);
}

Result<std::string> StateOf(const std::string& root, const std::string& id) {
  auto s = LoadState(root, id);
  if (!s.ok()) return std::move(s).error().Wrap("state " + id);
  return StateJson(*s, CurrentStatus(root, *s), 2);
}

Result<std::vector<ListEntry>> List(const std::string& root) {
  std::vector<ListEntry> out;
  for (const std::string& id : TRY(ListIds(root))) {
    auto s = LoadState(root, id);
    if (!s.ok()) continue;  // being deleted right now
    ContainerStatus st = CurrentStatus(root, *s);
    out.push_back({std::move(s.value()), st});
  }
  return out;
}

Result<int> ParseSignal(const std::string& in) {
  if (!in.empty() && isdigit(static_cast<unsigned char>(in[0]))) {
    char* end;
    long v = strtol(in.c_str(), &end, 10);
    if (*end || v <= 0 || v >= NSIG) return MakeError(EINVAL, "invalid signal %s", in.c_str());
    return static_cast<int>(v);
  }
  std::string name = in;
  for (auto& ch : name) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev && name == abbrev) return sig;
  }
  if (name.rfind("RTMIN", 0) == 0 || name.rfind("RTMAX", 0) == 0) {
    int base = name[2] == 'M' && name[3] == 'I' ? SIGRTMIN : SIGRTMAX;
    int off = name.size() > 5 ? atoi(name.c_str() + 5) : 0;
    return base + off;
  }
  return MakeError(EINVAL, "invalid signal %s", in.c_str());
}

}  // namespace skiff::runtime
