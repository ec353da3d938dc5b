// What ps and inspect show of a container: Docker's shapes.
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "engine/containers.h"
#include "engine/logs.h"
#include "oci/spec.h"

namespace skiff::engine {
namespace {

using Json = nlohmann::ordered_json;

int64_t SecondsOf(const std::string& rfc3339) {
  auto ns = ParseRfc3339Nano(rfc3339);
  return ns.ok() ? *ns / 1000000000LL : 0;
}

const char* RestartName(RestartMode m) {
  switch (m) {
    case RestartMode::kAlways: return "always";
    case RestartMode::kOnFailure: return "on-failure";
    case RestartMode::kUnlessStopped: return "unless-stopped";
    default: return "no";
  }
}

Json MountsJson(const oci::Spec& spec, const Engine& e) {
  Json out = Json::array();
  std::string vols = VolumesDir(e) + "/";
  for (const auto& m : spec.mounts) {
    bool bind = m.type == "bind" || m.type.empty();
    bool is_volume = bind && m.source.rfind(vols, 0) == 0;
    bool skiff_file = bind && (m.destination == "/etc/hostname" || m.destination == "/etc/hosts" ||
                               m.destination == "/etc/resolv.conf" ||
                               m.destination == "/sbin/skiff-init");
    if (skiff_file) continue;
    if (!bind && m.type != "tmpfs") continue;
    if (m.type == "tmpfs" && (m.destination == "/dev" || m.destination == "/dev/shm" ||
                              m.destination == "/run" || m.destination.rfind("/sys", 0) == 0))
      continue;
    bool rw = true;
    for (const auto& o : m.options) rw = rw && o != "ro";
    Json j;
    j["Type"] = is_volume ? "volume" : bind ? "bind" : "tmpfs";
    if (is_volume) {
      std::string rest = m.source.substr(vols.size());
      j["Name"] = rest.substr(0, rest.find('/'));
    }
    j["Source"] = bind ? m.source : "";
    j["Destination"] = m.destination;
    j["Mode"] = "";
    j["RW"] = rw;
    j["Propagation"] = bind && !is_volume ? "rprivate" : "";
    out.push_back(j);
  }
  return out;
}

}  // namespace

std::string HumanDuration(int64_t s) {
  if (s < 1) return "Less than a second";
  if (s == 1) return "1 second";
  if (s < 60) return StrFormat("%lld seconds", static_cast<long long>(s));
  int64_t m = s / 60;
  if (m == 1) return "About a minute";
  if (m < 60) return StrFormat("%lld minutes", static_cast<long long>(m));
  int64_t h = (s + 1800) / 3600;  // Go rounds hours
  if (h == 1) return "About an hour";
  if (h < 48) return StrFormat("%lld hours", static_cast<long long>(h));
  if (h < 24 * 7 * 2) return StrFormat("%lld days", static_cast<long long>(h / 24));
  if (h < 24 * 30 * 2) return StrFormat("%lld weeks", static_cast<long long>(h / 24 / 7));
  if (h < 24 * 365 * 2) return StrFormat("%lld months", static_cast<long long>(h / 24 / 30));
  return StrFormat("%lld years", static_cast<long long>(s / 3600 / 24 / 365));  // not rounded
}

std::string StatusText(const ContainerRecord& r, int64_t now_s) {
  switch (r.status) {
    case ContainerStatus::kCreated:
      return "Created";
    case ContainerStatus::kRunning:
      return "Up " + HumanDuration(now_s - SecondsOf(r.started_at));
    case ContainerStatus::kPaused:
      return "Up " + HumanDuration(now_s - SecondsOf(r.started_at)) + " (Paused)";
    case ContainerStatus::kExited:
      if (r.finished_at.empty() || r.finished_at == kZeroTime) return "Created";
      return StrFormat("Exited (%d) %s ago", r.exit_code,
                       HumanDuration(now_s - SecondsOf(r.finished_at)).c_str());
    case ContainerStatus::kDead:
      return "Dead";
    case ContainerStatus::kRestarting:
      return StrFormat("Restarting (%d) %s ago", r.exit_code,
                       HumanDuration(now_s - SecondsOf(r.finished_at)).c_str());
  }
  return "";
}

Result<PsFilter> ParsePsFilter(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos)
    return MakeError(0, "bad format of filter (expected name=value)");
  PsFilter f{text.substr(0, eq), text.substr(eq + 1)};
  static const char* const kKeys[] = {"status", "name", "id", "ancestor", "exited"};
  for (const char* k : kKeys)
    if (f.key == k) {
      if (f.key == "status") {
        static const char* const kStatus[] = {"created", "restarting", "running", "removing",
                                              "paused",  "exited",     "dead"};
        bool ok = false;
        for (const char* s : kStatus) ok = ok || f.value == s;
        if (!ok)
          return MakeError(0,
                           "invalid filter 'status=%s'", f.value.c_str());
      }
      return f;
    }
  return MakeError(0, "invalid filter '%s'", f.key.c_str());
}

