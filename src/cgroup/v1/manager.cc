// The cgroup v1 manager, and the hybrid one: v1 controllers, each in its own hierarchy (or
// co-mounted), plus, in the hybrid layout, a directory in the cgroup2 hierarchy that the
// child is cloned into and that takes what only v2 has here (hugetlb, `unified`, devices
// when there is no v1 devices controller).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "cgroup/managers.h"
#include "cgroup/util.h"
#include "cgroup/v1/controllers.h"
#include "cgroup/v2/controllers.h"

namespace skiff::cgroup {
namespace {

class V1Manager : public Manager {
 public:
  V1Manager(const Hierarchies& h, std::map<std::string, std::string> paths)
      : h_(h), paths_(std::move(paths)) {
    auto it = paths_.find("");
    if (it != paths_.end() && !h_.unified.empty()) unified_ = JoinPath(h_.unified, it->second);
  }

  Result<JoinPlan> Create() override;
  Status AddProcess(pid_t pid) override;
  Status Apply(const oci::Resources& r) override;
  Status Freeze() override { return SetFrozen(true); }
  Status Thaw() override { return SetFrozen(false); }
  Result<FreezerState> GetFreezerState() override;
  Result<Stats> GetStats() override;
  Result<std::vector<pid_t>> GetPids() override;
  Result<uint64_t> OomKillCount() override;
  Status Signal(int sig) override;
  Status Destroy() override;
  std::map<std::string, std::string> Paths() const override { return paths_; }
  Layout layout() const override { return unified_.empty() ? Layout::kV1 : Layout::kHybrid; }

 private:
  // The cgroup directory of controller, "" if that controller is not mounted or has no path.
  std::string Dir(const std::string& controller) const {
    auto m = h_.v1.find(controller);
    auto p = paths_.find(controller);
    if (m == h_.v1.end() || p == paths_.end()) return "";
    return JoinPath(m->second, p->second);
  }
  // One directory per mounted hierarchy (co-mounted controllers share one).
  std::vector<std::string> AllDirs() const {
    std::set<std::string> seen;
    std::vector<std::string> out;
    for (const auto& [c, mount] : h_.v1) {
      std::string d = Dir(c);
      if (!d.empty() && seen.insert(d).second) out.push_back(d);
    }
    return out;
  }
  // Where processes are listed: any hierarchy holds all of them once they joined.
  std::string PrimaryDir() const {
    for (const char* c : {"freezer", "pids", "memory", "cpu", "devices"}) {
      if (!Dir(c).empty()) return Dir(c);
    }
    auto all = AllDirs();
    return all.empty() ? unified_ : all.front();
  }
  template <typename F>
  Status With(const std::string& dir, F f) {
    UniqueFd fd = TRY(OpenDir(dir));
    return f(CgroupDir{fd.get(), dir});
  }
  // An error for a resource asked of a controller that is not mounted.
  Result<std::string> Need(const char* controller) const {
    std::string d = Dir(controller);
    if (d.empty()) return MakeError(ENOENT, "cgroup controller %s is not mounted", controller);
    return d;
  }
  bool OnV2(const char* controller) const {
    return !unified_.empty() && Dir(controller).empty() &&
           std::count(h_.unified_controllers.begin(), h_.unified_controllers.end(), controller);
  }
  Status SetFrozen(bool frozen);
  Status ApplyCpu(const oci::Cpu& c);
  Status ApplyV2Parts(const oci::Resources& r);

