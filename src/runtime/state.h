// A container's runtime state under --root: <root>/<id>/state.json, written atomically,
// plus start.sock while the container is created but not started.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace skiff::runtime {

enum class ContainerStatus { kCreating, kCreated, kRunning, kPaused, kStopped };
const char* StatusName(ContainerStatus s);

struct ContainerState {
  std::string id;
  pid_t pid = 0;
  unsigned long long pid_start = 0;  // /proc/<pid>/stat field 22: tells a reused pid apart
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339, UTC, nanoseconds
  std::string owner;
  std::map<std::string, std::string> annotations;
  std::map<std::string, std::string> cgroup_paths;  // cgroup::Manager::Paths()
  std::string config_json;  // the spec as created: hooks and namespaces for later commands
  bool use_systemd = false;
};

// Validates a container id (as runc: [A-Za-z0-9_+.-], 1..1024, not "." or "..").
Status ValidateId(const std::string& id);

std::string StateDir(const std::string& root, const std::string& id);
Status SaveState(const std::string& root, const ContainerState& s);
Result<ContainerState> LoadState(const std::string& root, const std::string& id);
Result<std::vector<std::string>> ListIds(const std::string& root);

// The container's status now: its process checked against pid_start; "created" while the
// start socket exists; "paused" when its cgroup is frozen.
ContainerStatus CurrentStatus(const std::string& root, const ContainerState& s);
bool ProcessAlive(pid_t pid, unsigned long long start_time);
Result<unsigned long long> ProcessStartTime(pid_t pid);

// The JSON `state` prints (runtime.md's state object, as runc prints it).
std::string StateJson(const ContainerState& s, ContainerStatus status, int indent);

// Locks <root>/<id> (flock on the directory) for the lifetime of the returned fd.
Result<UniqueFd> LockContainer(const std::string& root, const std::string& id);

std::string NowRfc3339();

// A waitpid status as a shell reports it: the exit code, or 128+signal.
int ExitCodeOf(int wait_status);

}  // namespace skiff::runtime
