#include "runtime/planner.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <set>

#include "base/file.h"
#include "base/syscalls.h"
#include "runtime/caps.h"
#include "runtime/seccomp.h"

namespace skiff::runtime {
namespace {

struct DefaultDevice {
  const char* path;
  unsigned major, minor;
};

// The devices every container gets (runtime-linux.md "Default Devices").
constexpr DefaultDevice kDefaultDevices[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

std::string AbsoluteIn(const std::string& base, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  return base + "/" + path;
}

std::string JoinCg(const std::string& mountpoint, const std::string& rel) {
  if (rel.empty() || rel == "/") return mountpoint;
  return mountpoint + (rel[0] == '/' ? "" : "/") + rel;
}

// bind: no cgroup namespace, so bind the container's own cgroup dirs instead of mounting
// the hierarchies afresh (which would show the host's root cgroups).
MountStep PlanCgroupMount(const cgroup::Hierarchies& h, MountStep step, bool bind,
                          const std::map<std::string, std::string>& paths) {
  auto path_of = [&](const std::string& controller) -> std::string {
    auto it = paths.find(controller);
    return it == paths.end() ? "" : it->second;
  };
  if (h.layout == cgroup::Layout::kV2) {
    if (bind && paths.count("")) {
      step.kind = MountKind::kBind;
      step.source = JoinCg(h.unified, path_of(""));
      step.opts.bind = true;
      step.opts.flags |= MS_NOSUID | MS_NODEV | MS_NOEXEC;
      return step;
    }
    step.kind = MountKind::kCgroupV2;
    return step;
  }
  step.kind = MountKind::kCgroupV1;
  // One mount per hierarchy, named after its mount point's last component ("cpu,cpuacct"),
  // with a symlink per co-mounted controller, as on the host.
  std::set<std::string> seen;
  for (const auto& [controller, mountpoint] : h.v1) {
    std::string dir = mountpoint.substr(mountpoint.find_last_of('/') + 1);
    if (seen.insert(dir).second) {
      std::string opts;
      for (const auto& [c2, mp2] : h.v1) {
        if (mp2 != mountpoint) continue;
        if (!opts.empty()) opts += ',';
        opts += c2;
      }
      step.cgroup_v1.emplace_back(dir, opts);
      std::string first = opts.substr(0, opts.find(','));
      step.cgroup_v1_bind.push_back(bind && paths.count(first) ? JoinCg(mountpoint, path_of(first))
                                                               : std::string());
    }
    if (controller != dir && controller.rfind("name=", 0) != 0)
      step.cgroup_links.emplace_back(controller, dir);
  }
  step.cgroup_unified = !h.unified.empty();
  if (bind && step.cgroup_unified && paths.count(""))
    step.cgroup_unified_bind = JoinCg(h.unified, path_of(""));
  return step;
}

Result<MountStep> PlanMount(const oci::Mount& m, size_t i, const PlanOptions& opts) {
  MountStep step;
  // A relative destination is relative to "/" (config.md, deprecated form).
  step.destination = m.destination[0] == '/' ? m.destination : "/" + m.destination;
  step.type = m.type;
  step.source = m.source;
  step.opts = ParseMountOptions(m.options);
  if (step.opts.idmap && m.uid_mappings.empty())
    return MakeError(0, "mounts[%zu]: idmap needs uidMappings and gidMappings", i);
  if (m.type == "bind" || step.opts.bind) {
    step.kind = MountKind::kBind;
    if (m.source.empty()) return MakeError(EINVAL, "mounts[%zu].source: a bind mount needs a source", i);
    step.source = AbsoluteIn(opts.bundle, m.source);
    return step;
  }
  if (m.type == "cgroup" || m.type == "cgroup2") {
    if (!opts.cgroups) return MakeError(ENOENT, "mounts[%zu]: no cgroup hierarchy on this host", i);
    return PlanCgroupMount(*opts.cgroups, std::move(step), !opts.has_cgroupns, opts.cgroup_paths);
  }
  if (m.type.empty()) return MakeError(EINVAL, "mounts[%zu].type: empty", i);
  return step;
}

Status PlanNamespaces(const oci::Spec& spec, ChildPlan* plan) {
  uint64_t new_flags = 0;
  bool join_user = false, join_pid = false;
  std::vector<NsJoin> joins;
  for (const auto& ns : spec.linux->namespaces) {
    int flag = NamespaceFlag(ns.type);
    if (ns.path.empty()) {
      new_flags |= static_cast<uint64_t>(flag);
      continue;
    }
    NsJoin j;
    j.nstype = flag;
    j.path = ns.path;
    if (flag == CLONE_NEWUSER) join_user = true;
    if (flag == CLONE_NEWPID) join_pid = true;
    joins.push_back(std::move(j));
  }
  // The user namespace first: the others are joined with its capabilities.
  std::stable_partition(joins.begin(), joins.end(),
                        [](const NsJoin& j) { return j.nstype == CLONE_NEWUSER; });
  plan->joins = std::move(joins);
  plan->new_userns = (new_flags & CLONE_NEWUSER) != 0;
  plan->mount_ns = (new_flags & CLONE_NEWNS) || spec.FindNamespace("mount") != nullptr;
  // cgroup: unshared after the cgroup join, so the namespace's root is the container's.
  // time: unshared late too, so that its offsets can be written before anyone is inside.
  plan->unshare_cgroup = (new_flags & CLONE_NEWCGROUP) != 0;
  plan->unshare_time = (new_flags & sys::kCloneNewTime) != 0;
  new_flags &= ~static_cast<uint64_t>(CLONE_NEWCGROUP) & ~sys::kCloneNewTime;
  if (join_user) {
    // New namespaces must belong to the joined user namespace: create them after setns.
    plan->unshare_flags = new_flags;
    plan->fork_into_pidns = (new_flags & CLONE_NEWPID) != 0 || join_pid;
  } else {
    plan->clone_flags = new_flags;
    plan->fork_into_pidns = join_pid;
  }
  return Ok();
}

void PlanDevices(const oci::Spec& spec, ChildPlan* plan) {
  std::set<std::string> have;
  for (const auto& d : spec.linux->devices) {
    DeviceNode n;
    n.path = d.path;
    mode_t type = d.type == "b" ? S_IFBLK : d.type == "p" ? S_IFIFO : S_IFCHR;
    n.mode = type | (d.file_mode ? (*d.file_mode & 07777) : 0666);
    n.dev = makedev(d.major, d.minor);
    n.uid = d.uid.value_or(0);
    n.gid = d.gid.value_or(0);
    have.insert(n.path);
    plan->devices.push_back(std::move(n));
  }
  for (const auto& d : kDefaultDevices) {
    if (have.count(d.path)) continue;
    plan->devices.push_back({d.path, static_cast<mode_t>(S_IFCHR | 0666), makedev(d.major, d.minor), 0, 0});
  }
}

std::string SysctlPath(const std::string& key) {
  std::string p = key;
  std::replace(p.begin(), p.end(), '.', '/');
  return p;
}

}  // namespace

int NamespaceFlag(const std::string& type) {
  if (type == "pid") return CLONE_NEWPID;
  if (type == "network") return CLONE_NEWNET;
  if (type == "mount") return CLONE_NEWNS;
  if (type == "ipc") return CLONE_NEWIPC;
  if (type == "uts") return CLONE_NEWUTS;
  if (type == "user") return CLONE_NEWUSER;
  if (type == "cgroup") return CLONE_NEWCGROUP;
  if (type == "time") return static_cast<int>(sys::kCloneNewTime);
  return 0;
}

int RlimitByName(const std::string& name) {
  static const std::pair<const char*, int> kLimits[] = {
      {"RLIMIT_AS", RLIMIT_AS},         {"RLIMIT_CORE", RLIMIT_CORE},
      {"RLIMIT_CPU", RLIMIT_CPU},       {"RLIMIT_DATA", RLIMIT_DATA},
      {"RLIMIT_FSIZE", RLIMIT_FSIZE},   {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
      {"RLIMIT_NICE", RLIMIT_NICE},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_NPROC", RLIMIT_NPROC},   {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},
      {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
  };
  for (const auto& [n, v] : kLimits)
    if (name == n) return v;
  return -1;
}

std::vector<oci::DeviceRule> DefaultDeviceRules() {
  auto c = [](int64_t major, std::optional<int64_t> minor, const char* access) {
    oci::DeviceRule r;
    r.allow = true;
    r.type = "c";
    r.major = major;
    r.minor = minor;
    r.access = access;
    return r;
  };
  std::vector<oci::DeviceRule> rules;
  oci::DeviceRule mknod_c{true, "c", std::nullopt, std::nullopt, "m"};
  oci::DeviceRule mknod_b{true, "b", std::nullopt, std::nullopt, "m"};
  rules.push_back(mknod_c);
  rules.push_back(mknod_b);
  for (const auto& d : kDefaultDevices) rules.push_back(c(d.major, d.minor, "rwm"));
  rules.push_back(c(5, 1, "rwm"));             // /dev/console
  rules.push_back(c(5, 2, "rwm"));             // /dev/ptmx
  rules.push_back(c(136, std::nullopt, "rwm"));  // /dev/pts/*
  rules.push_back(c(10, 200, "rwm"));          // /dev/net/tun
  return rules;
}

namespace {

Result<ChildPlan::Sched> PlanSched(const oci::Scheduler& s) {
  static const std::pair<const char*, uint32_t> kPolicies[] = {
      {"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2},      {"SCHED_BATCH", 3},
      {"SCHED_ISO", 4},   {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6}};
  static const std::pair<const char*, uint64_t> kFlags[] = {
      {"SCHED_FLAG_RESET_ON_FORK", 0x01}, {"SCHED_FLAG_RECLAIM", 0x02},
      {"SCHED_FLAG_DL_OVERRUN", 0x04},    {"SCHED_FLAG_KEEP_POLICY", 0x08},
      {"SCHED_FLAG_KEEP_PARAMS", 0x10},   {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
      {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40}};
  ChildPlan::Sched out;
  bool found = false;
  for (const auto& [n, v] : kPolicies)
    if (s.policy == n) out.policy = v, found = true;
  if (!found) return MakeError(0, "process.scheduler.policy: unknown \"%s\"", s.policy.c_str());
  for (const auto& f : s.flags) {
    bool ok = false;
    for (const auto& [n, v] : kFlags)
      if (f == n) out.flags |= v, ok = true;
    if (!ok) return MakeError(0, "process.scheduler.flags: unknown \"%s\"", f.c_str());
  }
  out.nice = s.nice;
  out.priority = static_cast<uint32_t>(s.priority);
  out.runtime = s.runtime;
  out.deadline = s.deadline;
  out.period = s.period;
  return out;
}

}  // namespace

// AppArmor and SELinux labels: skiff applies neither. Where the host has no such LSM, a
// label can't mean anything and is ignored (runc does the same); where it has one, running
// unconfined instead would be a silent downgrade, so it is an error.
Status CheckLsmLabels(const oci::Process& p) {
  if (!p.apparmor_profile.empty()) {
    auto on = ReadFile("/sys/module/apparmor/parameters/enabled");
    if (on.ok() && !on->empty() && (*on)[0] == 'Y')
      return MakeError(0, "process.apparmorProfile: AppArmor profiles are not supported yet");
  }
  if (!p.selinux_label.empty() && PathExists("/sys/fs/selinux/enforce"))
    return MakeError(0, "process.selinuxLabel: SELinux labels are not supported yet");
  return Ok();
}

Status PlanProcess(const oci::Process& p, ChildPlan* plan) {
  TRY(CheckLsmLabels(p));
  if (p.scheduler) plan->sched = TRY(PlanSched(*p.scheduler));
  if (p.io_priority) {
    const std::string& c = p.io_priority->io_class;
    int cls = c == "IOPRIO_CLASS_RT" ? 1 : c == "IOPRIO_CLASS_BE" ? 2 : 3;
    plan->ioprio = (cls << 13) | (p.io_priority->priority & 7);
  }
  for (const auto& r : p.rlimits) {
    int res = RlimitByName(r.type);
    if (res < 0) return MakeError(EINVAL, "process.rlimits: unknown type %s", r.type.c_str());
    plan->rlimits.push_back({res, {static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)}});
  }
  plan->oom_score_adj = p.oom_score_adj;
  plan->cwd = p.cwd.empty() ? "/" : p.cwd;
  plan->args = p.args;
  plan->env = p.env;
  plan->uid = p.user.uid;
  plan->gid = p.user.gid;
  plan->groups.assign(p.user.additional_gids.begin(), p.user.additional_gids.end());
  if (p.user.umask) plan->umask = static_cast<mode_t>(*p.user.umask);
  plan->no_new_privs = p.no_new_privileges;
  plan->caps = TRY(ResolveCapabilities(p.capabilities.value_or(oci::Capabilities{})));
  return Ok();
}

Result<ChildPlan> BuildPlan(const oci::Spec& spec, const PlanOptions& in) {
  PlanOptions opts = in;
  opts.has_cgroupns = spec.HasNamespace("cgroup");
  ChildPlan plan;
  if (!spec.root) return MakeError(EINVAL, "root: missing");
  static const oci::Linux kNoLinux;
  oci::Spec with_linux;
  const oci::Spec* s = &spec;
  if (!spec.linux) {
    with_linux = spec;
    with_linux.linux = kNoLinux;
    s = &with_linux;
  }
  TRY(PlanNamespaces(*s, &plan));
  plan.rootfs = AbsoluteIn(opts.bundle, spec.root->path);
  plan.readonly_root = spec.root->readonly;
  plan.rootfs_propagation = TRY(ParsePropagation(s->linux->rootfs_propagation));
  plan.no_pivot = opts.no_pivot;
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    plan.mounts.push_back(TRY(PlanMount(spec.mounts[i], i, opts)));
    if (plan.mounts.back().destination == "/dev") plan.dev_is_tmpfs = true;
  }
  PlanDevices(*s, &plan);
  if (s->linux->personality) {
    const std::string& d = s->linux->personality->domain;
    if (d == "LINUX") plan.personality = 0x0000;  // PER_LINUX
    else if (d == "LINUX32") plan.personality = 0x0008;  // PER_LINUX32
    else return MakeError(0, "linux.personality.domain: unknown \"%s\"", d.c_str());
  }
  plan.bind_devices =
      plan.new_userns || (!plan.joins.empty() && plan.joins[0].nstype == CLONE_NEWUSER);
  plan.masked_paths = s->linux->masked_paths;
  plan.readonly_paths = s->linux->readonly_paths;
  for (const auto& [k, v] : s->linux->sysctl) plan.sysctls.emplace_back(SysctlPath(k), v);
  if (!spec.hostname.empty()) plan.hostname = spec.hostname;
  if (!spec.domainname.empty()) plan.domainname = spec.domainname;
  for (const auto& [clock, off] : s->linux->time_offsets)
    plan.timens_offsets += StrFormat("%s %lld %u\n", clock.c_str(),
                                     static_cast<long long>(off.secs), off.nanosecs);

  // config.md: process is only REQUIRED when start is called. Without one the container
  // is created (namespaces, cgroup, root) and start fails (runtime.md).
  static const oci::Process kNoProcess;
  const oci::Process& p = spec.process ? *spec.process : kNoProcess;
  TRY(PlanProcess(p, &plan));
  if (s->linux->seccomp) {
    plan.seccomp = TRY(CompileSeccompCached(*s->linux->seccomp, opts.seccomp_cache));
  }
  plan.preserve_fds = opts.preserve_fds;
  if (spec.hooks) {
    plan.hook_request = !spec.hooks->prestart.empty() || !spec.hooks->create_runtime.empty();
    plan.create_container_hooks = ToHookSpecs(spec.hooks->create_container);
    plan.start_container_hooks = ToHookSpecs(spec.hooks->start_container);
  }
  return plan;
}

std::vector<HookSpec> ToHookSpecs(const std::vector<oci::Hook>& hooks) {
  std::vector<HookSpec> out;
  for (const auto& h : hooks) out.push_back({h.path, h.args, h.env, h.timeout.value_or(0)});
  return out;
}

std::string IdMapText(const std::vector<oci::IdMapping>& maps) {
  std::string out;
  for (const auto& m : maps) out += StrFormat("%u %u %u\n", m.container_id, m.host_id, m.size);
  return out;
}

namespace {

Result<UniqueFd> UsernsWithMaps(const oci::Mount& m) {
  sys::CloneArgs args;
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  pid_t pid = sys::Clone3(&args);
  if (pid < 0) return Errno("clone a user namespace for an idmapped mount");
  if (pid == 0) {
    for (;;) ::pause();  // killed by the parent once it holds the namespace
  }
  OwnedPid owned(pid);
  TRY(WriteFile(StrFormat("/proc/%d/uid_map", pid), IdMapText(m.uid_mappings))
          .Wrap("idmapped mount " + m.destination));
  TRY(WriteFile(StrFormat("/proc/%d/gid_map", pid), IdMapText(m.gid_mappings))
          .Wrap("idmapped mount " + m.destination));
  UniqueFd fd(::open(StrFormat("/proc/%d/ns/user", pid).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Errno("open the idmap user namespace");
  return fd;
}

}  // namespace

Status MakeIdmapUserns(const oci::Spec& spec, ChildPlan* plan) {
  for (size_t i = 0; i < spec.mounts.size() && i < plan->mounts.size(); ++i) {
    const oci::Mount& m = spec.mounts[i];
    if (m.uid_mappings.empty()) continue;
    if (plan->mounts[i].kind != MountKind::kBind)
      return MakeError(0, "mounts[%zu]: idmapped mounts are supported for bind mounts", i);
    UniqueFd fd = TRY(UsernsWithMaps(m));
    plan->mounts[i].idmap_userns_fd = fd.get();
    plan->idmap_userns.push_back(std::move(fd));
  }
  return Ok();
}

Status OpenNamespaceFds(ChildPlan* plan) {
  for (NsJoin& j : plan->joins) {
    j.fd = UniqueFd(::open(j.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!j.fd) return Errno("open namespace %s", j.path.c_str());
  }
  return Ok();
}

}  // namespace skiff::runtime
