#include "runtime/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "cgroup/manager.h"

namespace skiff::runtime {

using nlohmann::json;

const char* StatusName(ContainerStatus s) {
  switch (s) {
    case ContainerStatus::kCreating: return "creating";
    case ContainerStatus::kCreated: return "created";
    case ContainerStatus::kRunning: return "running";
    case ContainerStatus::kPaused: return "paused";
    case ContainerStatus::kStopped: return "stopped";
  }
  return "unknown";
}

Status ValidateId(const std::string& id) {
  if (id.empty() || id.size() > 1024 || id == "." || id == "..")
    return MakeError(EINVAL, "invalid container id \"%s\"", id.c_str());
  for (char c : id) {
    if (!isalnum(static_cast<unsigned char>(c)) && !strchr("_+-.", c))
      return MakeError(EINVAL, "invalid container id \"%s\": only [A-Za-z0-9_+.-] allowed",
                       id.c_str());
  }
  return Ok();
}

std::string StateDir(const std::string& root, const std::string& id) { return root + "/" + id; }

Status SaveState(const std::string& root, const ContainerState& s) {
  json j = {{"id", s.id},           {"pid", s.pid},         {"pid_start", s.pid_start},
            {"bundle", s.bundle},   {"rootfs", s.rootfs},   {"created", s.created},
            {"owner", s.owner},     {"annotations", s.annotations},
            {"cgroup_paths", s.cgroup_paths}, {"config", s.config_json}};
  return WriteFileAtomic(StateDir(root, s.id) + "/state.json", j.dump(), 0600)
      .Wrap("save state");
}

Result<ContainerState> LoadState(const std::string& root, const std::string& id) {
  TRY(ValidateId(id));
  auto text = ReadFile(StateDir(root, id) + "/state.json");
  if (!text.ok()) {
    if (text.error().code == ENOENT) return MakeError(ENOENT, "container %s does not exist", id.c_str());
    return std::move(text).error();
  }
  try {
    json j = json::parse(*text);
    ContainerState s;
    s.id = j.at("id").get<std::string>();
    s.pid = j.at("pid").get<pid_t>();
    s.pid_start = j.at("pid_start").get<unsigned long long>();
    s.bundle = j.at("bundle").get<std::string>();
    s.rootfs = j.at("rootfs").get<std::string>();
    s.created = j.at("created").get<std::string>();
    s.owner = j.value("owner", "");
    s.annotations = j.value("annotations", std::map<std::string, std::string>{});
    s.cgroup_paths = j.value("cgroup_paths", std::map<std::string, std::string>{});
    s.config_json = j.value("config", "");
    return s;
  } catch (const json::exception& e) {
    return MakeError(EINVAL, "state of %s is corrupt: %s", id.c_str(), e.what());
  }
}

Result<std::vector<std::string>> ListIds(const std::string& root) {
  std::vector<std::string> ids;
  DIR* d = ::opendir(root.c_str());
  if (!d) {
    if (errno == ENOENT) return ids;
    return Errno("open %s", root.c_str());
  }
  while (struct dirent* de = ::readdir(d)) {
    if (de->d_name[0] == '.') continue;
    std::string p = root + "/" + de->d_name + "/state.json";
    if (PathExists(p)) ids.push_back(de->d_name);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<unsigned long long> ProcessStartTime(pid_t pid) {
  std::string text = TRY(ReadFile(StrFormat("/proc/%d/stat", pid)));
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  auto rp = text.rfind(')');
  if (rp == std::string::npos) return MakeError(EINVAL, "parse /proc/%d/stat", pid);
  const char* p = text.c_str() + rp + 2;
  char state = *p;
  if (state == 'Z' || state == 'X') return MakeError(ESRCH, "process %d has exited", pid);
  // Field 3 is the state; starttime is field 22.
  for (int field = 3; field < 22 && *p; ++p)
    if (*p == ' ') ++field;
  return strtoull(p, nullptr, 10);
}

bool ProcessAlive(pid_t pid, unsigned long long start_time) {
  if (pid <= 0) return false;
  auto st = ProcessStartTime(pid);
  return st.ok() && *st == start_time;
}

ContainerStatus CurrentStatus(const std::string& root, const ContainerState& s) {
  if (!ProcessAlive(s.pid, s.pid_start)) return ContainerStatus::kStopped;
  if (PathExists(StateDir(root, s.id) + "/start.sock")) return ContainerStatus::kCreated;
  if (!s.cgroup_paths.empty()) {
    auto h = cgroup::Detect();
    if (h.ok()) {
      auto m = cgroup::Open(*h, s.cgroup_paths);
      if (m.ok()) {
        auto fs = (*m)->GetFreezerState();
        if (fs.ok() && *fs != cgroup::FreezerState::kThawed) return ContainerStatus::kPaused;
      }
    }
  }
  return ContainerStatus::kRunning;
}

std::string StateJson(const ContainerState& s, ContainerStatus status, int indent) {
  json j = json::object();
  j["ociVersion"] = "1.2.0";
  j["id"] = s.id;
  j["pid"] = status == ContainerStatus::kStopped ? 0 : s.pid;
  j["status"] = StatusName(status);
  j["bundle"] = s.bundle;
  j["rootfs"] = s.rootfs;
  j["created"] = s.created;
  j["owner"] = s.owner;
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j.dump(indent);
}

Result<UniqueFd> LockContainer(const std::string& root, const std::string& id) {
  std::string dir = StateDir(root, id);
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return MakeError(ENOENT, "container %s does not exist", id.c_str());
    return Errno("open %s", dir.c_str());
  }
  while (::flock(fd.get(), LOCK_EX) < 0)
    if (errno != EINTR) return Errno("lock %s", dir.c_str());
  return fd;
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

std::string NowRfc3339() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
  return buf;
}

}  // namespace skiff::runtime
