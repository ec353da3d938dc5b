// tmpcopyup (runc's and crun's mount extension, which podman asks for on every --tmpfs): a
// new tmpfs starts with a copy of the directory it covers. Like crun, the covered directory
// is read through an fd opened before the mount, so nothing is resolved by path; every entry
// is opened relative to its parent with O_NOFOLLOW, and symlinks are copied as links.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>

#include "runtime/child/child.h"

namespace skiff::runtime::child {
namespace {

Status CopyData(int from, int to, const char* name) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("tmpcopyup: read %s", name);
    if (n == 0) return Ok();
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(to, buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Errno("tmpcopyup: write %s", name);
      done += w;
    }
  }
}

Status CopyEntry(int from_dir, int to_dir, const char* name, const struct stat& st);

Status CopyDir(int from_dir, int to_dir) {
  // fdopendir takes the fd over; a dup keeps from_dir for the caller.
  int fd = ::openat(from_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("tmpcopyup: open dir");
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return Errno("tmpcopyup: fdopendir");
  }
  Status st = Ok();
  while (dirent* e = ::readdir(d)) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat s;
    if (::fstatat(from_dir, e->d_name, &s, AT_SYMLINK_NOFOLLOW) < 0) {
      st = Errno("tmpcopyup: stat %s", e->d_name);
      break;
    }
    st = CopyEntry(from_dir, to_dir, e->d_name, s);
    if (!st.ok()) break;
  }
  ::closedir(d);
  return st;
}

Status CopyEntry(int from_dir, int to_dir, const char* name, const struct stat& st) {
  mode_t perm = st.st_mode & 07777;
  if (S_ISDIR(st.st_mode)) {
    if (::mkdirat(to_dir, name, 0700) < 0) return Errno("tmpcopyup: mkdir %s", name);
    UniqueFd from(::openat(from_dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd to(::openat(to_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!from || !to) return Errno("tmpcopyup: open dir %s", name);
    TRY(CopyDir(from.get(), to.get()));
  } else if (S_ISREG(st.st_mode)) {
    UniqueFd from(::openat(from_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!from) return Errno("tmpcopyup: open %s", name);
    UniqueFd to(::openat(to_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!to) return Errno("tmpcopyup: create %s", name);
    TRY(CopyData(from.get(), to.get(), name));
  } else if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlinkat(from_dir, name, target, sizeof target - 1);
    if (n < 0) return Errno("tmpcopyup: readlink %s", name);
    target[n] = '\0';
    if (::symlinkat(target, to_dir, name) < 0) return Errno("tmpcopyup: symlink %s", name);
  } else if (::mknodat(to_dir, name, st.st_mode, st.st_rdev) < 0) {
    return Errno("tmpcopyup: mknod %s", name);
  }
  // Owner first: chown clears the set-id bits that the chmod after it restores.
  if (::fchownat(to_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
    return Errno("tmpcopyup: chown %s", name);
  if (!S_ISLNK(st.st_mode) && ::fchmodat(to_dir, name, perm, 0) < 0)
    return Errno("tmpcopyup: chmod %s", name);
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(to_dir, name, times, AT_SYMLINK_NOFOLLOW) < 0)
    return Errno("tmpcopyup: set times of %s", name);
  return Ok();
}

}  // namespace

Status CopyUp(int covered, int tmpfs, const std::string& shown) {
  return CopyDir(covered, tmpfs).Wrap(shown);
}

}  // namespace skiff::runtime::child
