// cgroup::Manager: one interface over cgroup v1, v2 and the hybrid layout (v1 controllers
// plus a cgroup2 hierarchy). The layout is detected once; v1/ and v2/ hold one file per
// controller, each writing relative to a cgroup dirfd (STYLE.md rule 10).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "oci/spec.h"

namespace skiff::cgroup {

enum class Layout { kV1, kV2, kHybrid };
const char* LayoutName(Layout l);  // "v1", "v2", "hybrid"

// What is mounted where, read from /proc/self/mountinfo (never assumed).
struct Hierarchies {
  Layout layout = Layout::kV1;
  // v1: controller name ("memory", "cpu", "name=systemd"...) -> mount point. Co-mounted
  // controllers ("cpu,cpuacct") map each name to the same mount point.
  std::map<std::string, std::string> v1;
  std::string unified;                           // cgroup2 mount point, "" if none
  std::vector<std::string> unified_controllers;  // cgroup.controllers of its root
};

// Detected once per process (cached); the mountinfo path is a parameter for tests.
Result<Hierarchies> Detect(const std::string& mountinfo = "/proc/self/mountinfo");

// A process's own cgroup per hierarchy, from /proc/<pid>/cgroup: "4:memory:/a" gives
// memory -> /a, "1:cpu,cpuacct:/b" gives both names, "0::/c" gives "" -> /c (cgroup2).
Result<std::map<std::string, std::string>> ReadProcCgroup(
    const std::string& path = "/proc/self/cgroup");
// Parses mountinfo text (Detect without the cache and without reading cgroup.controllers).
Hierarchies ParseMountinfo(const std::string& text);

// Resolves a spec's linux.cgroupsPath for one hierarchy: absolute paths are relative to the
// hierarchy root, relative ones to the caller's own cgroup there (from /proc/self/cgroup),
// empty means "/skiff/<id>".
std::string ResolvePath(const std::string& cgroups_path, const std::string& id,
                        const std::string& own_cgroup);

// How a new container process enters its cgroups without the cost of a cgroup.procs write
// from outside (which waits for an RCU grace period on this kernel, see MACHINE.md):
// on cgroup2 the child is cloned straight into the cgroup (CLONE_INTO_CGROUP); on v1 the
// single-threaded child writes "0" to each `tasks` file itself, which the kernel does
// without taking the global threadgroup rwsem for writing.
struct JoinPlan {
  UniqueFd clone_into;               // cgroup2 directory fd for clone3, or invalid
  std::vector<UniqueFd> self_tasks;  // v1 `tasks` files opened O_WRONLY; child writes "0"
};

enum class FreezerState { kThawed, kFreezing, kFrozen };

struct Stats {
  uint64_t cpu_usage_ns = 0;
  uint64_t cpu_user_ns = 0;
  uint64_t cpu_system_ns = 0;
  uint64_t cpu_throttled_periods = 0;
  uint64_t cpu_throttled_ns = 0;
  uint64_t memory_usage = 0;      // bytes, excluding nothing (what the kernel reports)
  uint64_t memory_max_usage = 0;  // v1 max_usage_in_bytes; v2 memory.peak where present
  uint64_t memory_limit = 0;      // 0 = unlimited
  uint64_t memory_cache = 0;
  // v1 total_inactive_file, v2 inactive_file: what `docker stats` subtracts from the usage.
  uint64_t memory_inactive_file = 0;
  uint64_t swap_usage = 0;
  uint64_t oom_kills = 0;
  uint64_t pids_current = 0;
  uint64_t pids_limit = 0;  // 0 = unlimited
  uint64_t io_read_bytes = 0;
  uint64_t io_write_bytes = 0;
  uint64_t io_read_ops = 0;
  uint64_t io_write_ops = 0;
};

class Manager {
 public:
  virtual ~Manager() = default;

  // Makes the cgroup directories (idempotent) and returns how the child joins them.
  virtual Result<JoinPlan> Create() = 0;
  // Moves an existing process in (exec, or a caller that can't use the JoinPlan).
  virtual Status AddProcess(pid_t pid) = 0;
  virtual Status Apply(const oci::Resources& resources) = 0;
  virtual Status Freeze() = 0;  // returns when frozen
  virtual Status Thaw() = 0;
  virtual Result<FreezerState> GetFreezerState() = 0;
  virtual Result<Stats> GetStats() = 0;
  virtual Result<std::vector<pid_t>> GetPids() = 0;  // every process, recursively
  virtual Result<uint64_t> OomKillCount() = 0;
  // Signals every process in the cgroup (freezing first so none escapes by forking).
  virtual Status Signal(int sig) = 0;
  // Kills what is left, waits for it to go, removes every directory; missing ones are fine.
  virtual Status Destroy() = 0;
  // Hierarchy-relative paths, keyed by controller ("" for the cgroup2 one), for the state
  // file, for Open(), and for explain mode.
  virtual std::map<std::string, std::string> Paths() const = 0;
  virtual Layout layout() const = 0;
};

// Explain mode: fn sees every value written to a cgroup file (directory path, file name,
// value), after the write succeeded; nullptr (the default) turns it off. Process-wide: set
// it around one container's create, from the single thread that does it.
using WriteObserver = void (*)(void* ctx, const std::string& dir, const char* name,
                               std::string_view value);
void SetWriteObserver(WriteObserver fn, void* ctx);

// A manager for a new container: the path resolved per hierarchy with ResolvePath.
Result<std::unique_ptr<Manager>> New(const Hierarchies& h, const std::string& cgroups_path,
                                     const std::string& id);
// A manager for an existing container from the Paths() saved at create.
Result<std::unique_ptr<Manager>> Open(const Hierarchies& h,
                                      const std::map<std::string, std::string>& paths);

}  // namespace skiff::cgroup
