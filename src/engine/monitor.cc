#include "engine/monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "base/fd.h"
#include "base/file.h"
#include "base/syscalls.h"
#include "cgroup/manager.h"
#include "engine/container_fs.h"
#include "engine/container_ops.h"
#include "engine/logs.h"
#include "runtime/container.h"
#include "runtime/create_internal.h"
#include "runtime/explain.h"
#include "runtime/state.h"
#include "runtime/sync.h"

namespace skiff::engine {
namespace {

// What ends a monitor's restart delay early (WakeMonitor). SIGURG, because its default
// action is to ignore it: one that comes when the monitor is not waiting for it (to the
// skiff-monitor that watches a running container, or between the delay and the start) does
// nothing, and the container never inherits a handler or a mask for it. The kernel sends it
// only for a socket's out-of-band data to an owner set with F_SETOWN, which the monitor never
// sets; a foreground run does not forward it. (Go's runtime picked it for the same reasons.)
constexpr int kWakeSignal = SIGURG;

volatile sig_atomic_t g_forward_pid = 0;
volatile sig_atomic_t g_winch = 0;

void ForwardSignal(int sig) {
  if (sig == SIGWINCH) g_winch = 1;
  if (g_forward_pid > 0 && sig != SIGWINCH) ::kill(g_forward_pid, sig);
}

void SetSignals(bool forward, bool tty) {
  struct sigaction sa = {};
  sa.sa_handler = ForwardSignal;
  if (forward) {
    // With -t, ^C reaches the container through the pty (raw mode): only what a supervisor
    // sends is forwarded.
    for (int sig : {SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGINT})
      if (!tty || sig == SIGTERM || sig == SIGHUP) ::sigaction(sig, &sa, nullptr);
    if (tty) ::sigaction(SIGWINCH, &sa, nullptr);
  }
  ::signal(SIGPIPE, SIG_IGN);
}

// The container's process, started and running: we are its parent.
struct Running {
  pid_t pid = 0;
  UniqueFd pidfd;
  UniqueFd out, err;  // pipe read ends; with a tty, out is the pty master
  UniqueFd in;        // -i without -t: the write end of its stdin pipe
  std::unique_ptr<cgroup::Manager> cgroup;
};

Status WaitExec(int fd) {
  runtime::SyncMsg m;
  bool got = TRY(runtime::RecvSync(fd, &m));
  if (!got) return Ok();
  if (m.type == runtime::SyncType::kError) return Error{m.err, m.msg};
  return MakeError(EPROTO, "unexpected sync message %u", static_cast<unsigned>(m.type));
}

// Puts a, b, c at fds 0, 1, 2 for the runtime's clone (the container inherits them) and
// puts ours back when it goes out of scope.
class StdioSwap {
 public:
  StdioSwap(int a, int b, int c) {
    int want[3] = {a, b, c};
    for (int i = 0; i < 3; ++i) {
      saved_[i] = ::fcntl(i, F_DUPFD_CLOEXEC, 3);
      ::dup2(want[i], i);
    }
  }
  ~StdioSwap() {
    for (int i = 0; i < 3; ++i) {
      if (saved_[i] >= 0) {
        ::dup2(saved_[i], i);
        ::close(saved_[i]);
      } else {
        ::close(i);
      }
    }
  }

