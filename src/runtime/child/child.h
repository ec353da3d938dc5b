// The only code that runs between clone and execve (STYLE.md rule 7): it links only base,
// throws nothing, and ends in execve or _exit. Errors go to the parent as {errno, msg}.
#pragma once

#include "base/in_root.h"  // MkdirAllInRoot, OpenInRoot, FdPath
#include "runtime/plan.h"

namespace skiff::runtime::child {

// The clone3 child's entry. Never returns.
[[noreturn]] void Run(const ChildPlan& plan);

// clone3 with plan.clone_flags (fork semantics, SIGCHLD), straight into the cgroup2
// directory clone_into when it is >= 0 (CLONE_INTO_CGROUP); the child runs Run(plan).
// Returns the child's pid in the parent.
Result<pid_t> Spawn(const ChildPlan& plan, int clone_into);

// The steps, in the files that own them (called from Run in order).
Status PrepareRootfs(const ChildPlan& plan);  // rootfs.cc: mounts, devices, masks, pivot_root
Status ApplyIdentity(const ChildPlan& plan);  // process.cc: lo, hostname, rlimits, oom score
// process.cc: the executable found in the container's root (before create returns, so
// that "not found" fails create as in runc), then the start wait, user, caps and execve.
Result<std::string> ResolveExecutable(const ChildPlan& plan);
Status FinishAndExec(const ChildPlan& plan, const std::string& path, int* report_fd);

// console.cc: after pivot_root (the container's devpts), before create returns.
Status SetupConsole(const ChildPlan& plan);

// hooks.cc: the hook points inside the child.
void RememberHostPid();                        // while the host's /proc is still visible
pid_t HostPid();
mode_t CallerUmask();  // what RememberUmask saved: the umask the runtime was started with  // the pid the runtime sees (hooks, the seccomp agent)
void RememberUmask(mode_t caller_umask);       // what hooks run with (ours is 0 during setup)
Status RunCreateHooks(const ChildPlan& plan);  // before pivot_root
Status RunStartHooks(const ChildPlan& plan);   // after the start signal, before execve

// copyup.cc: copies what the covered directory holds (an fd opened before the mount) into
// the new tmpfs over it (tmpcopyup).
Status CopyUp(int covered, int tmpfs, const std::string& shown);

}  // namespace skiff::runtime::child
