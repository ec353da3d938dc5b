#include "image/image_mount.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/fd.h"
#include "base/file.h"
#include "base/syscalls.h"

namespace skiff::image {
namespace {

constexpr unsigned kMountAttrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

bool IsHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(),
                                       [](char c) { return isdigit(c) || (c >= 'a' && c <= 'f'); });
}

// The kernel explains a refused fsconfig in messages read from the fs context fd
// ("e overlayfs: failed to resolve 'x': -2"); the last one says more than errno alone.
Error FsError(int fs, const char* what) {
  int saved = errno;
  std::string last;
  char buf[512];
  for (ssize_t n; (n = ::read(fs, buf, sizeof buf - 1)) > 0;) {
    buf[n] = 0;
    last = buf;
    while (!last.empty() && last.back() == '\n') last.pop_back();
    if (last.size() > 2 && last[1] == ' ') last = last.substr(2);  // "e ", "w ", "i "
  }
  errno = saved;
  return last.empty() ? Errno("%s", what) : Errno("%s (%s)", what, last.c_str());
}

// An overlay with no upper dir, one fsconfig per lower dir (top first). Kernels before 6.8
// don't know "lowerdir+": then the one colon-joined "lowerdir" of mount(2)'s era.
Result<UniqueFd> MakeOverlay(const std::vector<std::string>& lower) {
  UniqueFd fs(sys::Fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) return Errno("fsopen overlay");
  for (size_t i = 0; i < lower.size(); ++i) {
    if (sys::Fsconfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", lower[i].c_str(), 0) == 0)
      continue;
    if (i > 0 || errno != EINVAL)
      return FsError(fs.get(), ("overlay lower dir " + lower[i]).c_str());
    std::string joined;
    for (const auto& l : lower) joined += (joined.empty() ? "" : ":") + l;
    if (sys::Fsconfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir", joined.c_str(), 0) < 0)
      return FsError(fs.get(), "overlay lowerdir");
    break;
  }
  if (sys::Fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return FsError(fs.get(), StrFormat("create an overlay of %zu layers", lower.size()).c_str());
  UniqueFd mnt(sys::Fsmount(fs.get(), FSMOUNT_CLOEXEC, kMountAttrs));
  if (!mnt) return Errno("fsmount overlay");
  return mnt;
}

// A detached read-only bind of one dir.
Result<UniqueFd> MakeBind(const std::string& dir) {
  UniqueFd tree(sys::OpenTree(AT_FDCWD, dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (!tree) return Errno("clone a mount of %s", dir.c_str());
  struct mount_attr attr = {};
  attr.attr_set = kMountAttrs;
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
    return Errno("make the bind of %s read-only", dir.c_str());
  return tree;
}

Status RemoveDir(const std::string& path) {
  if (::rmdir(path.c_str()) < 0 && errno != ENOENT) return Errno("remove %s", path.c_str());
  return Ok();
}

}  // namespace

std::string ImageMounts::Path(const std::string& image_id) const {
  return dir_ + "/" + image_id.substr(image_id.find(':') + 1) + "/merged";
}

bool ImageMounts::IsMounted(const std::string& image_id) const {
  struct statx stx = {};
  if (::statx(AT_FDCWD, Path(image_id).c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE,
              &stx) < 0)
    return false;
  return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
         (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

Result<std::string> ImageMounts::Mount(const std::string& image_id,
                                       const std::vector<std::string>& lower) {
  std::string hex = image_id.substr(image_id.find(':') + 1);
  if (!IsHex64(hex)) return MakeError(EINVAL, "image id %s is not sha256:<hex>", image_id.c_str());
  if (lower.empty()) return MakeError(EINVAL, "image %s has no layers", image_id.c_str());
  TRY(MkdirAll(dir_, 0700));
  FileLock lock = TRY(FileLock::Acquire(dir_ + "/.lock"));
  std::string path = Path(image_id);
  if (IsMounted(image_id)) return path;
  TRY(MkdirAll(path, 0755));
  ScopeGuard remove_dirs([&] {
    (void)RemoveDir(path);
    (void)RemoveDir(dir_ + "/" + hex);
  });
  Result<UniqueFd> made = lower.size() == 1 ? MakeBind(lower[0]) : MakeOverlay(lower);
  if (!made.ok()) return std::move(made).error();
  UniqueFd mnt = std::move(*made);
  if (sys::MoveMount(mnt.get(), "", AT_FDCWD, path.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return Errno("attach the mount at %s", path.c_str());
  remove_dirs.Dismiss();
  return path;
}

Result<bool> ImageMounts::Unmount(const std::string& image_id) {
  std::string hex = image_id.substr(image_id.find(':') + 1);
  if (!IsHex64(hex)) return MakeError(EINVAL, "image id %s is not sha256:<hex>", image_id.c_str());
  if (!PathExists(dir_)) return false;
  FileLock lock = TRY(FileLock::Acquire(dir_ + "/.lock"));
  std::string path = Path(image_id);
  bool was = false;
  // A loop, not one call: mounts stacked on the dir by anything else go too.
  while (IsMounted(image_id)) {
    if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
      return Errno("unmount %s", path.c_str());
    was = true;
  }
  // rmdir, never a recursive delete: should the unmount not have happened, the layers
  // under the dir must not be touched.
  TRY(RemoveDir(path));
  TRY(RemoveDir(dir_ + "/" + hex));
  return was;
}

Result<std::vector<MountedImage>> ImageMounts::List() const {
  std::vector<MountedImage> out;
  DIR* d = ::opendir(dir_.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    return Errno("open %s", dir_.c_str());
  }
  while (struct dirent* de = ::readdir(d)) {
    std::string id = std::string("sha256:") + de->d_name;
    if (IsHex64(de->d_name) && IsMounted(id)) out.push_back({id, Path(id)});
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(),
            [](const MountedImage& a, const MountedImage& b) { return a.id < b.id; });
  return out;
}

}  // namespace skiff::image
