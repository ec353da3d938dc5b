// ps, update, events and features: what a shim asks of a running container.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/file.h"
#include "cgroup/manager.h"
#include "runtime/caps.h"
#include "runtime/container.h"

namespace skiff::runtime {
namespace {

using nlohmann::json;

Result<std::unique_ptr<cgroup::Manager>> ManagerOf(const ContainerState& s) {
  if (s.cgroup_paths.empty())
    return MakeError(ENOTSUP, "container %s has no cgroup (rootless without limits)", s.id.c_str());
  cgroup::Hierarchies h = TRY(cgroup::Detect());
  return cgroup::Open(h, s.cgroup_paths);
}

std::string Cmdline(pid_t pid) {
  auto text = ReadFile(StrFormat("/proc/%d/cmdline", pid));
  if (!text.ok() || text->empty()) return "?";
  std::string s = *text;
  if (s.back() == '\0') s.pop_back();
  for (char& c : s)
    if (c == '\0') c = ' ';
  return s;
}

json StatsJson(const cgroup::Stats& st) {
  return {{"cpu", {{"usage", {{"total", st.cpu_usage_ns}, {"user", st.cpu_user_ns},
                              {"kernel", st.cpu_system_ns}}},
                   {"throttling", {{"throttledPeriods", st.cpu_throttled_periods},
                                   {"throttledTime", st.cpu_throttled_ns}}}}},
          {"memory", {{"usage", {{"usage", st.memory_usage}, {"max", st.memory_max_usage},
                                 {"limit", st.memory_limit}}},
                      {"swap", {{"usage", st.swap_usage}}},
                      {"cache", st.memory_cache},
                      {"oomKills", st.oom_kills}}},
          {"pids", {{"current", st.pids_current}, {"limit", st.pids_limit}}},
          {"blkio", {{"readBytes", st.io_read_bytes}, {"writeBytes", st.io_write_bytes},
                     {"readOps", st.io_read_ops}, {"writeOps", st.io_write_ops}}}};
}

}  // namespace

Result<std::string> Ps(const std::string& root, const std::string& id, bool as_json) {
  auto run = [&]() -> Result<std::string> {
    ContainerState s = TRY(LoadState(root, id));
    auto m = TRY(ManagerOf(s));
    std::vector<pid_t> pids = TRY(m->GetPids());
    if (as_json) return json(pids).dump();
    std::string out = StrFormat("%-8s %-8s %s\n", "PID", "PPID", "CMD");
    for (pid_t p : pids) {
      auto stat = ReadFile(StrFormat("/proc/%d/stat", p));
      int ppid = 0;
      if (stat.ok()) {
        auto rp = stat->rfind(')');
        if (rp != std::string::npos) sscanf(stat->c_str() + rp + 2, "%*c %d", &ppid);
      }
      out += StrFormat("%-8d %-8d %s\n", p, ppid, Cmdline(p).c_str());
    }
    return out;
  };
  return run().Wrap("ps " + id);
}

Status Update(const std::string& root, const std::string& id, const oci::Resources& r) {
  auto run = [&]() -> Status {
    UniqueFd lock = TRY(LockContainer(root, id));
    ContainerState s = TRY(LoadState(root, id));
    if (CurrentStatus(root, s) == ContainerStatus::kStopped)
      return MakeError(EINVAL, "container is stopped");
    auto m = TRY(ManagerOf(s));
    // config-linux.md memory.checkBeforeUpdate: a limit below what is in use is refused
    // rather than left to the kernel (which would reclaim or OOM-kill).
    if (r.memory && r.memory->check_before_update.value_or(false) && r.memory->limit &&
        *r.memory->limit > 0) {
      cgroup::Stats st = TRY(m->GetStats());
      if (static_cast<uint64_t>(*r.memory->limit) < st.memory_usage)
        return MakeError(0, "memory limit %lld is below the current usage %llu (checkBeforeUpdate)",
                         static_cast<long long>(*r.memory->limit),
                         static_cast<unsigned long long>(st.memory_usage));
    }
    return m->Apply(r);
  };
  return run().Wrap("update " + id);
}

Status Events(const std::string& root, const std::string& id, bool stats_once, int interval_s) {
  auto run = [&]() -> Status {
    ContainerState s = TRY(LoadState(root, id));
    auto m = TRY(ManagerOf(s));
    uint64_t ooms = TRY(m->OomKillCount());
    for (;;) {
      if (CurrentStatus(root, s) == ContainerStatus::kStopped && !stats_once) return Ok();
      cgroup::Stats st = TRY(m->GetStats());
      json ev = {{"type", "stats"}, {"id", id}, {"data", StatsJson(st)}};
      std::printf("%s\n", ev.dump().c_str());
      if (st.oom_kills > ooms) {
        ooms = st.oom_kills;
        std::printf("%s\n", json({{"type", "oom"}, {"id", id}}).dump().c_str());
      }
      std::fflush(stdout);
      if (stats_once) return Ok();
      std::this_thread::sleep_for(std::chrono::seconds(interval_s > 0 ? interval_s : 5));
    }
  };
  return run().Wrap("events " + id);
}

std::string FeaturesJson() {
  // Only what skiff really does (features.md): no systemd, AppArmor, SELinux or Intel RDT;
  // idmapped mounts for binds.
  json f = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.2.0"},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                 "poststop"}},
      {"mountOptions",
       {"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "idmap",
        "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "nolazytime",
        "nomand", "norelatime", "nostrictatime", "nosuid", "private", "ratime", "rbind", "rdev",
        "rdiratime", "relatime", "remount", "rexec", "ridmap", "rnoatime", "rnodev",
        "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow",
        "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime",
        "rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent", "slave", "strictatime",
        "suid", "sync", "tmpcopyup", "unbindable"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false},
                    {"rdma", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions", {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                       "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
                       "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
          {"operators", {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                         "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
          {"archs", {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
                     "SCMP_ARCH_ARM"}},
          {"knownFlags", {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                          "SECCOMP_FILTER_FLAG_TSYNC"}},
          {"supportedFlags", {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                              "SECCOMP_FILTER_FLAG_TSYNC"}}}},
        {"capabilities", KnownCapabilityNames()},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}},
        {"intelRdt", {{"enabled", false}}},
        {"mountExtensions", {{"idmap", {{"enabled", true}}}}}}},
      {"annotations", {{"io.github.skiff.version", "0.1.0"}}}};
  return f.dump(4);
}

}  // namespace skiff::runtime
