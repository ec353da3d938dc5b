// The child's hook points (config.md "POSIX-platform Hooks").
#include <unistd.h>

#include <cstdlib>

#include "runtime/child/child.h"
#include "runtime/sync.h"

namespace skiff::runtime::child {
namespace {

pid_t g_host_pid = 0;

// Hooks get the state with the pid as the runtime sees it (the host's), not our pid in a
// new pid namespace.
std::string State(const ChildPlan& plan, const char* status) {
  return StrFormat("{\"pid\":%d,\"status\":\"%s\",", g_host_pid, status) +
         plan.state_json_rest;
}

}  // namespace

void RememberHostPid() {
  char buf[32] = {};
  if (::readlink("/proc/self", buf, sizeof buf - 1) > 0) g_host_pid = atoi(buf);
}

Status RunCreateHooks(const ChildPlan& plan) {
  if (plan.hook_request) {
    SyncMsg m = {};
    m.type = SyncType::kHookRequest;
    TRY(SendSync(plan.sync_fd, m));
    bool got = TRY(RecvSync(plan.sync_fd, &m));
    if (!got || m.type != SyncType::kGo) _exit(1);  // the parent reports its hook failure
  }
  return RunHooks(plan.create_container_hooks, State(plan, "created"), "createContainer");
}

Status RunStartHooks(const ChildPlan& plan) {
  return RunHooks(plan.start_container_hooks, State(plan, "created"), "startContainer");
}

}  // namespace skiff::runtime::child
