#include "runtime/explain_plan.h"

#include <sched.h>

#include "base/error.h"
#include "runtime/child/trace.h"

namespace skiff::runtime {

void ExplainPlan(Explain& ex, const ChildPlan& plan) {
  char flags[256];
  if (plan.exec) {
    ex.Stepf("runtime", "plan", "exec: join %zu namespaces of the container", plan.joins.size());
  } else {
    ex.Stepf("runtime", "plan",
             "rootfs %s%s, %zu mounts, %zu device nodes, %zu masked and %zu "
             "read-only paths, %s",
             plan.rootfs.c_str(), plan.readonly_root ? " (read-only)" : "", plan.mounts.size(),
             plan.devices.size(), plan.masked_paths.size(), plan.readonly_paths.size(),
             plan.no_pivot ? "chroot (--no-pivot)" : "pivot_root");
  }
  if (plan.clone_flags)
    ex.Stepf("runtime", "plan", "new namespaces: %s",
             child::CloneFlagsText(plan.clone_flags, flags, sizeof flags));
  for (const NsJoin& ns : plan.joins)
    ex.Stepf("runtime", "plan", "join namespace %s (%s)", ns.path.c_str(),
             child::CloneFlagsText(ns.nstype, flags, sizeof flags));
  std::string args;
  for (const auto& a : plan.args) args += (args.empty() ? "" : " ") + a;
  ex.Stepf("runtime", "plan", "process: %s as uid %u gid %u, cwd %s, %zu env vars", args.c_str(),
           plan.uid, plan.gid, plan.cwd.c_str(), plan.env.size());
  if (plan.seccomp)
    ex.Stepf("runtime", "seccomp", "filter compiled before clone: %zu BPF instructions%s",
             plan.seccomp->filter.size(),
             plan.seccomp->has_notify ? ", with a notify listener" : "");
  else
    ex.Step("runtime", "seccomp", "no filter");
}

void ExplainCgroup(Explain& ex, const cgroup::Hierarchies& h, const cgroup::Manager& m,
                   const cgroup::JoinPlan& join) {
  ex.Stepf("runtime", "cgroup", "layout %s", cgroup::LayoutName(h.layout));
  for (const auto& [controller, rel] : m.Paths()) {
    std::string mount;
    if (controller.empty()) {
      mount = h.unified;
    } else {
      auto it = h.v1.find(controller);
      if (it != h.v1.end()) mount = it->second;
    }
    ex.Stepf("runtime", "cgroup", "mkdir %s%s", mount.c_str(), rel.c_str());
  }
  if (join.clone_into)
    ex.Step("runtime", "cgroup",
            "join: clone3 puts the child in the cgroup2 dir (CLONE_INTO_CGROUP)");
  if (!join.self_tasks.empty())
    ex.Stepf("runtime", "cgroup",
             "join: the child writes 0 to `tasks` in %zu v1 hierarchies "
             "(cheaper than cgroup.procs from outside)",
             join.self_tasks.size());
}

void ExplainClone(Explain& ex, const ChildPlan& plan, bool into_cgroup, pid_t pid, int64_t at) {
  char flags[256];
  uint64_t f = plan.clone_flags | (into_cgroup ? 0x200000000ULL : 0);
  ex.StepAt(at, "runtime", "clone3",
            StrFormat("%s|SIGCHLD -> pid %d", child::CloneFlagsText(f, flags, sizeof flags), pid));
}

namespace {

void OnCgroupWrite(void* ctx, const std::string& dir, const char* name, std::string_view value) {
  std::string v(value);
  while (!v.empty() && v.back() == '\n') v.pop_back();
  static_cast<Explain*>(ctx)->Stepf("runtime", "cgroup", "write %s/%s = %s", dir.c_str(), name,
                                    v.c_str());
}

}  // namespace

ExplainCgroupWrites::ExplainCgroupWrites(Explain* ex) : ex_(ex) {
  if (ex_) cgroup::SetWriteObserver(OnCgroupWrite, ex_);
}

ExplainCgroupWrites::~ExplainCgroupWrites() {
  if (ex_) cgroup::SetWriteObserver(nullptr, nullptr);
}

}  // namespace skiff::runtime
