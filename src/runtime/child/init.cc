// The child's entry: a flat list of steps, in the order the kernel requires (STYLE.md
// rule 8). Each ordering constraint is written beside the step that depends on it.
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "base/file.h"
#include "base/syscalls.h"
#include "runtime/child/child.h"
#include "runtime/child/trace.h"
#include "runtime/sync.h"

namespace skiff::runtime::child {
namespace {

void Report(int fd, const Error& e) {
  SyncMsg m = {};
  m.type = SyncType::kError;
  m.err = e.code;
  size_t n = std::min(e.msg.size(), sizeof m.msg - 1);
  memcpy(m.msg, e.msg.data(), n);
  (void)SendSync(fd, m);
}

Status JoinCgroup(const ChildPlan& plan) {
  // Before any namespace is created or joined: the cgroup namespace made below takes the
  // cgroup we are in at that moment as its root.
  for (int fd : plan.cgroup_tasks_fds) {
    if (::write(fd, "0", 1) < 0) return Errno("join cgroup (tasks)");
    ::close(fd);
  }
  if (TraceOn() && !plan.cgroup_tasks_fds.empty())
    Trace("cgroup", "wrote 0 to `tasks` of %zu v1 hierarchies: joined the container's cgroup",
          plan.cgroup_tasks_fds.size());
  return Ok();
}

Status JoinNamespaces(const ChildPlan& plan) {
  // The user namespace comes first (it is first in the list): joining the others needs
  // the capabilities it gives.
  for (const NsJoin& ns : plan.joins) {
    if (::setns(ns.fd.get(), ns.nstype) < 0) return Errno("join namespace %s", ns.path.c_str());
    if (TraceOn()) {
      char f[64];
      Trace("setns", "%s (%s)", ns.path.c_str(), CloneFlagsText(ns.nstype, f, sizeof f));
    }
  }
  if (!plan.joins.empty() && plan.joins[0].nstype == CLONE_NEWUSER) {
    // setns(CLONE_NEWUSER) keeps our host ids, which the joined namespace need not map: a
    // file made on a mount of that namespace (the /dev tmpfs) then fails with EOVERFLOW.
    // Become its root first, as runc's nsexec does; the final ids come at exec.
    if (::setresgid(0, 0, 0) < 0 && errno != EINVAL) return Errno("setgid 0 in user namespace");
    if (::setresuid(0, 0, 0) < 0 && errno != EINVAL) return Errno("setuid 0 in user namespace");
    // The euid change reset the dumpable flag (CVE-2019-5736): off again.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return Errno("prctl dumpable");
  }
  if (plan.unshare_flags && ::unshare(static_cast<int>(plan.unshare_flags)) < 0)
    return Errno("unshare namespaces");
  if (TraceOn() && plan.unshare_flags) {
    char f[256];
    Trace("unshare", "%s", CloneFlagsText(plan.unshare_flags, f, sizeof f));
  }
  return Ok();
}

Status WaitForMaps(const ChildPlan& plan) {
  if (!plan.new_userns) return Ok();
  SyncMsg m;
  bool got = TRY(RecvSync(plan.sync_fd, &m));
  if (!got || m.type != SyncType::kGo) _exit(1);  // parent failed and reports it
  // Become the namespace's root where it is mapped; the final uid comes at exec.
  if (::setresgid(0, 0, 0) < 0 && errno != EINVAL) return Errno("setgid 0 in user namespace");
  if (::setresuid(0, 0, 0) < 0 && errno != EINVAL) return Errno("setuid 0 in user namespace");
  // A change of euid resets the dumpable flag to fs.suid_dumpable, which is 1 on some hosts:
  // set it again, or the rest of the setup runs dumpable (CVE-2019-5736).
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return Errno("prctl dumpable");
  return Ok();
}

// setns(CLONE_NEWPID) moves only future children: one more fork enters the namespace.
// The intermediate reports its child's pid and leaves.
Status ForkIntoPidns(const ChildPlan& plan) {
  if (!plan.fork_into_pidns) return Ok();
  pid_t pid = ::fork();
  if (pid < 0) return Errno("fork into pid namespace");
  if (pid == 0) return Ok();
  if (TraceOn()) Trace("fork", "into the joined pid namespace: pid %d", pid);
  SyncMsg m = {};
  m.type = SyncType::kChildPid;
  m.pid = pid;
  (void)SendSync(plan.sync_fd, m);
  _exit(0);
}

Status UnshareLate(const ChildPlan& plan) {
  if (plan.unshare_cgroup && ::unshare(CLONE_NEWCGROUP) < 0) return Errno("unshare cgroup ns");
  if (TraceOn() && plan.unshare_cgroup)
    Trace("unshare", "CLONE_NEWCGROUP (after joining the cgroup: it becomes the namespace's root)");
  if (plan.unshare_time) {
    // Offsets can only be set while no process is in the namespace; execve enters it.
    if (::unshare(0x80 /* CLONE_NEWTIME */) < 0) return Errno("unshare time ns");
    TRY(WriteFile("/proc/self/timens_offsets", plan.timens_offsets).Wrap("time offsets"));
    if (TraceOn()) Trace("unshare", "CLONE_NEWTIME, offsets %s", plan.timens_offsets.c_str());
  }
  return Ok();
}

Status Steps(const ChildPlan& plan, std::string* exe) {
  for (int fd : plan.close_in_child) ::close(fd);
  // Not dumpable while we carry the runtime's memory inside the container's namespaces: no
  // process in there may ptrace us or open /proc/<pid>/exe (CVE-2019-5736). execve resets it.
  // Except in a new user namespace until the parent has written its maps (WaitForMaps turns
  // it off then): a non-dumpable task's /proc/<pid> files belong to root, so an unprivileged
  // parent's open of gid_map failed with EACCES whenever we got here first (runc nsexec
  // does the same). Nothing else is in that fresh namespace yet, and nothing is joined
  // before the maps.
  if (!plan.new_userns && ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return Errno("prctl dumpable");
  // Die with the parent during setup; a parent that died before this line is caught by
  // the getppid check (in a new pid namespace getppid() is 0: there the sync socket's EOF
  // tells us instead, at the next message).
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return Errno("prctl pdeathsig");
  bool foreign = (plan.clone_flags & CLONE_NEWPID) || plan.in_foreign_pidns;
  pid_t expected_ppid = foreign ? 0 : plan.parent_pid;
  if (::getppid() != expected_ppid) _exit(1);
  if (TraceOn()) Trace("prctl", "PR_SET_PDEATHSIG SIGKILL, PR_SET_DUMPABLE 0 during setup");
  if (plan.hook_request || !plan.create_container_hooks.empty() ||
      !plan.start_container_hooks.empty() || plan.seccomp_listener_sock >= 0)
    RememberHostPid();
  // Device nodes and directories get exactly the modes asked for; hooks get the caller's.
  RememberUmask(::umask(0));

  TRY(WaitForMaps(plan));
  TRY(JoinCgroup(plan));
  TRY(JoinNamespaces(plan));
  TRY(ForkIntoPidns(plan));
  TRY(UnshareLate(plan));
  TRY(ApplyIdentity(plan));  // oom_score_adj goes through the host's /proc: before pivot
  if (!plan.exec) TRY(PrepareRootfs(plan));  // exec: setns(mount) brought the root
  TRY(SetupConsole(plan));
  *exe = TRY(ResolveExecutable(plan));

  // The parent of `create` exits as soon as it has read kCreated: the death signal must be
  // off before we send it, or the child races its parent's exit and is SIGKILLed while
  // waiting for start (seen as "container is stopped, not created" right after create).
  if (::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0) return Errno("prctl pdeathsig");
  if (TraceOn()) Trace("created", "setup done, waiting for start");
  SyncMsg created = {};
  created.type = SyncType::kCreated;
  created.pid = ::getpid();
  TRY(SendSync(plan.sync_fd, created));
  if (plan.start_listen_fd >= 0) {
    // create: wait until the parent has saved the state. If it dies before that, nothing
    // would ever name us: EOF here, and we leave instead of waiting for a start that
    // cannot come.
    SyncMsg commit;
    bool got = TRY(RecvSync(plan.sync_fd, &commit));
    if (!got || commit.type != SyncType::kGo) _exit(1);
  }
  return Ok();
}

}  // namespace

Result<pid_t> Spawn(const ChildPlan& plan, int clone_into) {
  sys::CloneArgs args;
  args.flags = plan.clone_flags;
  args.exit_signal = SIGCHLD;
  if (clone_into >= 0) {
    args.flags |= sys::kCloneIntoCgroup;
    args.cgroup = static_cast<uint64_t>(clone_into);
  }
  pid_t pid = sys::Clone3(&args);
  if (pid < 0) return Errno("clone3");
  if (pid == 0) Run(plan);
  return pid;
}

[[noreturn]] void Run(const ChildPlan& plan) {
  // Errors go to the parent over the sync socket until the start wait; after it, to whoever
  // started us (create's `start` holds the start.sock connection).
  int report_fd = plan.sync_fd;
  TraceInit(plan.trace_fd, plan.trace_origin_ns);
  if (TraceOn()) Trace("child", "running in the new namespaces, pid %d in them", ::getpid());
  std::string exe;
  Status st = Steps(plan, &exe);
  if (st.ok()) st = FinishAndExec(plan, exe, &report_fd);
  if (TraceOn()) Trace("failed", "%s", st.error().Message().c_str());
  Report(report_fd, st.error());
  _exit(127);
}

}  // namespace skiff::runtime::child
