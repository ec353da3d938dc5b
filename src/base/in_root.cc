#include "base/in_root.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

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
  // Most targets exist (/proc, /dev, /sys, the image's /etc files): one lookup, which
  // resolves exactly as the walk below would.
  auto whole = OpenInRoot(rootfd, path, O_PATH);
  if (whole.ok() || whole.error().code != ENOENT) return whole;
  std::vector<std::pair<size_t, size_t>> parts;  // [begin, end) of each component
  for (size_t pos = 0; pos < path.size();) {
    while (pos < path.size() && path[pos] == '/') ++pos;
    if (pos >= path.size()) break;
    size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    parts.emplace_back(pos, end);
    pos = end;
  }
  // The deepest prefix that exists, searched from the end: usually only the last component
  // is missing (/dev/pts, /sys/fs/cgroup/memory).
  size_t have = parts.empty() ? 0 : parts.size() - 1;
  UniqueFd cur;
  for (; have > 0; --have) {
    auto p = OpenInRoot(rootfd, path.substr(0, parts[have - 1].second), O_PATH);
    if (p.ok()) {
      cur = std::move(p.value());
      break;
    }
    if (p.error().code != ENOENT) return std::move(p).error();
  }
  if (have == 0) cur = UniqueFd(::fcntl(rootfd, F_DUPFD_CLOEXEC, 3));
  if (!cur) return Errno("dup root fd");
  // Then the rest, one component at a time. Each is made in the fd of its parent and
  // resolved again from the root, so ".." and symlinks stay inside it, and no component can
  // be swapped for a symlink that points outside between the check and the use.
  for (size_t i = have; i < parts.size(); ++i) {
    std::string name = path.substr(parts[i].first, parts[i].second - parts[i].first);
    std::string prefix = path.substr(0, parts[i].second);
    if (i + 1 == parts.size() && last_is_file) {
      int fd = ::openat(cur.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0 && errno != EEXIST) return Errno("create %s", prefix.c_str());
      if (fd >= 0) ::close(fd);
    } else if (::mkdirat(cur.get(), name.c_str(), 0755) < 0 && errno != EEXIST) {
      return Errno("mkdir %s", prefix.c_str());
    }
    cur = TRY(OpenInRoot(rootfd, prefix, O_PATH));
  }
  return cur;
}

}  // namespace skiff
