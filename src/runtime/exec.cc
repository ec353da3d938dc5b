// exec: a new process in a running container. It joins every namespace of the container's
// init and its cgroup, takes the container's seccomp filter and the capabilities, rlimits
// and user of its own process config, and ends up a child of the caller (the shim waits
// for it), as `runc exec` does.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/syscalls.h"
#include "base/unix_socket.h"
#include "cgroup/manager.h"
#include "runtime/caps.h"
#include "runtime/child/child.h"
#include "runtime/console.h"
#include "runtime/container.h"
#include "runtime/planner.h"
#include "runtime/seccomp.h"
#include "runtime/sync.h"

namespace skiff::runtime {
namespace {

// The pid and time namespaces are entered by the parent: setns on them only changes what
// the caller's next child is born into, so the exec'd process is our child and in them.
Status EnterForChildren(pid_t pid, const oci::Spec& spec) {
  for (auto [type, flag] : {std::pair<const char*, int>{"pid", CLONE_NEWPID},
                            {"time", static_cast<int>(sys::kCloneNewTime)}}) {
    if (!spec.HasNamespace(type)) continue;
    std::string path = StrFormat("/proc/%d/ns/%s", pid, type);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Errno("open %s", path.c_str());
    if (::setns(fd.get(), flag) < 0) return Errno("join %s", path.c_str());
  }
  return Ok();
}

Status PlanJoins(pid_t pid, const oci::Spec& spec, ChildPlan* plan) {
  // user first (the others need its capabilities), mount last (it moves our root).
  static const std::pair<const char*, const char*> kOrder[] = {
      {"user", "user"}, {"ipc", "ipc"},       {"uts", "uts"},
      {"network", "net"}, {"cgroup", "cgroup"}, {"mount", "mnt"}};
  for (const auto& [type, file] : kOrder) {
    if (!spec.HasNamespace(type)) continue;
    NsJoin j;
    j.nstype = NamespaceFlag(type);
    j.path = StrFormat("/proc/%d/ns/%s", pid, file);
    plan->joins.push_back(std::move(j));
  }
  return OpenNamespaceFds(plan);
}

Result<ChildPlan> PlanExec(const ExecOptions& o, const ContainerState& s, const oci::Spec& spec,
                           const oci::Process& p) {
  ChildPlan plan;
  plan.exec = true;
  plan.in_foreign_pidns = spec.HasNamespace("pid");
  TRY(PlanJoins(s.pid, spec, &plan));
  TRY(PlanProcess(p, &plan));
  if (spec.linux && spec.linux->seccomp) plan.seccomp = TRY(CompileSeccomp(*spec.linux->seccomp));
  plan.preserve_fds = o.preserve_fds;
  plan.parent_pid = ::getpid();
  return plan;
}

// exec [flags] ID CMD... starts from the container's own process and changes what the
// flags say; --process FILE replaces it whole.
Result<oci::Process> ExecProcess(const ExecOptions& o, const oci::Spec& spec) {
  if (!o.process_file.empty()) {
    std::string text = TRY(ReadFile(o.process_file));
    return oci::ParseProcess(text).Wrap("--process " + o.process_file);
  }
  oci::Process p = spec.process.value_or(oci::Process{});
  if (o.args.empty()) return MakeError(EINVAL, "no command given");
  p.args = o.args;
  p.terminal = o.tty;
  if (!o.cwd.empty()) p.cwd = o.cwd;
  for (const auto& e : o.env) p.env.push_back(e);
  if (!o.user.empty()) {
    unsigned uid = 0, gid = 0;
    int n = sscanf(o.user.c_str(), "%u:%u", &uid, &gid);
    if (n < 1) return MakeError(EINVAL, "--user %s: expected UID[:GID]", o.user.c_str());
    p.user.uid = uid;
    p.user.gid = n == 2 ? gid : 0;
  }
  for (gid_t g : o.additional_gids) p.user.additional_gids.push_back(g);
  if (o.no_new_privs) p.no_new_privileges = true;
  if (!o.caps.empty()) {
    if (!p.capabilities) p.capabilities = oci::Capabilities{};
    for (const auto& c : o.caps)
      for (auto* set : {&p.capabilities->bounding, &p.capabilities->effective,
                        &p.capabilities->permitted, &p.capabilities->inheritable})
        set->push_back(c);
  }
  return p;
}

Result<int> DoExec(const ExecOptions& o) {
  ContainerState s = TRY(LoadState(o.root, o.id));
  ContainerStatus st = CurrentStatus(o.root, s);
  if (st != ContainerStatus::kRunning && st != ContainerStatus::kCreated)
    return MakeError(EINVAL, "container is %s", StatusName(st));
  oci::Spec spec = TRY(oci::ParseSpec(s.config_json).Wrap("saved config"));
  oci::Process p = TRY(ExecProcess(o, spec));
  if (p.args.empty()) return MakeError(EINVAL, "process.args: empty");
  ChildPlan plan = TRY(PlanExec(o, s, spec, p));

  bool proxy_tty = p.terminal && o.console_socket.empty();
  if (proxy_tty && o.detach) return MakeError(0, "--tty needs --console-socket when detached");
  UniqueFd console_child, console_parent;
  TRY(OpenConsoleSockets(o.console_socket, proxy_tty, &console_child, &console_parent));
  plan.console_socket_fd = p.terminal ? console_child.get() : -1;
  UniqueFd seccomp_sock = TRY(ConnectSeccompAgent(spec, o.id, s.bundle, &plan));

  std::unique_ptr<cgroup::Manager> cg;
  cgroup::JoinPlan join;
  if (!s.cgroup_paths.empty()) {
    cgroup::Hierarchies h = TRY(cgroup::Detect());
    cg = TRY(cgroup::Open(h, s.cgroup_paths));
    join = TRY(cg->Create().Wrap("cgroup"));  // idempotent: opens the join fds
    for (const UniqueFd& fd : join.self_tasks) plan.cgroup_tasks_fds.push_back(fd.get());
  }
  TRY(EnterForChildren(s.pid, spec));

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return Errno("socketpair");
  UniqueFd sync(sv[0]), child_end(sv[1]);
  plan.sync_fd = child_end.get();
  plan.close_in_child = {sync.get()};
  pid_t pid = TRY(child::Spawn(plan, join.clone_into.get()));  // exec: clone_flags is 0
  OwnedPid owned(pid);
  child_end.reset();
  console_child.reset();
  seccomp_sock.reset();
  join.self_tasks.clear();

  SyncMsg m;
  bool got = TRY(RecvSync(sync.get(), &m));
  if (!got) return MakeError(ECHILD, "the process exited during setup");
  if (m.type == SyncType::kError) return Error{m.err, m.msg};
  UniqueFd master;
  if (console_parent) master = TRY(RecvFd(console_parent.get()).Wrap("console"));
  if (!o.pid_file.empty())
    TRY(WriteFileAtomic(o.pid_file, std::to_string(pid), 0644).Wrap("pid file"));
  SyncMsg start = {};
  start.type = SyncType::kStart;
  TRY(SendSync(sync.get(), start));
  got = TRY(RecvSync(sync.get(), &m));
  if (got && m.type == SyncType::kError) return Error{m.err, m.msg};
  if (o.detach) {
    (void)owned.release();
    return 0;
  }
  owned.release();
  if (master) {
    UniqueFd pidfd(sys::PidfdOpen(pid, 0));
    if (pidfd) ProxyConsole(master.get(), pidfd.get());
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Errno("wait for %d", pid);
  }
  return ExitCodeOf(status);
}

}  // namespace

Result<int> Exec(const ExecOptions& o) { return DoExec(o).Wrap("exec " + o.id); }

}  // namespace skiff::runtime
