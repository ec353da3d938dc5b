// Files: whole-file reads and writes, atomic replacement, directories, locks.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"

namespace skiff {

Result<std::string> ReadFile(const std::string& path);
// The rest of an open file, from its offset; what names it in errors.
Result<std::string> ReadAll(int fd, const char* what);
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
// Deletes the tree at path (not following symlinks, not crossing into other mounts: EBUSY)
// with its directories' removals overlapped. On ext4 mounted with -o discard every freed
// block (each directory has one) costs a synchronous discard, about 4 ms here; a removal
// one directory after the other waits for each in turn. The directories below the first
// level are first renamed up into path (a rename frees nothing), so that all of them are
// leaves, then emptied and removed from a few threads at once. A missing path is not an
// error.
Status RemoveTreeParallel(const std::string& path);
// The same with path's directory already open as top (O_RDONLY | O_DIRECTORY), which the
// caller keeps open throughout (a flock on it lasts until the tree is gone).
Status RemoveTreeParallel(const std::string& path, int top);
bool PathExists(const std::string& path);
// Marks dir as the top of unrelated hierarchies (chattr +T, as for /home), for dirs whose
// subdirs come and go (layers, containers). A hint only: filesystems without the flag refuse
// it, and that's fine.
void HintUnrelatedSubdirs(const std::string& dir);

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
