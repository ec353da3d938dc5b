// ValidateSpec: the MUSTs of config.md / config-linux.md that can be checked on the parsed
// spec alone, before anything touches the system. Each error names the field, so the user
// reads "mounts[2].destination: must be an absolute path, got \"proc\"".
#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <set>
#include <string_view>

#include "oci/spec.h"

namespace skiff::oci {
namespace {

Error Bad(const std::string& field, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
Error Bad(const std::string& field, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string m = VStrFormat(fmt, ap);
  va_end(ap);
  return MakeError(0, "%s: %s", field.c_str(), m.c_str());
}

std::string At(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

template <typename T>
bool Contains(std::initializer_list<T> list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

Status CheckAbsolute(const std::string& field, const std::string& path) {
  if (path.empty()) return Bad(field, "required field is missing");
  if (path[0] != '/') return Bad(field, "must be an absolute path, got \"%s\"", path.c_str());
  return Ok();
}

Status CheckIdMappings(const std::string& field, const std::vector<IdMapping>& maps) {
  for (size_t i = 0; i < maps.size(); i++) {
    if (maps[i].size == 0) return Bad(At(field, i) + ".size", "must be greater than zero");
  }
  return Ok();
}

// A namespace the container creates, rather than joins: several fields can only be set
// on a fresh one (the hostname of a joined uts namespace belongs to someone else).
bool HasNewNamespace(const Spec& spec, const std::string& type) {
  const Namespace* ns = spec.FindNamespace(type);
  return ns != nullptr && ns->path.empty();
}

// --- root level ---

Status CheckVersion(const Spec& spec) {
  const std::string& v = spec.oci_version;
  if (v.empty()) return Bad("ociVersion", "required field is missing");
  if (v.size() < 3 || v.compare(0, 2, "1.") != 0 || !isdigit(static_cast<unsigned char>(v[2]))) {
    return Bad("ociVersion", "unsupported version \"%s\" (expected 1.x)", v.c_str());
  }
  return Ok();
}

Status CheckNames(const Spec& spec) {
  // config.md asks for a UTS namespace of the container's own; runc and crun also set the
  // name in a joined one (the runtime-tools linux_ns_path test does exactly that), so any
  // uts entry will do. Without one the host's name would change.
  if (!spec.hostname.empty() && !spec.HasNamespace("uts")) {
    return Bad("hostname", "requires a uts namespace (linux.namespaces)");
  }
  if (!spec.domainname.empty() && !spec.HasNamespace("uts")) {
    return Bad("domainname", "requires a uts namespace (linux.namespaces)");
  }
  return Ok();
}

Status CheckMounts(const Spec& spec) {
  for (size_t i = 0; i < spec.mounts.size(); i++) {
    const Mount& m = spec.mounts[i];
    std::string field = At("mounts", i);
    // config.md (1.1+): a relative destination is deprecated but MUST be taken as relative
    // to "/" (runc does the same); only an empty one is an error.
    if (m.destination.empty()) return Bad(field + ".destination", "required field is missing");
    if (m.uid_mappings.empty() != m.gid_mappings.empty()) {
      return Bad(field, "an idmapped mount needs both uidMappings and gidMappings");
    }
    TRY(CheckIdMappings(field + ".uidMappings", m.uid_mappings));
    TRY(CheckIdMappings(field + ".gidMappings", m.gid_mappings));
  }
  return Ok();
}

Status CheckHookList(const std::string& field, const std::vector<Hook>& hooks) {
  for (size_t i = 0; i < hooks.size(); i++) {
    TRY(CheckAbsolute(At(field, i) + ".path", hooks[i].path));
    if (hooks[i].timeout && *hooks[i].timeout <= 0) {
      return Bad(At(field, i) + ".timeout", "must be greater than zero, got %d", *hooks[i].timeout);
    }
  }
  return Ok();
}

Status CheckHooks(const Hooks& h) {
  TRY(CheckHookList("hooks.prestart", h.prestart));
  TRY(CheckHookList("hooks.createRuntime", h.create_runtime));
  TRY(CheckHookList("hooks.createContainer", h.create_container));
  TRY(CheckHookList("hooks.startContainer", h.start_container));
  TRY(CheckHookList("hooks.poststart", h.poststart));
  TRY(CheckHookList("hooks.poststop", h.poststop));
  return Ok();
}

// --- process ---

constexpr std::initializer_list<const char*> kRlimits = {
    "RLIMIT_AS",     "RLIMIT_CORE",   "RLIMIT_CPU",        "RLIMIT_DATA",
    "RLIMIT_FSIZE",  "RLIMIT_LOCKS",  "RLIMIT_MEMLOCK",    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",   "RLIMIT_NOFILE", "RLIMIT_NPROC",      "RLIMIT_RSS",
    "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"};

Status CheckRlimits(const std::vector<Rlimit>& rlimits) {
  std::set<std::string> seen;
  for (size_t i = 0; i < rlimits.size(); i++) {
    const Rlimit& r = rlimits[i];
    std::string field = At("process.rlimits", i);
    if (!Contains(kRlimits, r.type)) {
      return Bad(field + ".type", "unknown rlimit \"%s\"", r.type.c_str());
    }
    if (!seen.insert(r.type).second) {
      return Bad(field + ".type", "%s is given twice", r.type.c_str());
    }
    if (r.soft > r.hard) {
      return Bad(field, "soft limit %llu exceeds hard limit %llu",
                 static_cast<unsigned long long>(r.soft), static_cast<unsigned long long>(r.hard));
    }
  }
  return Ok();
}

// Only the shape is checked: a capability newer than libcap's table is the runtime's to
// warn about and skip, as runc does, not a malformed config.
bool LooksLikeCapability(std::string_view name) {
  if (name.size() <= 4 || name.substr(0, 4) != "CAP_") return false;
  return std::all_of(name.begin() + 4, name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Status CheckCapabilitySet(const std::string& field, const std::vector<std::string>& caps) {
  for (size_t i = 0; i < caps.size(); i++) {
    if (!LooksLikeCapability(caps[i])) {
      return Bad(At(field, i), "\"%s\" is not a capability name (CAP_*)", caps[i].c_str());
    }
  }
  return Ok();
}

Status CheckCapabilities(const Capabilities& c) {
  TRY(CheckCapabilitySet("process.capabilities.bounding", c.bounding));
  TRY(CheckCapabilitySet("process.capabilities.effective", c.effective));
  TRY(CheckCapabilitySet("process.capabilities.inheritable", c.inheritable));
  TRY(CheckCapabilitySet("process.capabilities.permitted", c.permitted));
  TRY(CheckCapabilitySet("process.capabilities.ambient", c.ambient));
  return Ok();
}

// runc refuses the same entries when it builds the environment; refusing them here turns a
// failure inside the container's init into an error before anything is created.
Status CheckEnv(const std::vector<std::string>& env) {
  for (size_t i = 0; i < env.size(); i++) {
    size_t eq = env[i].find('=');
    if (eq == std::string::npos || eq == 0 || env[i].find('\0') != std::string::npos) {
      return Bad(At("process.env", i), "\"%s\" is not of the form KEY=value", env[i].c_str());
    }
  }
  return Ok();
}

Status CheckProcess(const Process& p) {
  if (p.args.empty()) return Bad("process.args", "must not be empty");
  TRY(CheckAbsolute("process.cwd", p.cwd));
  TRY(CheckEnv(p.env));
  TRY(CheckRlimits(p.rlimits));
  if (p.capabilities) TRY(CheckCapabilities(*p.capabilities));
  if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000)) {
    return Bad("process.oomScoreAdj", "%d is outside [-1000, 1000]", *p.oom_score_adj);
  }
  if (p.user.umask && *p.user.umask > 0777) {
    return Bad("process.user.umask", "%#o is not a file mode mask", *p.user.umask);
  }
  return Ok();
}

// --- linux ---

constexpr std::initializer_list<const char*> kNamespaceTypes = {"pid", "network", "mount",  "ipc",
                                                                "uts", "user",    "cgroup", "time"};

Status CheckNamespaces(const std::vector<Namespace>& namespaces) {
  std::set<std::string> seen;
  for (size_t i = 0; i < namespaces.size(); i++) {
    const Namespace& ns = namespaces[i];
    std::string field = At("linux.namespaces", i);
    if (!Contains(kNamespaceTypes, ns.type)) {
      return Bad(field + ".type", "unknown namespace type \"%s\"", ns.type.c_str());
    }
    if (!seen.insert(ns.type).second) {
      return Bad(field + ".type", "namespace type \"%s\" is given twice", ns.type.c_str());
    }
    if (!ns.path.empty()) TRY(CheckAbsolute(field + ".path", ns.path));
  }
  return Ok();
}

Status CheckUserMappings(const Spec& spec) {
  const Linux& l = *spec.linux;
  // Mappings are written to the uid_map of a namespace the runtime creates; a joined one
  // already has its maps, and the kernel allows writing them once.
  bool new_userns = HasNewNamespace(spec, "user");
  if (!l.uid_mappings.empty() && !new_userns) {
    return Bad("linux.uidMappings",
               "requires a new user namespace (a linux.namespaces entry "
               "of type \"user\" without path)");
  }
  if (!l.gid_mappings.empty() && !new_userns) {
    return Bad("linux.gidMappings",
               "requires a new user namespace (a linux.namespaces entry "
               "of type \"user\" without path)");
  }
  TRY(CheckIdMappings("linux.uidMappings", l.uid_mappings));
  TRY(CheckIdMappings("linux.gidMappings", l.gid_mappings));
  return Ok();
}

Status CheckTimeOffsets(const Spec& spec) {
  const auto& offsets = spec.linux->time_offsets;
  if (offsets.empty()) return Ok();
  // The kernel accepts timens_offsets only before the first process enters the namespace,
  // so offsets need one the runtime creates.
  if (!HasNewNamespace(spec, "time")) {
    return Bad("linux.timeOffsets", "requires a new time namespace");
  }
  for (const auto& [clock, off] : offsets) {
    std::string field = "linux.timeOffsets." + clock;
    if (clock != "monotonic" && clock != "boottime") {
      return Bad(field, "unknown clock (expected monotonic or boottime)");
    }
    if (off.nanosecs >= 1000000000) {
      return Bad(field + ".nanosecs", "%u is not below one second", off.nanosecs);
    }
  }
  return Ok();
}

// The key becomes a path under /proc/sys, so it must not be able to climb out of it.
bool SysctlKeySane(const std::string& key) {
  if (key.empty() || key.find("..") != std::string::npos) return false;
  for (char c : key) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = std::min(key.find('/', start), key.size());
    std::string_view part(key.data() + start, end - start);
    if (part.empty() || part.front() == '.' || part.back() == '.') return false;
    start = end + 1;
  }
  return true;
}

// As runc: only sysctls that live in a namespace the container has may be set; anything
// else would change the host.
Status CheckSysctlNamespace(const Spec& spec, const std::string& field, std::string key) {
  std::replace(key.begin(), key.end(), '/', '.');
  if (Contains({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"},
               key) ||
      key.rfind("fs.mqueue.", 0) == 0) {
    if (spec.HasNamespace("ipc")) return Ok();
    return Bad(field, "needs an ipc namespace");
  }
  if (key.rfind("net.", 0) == 0) {
    if (spec.HasNamespace("network")) return Ok();
    return Bad(field, "needs a network namespace");
  }
  if (key == "kernel.hostname") return Bad(field, "conflicts with the hostname field; use it");
  if (key == "kernel.domainname") {
    if (HasNewNamespace(spec, "uts")) return Ok();
    return Bad(field, "needs a new uts namespace");
  }
  return Bad(field, "is not in a separate kernel namespace");
}

Status CheckSysctl(const Spec& spec) {
  for (const auto& [key, value] : spec.linux->sysctl) {
    std::string field = "linux.sysctl." + key;
    if (!SysctlKeySane(key)) return Bad("linux.sysctl", "invalid key \"%s\"", key.c_str());
    TRY(CheckSysctlNamespace(spec, field, key));
  }
  return Ok();
}

Status CheckDevices(const std::vector<Device>& devices) {
  for (size_t i = 0; i < devices.size(); i++) {
    const Device& d = devices[i];
    std::string field = At("linux.devices", i);
    if (!Contains({"c", "b", "u", "p"}, d.type)) {
      return Bad(field + ".type", "unknown device type \"%s\" (expected c, b, u or p)",
                 d.type.c_str());
    }
    TRY(CheckAbsolute(field + ".path", d.path));
    if (d.file_mode && *d.file_mode > 07777) {
      return Bad(field + ".fileMode", "%#o has bits beyond 07777", *d.file_mode);
    }
  }
  return Ok();
}

Status CheckDeviceRules(const std::vector<DeviceRule>& rules) {
  for (size_t i = 0; i < rules.size(); i++) {
    const DeviceRule& r = rules[i];
    std::string field = At("linux.resources.devices", i);
    if (!Contains({"", "a", "c", "b"}, r.type)) {
      return Bad(field + ".type", "unknown device type \"%s\" (expected a, c or b)",
                 r.type.c_str());
    }
    if (r.access.find_first_not_of("rwm") != std::string::npos) {
      return Bad(field + ".access", "\"%s\" has letters other than r, w and m", r.access.c_str());
    }
  }
  return Ok();
}

Status CheckPathList(const std::string& field, const std::vector<std::string>& paths) {
  for (size_t i = 0; i < paths.size(); i++) TRY(CheckAbsolute(At(field, i), paths[i]));
  return Ok();
}

Status CheckPropagation(const std::string& p) {
  if (Contains({"", "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate",
                "runbindable"},
               p)) {
    return Ok();
  }
  return Bad("linux.rootfsPropagation", "unknown propagation \"%s\"", p.c_str());
}

Status CheckPersonality(const Personality& p) {
  if (p.domain != "LINUX" && p.domain != "LINUX32") {
    return Bad("linux.personality.domain", "unknown domain \"%s\" (expected LINUX or LINUX32)",
               p.domain.c_str());
  }
  return Ok();
}

// --- seccomp ---

constexpr std::initializer_list<const char*> kSeccompActions = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY"};

constexpr std::initializer_list<const char*> kSeccompOps = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",       "SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};

// config-linux.md: "When the action doesn't support an errno, the runtime MUST print and
// error and fail."
Status CheckAction(const std::string& field, const std::string& action,
                   const std::optional<uint32_t>& errno_ret, const char* errno_field) {
  if (action.empty()) return Bad(field, "required field is missing");
  if (!Contains(kSeccompActions, action)) {
    return Bad(field, "unknown seccomp action \"%s\"", action.c_str());
  }
  if (errno_ret && action != "SCMP_ACT_ERRNO" && action != "SCMP_ACT_TRACE") {
    return Bad(errno_field, "is only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not %s",
               action.c_str());
  }
  return Ok();
}

Status CheckSyscall(const std::string& field, const SeccompSyscall& s) {
  if (s.names.empty()) return Bad(field + ".names", "must not be empty");
  TRY(CheckAction(field + ".action", s.action, s.errno_ret, (field + ".errnoRet").c_str()));
  for (size_t i = 0; i < s.args.size(); i++) {
    const SeccompArg& a = s.args[i];
    std::string arg = At(field + ".args", i);
    // Six syscall arguments: seccomp_data.args[6].
    if (a.index > 5) return Bad(arg + ".index", "%u is not below 6", a.index);
    if (!Contains(kSeccompOps, a.op)) {
      return Bad(arg + ".op", "unknown operator \"%s\"", a.op.c_str());
    }
  }
  return Ok();
}

Status CheckSeccomp(const Seccomp& s) {
  TRY(CheckAction("linux.seccomp.defaultAction", s.default_action, s.default_errno_ret,
                  "linux.seccomp.defaultErrnoRet"));
  // libseccomp can't notify by default: every syscall, the listener's own included, would
  // wait on the listener.
  if (s.default_action == "SCMP_ACT_NOTIFY") {
    return Bad("linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY can't be the default action");
  }
  for (size_t i = 0; i < s.architectures.size(); i++) {
    if (s.architectures[i].rfind("SCMP_ARCH_", 0) != 0) {
      return Bad(At("linux.seccomp.architectures", i), "\"%s\" is not an SCMP_ARCH_* name",
                 s.architectures[i].c_str());
    }
  }
  bool notify = false;
  for (size_t i = 0; i < s.syscalls.size(); i++) {
    TRY(CheckSyscall(At("linux.seccomp.syscalls", i), s.syscalls[i]));
    notify |= s.syscalls[i].action == "SCMP_ACT_NOTIFY";
  }
  // Without a listener the notify fd has nowhere to go and those syscalls fail with ENOSYS.
  if (notify && s.listener_path.empty()) {
    return Bad("linux.seccomp.listenerPath", "required when a syscall uses SCMP_ACT_NOTIFY");
  }
  if (!s.listener_path.empty()) TRY(CheckAbsolute("linux.seccomp.listenerPath", s.listener_path));
  return Ok();
}

Status ValidateLinux(const Spec& spec) {
  const Linux& l = *spec.linux;
  TRY(CheckNamespaces(l.namespaces));
  TRY(CheckUserMappings(spec));
  TRY(CheckTimeOffsets(spec));
  TRY(CheckSysctl(spec));
  TRY(CheckDevices(l.devices));
  if (l.resources) TRY(CheckDeviceRules(l.resources->devices));
  TRY(CheckPropagation(l.rootfs_propagation));
  TRY(CheckPathList("linux.maskedPaths", l.masked_paths));
  TRY(CheckPathList("linux.readonlyPaths", l.readonly_paths));
  if (l.seccomp) TRY(CheckSeccomp(*l.seccomp));
  if (l.personality) TRY(CheckPersonality(*l.personality));
  return Ok();
}

}  // namespace

Status ValidateSpec(const Spec& spec) {
  TRY(CheckVersion(spec));
  if (spec.root && spec.root->path.empty()) return Bad("root.path", "required field is missing");
  if (spec.process) TRY(CheckProcess(*spec.process));
  TRY(CheckNames(spec));
  TRY(CheckMounts(spec));
  if (spec.hooks) TRY(CheckHooks(*spec.hooks));
  if (spec.linux) TRY(ValidateLinux(spec));
  // config.md: a runtime that can't honour a setting MUST error rather than run without it.
  if (!spec.unsupported.empty()) return Bad(spec.unsupported[0], "not supported by skiff-runtime");
  if (spec.process && spec.process->scheduler) {
    static const char* const kPolicies[] = {"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR",
                                            "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE",
                                            "SCHED_DEADLINE"};
    const std::string& pol = spec.process->scheduler->policy;
    bool known = false;
    for (const char* k : kPolicies) known = known || pol == k;
    if (!known) return Bad("process.scheduler.policy", "unknown policy \"%s\"", pol.c_str());
  }
  if (spec.process && spec.process->io_priority) {
    const std::string& c = spec.process->io_priority->io_class;
    if (c != "IOPRIO_CLASS_RT" && c != "IOPRIO_CLASS_BE" && c != "IOPRIO_CLASS_IDLE")
      return Bad("process.ioPriority.class", "unknown class \"%s\"", c.c_str());
    int prio = spec.process->io_priority->priority;
    if (prio < 0 || prio > 7) return Bad("process.ioPriority.priority", "%d is outside [0, 7]", prio);
  }
  return Ok();
}

}  // namespace skiff::oci
