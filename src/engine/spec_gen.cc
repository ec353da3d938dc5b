// The OCI spec for a container: moby's daemon/oci_linux.go and oci/defaults.go for Linux.
#include "engine/spec_gen.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "runtime/planner.h"
#include "runtime/seccomp.h"

namespace skiff::engine {
namespace {

using OJson = nlohmann::ordered_json;

const char* const kMaskedPaths[] = {
    "/proc/asound",      "/proc/acpi",          "/proc/interrupts", "/proc/kcore",
    "/proc/keys",        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
    "/proc/sched_debug", "/proc/scsi",          "/sys/firmware",    "/sys/devices/virtual/powercap",
};
const char* const kReadonlyPaths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                      "/proc/sysrq-trigger"};
constexpr int64_t kDefaultShmSize = 64 << 20;

struct SpecMount {
  std::string destination, type, source;
  std::vector<std::string> options;
};

OJson MountJson(const SpecMount& m) {
  OJson j = {{"destination", m.destination}, {"type", m.type}, {"source", m.source}};
  if (!m.options.empty()) j["options"] = m.options;
  return j;
}

size_t Depth(const std::string& path) { return std::count(path.begin(), path.end(), '/'); }

// Docker's defaults (oci.DefaultLinuxSpec plus /dev/shm), less those a user mount
// replaces: the same destination, or anything under /dev when the user mounts /dev.
std::vector<SpecMount> DefaultMounts(const RunOptions& o, const std::vector<SpecMount>& user) {
  bool chroot = o.isolation == Isolation::kChroot;
  int64_t shm = o.shm_size > 0 ? o.shm_size : kDefaultShmSize;
  std::vector<std::string> sys_opts = {"nosuid", "noexec", "nodev"};
  std::vector<std::string> cg_opts = {"nosuid", "noexec", "nodev", "relatime"};
  if (!o.privileged) {
    sys_opts.push_back("ro");
    cg_opts.push_back("ro");
  }
  std::vector<SpecMount> defaults = {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts",
       "devpts",
       "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/sys", "sysfs", "sysfs", sys_opts},
  };
  // Without a cgroup or ipc namespace these would show the host's.
  if (!chroot) defaults.push_back({"/sys/fs/cgroup", "cgroup", "cgroup", cg_opts});
  if (!chroot)
    defaults.push_back({"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}});
  defaults.push_back({"/dev/shm",
                      "tmpfs",
                      "shm",
                      {"nosuid", "noexec", "nodev", "mode=1777", "size=" + std::to_string(shm)}});
  bool user_dev = false;
  for (const auto& u : user) user_dev = user_dev || u.destination == "/dev";
  std::vector<SpecMount> out;
  for (auto& d : defaults) {
    bool replaced = user_dev && d.destination.rfind("/dev/", 0) == 0;
    for (const auto& u : user) replaced = replaced || u.destination == d.destination;
    if (!replaced) out.push_back(std::move(d));
  }
  return out;
}

SpecMount BindMount(const std::string& source, const std::string& dest, bool ro,
                    const std::string& propagation) {
  SpecMount m{dest, "bind", source, {"rbind", propagation.empty() ? "rprivate" : propagation}};
  if (ro) m.options.push_back("ro");
  return m;
}

// The flags' mounts, the image's VOLUMEs the engine made volumes for, the init and /etc
// files; sorted so that a parent is mounted before its children (moby sorts by depth).
Result<std::vector<SpecMount>> UserMounts(const oci::ImageConfig& image, const RunOptions& o,
                                          const SpecInputs& in) {
  std::vector<SpecMount> out;
  auto seen = [&](const std::string& dest) {
    for (const auto& m : out)
      if (m.destination == dest) return true;
    return false;
  };
  for (const auto& r : o.mounts) {
    if (seen(r.target)) return MakeError(0, "Duplicate mount point: %s", r.target.c_str());
    switch (r.kind) {
      case MountKind::kBind:
        out.push_back(BindMount(r.source, r.target, r.readonly, r.propagation));
        break;
      case MountKind::kVolume: {
        auto it = in.volume_paths.find(r.target);
        if (it == in.volume_paths.end())
          return MakeError(0, "volume for %s: no host directory was prepared", r.target.c_str());
        out.push_back(BindMount(it->second, r.target, r.readonly, ""));
        break;
      }
      case MountKind::kTmpfs: {
        SpecMount m{r.target, "tmpfs", "tmpfs", r.tmpfs_options};
        if (r.readonly) m.options.push_back("ro");
        out.push_back(std::move(m));
        break;
      }
    }
  }
  for (const auto& v : image.config.volumes) {
    auto it = in.volume_paths.find(v);
    if (it != in.volume_paths.end() && !seen(v)) out.push_back(BindMount(it->second, v, false, ""));
  }
  if (o.init) {
    if (in.init_path.empty()) return MakeError(0, "--init: skiff-init was not found");
    out.push_back({kInitPathInContainer, "bind", in.init_path, {"bind", "ro", "rprivate"}});
  }
  const std::pair<const std::string*, const char*> kEtc[] = {
      {&in.resolv_conf_path, "/etc/resolv.conf"},
      {&in.hostname_path, "/etc/hostname"},
      {&in.hosts_path, "/etc/hosts"}};
  for (const auto& [src, dest] : kEtc)
    if (!src->empty() && !seen(dest)) out.push_back(BindMount(*src, dest, false, ""));
  std::stable_sort(out.begin(), out.end(), [](const SpecMount& a, const SpecMount& b) {
    return Depth(a.destination) < Depth(b.destination);
  });
  return out;
}

OJson SeccompJson(const oci::Seccomp& s) {
  OJson j = {{"defaultAction", s.default_action}};
  if (s.default_errno_ret) j["defaultErrnoRet"] = *s.default_errno_ret;
  if (!s.architectures.empty()) j["architectures"] = s.architectures;
  if (!s.flags.empty()) j["flags"] = s.flags;
  OJson calls = OJson::array();
  for (const auto& c : s.syscalls) {
    OJson cj = {{"names", c.names}, {"action", c.action}};
    if (c.errno_ret) cj["errnoRet"] = *c.errno_ret;
    if (!c.args.empty()) {
      OJson args = OJson::array();
      for (const auto& a : c.args)
        args.push_back(
            {{"index", a.index}, {"value", a.value}, {"valueTwo", a.value_two}, {"op", a.op}});
      cj["args"] = args;
    }
    calls.push_back(cj);
  }
  j["syscalls"] = calls;
  return j;
}

// seccomp=FILE: an OCI linux.seccomp object, or a Docker profile without the parts that
// need moby's resolution (archMap, includes/excludes), which skiff refuses rather than
// apply more loosely than Docker would.
Result<oci::Seccomp> ProfileFromFile(const std::string& text, const std::string& path) {
  OJson j;
  try {
    j = OJson::parse(text);
  } catch (const std::exception& e) {
    return MakeError(0, "seccomp profile %s: %s", path.c_str(), e.what());
  }
  if (!j.is_object()) return MakeError(0, "seccomp profile %s: not a JSON object", path.c_str());
  if (j.contains("archMap"))
    return MakeError(0, "seccomp profile %s: archMap is not supported, list architectures",
                     path.c_str());
  if (j.contains("syscalls") && j["syscalls"].is_array())
    for (const auto& c : j["syscalls"])
      if (c.is_object() && (c.contains("includes") || c.contains("excludes")))
        return MakeError(0, "seccomp profile %s: includes/excludes are not supported",
                         path.c_str());
  OJson spec = {{"ociVersion", oci::kOciVersion}, {"linux", {{"seccomp", j}}}};
  auto parsed = oci::ParseSpec(spec.dump());
  if (!parsed.ok()) return std::move(parsed).error().Wrapf("seccomp profile %s", path.c_str());
  if (!parsed->linux || !parsed->linux->seccomp)
    return MakeError(0, "seccomp profile %s: empty", path.c_str());
  return *parsed->linux->seccomp;
}

OJson ProcessJson(const oci::ImageConfig& image, const RunOptions& o, const SpecInputs& in,
                  const std::string& hostname, const std::vector<std::string>& caps) {
  OJson p = OJson::object();
  p["terminal"] = o.tty;
  OJson user = {{"uid", in.user.uid}, {"gid", in.user.gid}};
  if (!in.user.additional_gids.empty()) user["additionalGids"] = in.user.additional_gids;
  p["user"] = user;
  p["args"] = OJson::array();
  p["env"] = ContainerEnv(image.config.env, o.env, hostname, o.tty, in.user.home);
  p["cwd"] = "/";
  p["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
  OJson rlimits = OJson::array();
  for (const auto& u : o.ulimits) {
    auto lim = [](int64_t v) { return v < 0 ? UINT64_MAX : static_cast<uint64_t>(v); };
    rlimits.push_back({{"type", RlimitName(u.name)}, {"hard", lim(u.hard)}, {"soft", lim(u.soft)}});
  }
  if (!rlimits.empty()) p["rlimits"] = rlimits;
  if (o.security.no_new_privileges) p["noNewPrivileges"] = true;
  p["oomScoreAdj"] = 0;
  return p;
}

OJson ResourcesJson(const RunOptions& o, const SpecInputs& in, std::vector<std::string>* warnings) {
  OJson r = OJson::object();
  OJson devices = OJson::array();
  if (o.privileged) {
    devices.push_back({{"allow", true}, {"access", "rwm"}});
  } else {
    // Deny all, then Docker's (and runc's) default allowlist, so that the spec says what
    // is allowed under any runtime.
    devices.push_back({{"allow", false}, {"access", "rwm"}});
    for (const auto& d : runtime::DefaultDeviceRules()) {
      OJson dj = {{"allow", d.allow}, {"type", d.type}};
      if (d.major) dj["major"] = *d.major;
      if (d.minor) dj["minor"] = *d.minor;
      dj["access"] = d.access;
      devices.push_back(dj);
    }
  }
  r["devices"] = devices;
  if (o.memory > 0) {
    OJson mem = {{"limit", o.memory}};
    // Docker: --memory alone allows as much swap again; -1 is unlimited.
    int64_t swap = o.memory_swap == 0 ? 2 * o.memory : o.memory_swap;
    if (in.swap_limit_supported) {
      mem["swap"] = swap;
    } else {
      warnings->push_back(
          "Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
          "Memory limited without swap.");
    }
    r["memory"] = mem;
  }
  OJson cpu = OJson::object();
  if (o.cpu_shares) cpu["shares"] = o.cpu_shares;
  if (o.nano_cpus > 0) {
    CpuQuota q = NanoCpusToQuota(o.nano_cpus);
    cpu["quota"] = q.quota;
    cpu["period"] = q.period;
  }
  if (!o.cpuset_cpus.empty()) cpu["cpus"] = o.cpuset_cpus;
  if (!cpu.empty()) r["cpu"] = cpu;
  if (o.pids_limit > 0) r["pids"] = {{"limit", o.pids_limit}};
  return r;
}

// rprivate unless a bind asks for shared or slave propagation, which needs the root's
// propagation to allow it (moby's ensureShared / ensureSharedOrSlave).
std::string RootfsPropagation(const std::vector<SpecMount>& mounts) {
  std::string prop = "rprivate";
  for (const auto& m : mounts)
    for (const auto& opt : m.options) {
      if (opt == "shared" || opt == "rshared") return "rshared";
      if (opt == "slave" || opt == "rslave") prop = "rslave";
    }
  return prop;
}

OJson LinuxJson(const RunOptions& o, const SpecInputs& in, const std::vector<SpecMount>& mounts,
                std::vector<std::string>* warnings) {
  bool chroot = o.isolation == Isolation::kChroot;
  OJson l = OJson::object();
  OJson ns = OJson::array();
  if (chroot) {
    ns.push_back({{"type", "mount"}});
  } else {
    ns.push_back({{"type", "mount"}});
    if (o.network != NetworkMode::kHost) ns.push_back({{"type", "network"}});
    for (const char* t : {"uts", "pid", "ipc"}) ns.push_back({{"type", t}});
    if (in.cgroup_v2_unified) ns.push_back({{"type", "cgroup"}});
  }
  l["namespaces"] = ns;
  if (!chroot) {
    l["cgroupsPath"] = in.cgroup_parent + "/" + in.id;
    l["resources"] = ResourcesJson(o, in, warnings);
  }
  if (o.privileged && !in.host_devices.empty()) {
    OJson devs = OJson::array();
    for (const auto& d : in.host_devices) {
      OJson dj = {{"path", d.path}, {"type", d.type}, {"major", d.major}, {"minor", d.minor}};
      if (d.file_mode) dj["fileMode"] = *d.file_mode;
      if (d.uid) dj["uid"] = *d.uid;
      if (d.gid) dj["gid"] = *d.gid;
      devs.push_back(dj);
    }
    l["devices"] = devs;
  }
  l["rootfsPropagation"] = RootfsPropagation(mounts);
  if (!o.privileged) {
    l["maskedPaths"] = kMaskedPaths;
    l["readonlyPaths"] = kReadonlyPaths;
  }
  return l;
}

}  // namespace

Result<GeneratedSpec> GenerateSpec(const oci::ImageConfig& image, const RunOptions& opts,
                                   const SpecInputs& in) {
  if (in.id.size() < 12) return MakeError(0, "container id \"%s\" is too short", in.id.c_str());
  GeneratedSpec out;
  std::vector<std::string> args = TRY(ProcessArgs(image.config, opts));
  if (opts.init) args.insert(args.begin(), {kInitPathInContainer, "--"});
  std::string cwd = opts.workdir.empty() ? image.config.working_dir : opts.workdir;
  if (cwd.empty()) cwd = "/";
  if (cwd[0] != '/')
    return MakeError(0, "the working directory '%s' is invalid, it needs to be an absolute path",
                     cwd.c_str());
  bool chroot = opts.isolation == Isolation::kChroot;
  std::string hostname = opts.hostname;
  // Sharing the host's network (or everything, with chroot) shows the host's name, as
  // Docker does for --network host.
  bool host_name = opts.network == NetworkMode::kHost || chroot;
  if (hostname.empty())
    hostname = host_name && !in.host_hostname.empty() ? in.host_hostname : in.id.substr(0, 12);
  std::vector<std::string> caps = TRY(ContainerCapabilities(opts));

  std::vector<SpecMount> user = TRY(UserMounts(image, opts, in));
  std::vector<SpecMount> mounts = DefaultMounts(opts, user);
  mounts.insert(mounts.end(), user.begin(), user.end());

  OJson process = ProcessJson(image, opts, in, hostname, caps);
  process["args"] = args;
  process["cwd"] = cwd;
  OJson spec = {{"ociVersion", oci::kOciVersion},
                {"process", process},
                {"root", {{"path", in.rootfs}, {"readonly", opts.read_only}}}};
  if (!chroot) spec["hostname"] = hostname;  // a hostname needs a uts namespace
  OJson mj = OJson::array();
  for (const auto& m : mounts) mj.push_back(MountJson(m));
  spec["mounts"] = mj;
  OJson linux = LinuxJson(opts, in, mounts, &out.warnings);
  if (!opts.privileged && !opts.security.seccomp_unconfined) {
    oci::Seccomp profile =
        opts.security.seccomp_profile.empty()
            ? runtime::DefaultSeccompProfile(caps)
            : TRY(ProfileFromFile(in.seccomp_profile_json, opts.security.seccomp_profile));
    linux["seccomp"] = SeccompJson(profile);
  }
  spec["linux"] = linux;

  // Compact, as Docker's bundle: half the bytes to write, parse and (in state.json) escape.
  out.json = spec.dump() + "\n";
  // The runtime would refuse a bad spec anyway; failing here names the engine as the culprit.
  auto parsed = oci::ParseSpec(out.json);
  if (!parsed.ok()) return std::move(parsed).error().Wrap("generated spec");
  Status valid = oci::ValidateSpec(*parsed);
  if (!valid.ok()) return std::move(valid).error().Wrap("generated spec");
  out.spec = std::move(parsed).value();
  return out;
}

}  // namespace skiff::engine
