// The runtime parent's explain steps (runtime/explain.h): what create decided and asked of
// the kernel before and around clone. Called only when explain is on.
#pragma once

#include <sys/types.h>

#include "cgroup/manager.h"
#include "runtime/explain.h"
#include "runtime/plan.h"

namespace skiff::runtime {

// The plan in a few lines: rootfs, mounts, namespaces, process, seccomp size, rlimits.
void ExplainPlan(Explain& ex, const ChildPlan& plan);
// The cgroup directories made (mount point joined with each path) and how the child joins.
void ExplainCgroup(Explain& ex, const cgroup::Hierarchies& h, const cgroup::Manager& m,
                   const cgroup::JoinPlan& join);
// at: Explain::Now() just before the clone (the child runs before clone3 returns here).
void ExplainClone(Explain& ex, const ChildPlan& plan, bool into_cgroup, pid_t pid, int64_t at);

// Records every cgroup file write while it lives (cgroup::SetWriteObserver).
class ExplainCgroupWrites {
 public:
  explicit ExplainCgroupWrites(Explain* ex);  // nullptr: does nothing
  ~ExplainCgroupWrites();
  ExplainCgroupWrites(const ExplainCgroupWrites&) = delete;
  ExplainCgroupWrites& operator=(const ExplainCgroupWrites&) = delete;

 private:
  Explain* ex_;
};

}  // namespace skiff::runtime
