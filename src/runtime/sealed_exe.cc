#include "runtime/sealed_exe.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/fd.h"

extern char** environ;

namespace skiff::runtime {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

// Without CAP_SYS_ADMIN (rootless) no mount can be cloned: fall back to runc 1.1's sealed
// memfd copy. The copy is made before any container cgroup is joined, so it is charged to
// the caller.
Status ReexecMemfd(int self, char** argv) {
  struct stat st;
  if (::fstat(self, &st) < 0) return Errno("stat /proc/self/exe");
  UniqueFd mem(::memfd_create("skiff-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem) return Errno("memfd_create");
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t n = ::sendfile(mem.get(), self, &off, st.st_size - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("copy the runtime into a memfd");
    if (n == 0) break;
  }
  if (::fcntl(mem.get(), F_ADD_SEALS, kSeals) < 0) return Errno("seal the runtime memfd");
  ::execveat(mem.get(), "", argv, environ, AT_EMPTY_PATH);
  return Errno("re-exec from a sealed memfd");
}

}  // namespace

Status ReexecReadOnly(char** argv) {
  // Already on a read-only mount: ours after the re-exec, or a read-only /usr.
  struct statvfs sv;
  UniqueFd self(::open("/proc/self/exe", O_PATH | O_CLOEXEC));
  if (!self) return Errno("open /proc/self/exe");
  if (::fstatvfs(self.get(), &sv) == 0 && (sv.f_flag & ST_RDONLY)) return Ok();
  UniqueFd exe(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!exe) return Errno("open /proc/self/exe");
  int seals = ::fcntl(exe.get(), F_GET_SEALS);
  if (seals >= 0 && (seals & kSeals) == kSeals) return Ok();  // our memfd, after re-exec
  UniqueFd tree(::open_tree(self.get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
  if (!tree) {
    if (errno == EPERM) return ReexecMemfd(exe.get(), argv);
    return Errno("clone the mount of /proc/self/exe");
  }
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
    return Errno("make the runtime's mount read-only");
  ::execveat(tree.get(), "", argv, environ, AT_EMPTY_PATH);
  return Errno("re-exec from a read-only mount");
}

}  // namespace skiff::runtime