  Hierarchies h_;
  std::map<std::string, std::string> paths_;
  std::string unified_;  // hybrid only: the cgroup2 directory
};

// The directories from the hierarchy root down to mount/rel, outermost first.
static std::vector<std::string> Levels(const std::string& mount, const std::string& rel) {
  std::vector<std::string> out;
  std::string cur = JoinPath(mount, "");
  for (size_t pos = 0; pos < rel.size();) {
    size_t next = rel.find('/', pos);
    if (next == std::string::npos) next = rel.size();
    if (next > pos) out.push_back(cur.append("/").append(rel, pos, next - pos));
    pos = next + 1;
  }
  return out;
}

Result<JoinPlan> V1Manager::Create() {
  JoinPlan plan;
  std::vector<std::string> created;  // removed again if Create fails half-way
  ScopeGuard rollback([&] {
    for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());
  });
  for (const std::string& dir : AllDirs()) {
    // Which hierarchy is this? Any controller mapped to the dir's mount knows.
    for (const auto& [c, mount] : h_.v1) {
      if (Dir(c) != dir) continue;
      std::vector<std::string> made = TRY(MakeCgroupDirs(mount, paths_[c]));
      created.insert(created.end(), made.begin(), made.end());
      // Every level, not only the new ones: an empty one left by a crash blocks joins too.
      if (Dir("cpuset") == dir) TRY(v1::InheritCpuset(mount, Levels(mount, paths_[c])));
      break;
    }
    // The child writes "0" to each of these itself (see JoinPlan): it avoids the RCU
    // grace period that a cgroup.procs write from outside waits for on this kernel.
    std::string tasks = dir + "/tasks";
    UniqueFd fd(::open(tasks.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return Errno("open %s", tasks.c_str());
    plan.self_tasks.push_back(std::move(fd));
  }
  if (!unified_.empty()) {
    std::vector<std::string> made = TRY(MakeCgroupDirs(h_.unified, paths_[""]));
    created.insert(created.end(), made.begin(), made.end());
    plan.clone_into = TRY(OpenDir(unified_));
  }
  rollback.Dismiss();
  return plan;
}

Status V1Manager::AddProcess(pid_t pid) {
  std::string p = std::to_string(pid);
  for (const std::string& dir : AllDirs()) {
    TRY(With(dir, [&](const CgroupDir& d) { return WriteValue(d, "cgroup.procs", p); }));
  }
  if (!unified_.empty()) {
    TRY(With(unified_, [&](const CgroupDir& d) { return WriteValue(d, "cgroup.procs", p); }));
  }
  return Ok();
}

Status V1Manager::ApplyCpu(const oci::Cpu& c) {
  bool cpu = c.shares.value_or(0) || c.quota.value_or(0) || c.period.value_or(0) || c.burst ||
             c.realtime_runtime.value_or(0) || c.realtime_period.value_or(0) || c.idle;
  if (cpu) {
    std::string d = TRY(Need("cpu"));
    TRY(With(d, [&](const CgroupDir& cd) { return v1::SetCpu(cd, c); }));
  }
  if (!c.cpus.empty() || !c.mems.empty()) {
    std::string d = TRY(Need("cpuset"));
    TRY(With(d, [&](const CgroupDir& cd) { return v1::SetCpuset(cd, c); }));
  }
  return Ok();
}

// What lives on the cgroup2 side in the hybrid layout.
Status V1Manager::ApplyV2Parts(const oci::Resources& r) {
  if (unified_.empty()) {
    if (!r.unified.empty()) return MakeError(EOPNOTSUPP, "unified resources need cgroup v2");
    return Ok();
  }
  return With(unified_, [&](const CgroupDir& d) -> Status {
    if (!r.hugepage_limits.empty() && OnV2("hugetlb")) {
      TRY(v2::EnableControllers(h_.unified, paths_[""], {"hugetlb"}));
      TRY(v2::SetHugetlb(d, r.hugepage_limits));
    }
    if (!r.devices.empty() && Dir("devices").empty()) TRY(v2::SetDevices(d, r.devices));
    return v2::SetUnified(d, r.unified);
  });
}

Status V1Manager::Apply(const oci::Resources& r) {
  if (r.memory) {
    std::string d = TRY(Need("memory"));
    TRY(With(d, [&](const CgroupDir& cd) { return v1::SetMemory(cd, *r.memory); }));
  }
  if (r.cpu) TRY(ApplyCpu(*r.cpu));
  if (r.pids) {
    std::string d = TRY(Need("pids"));
    TRY(With(d, [&](const CgroupDir& cd) { return v1::SetPids(cd, *r.pids); }));
  }
  if (r.block_io) {
    std::string d = TRY(Need("blkio"));
    TRY(With(d, [&](const CgroupDir& cd) { return v1::SetBlkio(cd, *r.block_io); }));
  }
  if (!r.devices.empty() && (!Dir("devices").empty() || unified_.empty())) {
    std::string d = TRY(Need("devices"));
    TRY(With(d, [&](const CgroupDir& cd) { return v1::SetDevices(cd, r.devices); }));
  }
  if (!r.hugepage_limits.empty() && !OnV2("hugetlb")) {
    std::string d = TRY(Need("hugetlb"));
    TRY(With(d, [&](const CgroupDir& cd) { return v1::SetHugetlb(cd, r.hugepage_limits); }));
  }
  if (r.network && r.network->class_id) {
    std::string d = TRY(Need("net_cls"));
    TRY(With(d, [&](const CgroupDir& cd) { return v1::SetNetCls(cd, *r.network); }));
  }
  if (r.network && !r.network->priorities.empty()) {
    std::string d = TRY(Need("net_prio"));
    TRY(With(d, [&](const CgroupDir& cd) { return v1::SetNetPrio(cd, *r.network); }));
  }
  return ApplyV2Parts(r);
}

Status V1Manager::SetFrozen(bool frozen) {
  std::string d = Dir("freezer");
  if (!d.empty()) return With(d, [&](const CgroupDir& cd) { return v1::SetFreezer(cd, frozen); });
  // Hybrid without a v1 freezer: cgroup.freeze is a core file of every cgroup2 cgroup.
  if (!unified_.empty()) {
    return With(unified_, [&](const CgroupDir& cd) { return v2::SetFrozen(cd, frozen); });
  }
  return MakeError(ENOENT, "cgroup controller freezer is not mounted");
}

Result<FreezerState> V1Manager::GetFreezerState() {
  std::string d = Dir("freezer");
  if (!d.empty()) {
    UniqueFd fd = TRY(OpenDir(d));
    return v1::GetFreezer({fd.get(), d});
  }
  if (!unified_.empty()) {
    UniqueFd fd = TRY(OpenDir(unified_));
    return v2::GetFrozen({fd.get(), unified_});
  }
  return FreezerState::kThawed;  // no freezer at all: nothing can be frozen
}

Result<Stats> V1Manager::GetStats() {
  Stats s;
  auto read = [&](const char* controller, Status (*f)(const CgroupDir&, Stats*)) -> Status {
    std::string d = Dir(controller);
    if (d.empty()) return Ok();
    return With(d, [&](const CgroupDir& cd) { return f(cd, &s); });
  };
  TRY(read("cpuacct", v1::ReadCpuacctStats));
  TRY(read("cpu", v1::ReadCpuStats));
  TRY(read("memory", v1::ReadMemoryStats));
  TRY(read("pids", v1::ReadPidsStats));
  TRY(read("blkio", v1::ReadBlkioStats));
  return s;
}

Result<std::vector<pid_t>> V1Manager::GetPids() {
  std::vector<pid_t> pids = TRY(ReadPidsRecursive(PrimaryDir()));
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

Result<uint64_t> V1Manager::OomKillCount() {
  std::string d = TRY(Need("memory"));
  UniqueFd fd = TRY(OpenDir(d));
  return v1::ReadOomKills({fd.get(), d});
}

Status V1Manager::Signal(int sig) {
  // Frozen first, so that no process forks a child between the listing and the kill; a
  // frozen task takes the signal when thawed (SIGKILL included).
  bool can_freeze = !Dir("freezer").empty() || !unified_.empty();
  if (can_freeze) TRY(SetFrozen(true));
  auto pids = GetPids();
  Status st = pids.ok() ? KillPids(*pids, sig) : Status(std::move(pids).error());
  if (can_freeze) TRY(SetFrozen(false));
  return st;
}

Status V1Manager::Destroy() {
  std::string primary = PrimaryDir();
  if (::access(primary.c_str(), F_OK) == 0 && !TRY(GetPids()).empty()) {
    TRY(Signal(SIGKILL));
    TRY(WaitEmpty(primary));
  }
  // Every hierarchy, even after a failure, so that one busy dir doesn't leak the others.
  Status first;
  std::vector<std::string> dirs = AllDirs();
  if (!unified_.empty()) dirs.push_back(unified_);
  for (const std::string& dir : dirs) {
    Status st = RemoveCgroupTree(dir);
    if (!st.ok() && first.ok()) first = std::move(st);
  }
  return first;
}

}  // namespace

std::unique_ptr<Manager> NewV1Manager(const Hierarchies& h,
                                      std::map<std::string, std::string> paths) {
  return std::make_unique<V1Manager>(h, std::move(paths));
}

}  // namespace skiff::cgroup
