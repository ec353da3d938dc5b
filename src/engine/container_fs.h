// The container's filesystem side, on the host: the overlay root, the /etc files the
// engine writes for it, and volumes. Internal to the engine (containers.cc, monitor.cc).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/run_options.h"
#include "oci/image_spec.h"

namespace skiff::engine {

// Mounts an overlay at target: lower dirs top first, upper and work dirs. Uses the new mount
// API with one "lowerdir+" per layer, so that no length limit applies to the list (mount(2)
// takes one page of options); falls back to mount(2) on kernels before 6.8.
// volatile_upper: overlayfs "volatile", no sync of the upper dir at unmount. Unmounting a
// normal overlay syncs the upper filesystem, which costs 100+ ms on this ext4; a --rm
// container's upper dir is thrown away anyway (podman does the same for --rm).
Status MountOverlay(const std::vector<std::string>& lower, const std::string& upper,
                    const std::string& work, const std::string& target,
                    bool volatile_upper = false);
// Detaches whatever is mounted at target (repeatedly: stacked mounts) and checks that
// target is a plain directory again: RemoveAll must never descend into a mount.
Status UnmountAll(const std::string& target);
bool IsMountPoint(const std::string& path);

// A stopped container's root as its processes would see it (for cp): the overlay, and the
// binds of its spec (volumes, -v, the /etc files, the init) on it. Other filesystems
// (proc, tmpfs, ...) have nothing in them while it is stopped and are left out, as Docker
// does.
struct RootMount {
  std::string destination;  // in the container
  std::string source;       // on the host
  bool read_only = false;
};
struct StoppedRoot {
  std::string rootfs;  // the overlay's mount point, mounted or not
  std::vector<std::string> lower;
  std::string upper, work;
  std::vector<RootMount> mounts;  // in the spec's order: a parent before its children
};
// Runs fn in a forked child, in a mount namespace of its own (slave to the host's, so
// nothing propagates back), with the root assembled there; fn gets an O_PATH fd of it.
// Every mount dies with the child, whatever fn did. fn's error comes back as it was.
Status InStoppedRoot(const StoppedRoot& r, const std::function<Status(int rootfd)>& fn);

// The files bind-mounted over /etc/hostname, /etc/hosts and /etc/resolv.conf, written into
// dir. host_network: the host's hosts and resolv.conf are copied instead.
struct EtcFiles {
  std::string hostname, hosts, resolv_conf;
};
Result<EtcFiles> WriteEtcFiles(const std::string& dir, const std::string& hostname,
                               bool host_network);

// Host directories of the container's volumes, by target: named volumes under
// volumes_dir/<name>/_data (made on first use), anonymous ones (-v /dst and the image's
// VOLUMEs not otherwise mounted) under a new random name; anonymous gets those names.
// A volume made now gets what the image has at its target (Docker's copy-up; not with
// nocopy), read from rootfs through openat2(RESOLVE_IN_ROOT). Each anonymous volume is
// marked in dir, the container's directory, before it is made (see below).
Result<std::map<std::string, std::string>> PrepareVolumes(
    const std::string& volumes_dir, const oci::ImageConfig& image, const RunOptions& opts,
    const std::string& rootfs, const std::string& dir, std::vector<std::string>* anonymous);

// The markers of a container's anonymous volumes: <dir>/anon-volume-<name>, a symlink to
// the volume. A create writes one before it makes the volume (which must be new: mkdir, not
// one that exists) and removes them once its record, which lists the volumes, is written.
// So markers are found only in the directory of a create that died meanwhile, and name only
// volumes it made: the sweep that removes that directory removes those volumes with it.
std::vector<std::string> MarkedVolumes(const std::string& dir);
void UnmarkVolume(const std::string& dir, const std::string& name);

}  // namespace skiff::engine
