// The child's hook points (config.md "POSIX-platform Hooks").
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "runtime/child/child.h"
#include "runtime/sync.h"

namespace skiff::runtime::child {
namespace {

pid_t g_host_pid = 0;
mode_t g_caller_umask = 022;

// The setup runs with umask 0; a hook forked from it would create world-writable files.
// Hooks get the umask the runtime was started with, as prestart and poststart do.
Status RunWithCallerUmask(const std::vector<HookSpec>& hooks, const std::string& state,
                          const char* phase) {
  if (hooks.empty()) return Ok();
  mode_t setup = ::umask(g_caller_umask);
  Status st = RunHooks(hooks, state, phase);
  ::umask(setup);
  return st;
}

// Hooks get the state with the pid as the runtime sees it (the host's), not our pid in a
// new pid namespace.
std::string State(const ChildPlan& plan, const char* status) {
  return StrFormat("{\"pid\":%d,\"status\":\"%s\",", g_host_pid, status) + plan.state_json_rest;
}

}  // namespace

void RememberUmask(mode_t caller_umask) { g_caller_umask = caller_umask; }
mode_t CallerUmask() { return g_caller_umask; }

void RememberHostPid() {
  char buf[32] = {};
  if (::readlink("/proc/self", buf, sizeof buf - 1) > 0) g_host_pid = atoi(buf);
}

pid_t HostPid() { return g_host_pid; }

Status RunCreateHooks(const ChildPlan& plan) {
  if (plan.hook_request) {
    SyncMsg m = {};
    m.type = SyncType::kHookRequest;
    TRY(SendSync(plan.sync_fd, m));
    bool got = TRY(RecvSync(plan.sync_fd, &m));
    if (!got || m.type != SyncType::kGo) _exit(1);  // the parent reports its hook failure
  }
  return RunWithCallerUmask(plan.create_container_hooks, State(plan, "created"), "createContainer");
}

Status RunStartHooks(const ChildPlan& plan) {
  return RunWithCallerUmask(plan.start_container_hooks, State(plan, "created"), "startContainer");
}

}  // namespace skiff::runtime::child
