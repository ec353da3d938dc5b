// Files: whole-file reads and writes, atomic replacement, directories, locks.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"

namespace skiff {

Result<std::string> ReadFile(const std::string& path);
Result<std::string> ReadFileAt(int dirfd, const char* name);
// One write(2) of data to an existing file (cgroup and /proc control files want one write).
Status WriteFileAt(int dirfd, const char* name, std::string_view data);
Status WriteFile(const std::string& path, std::string_view data);
// Writes to a temp file beside path, fsyncs when asked, renames over path.
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                       bool sync = false);
// Creates path, which must not exist, with data and mode: for a file in a directory no
// reader sees yet (a container being built), where WriteFileAtomic's temp file and rename
// buy nothing. A failed write leaves no file.
Status WriteNewFile(const std::string& path, std::string_view data, mode_t mode = 0644);
Status MkdirAll(const std::string& path, mode_t mode = 0755);
// Deletes a tree without following symlinks; a missing path is not an error.
Status RemoveAll(const std::string& path);
bool PathExists(const std::string& path);

// An exclusive flock held for the lifetime of the object.
class FileLock {
 public:
  static Result<FileLock> Acquire(const std::string& path);
  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace skiff
