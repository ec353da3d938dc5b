// The config.json that `skiff-runtime spec` writes: runc 1.1's `runc spec` with skiff's
// hostname, ociVersion 1.2 and a cgroup namespace, so that bundles move between the two.
#include <nlohmann/json.hpp>
#include <string_view>

#include "oci/spec.h"

namespace skiff::oci {
namespace {

// ordered_json keeps runc's key order, which is what people diff a generated spec against.
using OJson = nlohmann::ordered_json;

OJson CapabilitiesJson() {
  // runc's minimal set. Not inheritable or ambient: CVE-2022-29162 showed inheritable
  // capabilities leaking to setuid-less execs, and ambient ones need inheritable.
  OJson caps = OJson::array({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"});
  return {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
}

OJson ProcessJson() {
  return {
      {"terminal", true},
      {"user", {{"uid", 0}, {"gid", 0}}},
      {"args", {"sh"}},
      {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
      {"cwd", "/"},
      {"capabilities", CapabilitiesJson()},
      {"rlimits", OJson::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
      {"noNewPrivileges", true},
  };
}

OJson MountEntry(const char* dest, const char* type, const char* source,
                 std::vector<std::string> options) {
  OJson m = {{"destination", dest}, {"type", type}, {"source", source}};
  if (!options.empty()) m["options"] = options;
  return m;
}

OJson MountsJson(bool rootless) {
  OJson mounts = OJson::array();
  mounts.push_back(MountEntry("/proc", "proc", "proc", {}));
  mounts.push_back(
      MountEntry("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  std::vector<std::string> pts = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"};
  // gid 5 (tty) is unmapped in a rootless user namespace, and devpts refuses an unmapped gid.
  if (!rootless) pts.push_back("gid=5");
  mounts.push_back(MountEntry("/dev/pts", "devpts", "devpts", pts));
  mounts.push_back(MountEntry("/dev/shm", "tmpfs", "shm",
                              {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
  mounts.push_back(MountEntry("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  if (rootless) {
    // A user namespace that doesn't own the network namespace can't mount sysfs, so
    // rootless bind-mounts the host's. The rbind already brings /sys/fs/cgroup along,
    // and a fresh cgroup mount would need privileges the caller lacks.
    mounts.push_back(
        MountEntry("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}));
  } else {
    mounts.push_back(MountEntry("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}));
    mounts.push_back(MountEntry("/sys/fs/cgroup", "cgroup", "cgroup",
                                {"nosuid", "noexec", "nodev", "relatime", "ro"}));
  }
  return mounts;
}

OJson IdMap(uint32_t host_id) {
  return OJson::array({{{"containerID", 0}, {"hostID", host_id}, {"size", 1}}});
}

OJson LinuxJson(bool rootless, uint32_t uid, uint32_t gid) {
  OJson l = OJson::object();
  if (rootless) {
    l["uidMappings"] = IdMap(uid);
    l["gidMappings"] = IdMap(gid);
  } else {
    // Deny every device; the runtime adds back the ones it creates. Rootless can't write
    // the devices controller, so it gets no resources at all.
    l["resources"] = {{"devices", OJson::array({{{"allow", false}, {"access", "rwm"}}})}};
  }
  OJson namespaces = OJson::array();
  for (const char* type : {"pid", "network", "ipc", "uts", "mount", "cgroup"}) {
    // As runc: a rootless container shares the host's network, since an unprivileged user
    // could not give a new network namespace anything but loopback.
    if (rootless && std::string_view(type) == "network") continue;
    namespaces.push_back({{"type", type}});
  }
  if (rootless) namespaces.push_back({{"type", "user"}});
  l["namespaces"] = namespaces;
  l["maskedPaths"] = {"/proc/acpi",        "/proc/asound",        "/proc/kcore",
                      "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                      "/proc/timer_stats", "/proc/sched_debug",   "/sys/firmware",
                      "/proc/scsi"};
  l["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  return l;
}

}  // namespace

std::string DefaultSpecJson(bool rootless, uint32_t uid, uint32_t gid) {
  OJson spec = {
      {"ociVersion", kOciVersion},
      {"process", ProcessJson()},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "skiff"},
      {"mounts", MountsJson(rootless)},
      {"linux", LinuxJson(rootless, uid, gid)},
  };
  return spec.dump(2) + "\n";
}

}  // namespace skiff::oci
