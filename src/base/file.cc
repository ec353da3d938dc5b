#include "base/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace skiff {

static Result<std::string> ReadAll(int fd, const char* what) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("read %s", what);
    }
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

Result<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Errno("open %s", path.c_str());
  return ReadAll(fd.get(), path.c_str());
}

Result<std::string> ReadFileAt(int dirfd, const char* name) {
  UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC));
  if (!fd) return Errno("open %s", name);
  return ReadAll(fd.get(), name);
}

static Status WriteAll(int fd, std::string_view data, const char* what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write %s", what);
    }
    data.remove_prefix(n);
  }
  return Ok();
}

Status WriteFileAt(int dirfd, const char* name, std::string_view data) {
  UniqueFd fd(::openat(dirfd, name, O_WRONLY | O_CLOEXEC));
  if (!fd) return Errno("open %s", name);
  return WriteAll(fd.get(), data, name);
}

Status WriteFile(const std::string& path, std::string_view data) {
  return WriteFileAt(AT_FDCWD, path.c_str(), data);
}

Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode, bool sync) {
  std::string tmp = path + ".tmp.XXXXXX";
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) return Errno("create %s", tmp.c_str());
  ScopeGuard unlink_tmp([&] { ::unlink(tmp.c_str()); });
  if (::fchmod(fd.get(), mode) < 0) return Errno("chmod %s", tmp.c_str());
  TRY(WriteAll(fd.get(), data, tmp.c_str()));
  if (sync && ::fsync(fd.get()) < 0) return Errno("fsync %s", tmp.c_str());
  if (::rename(tmp.c_str(), path.c_str()) < 0) return Errno("rename %s", path.c_str());
  unlink_tmp.Dismiss();
  return Ok();
}

Status WriteNewFile(const std::string& path, std::string_view data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return Errno("create %s", path.c_str());
  ScopeGuard unlink_new([&] { ::unlink(path.c_str()); });
  if (::fchmod(fd.get(), mode) < 0) return Errno("chmod %s", path.c_str());  // past the umask
  TRY(WriteAll(fd.get(), data, path.c_str()));
  unlink_new.Dismiss();
  return Ok();
}

Status MkdirAll(const std::string& path, mode_t mode) {
  if (path.empty()) return Ok();
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return Ok();
  if (errno != ENOENT) return Errno("mkdir %s", path.c_str());
  auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) TRY(MkdirAll(path.substr(0, slash), mode));
  if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) return Errno("mkdir %s", path.c_str());
  return Ok();
}

static Status RemoveAllAt(int dirfd, const char* name, const std::string& shown) {
  if (::unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return Ok();
  if (errno != EISDIR && errno != EPERM) return Errno("remove %s", shown.c_str());
  int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Errno("open %s", shown.c_str());
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return Errno("opendir %s", shown.c_str());
  }
  Status st;
  while (struct dirent* de = ::readdir(dir)) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    st = RemoveAllAt(::dirfd(dir), de->d_name, shown + "/" + de->d_name);
    if (!st.ok()) break;
  }
  ::closedir(dir);
  if (!st.ok()) return st;
  if (::unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return Errno("rmdir %s", shown.c_str());
  return Ok();
}

Status RemoveAll(const std::string& path) { return RemoveAllAt(AT_FDCWD, path.c_str(), path); }

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Result<FileLock> FileLock::Acquire(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return Errno("open lock %s", path.c_str());
  while (::flock(fd.get(), LOCK_EX) < 0) {
    if (errno != EINTR) return Errno("lock %s", path.c_str());
  }
  return FileLock(std::move(fd));
}

}  // namespace skiff
