// `skiff image mount`: an image's root filesystem, read-only, at
// <skiff root>/mounts/<image id hex>/merged, as `podman image mount` gives one.
//
// Several layers: an overlay of their layers/<chain-id> dirs with no upper dir, made with the
// new mount API (fsopen("overlay") and one fsconfig "lowerdir+" per layer, Linux 6.8+), so a
// long stack of lower dirs doesn't hit the page-size limit of mount(2)'s option string. One
// layer: a read-only bind of its dir (open_tree + mount_setattr). Either way the mount is
// read-only, nosuid and nodev.
//
// The kernel's mount table is the record: an image is mounted when its merged dir is the
// root of a mount (statx STATX_ATTR_MOUNT_ROOT), so mounting twice finds the first mount and
// a mount lost to a reboot is just an empty dir. Mount and unmount hold <root>/mounts/.lock.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace skiff::image {

struct MountedImage {
  std::string id;    // "sha256:<hex>", the image ID
  std::string path;  // .../mounts/<hex>/merged
};

class ImageMounts {
 public:
  // dir is <skiff root>/mounts; it is created only by the first Mount.
  explicit ImageMounts(std::string dir) : dir_(std::move(dir)) {}

  // The merged dir of an image ID ("sha256:<hex>"), mounted or not.
  std::string Path(const std::string& image_id) const;
  bool IsMounted(const std::string& image_id) const;

  // Mounts lower (layer dirs, top first, as UnpackImage returns them) at Path(image_id),
  // or returns the path when it is mounted already. A failed mount leaves no dir behind.
  Result<std::string> Mount(const std::string& image_id, const std::vector<std::string>& lower);
  // Detaches the mount (MNT_DETACH: a shell cd'ed into it doesn't keep it) and removes its
  // dirs. Returns false when the image was not mounted (stale dirs are removed anyway).
  Result<bool> Unmount(const std::string& image_id);
  // The mounted images, ordered by ID.
  Result<std::vector<MountedImage>> List() const;

 private:
  std::string dir_;
};

}  // namespace skiff::image
