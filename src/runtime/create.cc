// create: from a bundle to a container process waiting for start. The parent plans
// everything, makes the cgroup, clones, writes the id maps, and waits for the child's
// report; any failure on the way undoes all of it (no cgroup, mount, state dir or process
// is left behind).
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/syscalls.h"
#include "base/unix_socket.h"
#include "cgroup/manager.h"
#include "oci/spec.h"
#include "runtime/child/child.h"
#include "runtime/console.h"
#include "runtime/create_internal.h"
#include "runtime/explain.h"
#include "runtime/explain_plan.h"
#include "runtime/planner.h"
#include "runtime/seccomp.h"
#include "runtime/sync.h"

namespace skiff::runtime {
namespace {

// The privileged parent writes the maps (user_namespaces(7)); an unprivileged one must deny
// setgroups first or the kernel refuses its gid_map.
Status WriteIdMapsForChild(pid_t pid, const oci::Linux& l, Explain* ex) {
  if (::geteuid() != 0)
    TRY(WriteFile(StrFormat("/proc/%d/setgroups", pid), "deny").Wrap("user namespace"));
  if (!l.uid_mappings.empty())
    TRY(WriteFile(StrFormat("/proc/%d/uid_map", pid), IdMapText(l.uid_mappings))
            .Wrap("write uid_map"));
  if (ex && !l.uid_mappings.empty())
    ex->Stepf("runtime", "userns", "write /proc/%d/uid_map: %s", pid,
              IdMapText(l.uid_mappings).c_str());
  if (!l.gid_mappings.empty())
    TRY(WriteFile(StrFormat("/proc/%d/gid_map", pid), IdMapText(l.gid_mappings))
            .Wrap("write gid_map"));
  if (ex && !l.gid_mappings.empty())
    ex->Stepf("runtime", "userns", "write /proc/%d/gid_map: %s", pid,
              IdMapText(l.gid_mappings).c_str());
  return Ok();
}

// sockaddr_un holds 108 bytes; a long --root would not fit, so the name goes through the
// state directory's fd ("/proc/self/fd/N/start.sock"), which always does.
Result<struct sockaddr_un> StartSockAddr(int dirfd) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/start.sock", dirfd);
  return addr;
}

Result<UniqueFd> ListenStart(int dirfd) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return Errno("socket");
  auto addr = TRY(StartSockAddr(dirfd));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return Errno("bind start.sock");
  if (::listen(fd.get(), 4) < 0) return Errno("listen start.sock");
  return fd;
}

Status CheckPreservedFds(int n) {
  for (int fd = 3; fd < 3 + n; ++fd)
    if (::fcntl(fd, F_GETFD) < 0) return MakeError(EBADF, "--preserve-fds: fd %d is not open", fd);
  return Ok();
}

Result<std::string> ResolveBundle(const std::string& bundle) {
  char buf[PATH_MAX];
  const char* in = bundle.empty() ? "." : bundle.c_str();
  if (!::realpath(in, buf)) return Errno("bundle %s", in);
  return std::string(buf);
}

// A rootless caller may not be able to make cgroups at all; that only matters when the
// spec asks for limits.
bool RootlessWithoutLimits(const oci::Spec& spec, int err) {
  if (::geteuid() == 0 || (err != EACCES && err != EPERM && err != EROFS)) return false;
  if (!spec.linux || !spec.linux->resources) return true;
  const oci::Resources& r = *spec.linux->resources;
  return !r.memory && !r.cpu && !r.pids && !r.block_io && r.hugepage_limits.empty() &&
         !r.network && r.unified.empty();
}

// prestart (deprecated, still run) and createRuntime, in the runtime's namespaces, when the
// child has its mounts and waits before pivot_root.
Status RunRuntimeHooks(const oci::Spec& spec, const std::string& id, const std::string& bundle,
                       pid_t pid) {
  ContainerState s;
  s.id = id;
  s.pid = pid;
  s.bundle = bundle;
  s.annotations = spec.annotations;
  // prestart predates createRuntime and was specified with the state "created" (crun and
  // the runtime-tools hooks_stdin test agree); createRuntime sees "creating".
  TRY(RunHooks(ToHookSpecs(spec.hooks->prestart), StateJson(s, ContainerStatus::kCreated, -1),
               "prestart"));
  return RunHooks(ToHookSpecs(spec.hooks->create_runtime),
                  StateJson(s, ContainerStatus::kCreating, -1), "createRuntime");
}

