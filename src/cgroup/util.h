// Helpers shared by the v1 and v2 controller writers: a cgroup directory (fd plus the path
// that error messages name), one-value writes and reads, key/value parsing, polling.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace skiff::cgroup {

// A cgroup directory: every write is relative to fd; path is only for messages.
struct CgroupDir {
  int fd = -1;
  std::string path;
};

// Writes value to name in one write(2). The error is one line naming file, value and
// directory: "write memory.limit_in_bytes=67108864 in /sys/fs/cgroup/memory/c1: ...".
Status WriteValue(const CgroupDir& d, const char* name, std::string_view value);
Result<std::string> ReadValue(const CgroupDir& d, const char* name);  // whitespace trimmed
// "max" (and, for v1, the kernel's huge "unlimited" values) read as 0.
Result<uint64_t> ReadUint(const CgroupDir& d, const char* name);
bool FileExists(const CgroupDir& d, const char* name);

// Parses "key value" lines (memory.stat, cpu.stat, memory.events, cgroup.events).
std::map<std::string, uint64_t> ParseKeyValues(std::string_view text);
// Parses a decimal; "max" is 0. Returns false on garbage.
bool ParseUint(std::string_view s, uint64_t* out);

// Opens a directory O_PATH-free (reads and writes go through it) with O_CLOEXEC.
Result<UniqueFd> OpenDir(const std::string& path);
// Makes path and its missing parents; returns the components that were created (outermost
// first) so the caller can initialise them (v1 cpuset) or remove them on failure.
Result<std::vector<std::string>> MakeCgroupDirs(const std::string& root, const std::string& rel);

// Every pid in cgroup.procs of dir and of all its descendants.
Result<std::vector<pid_t>> ReadPidsRecursive(const std::string& dir);
// rmdir of dir after its descendants, deepest first; a missing dir is fine and EBUSY (the
// kernel frees a cgroup of exited tasks asynchronously) is retried for a short while.
Status RemoveCgroupTree(const std::string& dir);

// Calls done() until it returns true or the timeout passes, sleeping a little longer each time.
Result<bool> PollUntil(const std::function<Result<bool>()>& done,
                       std::chrono::milliseconds timeout);

// Joins a hierarchy mount point and a hierarchy-relative path ("/a/b").
std::string JoinPath(const std::string& mount, const std::string& rel);

}  // namespace skiff::cgroup
