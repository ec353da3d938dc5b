// The container process's identity and its last steps before execve.
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "base/file.h"
#include "base/syscalls.h"
#include "base/unix_socket.h"
#include "runtime/child/child.h"
#include "runtime/child/trace.h"
#include "runtime/sync.h"

namespace skiff::runtime::child {
namespace {

constexpr const char* kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string EnvPath(const std::vector<std::string>& env) {
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) return e.substr(5);
  return kDefaultPath;
}

// execvp's search, done against the container's root after pivot_root and before the
// start wait, so that "not found" fails create (as runc does) rather than start.
Result<std::string> LookPath(const std::string& name, const std::vector<std::string>& env) {
  if (name.empty()) return MakeError(EINVAL, "process.args[0] is empty");
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) < 0) return Errno("exec %s", name.c_str());
    return name;
  }
  std::string path = EnvPath(env);
  int last_err = ENOENT;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find(':', pos);
    if (end == std::string::npos) end = path.size();
    // An empty PATH element means the current directory.
    std::string dir = end > pos ? path.substr(pos, end - pos) : std::string(1, '.');
    std::string candidate = dir + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      last_err = errno;
    }
    pos = end + 1;
  }
  return MakeError(last_err, "exec %s: not found in $PATH", name.c_str());
}

// The spec's name for a resource, for error messages ("setrlimit 7" tells a user nothing).
const char* RlimitName(int resource) {
  static const std::pair<int, const char*> kNames[] = {
      {RLIMIT_AS, "RLIMIT_AS"},         {RLIMIT_CORE, "RLIMIT_CORE"},
      {RLIMIT_CPU, "RLIMIT_CPU"},       {RLIMIT_DATA, "RLIMIT_DATA"},
      {RLIMIT_FSIZE, "RLIMIT_FSIZE"},   {RLIMIT_LOCKS, "RLIMIT_LOCKS"},
      {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"}, {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"},
      {RLIMIT_NICE, "RLIMIT_NICE"},     {RLIMIT_NOFILE, "RLIMIT_NOFILE"},
      {RLIMIT_NPROC, "RLIMIT_NPROC"},   {RLIMIT_RSS, "RLIMIT_RSS"},
      {RLIMIT_RTPRIO, "RLIMIT_RTPRIO"}, {RLIMIT_RTTIME, "RLIMIT_RTTIME"},
      {RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"}, {RLIMIT_STACK, "RLIMIT_STACK"},
  };
  for (const auto& [r, name] : kNames)
    if (r == resource) return name;
  return "RLIMIT_?";
}

Status SwitchUser(const ChildPlan& plan) {
  // Supplementary groups are always set, even to none: the host's must not leak in.
  if (::setgroups(plan.groups.size(), plan.groups.data()) < 0) {
    // An unprivileged gid_map comes with setgroups=deny; then there is nothing to clear.
    if (!(errno == EPERM && plan.new_userns && plan.groups.empty()))
      return Errno("setgroups");
  }
  if (::setresgid(plan.gid, plan.gid, plan.gid) < 0) return Errno("setgid %u", plan.gid);
  // Keep the permitted set across the uid change; the capability step trims it afterwards.
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return Errno("prctl keepcaps");
  if (::setresuid(plan.uid, plan.uid, plan.uid) < 0) return Errno("setuid %u", plan.uid);
  if (TraceOn())
    Trace("setuid",
          "setgroups (%zu groups), setresgid %u, setresuid %u (PR_SET_KEEPCAPS across it)",
          plan.groups.size(), plan.gid, plan.uid);
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return Errno("prctl keepcaps");
  // The uid change reset dumpable to fs.suid_dumpable; we are still the runtime's image
  // until execve (which makes the container's binary dumpable again).
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return Errno("prctl dumpable");
  return Ok();
}

// The filter, and with SCMP_ACT_NOTIFY its listener fd handed to the agent at
// listenerPath with the seccomp state (config-linux.md "The Container Process State").
// The sendmsg here runs under the filter: a profile that notifies sendmsg itself would
// wait on an agent that has no fd yet, so such a profile can't work (as with runc).
Status InstallSeccomp(const ChildPlan& plan) {
  int listener = -1;
  TRY(LoadSeccomp(*plan.seccomp, plan.seccomp->has_notify ? &listener : nullptr).Wrap("seccomp"));
  if (TraceOn())
    Trace("seccomp", "seccomp(SECCOMP_SET_MODE_FILTER, flags 0x%x): %zu BPF instructions%s",
          plan.seccomp->flags, plan.seccomp->filter.size(),
          plan.no_new_privs ? "" : " (before the capability drop: no no_new_privs)");
  if (listener < 0) return Ok();
  std::string pid = std::to_string(HostPid());
  std::string msg = plan.seccomp_msg[0] + pid + plan.seccomp_msg[1] + pid + plan.seccomp_msg[2];
  TRY(SendFd(plan.seccomp_listener_sock, listener, msg).Wrap("seccomp listener"));
  ::close(listener);
  ::close(plan.seccomp_listener_sock);
  return Ok();
}

// Ignored signals and the blocked mask survive execve: a runtime started from a shell job
// or a supervisor that ignores SIGINT/SIGQUIT would pass that on, and Ctrl-C would not
// reach the container. The container starts from the defaults, whatever its caller had.
void ResetSignals() {
  // The raw syscall: glibc's sigaction refuses 32 and 33 (its own), and a caller may well
  // have left those ignored too (seen in CI).
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    unsigned long mask;
  } dfl = {};  // SIG_DFL
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof dfl.mask);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void TraceCaps(const char* set, uint64_t mask, int last_cap) {
  char names[1200];
  Trace("caps", "%s %s", set, CapsText(mask, last_cap, names, sizeof names));
}