struct ChildWait {
  int sync_fd;
  Explain* explain;
  const oci::Spec* spec;
  const std::string* id;
  const std::string* bundle;
};

Status WaitForChild(const ChildWait& w, pid_t* pid) {
  int sync_fd = w.sync_fd;
  for (;;) {
    SyncMsg m;
    bool got = TRY(RecvSync(sync_fd, &m));
    if (!got) return MakeError(ECHILD, "container process exited during setup");
    switch (m.type) {
      case SyncType::kChildPid:
        *pid = m.pid;
        break;
      case SyncType::kCreated:
        if (w.explain)
          w.explain->Stepf("runtime", "created",
                           "container process %d (host pid) is set up and waits for start", *pid);
        return Ok();
      case SyncType::kHookRequest: {
        TRY(RunRuntimeHooks(*w.spec, *w.id, *w.bundle, *pid));
        SyncMsg go = {};
        go.type = SyncType::kGo;
        TRY(SendSync(sync_fd, go));
        break;
      }
      case SyncType::kError:
        return Error{m.err, m.msg};
      default:
        return MakeError(EPROTO, "unexpected sync message %u", static_cast<unsigned>(m.type));
    }
  }
}

}  // namespace

namespace {

bool SameDeviceRule(const oci::DeviceRule& a, const oci::DeviceRule& b) {
  auto type = [](const std::string& t) { return t.empty() ? std::string("a") : t; };
  auto access = [](const std::string& x) { return x.empty() ? std::string("rwm") : x; };
  return a.allow == b.allow && type(a.type) == type(b.type) && a.major == b.major &&
         a.minor == b.minor && access(a.access) == access(b.access);
}

// A rule already applied, with only rules of the same kind (allow or deny) since, changes
// nothing when applied again: v1 devices.allow/deny rules grow or shrink the set one way.
// An engine's spec lists the default devices that the runtime adds too (Docker's and
// skiff's engines both do): each would be written twice.
bool Redundant(const std::vector<oci::DeviceRule>& rules, const oci::DeviceRule& r) {
  for (size_t i = rules.size(); i-- > 0;) {
    if (SameDeviceRule(rules[i], r)) return true;
    if (rules[i].allow != r.allow) return false;
  }
  return false;
}

}  // namespace

oci::Resources ResourcesWithDefaults(const oci::Spec& spec) {
  oci::Resources r;
  if (spec.linux && spec.linux->resources) r = *spec.linux->resources;
  // As runc: deny everything not listed, then the default devices and those of the spec.
  std::vector<oci::DeviceRule> rules;
  auto add = [&](const oci::DeviceRule& d) {
    if (!Redundant(rules, d)) rules.push_back(d);
  };
  add({false, "a", std::nullopt, std::nullopt, "rwm"});
  for (const auto& d : r.devices) add(d);
  for (const auto& d : DefaultDeviceRules()) add(d);
  if (spec.linux) {
    for (const auto& d : spec.linux->devices) {
      if (d.type == "p") continue;
      add({true, d.type == "b" ? "b" : "c", d.major, d.minor, "rwm"});
    }
  }
  r.devices = std::move(rules);
  return r;
}

