// The cgroup v2 manager: one directory in the unified hierarchy.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <sstream>

#include "base/file.h"
#include "cgroup/managers.h"
#include "cgroup/util.h"
#include "cgroup/v2/controllers.h"

namespace skiff::cgroup {

namespace v2 {

Status EnableControllers(const std::string& root, const std::string& rel,
                         const std::vector<std::string>& wanted) {
  if (wanted.empty()) return Ok();
  std::string dir = JoinPath(root, "");
  std::vector<std::string> parts;
  std::istringstream in(rel);
  for (std::string p; std::getline(in, p, '/');) {
    if (!p.empty()) parts.push_back(p);
  }
  // Every ancestor of the leaf delegates to its children; the leaf itself must not, or it
  // could not hold processes (the "no internal processes" rule).
  for (size_t i = 0; i < parts.size(); i++) {
    UniqueFd fd = TRY(OpenDir(dir));
    CgroupDir d{fd.get(), dir};
    std::string have = TRY(ReadValue(d, "cgroup.controllers"));
    std::string enabled = TRY(ReadValue(d, "cgroup.subtree_control"));
    std::istringstream hs(have), es(enabled);
    std::vector<std::string> avail{std::istream_iterator<std::string>(hs), {}};
    std::vector<std::string> on{std::istream_iterator<std::string>(es), {}};
    std::string req;
    for (const std::string& c : wanted) {
      bool available = std::find(avail.begin(), avail.end(), c) != avail.end();
      bool already = std::find(on.begin(), on.end(), c) != on.end();
      if (available && !already) req.append(req.empty() ? "+" : " +").append(c);
    }
    if (!req.empty()) TRY(WriteValue(d, "cgroup.subtree_control", req));
    dir += "/" + parts[i];
    // Make the next level now, so that its cgroup.controllers can be read.
    if (i + 1 < parts.size() && ::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) {
      return Errno("mkdir %s", dir.c_str());
    }
  }
  return Ok();
}

}  // namespace v2

namespace {

class V2Manager : public Manager {
 public:
  V2Manager(const Hierarchies& h, std::string rel)
      : h_(h), rel_(std::move(rel)), path_(JoinPath(h.unified, rel_)) {}

  Result<JoinPlan> Create() override {
    TRY(v2::EnableControllers(h_.unified, rel_, h_.unified_controllers));
    TRY(MakeCgroupDirs(h_.unified, rel_));
    JoinPlan plan;
    plan.clone_into = TRY(OpenDir(path_));
    return plan;
  }

  Status AddProcess(pid_t pid) override {
    UniqueFd fd = TRY(OpenDir(path_));
    return WriteValue({fd.get(), path_}, "cgroup.procs", std::to_string(pid));
  }

  Status Apply(const oci::Resources& r) override {
    UniqueFd fd = TRY(OpenDir(path_));
    CgroupDir d{fd.get(), path_};
    if (r.memory) TRY(v2::SetMemory(d, *r.memory));
    if (r.cpu) TRY(v2::SetCpu(d, *r.cpu));
    if (r.cpu) TRY(v2::SetCpuset(d, *r.cpu));
    if (r.pids) TRY(v2::SetPids(d, *r.pids));
    if (r.block_io) TRY(v2::SetIo(d, *r.block_io));
    TRY(v2::SetHugetlb(d, r.hugepage_limits));
    if (r.network && (r.network->class_id || !r.network->priorities.empty())) {
      return MakeError(EOPNOTSUPP, "network classID/priorities in %s: no net_cls/net_prio on v2",
                       path_.c_str());
    }
    if (!r.devices.empty()) TRY(v2::SetDevices(d, r.devices));
    // unified last: it is meant to override what the converted values wrote.
    return v2::SetUnified(d, r.unified);
  }

  Status Freeze() override {
    return WithDir([](const CgroupDir& d) { return v2::SetFrozen(d, true); });
  }
  Status Thaw() override {
    return WithDir([](const CgroupDir& d) { return v2::SetFrozen(d, false); });
  }

  Result<FreezerState> GetFreezerState() override {
    UniqueFd fd = TRY(OpenDir(path_));
    return v2::GetFrozen({fd.get(), path_});
  }

  Result<Stats> GetStats() override {
    UniqueFd fd = TRY(OpenDir(path_));
    CgroupDir d{fd.get(), path_};
    Stats s;
    TRY(v2::ReadCpuStats(d, &s));  // cpu.stat's usage lines exist without the controller
    if (FileExists(d, "memory.current")) TRY(v2::ReadMemoryStats(d, &s));
    if (FileExists(d, "pids.current")) TRY(v2::ReadPidsStats(d, &s));
    if (FileExists(d, "io.stat")) TRY(v2::ReadIoStats(d, &s));
    return s;
  }

  Result<std::vector<pid_t>> GetPids() override { return ReadPidsRecursive(path_); }

  Result<uint64_t> OomKillCount() override {
    UniqueFd fd = TRY(OpenDir(path_));
    return v2::ReadOomKills({fd.get(), path_});
  }

  Status Signal(int sig) override {
    UniqueFd fd = TRY(OpenDir(path_));
    CgroupDir d{fd.get(), path_};
    // cgroup.kill (5.14) kills the whole subtree atomically: no fork can escape it.
    if (sig == SIGKILL && FileExists(d, "cgroup.kill")) return WriteValue(d, "cgroup.kill", "1");
    TRY(v2::SetFrozen(d, true));
    auto pids = ReadPidsRecursive(path_);
    Status st = pids.ok() ? KillPids(*pids, sig) : Status(std::move(pids).error());
    TRY(v2::SetFrozen(d, false));
    return st;
  }

  Status Destroy() override {
    if (::access(path_.c_str(), F_OK) < 0) return Ok();
    if (!TRY(ReadPidsRecursive(path_)).empty()) {
      TRY(Signal(SIGKILL));
      TRY(WaitEmpty(path_));
    }
    return RemoveCgroupTree(path_);
  }

  std::map<std::string, std::string> Paths() const override { return {{"", rel_}}; }
  Layout layout() const override { return Layout::kV2; }

 private:
  template <typename F>
  Status WithDir(F f) {
    UniqueFd fd = TRY(OpenDir(path_));
    return f(CgroupDir{fd.get(), path_});
  }

  Hierarchies h_;
  std::string rel_;
  std::string path_;
};

}  // namespace

std::unique_ptr<Manager> NewV2Manager(const Hierarchies& h, std::string rel) {
  return std::make_unique<V2Manager>(h, std::move(rel));
}

}  // namespace skiff::cgroup
