// From a validated spec to a ChildPlan: every decision the child would otherwise make.
#pragma once

#include <map>
#include <string>

#include "base/error.h"
#include "cgroup/manager.h"
#include "oci/spec.h"
#include "runtime/plan.h"

namespace skiff::runtime {

struct PlanOptions {
  std::string bundle;  // absolute
  bool no_pivot = false;
  int preserve_fds = 0;
  const cgroup::Hierarchies* cgroups = nullptr;  // for cgroup mounts; null = none mounted
  // The container's cgroup per controller ("" = the cgroup2 one), hierarchy-relative.
  // Without a cgroup namespace the container's /sys/fs/cgroup binds these (as runc), so
  // that it sees its own limits, not the host's root cgroups.
  std::map<std::string, std::string> cgroup_paths;
  bool has_cgroupns = false;  // set by BuildPlan from the spec
  // Where compiled seccomp programs are kept (CompileSeccompCached); "" = compile each time.
  std::string seccomp_cache;
};

// Pure: no syscalls beyond stat of bind sources (and the seccomp cache's files). Namespace paths are recorded, not opened.
Result<ChildPlan> BuildPlan(const oci::Spec& spec, const PlanOptions& opts);

std::vector<HookSpec> ToHookSpecs(const std::vector<oci::Hook>& hooks);

// uid_map/gid_map text: "container host size" lines.
std::string IdMapText(const std::vector<oci::IdMapping>& maps);

// Makes the user namespaces that idmapped mounts take their mappings from (a short-lived
// child in a new user namespace, its maps written, its ns file kept open).
Status MakeIdmapUserns(const oci::Spec& spec, ChildPlan* plan);

// The process part of a plan (args, env, cwd, user, rlimits, oom score, capabilities):
// shared by create and exec.
Status PlanProcess(const oci::Process& p, ChildPlan* plan);

// Opens the namespace files the plan joins (O_RDONLY|O_CLOEXEC).
Status OpenNamespaceFds(ChildPlan* plan);

// The device cgroup rules runc adds beside the spec's: the default devices, /dev/pts,
// ptmx, console, tun, and mknod of anything.
std::vector<oci::DeviceRule> DefaultDeviceRules();

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE; -1 when unknown.
int RlimitByName(const std::string& name);
// "pid" -> CLONE_NEWPID; 0 when unknown.
int NamespaceFlag(const std::string& type);

}  // namespace skiff::runtime