 private:
  int saved_[3] = {-1, -1, -1};
};

Result<std::pair<UniqueFd, UniqueFd>> Pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return Errno("pipe");
  return std::make_pair(UniqueFd(p[0]), UniqueFd(p[1]));
}

Result<Running> StartProcess(Engine& e, const ContainerRecord& rec, bool foreground) {
  std::string rootfs = RootfsDir(e, rec.id);
  std::string dir = BundleDir(e, rec.id);
  if (!IsMountPoint(rootfs))
    TRY(MountOverlay(rec.config.lower_dirs, dir + "/upper", dir + "/work", rootfs,
                     rec.config.auto_remove));
  // Leftovers of a monitor that died (Refresh normally clears them).
  (void)runtime::Delete(e.run_root, rec.id, true);

  runtime::CreateOptions co;
  co.root = e.run_root;
  co.id = rec.id;
  co.bundle = dir;
  // run --explain (container_ops.h); in a detached run's monitor it prints into the pipe
  // to `run -d` (SpawnMonitor), for the first start only.
  co.explain = CurrentExplain();
  co.loopback_up = true;  // Docker brings lo up in every network namespace of its own
  if (e.fresh_id == rec.id && e.fresh_spec) {
    co.config_json = &e.fresh_json;
    co.spec = &*e.fresh_spec;
  }
  Running r;
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) return Errno("open /dev/null");
  UniqueFd out_w, err_w, in_r;
  if (!rec.config.tty) {
    auto [o_r, o_w] = TRY(Pipe());
    auto [e_r, e_w] = TRY(Pipe());
    r.out = std::move(o_r);
    r.err = std::move(e_r);
    out_w = std::move(o_w);
    err_w = std::move(e_w);
    if (foreground && rec.config.interactive) {
      auto [i_r, i_w] = TRY(Pipe());
      in_r = std::move(i_r);
      r.in = std::move(i_w);
    }
  }
  Result<runtime::Created> made = MakeError(0, "not created");
  {
    // With a tty the runtime gives the child the pty slave as 0, 1 and 2.
    int in = in_r ? in_r.get() : devnull.get();
    int out = out_w ? out_w.get() : devnull.get();
    int err = err_w ? err_w.get() : devnull.get();
    StdioSwap swap(in, out, err);
    made = runtime::CreateContainer(co, true);
  }
  e.fresh_id.clear();  // a restart reads config.json
  e.fresh_json.clear();
  e.fresh_spec.reset();
  out_w.reset();
  err_w.reset();
  in_r.reset();
  if (!made.ok()) return std::move(made).error();
  runtime::Created c = std::move(made.value());
  runtime::SyncMsg start = {};
  start.type = runtime::SyncType::kStart;
  Status st = runtime::SendSync(c.sync_fd.get(), start);
  if (st.ok()) st = WaitExec(c.sync_fd.get());
  if (co.explain) co.explain->Flush(true);
  if (!st.ok()) {
    if (c.cgroup) (void)c.cgroup->Destroy();
    c.pid.reset();
    (void)RemoveAll(runtime::StateDir(e.run_root, rec.id));
    return std::move(st).error();
  }
  c.dir_fd.reset();  // kill, state and exec from other processes may lock it now
  r.pid = c.pid.release();
  r.pidfd = UniqueFd(sys::PidfdOpen(r.pid, 0));
  if (!r.pidfd) return Errno("pidfd_open %d", r.pid);
  if (rec.config.tty) r.out = std::move(c.console_master);
  r.cgroup = std::move(c.cgroup);
  return r;
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Copies the container's output into the log (and to our stdout/stderr in the foreground)
// until it exits; returns its wait status.
class Pump {
 public:
  Pump(int log_fd, bool foreground, bool tty) : log_(log_fd), fg_(foreground), tty_(tty) {}

  // false at EOF or error of from.
  bool Copy(int from, int stream) {
    char buf[16384];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) return false;
    if (fg_) WriteAll(stream == 2 ? 2 : 1, buf, static_cast<size_t>(n));
    split_[stream == 2].Feed(std::string_view(buf, static_cast<size_t>(n)),
                             [&](std::string_view line) { Log(line, stream); });
    return true;
  }
  void Flush() {
    for (int s : {1, 2}) split_[s == 2].Flush([&](std::string_view l) { Log(l, s); });
  }

 private:
  void Log(std::string_view line, int stream) {
    std::string rec = EncodeLogLine(line, stream == 2 ? "stderr" : "stdout", LogTimeNow());
    (void)WriteAll(log_, rec.data(), rec.size());
  }
  int log_;
  bool fg_, tty_;
  LogSplitter split_[2];
};

void CopySize(int from, int to) {
  struct winsize ws;
  if (::ioctl(from, TIOCGWINSZ, &ws) == 0) (void)::ioctl(to, TIOCSWINSZ, &ws);
}