Status WaitStart(const ChildPlan& plan, int* report_fd) {
  if (plan.start_listen_fd < 0) {
    SyncMsg m;
    bool got = TRY(RecvSync(plan.sync_fd, &m));
    if (!got || m.type != SyncType::kStart) _exit(0);  // the parent gave up: nothing to run
    return Ok();
  }
  // create: `start` connects to start.sock; it learns of a failed exec from a kError on the
  // connection, and of a successful one from EOF (the fd is CLOEXEC).
  int conn;
  do {
    conn = ::accept4(plan.start_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  } while (conn < 0 && errno == EINTR);
  if (conn < 0) return Errno("wait for start");
  *report_fd = conn;
  ::close(plan.start_listen_fd);
  return Ok();
}

// In the container's new network namespace, before its capabilities go: lo starts down.
Status BringUpLoopback() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return Errno("socket to bring lo up");
  struct ifreq ifr = {};
  std::memcpy(ifr.ifr_name, "lo", 3);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) < 0) return Errno("get the flags of lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) < 0) return Errno("bring lo up");
  if (TraceOn()) Trace("net", "lo up: ioctl SIOCSIFFLAGS IFF_UP");
  return Ok();
}

}  // namespace

Status ApplyIdentity(const ChildPlan& plan) {
  if (plan.loopback_up) TRY(BringUpLoopback());
  if (plan.hostname && ::sethostname(plan.hostname->data(), plan.hostname->size()) < 0)
    return Errno("sethostname %s", plan.hostname->c_str());
  if (TraceOn() && plan.hostname) Trace("hostname", "sethostname %s", plan.hostname->c_str());
  if (plan.domainname && ::setdomainname(plan.domainname->data(), plan.domainname->size()) < 0)
    return Errno("setdomainname %s", plan.domainname->c_str());
  if (TraceOn() && plan.domainname) Trace("hostname", "setdomainname %s", plan.domainname->c_str());
  for (const RlimitStep& r : plan.rlimits) {
    if (::setrlimit(r.resource, &r.value) < 0)
      return Errno("setrlimit %s to %llu/%llu", RlimitName(r.resource),
                   static_cast<unsigned long long>(r.value.rlim_cur),
                   static_cast<unsigned long long>(r.value.rlim_max));
    if (TraceOn())
      Trace("rlimit", "setrlimit %s soft %llu hard %llu", RlimitName(r.resource),
            static_cast<unsigned long long>(r.value.rlim_cur),
            static_cast<unsigned long long>(r.value.rlim_max));
  }
  if (plan.oom_score_adj) {
    std::string v = std::to_string(*plan.oom_score_adj);
    TRY(WriteFile("/proc/self/oom_score_adj", v));
    if (TraceOn()) Trace("oom", "write /proc/self/oom_score_adj = %s", v.c_str());
  }
  if (plan.personality && ::personality(*plan.personality) < 0) return Errno("personality");
  if (plan.sched) {
    struct {
      uint32_t size, policy;
      uint64_t flags;
      int32_t nice;
      uint32_t priority;
      uint64_t runtime, deadline, period;
    } attr = {48, plan.sched->policy, plan.sched->flags, plan.sched->nice,
              plan.sched->priority, plan.sched->runtime, plan.sched->deadline,
              plan.sched->period};
    if (::syscall(SYS_sched_setattr, 0, &attr, 0) < 0) return Errno("process.scheduler");
  }
  if (plan.ioprio && ::syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, *plan.ioprio) < 0)
    return Errno("process.ioPriority");
  return Ok();
}