Result<Created> CreateContainer(const CreateOptions& opts, bool for_run) {
  TRY(ValidateId(opts.id));
  Explain* ex = opts.explain;
  // Socket activation, as runc: fds 3..3+LISTEN_FDS-1 of ours go to the container first,
  // with LISTEN_FDS and LISTEN_PID=1 in its environment; --preserve-fds come after them.
  int listen_fds = 0;
  if (const char* lf = ::getenv("LISTEN_FDS")) listen_fds = std::max(0, atoi(lf));
  int preserve = listen_fds + opts.preserve_fds;
  TRY(CheckPreservedFds(preserve));
  std::string bundle = TRY(ResolveBundle(opts.bundle));
  std::string config;
  oci::Spec spec;
  if (opts.config_json && opts.spec) {
    config = *opts.config_json;
    spec = *opts.spec;
    if (ex) ex->Stepf("runtime", "spec", "%s/config.json as the engine wrote it", bundle.c_str());
  } else {
    config = TRY(ReadFile(bundle + "/config.json"));
    spec = TRY(oci::ParseSpec(config).Wrap("config.json"));
    TRY(oci::ValidateSpec(spec).Wrap("config.json"));
    if (ex) ex->Stepf("runtime", "spec", "%s/config.json read and validated", bundle.c_str());
  }
  bool terminal = spec.process && spec.process->terminal;
  bool proxy_tty = terminal && opts.console_socket.empty();
  if (proxy_tty && (!for_run || opts.detach))
    return MakeError(0, "process.terminal needs --console-socket when detached");
  if (!terminal && !opts.console_socket.empty())
    return MakeError(0, "--console-socket needs process.terminal: true");

  TRY(MkdirAll(opts.root, 0700));
  std::string dir = StateDir(opts.root, opts.id);
  if (::mkdir(dir.c_str(), 0700) < 0) {
    if (errno == EEXIST) return MakeError(EEXIST, "container %s already exists", opts.id.c_str());
    return Errno("mkdir %s", dir.c_str());
  }
  Created c;
  // runtime.md: when create fails once the container exists (a hook failed, say), the
  // lifecycle goes on to its end: poststop hooks run, after everything else is undone.
  bool spawned = false;
  ScopeGuard poststop([&] {
    if (!spawned || !spec.hooks || spec.hooks->poststop.empty()) return;
    ContainerState st;
    st.id = opts.id;
    st.bundle = bundle;
    st.annotations = spec.annotations;
    std::string json = StateJson(st, ContainerStatus::kStopped, -1);
    for (const HookSpec& h : ToHookSpecs(spec.hooks->poststop)) {
      Status hs = RunHook(h, json, "poststop");
      if (!hs.ok()) fprintf(stderr, "skiff-runtime: warning: %s\n", hs.error().Message().c_str());
    }
  });
  ScopeGuard remove_dir([&] { (void)RemoveAll(dir); });
  c.dir_fd = TRY(LockContainer(opts.root, opts.id));

  cgroup::Hierarchies h = TRY(cgroup::Detect());
  std::string cg_path = spec.linux ? spec.linux->cgroups_path : "";
  // A ".." component would put the cgroup outside the hierarchy part it names.
  if (("/" + cg_path + "/").find("/../") != std::string::npos)
    return MakeError(0, "linux.cgroupsPath: \"%s\" must not contain \"..\"", cg_path.c_str());
  c.cgroup = TRY(cgroup::New(h, cg_path, opts.id));
  PlanOptions po{bundle, opts.no_pivot, preserve, &h, c.cgroup->Paths()};
  po.seccomp_cache = opts.root + "/.seccomp";  // ListIds skips dot names
  ChildPlan plan = TRY(BuildPlan(spec, po));
  plan.loopback_up =
      opts.loopback_up && ((plan.clone_flags | plan.unshare_flags) & CLONE_NEWNET) != 0;
  if (ex) ExplainPlan(*ex, plan);
  if (listen_fds > 0) {
    plan.env.push_back(StrFormat("LISTEN_FDS=%d", listen_fds));
    plan.env.push_back("LISTEN_PID=1");
  }
  TRY(OpenNamespaceFds(&plan));
  TRY(MakeIdmapUserns(spec, &plan));

  ScopeGuard destroy_cgroup([&] {
    if (c.cgroup) (void)c.cgroup->Destroy();
  });
  cgroup::JoinPlan join;
  auto made = c.cgroup->Create();
  if (!made.ok() && RootlessWithoutLimits(spec, made.error().code)) {
    c.cgroup.reset();  // as runc: an unprivileged caller asking for no limits runs without
  } else {
    if (!made.ok() && ::geteuid() != 0)
      return std::move(made).error().Wrap("rootless: the spec sets resources, but cgroups can't be made");
    join = TRY(std::move(made).Wrap("cgroup"));
    if (ex) ExplainCgroup(*ex, h, *c.cgroup, join);
    ExplainCgroupWrites observe(ex);
    TRY(c.cgroup->Apply(ResourcesWithDefaults(spec)).Wrap("cgroup"));
  }
  for (const UniqueFd& fd : join.self_tasks) plan.cgroup_tasks_fds.push_back(fd.get());

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return Errno("socketpair");
  c.sync_fd = UniqueFd(sv[0]);
  UniqueFd child_end(sv[1]);
  UniqueFd listen_fd;
  if (!for_run) {
    listen_fd = TRY(ListenStart(c.dir_fd.get()));
    plan.start_listen_fd = listen_fd.get();
  }
  plan.sync_fd = child_end.get();
  {
    nlohmann::json st = {{"ociVersion", oci::kOciVersion}, {"id", opts.id}, {"bundle", bundle},
                         {"annotations", spec.annotations}};
    plan.state_json_rest = st.dump().substr(1);
  }
  plan.close_in_child = {c.sync_fd.get(), c.dir_fd.get()};
  plan.parent_pid = ::getpid();
  UniqueFd console_child, console_parent;
  TRY(OpenConsoleSockets(opts.console_socket, proxy_tty, &console_child, &console_parent));
  plan.console_socket_fd = console_child.get();
  UniqueFd seccomp_sock = TRY(ConnectSeccompAgent(spec, opts.id, bundle, &plan));
  if (spec.process && spec.process->console_size) {
    plan.console_height = spec.process->console_size->height;
    plan.console_width = spec.process->console_size->width;
  }
  if (for_run && plan.fork_into_pidns) ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  if (ex) {
    plan.trace_fd = ex->ChildEnd();
    plan.trace_origin_ns = ex->origin_ns();
  }

  int64_t clone_at = ex ? ex->Now() : 0;
  pid_t pid = TRY(child::Spawn(plan, join.clone_into.get()));
  if (ex) {
    ex->CloseChildEnd();
    ExplainClone(*ex, plan, join.clone_into.valid(), pid, clone_at);
  }
  c.pid = OwnedPid(pid);
  spawned = true;
  child_end.reset();
  listen_fd.reset();
  console_child.reset();
  seccomp_sock.reset();
  join.self_tasks.clear();

  if (plan.new_userns) {
    TRY(WriteIdMapsForChild(pid, *spec.linux, ex));
    SyncMsg go = {};
    go.type = SyncType::kGo;
    TRY(SendSync(c.sync_fd.get(), go));
  }
  pid_t container_pid = pid;
  TRY(WaitForChild({c.sync_fd.get(), ex, &spec, &opts.id, &bundle}, &container_pid));
  if (console_parent) c.console_master = TRY(RecvFd(console_parent.get()).Wrap("console"));
  if (container_pid != pid) {
    // The intermediate of a pid-namespace join has exited; reap it, own the real one.
    (void)c.pid.release();
    ::waitpid(pid, nullptr, 0);
    c.pid = OwnedPid(container_pid);
  }

  c.state.id = opts.id;
  c.state.pid = container_pid;
  c.state.pid_start = TRY(ProcessStartTime(container_pid));
  c.state.bundle = bundle;
  c.state.rootfs = plan.rootfs;
  c.state.created = NowRfc3339();
  c.state.annotations = spec.annotations;
  if (c.cgroup) c.state.cgroup_paths = c.cgroup->Paths();
  c.state.config_json = std::move(config);
  TRY(SaveState(opts.root, c.state));
  if (!opts.pid_file.empty())
    TRY(WriteFileAtomic(opts.pid_file, std::to_string(container_pid), 0644).Wrap("pid file"));
  if (!for_run) {
    SyncMsg commit = {};
    commit.type = SyncType::kGo;
    TRY(SendSync(c.sync_fd.get(), commit));
  }
  for (const auto& name : plan.caps.unknown)
    fprintf(stderr, "skiff-runtime: warning: %s: unknown capability, skipped\n", name.c_str());
  for (const auto& name : plan.caps.ungranted)
    fprintf(stderr, "skiff-runtime: warning: %s: not in the runtime's bounding set, skipped\n",
            name.c_str());
  c.spec = std::move(spec);
  destroy_cgroup.Dismiss();
  remove_dir.Dismiss();
  poststop.Dismiss();
  return c;
}

Status Create(const CreateOptions& opts) {
  Created c = TRY(CreateContainer(opts, false).Wrap("create " + opts.id));
  (void)c.pid.release();  // the container outlives us, waiting on start.sock
  return Ok();
}

}  // namespace skiff::runtime
