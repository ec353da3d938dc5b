#include "base/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/parallel.h"

namespace skiff {

Result<std::string> ReadAll(int fd, const char* what) {
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

namespace {

// One directory of a tree being removed: its fd, its non-directories, its name in the top
// directory (every directory but the top is a child of the top once it has been scanned).
struct FlatDir {
  UniqueFd fd;
  std::string shown;  // where it was, for errors
  std::string name_in_top;
  std::vector<std::string> files;
};

// Past this many directories (a container that wrote a large tree), the rest goes the
// plain way rather than holding an fd per directory.
constexpr size_t kMaxFlatDirs = 256;
constexpr size_t kMinParallelEntries = 64;

// Lists dirs[i]: its files are noted, its subdirectories renamed up into the top (unless
// it is the top) and appended to dirs.
Status ScanFlatDir(std::vector<FlatDir>& dirs, size_t i, dev_t dev, int* moved) {
  int top = dirs[0].fd.get();
  int dup = ::fcntl(dirs[i].fd.get(), F_DUPFD_CLOEXEC, 3);
  if (dup < 0) return Errno("dup");
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return Errno("open %s", dirs[i].shown.c_str());
  }
  std::vector<std::pair<std::string, bool>> entries;
  while (struct dirent* de = ::readdir(d)) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    bool is_dir = de->d_type == DT_DIR;
    struct stat st;
    if (de->d_type == DT_UNKNOWN &&
        ::fstatat(::dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
      is_dir = S_ISDIR(st.st_mode);
    entries.emplace_back(de->d_name, is_dir);
  }
  ::closedir(d);
  for (auto& [name, is_dir] : entries) {
    std::string shown = dirs[i].shown + "/" + name;
    if (!is_dir) {
      dirs[i].files.push_back(name);
      continue;
    }
    std::string in_top = name;
    if (i != 0) {
      // A rename of a mount point fails (EBUSY): nothing mounted is entered.
      for (;;) {
        in_top = StrFormat(".flat%d", (*moved)++);
        if (::renameat2(dirs[i].fd.get(), name.c_str(), top, in_top.c_str(), RENAME_NOREPLACE) == 0)
          break;
        if (errno != EEXIST) return Errno("move %s up for its removal", shown.c_str());
      }
    }
    UniqueFd sub(::openat(top, in_top.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) return Errno("open %s", shown.c_str());
    struct stat st;
    if (::fstat(sub.get(), &st) < 0) return Errno("stat %s", shown.c_str());
    if (st.st_dev != dev) return MakeError(EBUSY, "remove %s: a mount point", shown.c_str());
    dirs.push_back({std::move(sub), shown, in_top, {}});
  }
  return Ok();
}

}  // namespace

Status RemoveTreeParallel(const std::string& path) {
  UniqueFd top(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!top) {
    if (errno == ENOENT) return Ok();
    if (errno == ENOTDIR || errno == ELOOP) return RemoveAll(path);
    return Errno("open %s", path.c_str());
  }
  return RemoveTreeParallel(path, top.get());
}

Status RemoveTreeParallel(const std::string& path, int top) {
  struct stat st;
  if (::fstat(top, &st) < 0) return Errno("stat %s", path.c_str());
  std::vector<FlatDir> dirs;
  dirs.push_back({UniqueFd(top), path, "", {}});
  // The top fd is the caller's: dirs[0] only borrows it.
  auto drop_dirs = [&dirs] {
    if (!dirs.empty()) (void)dirs[0].fd.release();
    dirs.clear();
  };
  ScopeGuard give_back(drop_dirs);
  int moved = 0;
  for (size_t i = 0; i < dirs.size(); ++i) {
    if (dirs.size() > kMaxFlatDirs) {
      drop_dirs();
      return RemoveAll(path);
    }
    TRY(ScanFlatDir(dirs, i, st.st_dev, &moved));
  }
  // Threads pay off on big trees (a container's upper dir after apt-get); a --rm
  // container's handful of entries is quicker to remove than 7 threads are to start.
  size_t entries = dirs.size();
  for (const FlatDir& d : dirs) entries += d.files.size();
  int threads = entries < kMinParallelEntries ? 1 : 8;
  TRY(ForEachParallel(dirs.size(), threads, [&](size_t i, const std::atomic<bool>&) -> Status {
    FlatDir& d = dirs[i];
    for (const std::string& f : d.files)
      if (::unlinkat(d.fd.get(), f.c_str(), 0) < 0 && errno != ENOENT)
        return Errno("remove %s/%s", d.shown.c_str(), f.c_str());
    if (i == 0) return Ok();
    d.fd.reset();
    if (::unlinkat(top, d.name_in_top.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT)
      return Errno("rmdir %s", d.shown.c_str());
    return Ok();
  }));
  drop_dirs();
  if (::rmdir(path.c_str()) < 0 && errno != ENOENT) return Errno("rmdir %s", path.c_str());
  return Ok();
}

// Why: ext4 without a journal, as here, skips every inode freed in the last 60 s (360 s
// while its table block is dirty) and scans the group from its start for each new inode
// (ialloc.c recently_deleted). A tree made where another was just deleted (a layer after an
// rmi, a container after a run --rm) paid that scan per file: perf showed 55-70% of a
// one-layer pull's cycles in recently_deleted and find_get_block_common. With the flag,
// Orlov's allocator puts each subdir, hence its files, in a block group of its own.
void HintUnrelatedSubdirs(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  int flags = 0;
  if (!fd || ::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) < 0 || (flags & FS_TOPDIR_FL)) return;
  flags |= FS_TOPDIR_FL;
  (void)::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags);
}

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