bool MatchesFilters(const ContainerRecord& r, const std::vector<PsFilter>& filters) {
  // Per key: any value matches; all keys must match.
  std::map<std::string, bool> by_key;
  for (const PsFilter& f : filters) {
    bool m = false;
    if (f.key == "status") {
      m = f.value == StatusName(r.status) ||
          (f.value == "exited" && r.status == ContainerStatus::kExited);
    } else if (f.key == "name") {
      m = r.name.find(f.value[0] == '/' ? f.value.substr(1) : f.value) != std::string::npos;
    } else if (f.key == "id") {
      m = r.id.rfind(f.value, 0) == 0;
    } else if (f.key == "ancestor") {
      std::string img = r.image;
      auto strip = [](std::string s) {
        if (s.rfind("docker.io/library/", 0) == 0) s = s.substr(18);
        if (s.size() > 7 && s.compare(s.size() - 7, 7, ":latest") == 0) s.resize(s.size() - 7);
        return s;
      };
      m = strip(img) == strip(f.value) || r.image_id == f.value ||
          (f.value.size() >= 4 && r.image_id.compare(7, f.value.size(), f.value) == 0);
    } else if (f.key == "exited") {
      m = r.status == ContainerStatus::kExited && std::to_string(r.exit_code) == f.value;
    }
    by_key[f.key] = by_key[f.key] || m;
  }
  for (const auto& [k, v] : by_key)
    if (!v) return false;
  return true;
}

std::string InspectJson(const Engine& e, const ContainerRecord& r) {
  oci::Spec spec;
  if (auto text = ReadFile(BundleDir(e, r.id) + "/config.json"); text.ok()) {
    if (auto s = oci::ParseSpec(*text); s.ok()) spec = std::move(s.value());
  }
  const RecordConfig& c = r.config;
  bool running = r.status == ContainerStatus::kRunning || r.status == ContainerStatus::kPaused;
  // As Docker: a restarting container counts as running, with no process.
  bool restarting = r.status == ContainerStatus::kRestarting;
  Json state = {{"Status", StatusName(r.status)},
                {"Running", running || restarting},
                {"Paused", r.status == ContainerStatus::kPaused},
                {"Restarting", restarting},
                {"OOMKilled", r.oom_killed},
                {"Dead", r.status == ContainerStatus::kDead},
                {"Pid", running ? r.pid : 0},
                {"ExitCode", r.exit_code},
                {"Error", r.error},
                {"StartedAt", r.started_at.empty() ? kZeroTime : r.started_at},
                {"FinishedAt", r.finished_at.empty() ? kZeroTime : r.finished_at}};
  std::vector<std::string> args = c.args;
  std::string path = args.empty() ? "" : args[0];
  if (!args.empty()) args.erase(args.begin());
  Json host = Json::object();
  host["NetworkMode"] = c.network == NetworkMode::kHost   ? "host"
                        : c.network == NetworkMode::kNone ? "none"
                                                          : "bridge";
  host["RestartPolicy"] = {{"Name", RestartName(c.restart.mode)},
                           {"MaximumRetryCount", c.restart.max_retries}};
  host["AutoRemove"] = c.auto_remove;
  bool privileged = c.privileged, ro = spec.root && spec.root->readonly;
  int64_t memory = 0, swap = 0, pids = 0, shares = 0, quota = 0, period = 0;
  std::string cpuset;
  if (spec.linux && spec.linux->resources) {
    const auto& res = *spec.linux->resources;
    if (res.memory) {
      memory = res.memory->limit.value_or(0);
      swap = res.memory->swap.value_or(0);
    }
    if (res.pids) pids = res.pids->limit.value_or(0);
    if (res.cpu) {
      shares = static_cast<int64_t>(res.cpu->shares.value_or(0));
      quota = res.cpu->quota.value_or(0);
      period = static_cast<int64_t>(res.cpu->period.value_or(0));
      cpuset = res.cpu->cpus;
    }
  }
  host["Privileged"] = privileged;
  host["ReadonlyRootfs"] = ro;
  host["Memory"] = memory;
  host["MemorySwap"] = swap;
  host["CpuShares"] = shares;
  host["CpuQuota"] = quota;
  host["CpuPeriod"] = period;
  host["CpusetCpus"] = cpuset;
  host["PidsLimit"] = pids > 0 ? Json(pids) : Json(nullptr);
  host["Isolation"] = c.isolation == Isolation::kChroot ? "chroot" : "";
  Json config = Json::object();
  config["Hostname"] = c.hostname;
  config["User"] = c.user;
  config["Tty"] = c.tty;
  config["OpenStdin"] = c.interactive;
  config["Env"] = spec.process ? spec.process->env : std::vector<std::string>{};
  // Docker prints null for an empty list here.
  config["Cmd"] = c.cmd.empty() ? Json(nullptr) : Json(c.cmd);
  config["Image"] = r.image;
  config["Entrypoint"] = c.entrypoint.empty() ? Json(nullptr) : Json(c.entrypoint);
  config["WorkingDir"] = spec.process ? spec.process->cwd : "";
  config["StopSignal"] = c.stop_signal.empty() ? "SIGTERM" : c.stop_signal;
  config["StopTimeout"] = c.stop_timeout;
  std::string dir = BundleDir(e, r.id);
  std::string lower;
  for (size_t i = 0; i < c.lower_dirs.size(); ++i) lower += (i ? ":" : "") + c.lower_dirs[i];
  Json doc = {{"Id", r.id},
              {"Created", r.created},
              {"Path", path},
              {"Args", args},
              {"State", state},
              {"Image", r.image_id},
              {"ResolvConfPath", dir + "/resolv.conf"},
              {"HostnamePath", dir + "/hostname"},
              {"HostsPath", dir + "/hosts"},
              {"LogPath", LogPath(e, r.id)},
              {"Name", "/" + r.name},
              {"RestartCount", r.restart_count},
              {"Driver", "overlay"},
              {"Platform", "linux"},
              {"HostConfig", host},
              {"GraphDriver",
               {{"Name", "overlay"},
                {"Data",
                 {{"LowerDir", lower},
                  {"UpperDir", dir + "/upper"},
                  {"WorkDir", dir + "/work"},
                  {"MergedDir", RootfsDir(e, r.id)}}}}},
              {"Mounts", MountsJson(spec, e)},
              {"Config", config}};
  return doc.dump(4);
}

}  // namespace skiff::engine
