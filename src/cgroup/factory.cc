// New and Open: a manager for the detected layout, with one path per hierarchy.
#include <signal.h>

#include <chrono>

#include "cgroup/managers.h"
#include "cgroup/util.h"

namespace skiff::cgroup {

Result<std::unique_ptr<Manager>> New(const Hierarchies& h, const std::string& cgroups_path,
                                     const std::string& id) {
  if (id.empty() && cgroups_path.empty()) return MakeError(EINVAL, "cgroup: no id and no path");
  // Only a relative cgroupsPath depends on where the caller itself is.
  std::map<std::string, std::string> own;
  if (!cgroups_path.empty() && cgroups_path[0] != '/') own = TRY(ReadProcCgroup());
  if (h.layout == Layout::kV2) {
    return NewV2Manager(h, ResolvePath(cgroups_path, id, own[""]));
  }
  std::map<std::string, std::string> paths;
  for (const auto& [controller, mount] : h.v1) {
    paths[controller] = ResolvePath(cgroups_path, id, own[controller]);
  }
  if (h.layout == Layout::kHybrid) paths[""] = ResolvePath(cgroups_path, id, own[""]);
  return NewV1Manager(h, std::move(paths));
}

Result<std::unique_ptr<Manager>> Open(const Hierarchies& h,
                                      const std::map<std::string, std::string>& paths) {
  if (h.layout == Layout::kV2) {
    auto it = paths.find("");
    if (it == paths.end()) return MakeError(EINVAL, "cgroup: no cgroup2 path saved");
    return NewV2Manager(h, it->second);
  }
  return NewV1Manager(h, paths);
}

Status KillPids(const std::vector<pid_t>& pids, int sig) {
  for (pid_t p : pids) {
    if (::kill(p, sig) < 0 && errno != ESRCH) return Errno("kill %d with signal %d", p, sig);
  }
  return Ok();
}

Status WaitEmpty(const std::string& dir) {
  auto empty = PollUntil([&]() -> Result<bool> { return TRY(ReadPidsRecursive(dir)).empty(); },
                         std::chrono::milliseconds(2000));
  if (!empty.ok()) return std::move(empty).error();
  if (!*empty) return MakeError(EBUSY, "processes still in %s after 2 s", dir.c_str());
  return Ok();
}

}  // namespace skiff::cgroup