Result<std::string> ResolveExecutable(const ChildPlan& plan) {
  if (plan.args.empty()) return std::string();  // no process: start will say so
  return LookPath(plan.args[0], plan.env);
}

Status FinishAndExec(const ChildPlan& plan, const std::string& path, int* report_fd) {
  bool cwd_done = ::chdir(plan.cwd.c_str()) == 0;
  if (!cwd_done && errno != EACCES && errno != EPERM) return Errno("chdir %s", plan.cwd.c_str());

  // Every fd not passed on is closed at execve (CVE-2024-21626: a leaked host fd, such as a
  // cgroup directory, lets the container walk out of its root). CLOEXEC rather than close,
  // because the report fd must live until the execve itself.
  unsigned first = 3 + static_cast<unsigned>(plan.preserve_fds);
  if (sys::CloseRange(first, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0) return Errno("close_range");
  for (int fd = 3; fd < static_cast<int>(first); ++fd) {
    if (::fcntl(fd, F_SETFD, 0) < 0) return Errno("keep fd %d", fd);
  }

  TRY(WaitStart(plan, report_fd));
  if (TraceOn()) Trace("start", "start signal received");
  ResetSignals();
  if (plan.args.empty()) return MakeError(0, "process: not set in config.json, nothing to start");
  TRY(RunStartHooks(plan));

  // Without no_new_privs a filter needs CAP_SYS_ADMIN, which the capability step may take
  // away: load it while we still have it (runc's order). The filter then also sees the
  // setuid and capset calls below; Docker's profile allows them.
  if (plan.seccomp && !plan.no_new_privs) TRY(InstallSeccomp(plan));
  TRY(DropBounding(plan.caps));  // needs CAP_SETPCAP: before the uid switch
  if (TraceOn()) TraceCaps("bounding", plan.caps.bounding, plan.caps.last_cap);
  TRY(SwitchUser(plan));
  TRY(SetCapabilities(plan.caps));
  if (TraceOn()) {
    TraceCaps("effective", plan.caps.effective, plan.caps.last_cap);
    TraceCaps("permitted", plan.caps.permitted, plan.caps.last_cap);
    TraceCaps("inheritable", plan.caps.inheritable, plan.caps.last_cap);
    TraceCaps("ambient", plan.caps.ambient, plan.caps.last_cap);
  }
  if (!cwd_done && ::chdir(plan.cwd.c_str()) < 0) return Errno("chdir %s", plan.cwd.c_str());
  if (plan.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return Errno("prctl no_new_privs");
  if (TraceOn())
    Trace("prctl", "no_new_privs %s",
          plan.no_new_privs ? "set (PR_SET_NO_NEW_PRIVS 1)" : "not set");
  // config.md: without process.user.umask the caller's umask is kept.
  ::umask(plan.umask.value_or(CallerUmask()));
  // As late as possible: every syscall from here to execve is filtered.
  if (plan.seccomp && plan.no_new_privs) TRY(InstallSeccomp(plan));

  std::vector<char*> argv, envp;
  for (const auto& a : plan.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : plan.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  if (TraceOn()) {
    char a[3000];
    Trace("chdir", "%s", plan.cwd.c_str());
    Trace("execve", "%s argv %s (%zu env vars; fds >= %u close on exec)", path.c_str(),
          ArgvText(plan.args, a, sizeof a), plan.env.size(), first);
  }
  ::execve(path.c_str(), argv.data(), envp.data());
  return Errno("exec %s", path.c_str());
}

}  // namespace skiff::runtime::child