Result<int> WatchProcess(Running& r, int log_fd, bool foreground, bool tty, bool stdin_open) {
  Pump pump(log_fd, foreground, tty);
  struct termios saved;
  bool raw = foreground && tty && ::isatty(0) && ::tcgetattr(0, &saved) == 0;
  if (raw) {
    struct termios t = saved;
    ::cfmakeraw(&t);
    ::tcsetattr(0, TCSANOW, &t);
  }
  if (foreground && tty && r.out) CopySize(0, r.out.get());
  g_forward_pid = r.pid;
  bool out_open = r.out.valid(), err_open = r.err.valid();
  bool in_open = stdin_open;
  int status = 0;
  for (;;) {
    struct pollfd p[4] = {{r.pidfd.get(), POLLIN, 0},
                          {out_open ? r.out.get() : -1, POLLIN, 0},
                          {err_open ? r.err.get() : -1, POLLIN, 0},
                          {in_open ? 0 : -1, POLLIN, 0}};
    int n = ::poll(p, 4, -1);
    if (g_winch) {
      g_winch = 0;
      if (r.out) CopySize(0, r.out.get());
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (p[1].revents) out_open = pump.Copy(r.out.get(), 1);
    if (p[2].revents) err_open = pump.Copy(r.err.get(), 2);
    if (p[3].revents) {
      char buf[8192];
      ssize_t k = ::read(0, buf, sizeof buf);
      int to = tty ? r.out.get() : r.in.get();
      if (k <= 0 || !WriteAll(to, buf, static_cast<size_t>(k))) {
        in_open = false;
        if (!tty) r.in.reset();  // EOF on our stdin closes the container's
      }
    }
    if (p[0].revents & POLLIN) break;
  }
  while (::waitpid(r.pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_forward_pid = 0;
  // What it wrote last is still in the pipes (or the master); processes it left behind in
  // a shared pid namespace may hold the pipes open, so read only what is there.
  for (int s : {1, 2}) {
    UniqueFd& fd = s == 1 ? r.out : r.err;
    if (!fd) continue;
    int fl = ::fcntl(fd.get(), F_GETFL);
    ::fcntl(fd.get(), F_SETFL, fl | O_NONBLOCK);
    while (pump.Copy(fd.get(), s)) {
      struct pollfd q = {fd.get(), POLLIN, 0};
      if (::poll(&q, 1, 0) <= 0) break;
    }
  }
  pump.Flush();
  if (raw) ::tcsetattr(0, TCSANOW, &saved);
  return runtime::ExitCodeOf(status);
}

bool ShouldRestart(const ContainerRecord& r) {
  if (r.stopped_by_user) return false;
  const RestartPolicy& p = r.config.restart;
  switch (p.mode) {
    case RestartMode::kNo:
      return false;
    case RestartMode::kAlways:
    case RestartMode::kUnlessStopped:
      return true;
    case RestartMode::kOnFailure:
      return r.exit_code != 0 && (p.max_retries == 0 || r.restart_count < p.max_retries);
  }
  return false;
}

}  // namespace

void SleepMs(int64_t ms) {
  struct timespec ts = {static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000};
  while (::nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

UniqueFd MonitorFd(const ContainerRecord& r) {
  if (r.monitor_pid <= 0 || r.monitor_pid == ::getpid() || !MonitorAlive(r)) return UniqueFd();
  UniqueFd fd(sys::PidfdOpen(r.monitor_pid, 0));
  if (fd && !MonitorAlive(r)) fd.reset();  // gone, and its pid reused, before we pinned it
  return fd;
}

void WakeMonitor(const ContainerRecord& r) {
  UniqueFd fd = MonitorFd(r);
  if (fd) (void)sys::PidfdSendSignal(fd.get(), kWakeSignal, 0);
}

bool MonitorAlive(const ContainerRecord& r) {
  if (r.monitor_pid <= 0 || !runtime::ProcessAlive(r.monitor_pid, r.monitor_start)) return false;
  // A zombie is gone too: its parent (a subreaper that inherited it when the skiff that
  // forked it exited) has not reaped it yet.
  auto stat = ReadFile(StrFormat("/proc/%d/stat", r.monitor_pid));
  if (!stat.ok()) return false;
  size_t paren = stat->rfind(')');
  return paren == std::string::npos || paren + 2 >= stat->size() || (*stat)[paren + 2] != 'Z';
}

namespace {

// After the container's process exited: the OOM verdict, its cgroup and runtime state
// removed, the exit recorded. Returns the record; whether to restart is ShouldRestart's.
Result<ContainerRecord> RecordExit(Engine& e, const std::string& id, int exit_code,
                                   cgroup::Manager* cg) {
  std::unique_ptr<cgroup::Manager> opened;
  if (!cg) {
    // After the exec of skiff-monitor: the cgroup comes back from the runtime state.
    auto st = runtime::LoadState(e.run_root, id);
    auto h = cgroup::Detect();
    if (st.ok() && h.ok() && !st->cgroup_paths.empty()) {
      auto m = cgroup::Open(*h, st->cgroup_paths);
      if (m.ok()) opened = std::move(m.value());
    }
    cg = opened.get();
  }
  bool oom = false;
  if (cg) {
    auto kills = cg->OomKillCount();
    oom = kills.ok() && *kills > 0;
    (void)cg->Destroy();
  }
  (void)RemoveAll(runtime::StateDir(e.run_root, id));
  return e.records.Update(id, [&](ContainerRecord* c) {
    c->status = ContainerStatus::kExited;
    c->exit_code = exit_code;
    c->oom_killed = oom;
    c->pid = 0;
    c->finished_at = NowRfc3339Nano();
  });
}

// The monitor's end: the rootfs unmounted, and the container removed with --rm.
int Finish(Engine& e, const ContainerRecord& rec, int exit_code) {
  (void)UnmountAll(RootfsDir(e, rec.id));
  if (rec.config.auto_remove) {
    (void)RemoveContainer(e, rec.id, true, true);
    return exit_code;
  }
  (void)e.records.Update(rec.id, [&](ContainerRecord* c) {
    c->monitor_pid = 0;
    c->monitor_start = 0;
  });
  return exit_code;
}

// Docker's restart delay: 100 ms, doubled for each restart, at most a minute... here 10 s.
int64_t RestartDelayMs(int restart_count) {
  int64_t ms = 100;
  for (int i = 0; i < restart_count && ms < 10000; ++i) ms *= 2;
  return std::min<int64_t>(ms, 10000);
}

int64_t MonotonicMs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Sleeps ms, or until wake (blocked) comes and the record then says the user stopped the
// container or is gone: any other SIGURG is no reason to end the delay.
void SleepUnlessStopped(Engine& e, const std::string& id, int64_t ms, const sigset_t& wake) {
  const int64_t end = MonotonicMs() + ms;
  for (int64_t left = ms; left > 0; left = end - MonotonicMs()) {
    struct timespec ts = {static_cast<time_t>(left / 1000),
                          static_cast<long>(left % 1000) * 1000000};
    if (::sigtimedwait(&wake, nullptr, &ts) < 0) {
      if (errno == EAGAIN) return;  // the delay is over
      continue;                     // EINTR: a handler ran (a foreground run's forwarding)
    }
    auto cur = e.records.Lookup(id);
    if (!cur.ok() || cur->stopped_by_user) return;
  }
}

// Between two runs: the record says restarting (Docker counts the restart as it begins) for
// the policy's delay, which a stop or rm -f ends (WakeMonitor). false when the user stopped
// the container before it began; whether to start again after it is RunLoop's decision.
Result<bool> WaitToRestart(Engine& e, ContainerRecord* rec) {
  // Blocked before the record says restarting, the only state in which stop wakes us: the
  // wake is kept pending until we wait, not discarded (SIGURG's default action). The mask
  // is ours again before the next start.
  sigset_t wake, old;
  ::sigemptyset(&wake);
  ::sigaddset(&wake, kWakeSignal);
  ::sigprocmask(SIG_BLOCK, &wake, &old);
  ScopeGuard restore([&] { ::sigprocmask(SIG_SETMASK, &old, nullptr); });
  *rec = TRY(e.records.Update(rec->id, [](ContainerRecord* c) {
    if (c->stopped_by_user) return;
    c->status = ContainerStatus::kRestarting;
    c->restart_count++;
  }));
  if (rec->stopped_by_user) return false;
  SleepUnlessStopped(e, rec->id, RestartDelayMs(rec->restart_count - 1), wake);
  return true;
}

// Hands the running container over to skiff-monitor (see monitor_main.cc). Returns only
// when the exec failed; the caller then watches the container itself.
void ExecSmallMonitor(Engine& e, const std::string& id, Running& r, int log_fd) {
  if (e.monitor_path.empty() || e.skiff_exe.empty()) return;
  // The fds go on at fixed numbers; everything else of ours closes at the exec.
  int fds[3] = {r.out ? r.out.get() : -1, r.err ? r.err.get() : -1, log_fd};
  int placed[3];
  for (int i = 0; i < 3; ++i) {
    placed[i] = fds[i] < 0 ? -1 : ::fcntl(fds[i], F_DUPFD, 10);  // no CLOEXEC
  }
  std::vector<std::string> args = {e.monitor_path,
                                   std::to_string(r.pid),
                                   std::to_string(placed[0]),
                                   std::to_string(placed[1]),
                                   std::to_string(placed[2]),
                                   "--",
                                   e.skiff_exe,
                                   "--root",
                                   e.root,
                                   "container",
                                   "__monitor",
                                   id};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  for (int fd : placed)
    if (fd >= 0) ::close(fd);
}

// Starts the container (again) and watches it until it stops for good. first: the first
// start, whose caller holds the start lock if it takes one (StartContainer); a restart
// (after WaitToRestart) takes it here.
Result<int> RunLoop(Engine& e, ContainerRecord rec, bool foreground, bool first,
                    const std::function<void(const Status&)>& on_started) {
  const std::string id = rec.id;
  UniqueFd log(::open(LogPath(e, id).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!log) return Errno("open %s", LogPath(e, id).c_str());
  int exit_code = first ? 0 : rec.exit_code;
  for (;;) {
    // A restart is decided, started and recorded running under the start lock, which stop
    // takes to mark the container stopped (LockStart): a stop that lands meanwhile waits and
    // then stops the new process, instead of being lost to it.
    std::optional<FileLock> restart_lock;
    if (!first) {
      restart_lock = TRY(LockStart(e, id));
      rec = TRY(e.records.Update(id, [](ContainerRecord* c) {
        if (c->stopped_by_user && c->status == ContainerStatus::kRestarting)
          c->status = ContainerStatus::kExited;
      }));
      if (rec.stopped_by_user) break;  // stopped during the delay
    }
    auto run = StartProcess(e, rec, foreground);
    if (!run.ok()) {
      Error err = std::move(run).error();
      rec = TRY(e.records.Update(id, [&](ContainerRecord* r) {
        // As Docker: a container that never ran stays "Created", with the exit code and
        // the error of the failed start.
        bool ran = !r->started_at.empty() && r->started_at != kZeroTime;
        r->status = ran ? ContainerStatus::kExited : ContainerStatus::kCreated;
        r->exit_code = StartExitCode(err);
        r->error = err.Message();
        r->pid = 0;
        r->start_failed_at = NowRfc3339Nano();
        if (ran) r->finished_at = r->start_failed_at;
      }));
      restart_lock.reset();
      if (first) on_started(err);
      Finish(e, rec, exit_code);
      return err;
    }
    Running& r = *run;
    rec = TRY(e.records.Update(id, [&](ContainerRecord* c) {
      c->status = ContainerStatus::kRunning;
      c->pid = r.pid;
      c->started_at = NowRfc3339Nano();
      c->exit_code = 0;
      c->oom_killed = false;
      c->error.clear();
    }));
    restart_lock.reset();
    if (first) on_started(Ok());
    first = false;
    if (!foreground) ExecSmallMonitor(e, id, r, log.get());
    bool stdin_open = foreground && rec.config.interactive;
    exit_code = TRY(WatchProcess(r, log.get(), foreground, rec.config.tty, stdin_open));
    rec = TRY(RecordExit(e, id, exit_code, r.cgroup.get()));
    if (!ShouldRestart(rec)) break;
    if (!TRY(WaitToRestart(e, &rec))) break;
  }
  return Finish(e, rec, exit_code);
}

}  // namespace

Result<int> MonitorContainer(Engine& e, const std::string& id, bool foreground,
                             const std::function<void(const Status&)>& on_started) {
  auto self_start = TRY(runtime::ProcessStartTime(::getpid()));
  ContainerRecord rec = TRY(e.records.Update(id, [&](ContainerRecord* r) {
    r->monitor_pid = ::getpid();
    r->monitor_start = self_start;
    r->stopped_by_user = false;
    r->error.clear();
  }));
  SetSignals(foreground, rec.config.tty);
  return RunLoop(e, std::move(rec), foreground, true, on_started);
}

Result<int> ContinueMonitor(Engine& e, const std::string& id, int exit_code) {
  ::prctl(PR_SET_NAME, "skiff-monitor", 0, 0, 0);
  SetSignals(false, false);
  ContainerRecord rec = TRY(RecordExit(e, id, exit_code, nullptr));
  if (!ShouldRestart(rec)) return Finish(e, rec, exit_code);
  if (!TRY(WaitToRestart(e, &rec))) return Finish(e, rec, exit_code);
  return RunLoop(e, std::move(rec), false, false, [](const Status&) {});
}

// The startup report on the monitor's pipe: explain's lines (run -d --explain), then this
// separator, then "0\n" or "<code>\n<message>".
constexpr char kReportSeparator = '\x1e';

Status SpawnMonitor(Engine& e, const std::string& id) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return Errno("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  // The engine's steps are ours to print; the runtime's come back from the monitor.
  if (runtime::Explain* ex = CurrentExplain()) ex->Flush(false);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return Errno("fork the monitor");
  if (pid == 0) {
    rd.reset();
    ::setsid();
    ::prctl(PR_SET_NAME, "skiff-monitor", 0, 0, 0);
    // Orphans of a container that shares our pid namespace come back to us, not to init.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    int null = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
    if (null > 2) ::close(null);
    int w = wr.release();
    if (w != 3) {
      ::dup2(w, 3);
      ::close(w);
    }
    ::fcntl(3, F_SETFD, FD_CLOEXEC);
    sys::CloseRange(4, ~0U, 0);
    UniqueFd report(3);
    if (runtime::Explain* ex = CurrentExplain()) ex->set_out_fd(report.get());
    auto done = [&](const Status& st) {
      if (runtime::Explain* ex = CurrentExplain()) ex->Flush(false);
      SetExplain(nullptr);  // restarts are not explained: nobody reads this pipe then
      std::string msg(1, kReportSeparator);
      msg.append(st.ok() ? std::string("0\n")
                         : StrFormat("%d\n%s", st.error().code, st.error().msg.c_str()));
      (void)WriteAll(report.get(), msg.data(), msg.size());
      report.reset();
    };
    (void)MonitorContainer(e, id, false, done);
    ::_exit(0);
  }
  wr.reset();
  std::string msg;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<size_t>(n));
  }
  size_t sep = msg.rfind(kReportSeparator);
  if (sep == std::string::npos)
    return MakeError(ECHILD, "the monitor of %s exited before starting it", id.c_str());
  if (sep > 0) (void)WriteAll(2, msg.data(), sep);  // the runtime's explain lines
  msg.erase(0, sep + 1);
  if (msg == "0\n") return Ok();
  size_t nl = msg.find('\n');
  int code = atoi(msg.c_str());
  return Error{code, nl == std::string::npos ? msg : msg.substr(nl + 1)};
}

}  // namespace skiff::engine
