#include "base/in_root.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "base/syscalls.h"

namespace skiff {

std::string FdPath(int fd) { return StrFormat("/proc/self/fd/%d", fd); }

Result<UniqueFd> OpenInRoot(int rootfd, const std::string& path, int flags) {
  sys::OpenHow how;
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = sys::kResolveInRoot | sys::kResolveNoMagiclinks;
  int fd = sys::Openat2(rootfd, path.c_str(), how);
  if (fd < 0) return Errno("open %s in the container root", path.c_str());
  return UniqueFd(fd);
}

Result<UniqueFd> MkdirAllInRoot(int rootfd, const std::string& path, bool last_is_file) {
  // Walk component by component from the root; every step is a fd, so no component can
  // be swapped for a symlink that points outside between the check and the use.
  UniqueFd cur(::fcntl(rootfd, F_DUPFD_CLOEXEC, 3));
  if (!cur) return Errno("dup root fd");
  size_t pos = 0;
  while (pos < path.size()) {
    while (pos < path.size() && path[pos] == '/') ++pos;
    if (pos >= path.size()) break;
    size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    std::string name = path.substr(pos, end - pos);
    bool last = path.find_first_not_of('/', end) == std::string::npos;
    // Resolve the prefix so far from the root, so ".." and symlinks stay inside it.
    std::string prefix = path.substr(0, end);
    auto next = OpenInRoot(rootfd, prefix, O_PATH);
    if (!next.ok()) {
      if (next.error().code != ENOENT) return std::move(next).error();
      if (last && last_is_file) {
        int fd = ::openat(cur.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) return Errno("create %s", prefix.c_str());
        if (fd >= 0) ::close(fd);
      } else if (::mkdirat(cur.get(), name.c_str(), 0755) < 0 && errno != EEXIST) {
        return Errno("mkdir %s", prefix.c_str());
      }
      next = OpenInRoot(rootfd, prefix, O_PATH);
      if (!next.ok()) return std::move(next).error();
    }
    cur = std::move(next.value());
    pos = end;
  }
  return cur;
}

}  // namespace skiff
