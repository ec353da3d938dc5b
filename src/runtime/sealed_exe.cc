#include "runtime/sealed_exe.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/fd.h"

extern char** environ;

namespace skiff::runtime {

Status ReexecReadOnly(char** argv) {
  // Already on a read-only mount: ours after the re-exec, or a read-only /usr.
  struct statvfs sv;
  UniqueFd self(::open("/proc/self/exe", O_PATH | O_CLOEXEC));
  if (!self) return Errno("open /proc/self/exe");
  if (::fstatvfs(self.get(), &sv) == 0 && (sv.f_flag & ST_RDONLY)) return Ok();
  UniqueFd tree(::open_tree(self.get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
  if (!tree) return Errno("clone the mount of /proc/self/exe");
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
    return Errno("make the runtime's mount read-only");
  ::execveat(tree.get(), "", argv, environ, AT_EMPTY_PATH);
  return Errno("re-exec from a read-only mount");
}

}  // namespace skiff::runtime
