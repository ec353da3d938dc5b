#include "engine/container_fs.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/fd.h"
#include "base/file.h"
#include "base/syscalls.h"
#include "engine/records.h"

namespace skiff::engine {
namespace {

Status MountOverlayLegacy(const std::vector<std::string>& lower, const std::string& upper,
                          const std::string& work, const std::string& target) {
  std::string data = "lowerdir=";
  for (size_t i = 0; i < lower.size(); ++i) data += (i ? ":" : "") + lower[i];
  data += ",upperdir=" + upper + ",workdir=" + work;
  if (::mount("overlay", target.c_str(), "overlay", 0, data.c_str()) < 0)
    return Errno("mount overlay on %s (%zu lower dirs)", target.c_str(), lower.size());
  return Ok();
}

Status Config(int fd, const char* key, const std::string& value) {
  if (sys::Fsconfig(fd, FSCONFIG_SET_STRING, key, value.c_str(), 0) < 0)
    return Errno("overlay %s=%s", key, value.c_str());
  return Ok();
}

}  // namespace

Status MountOverlay(const std::vector<std::string>& lower, const std::string& upper,
                    const std::string& work, const std::string& target) {
  if (lower.empty()) return MakeError(EINVAL, "mount overlay on %s: no lower dirs", target.c_str());
  UniqueFd fs(sys::Fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) return MountOverlayLegacy(lower, upper, work, target);
  TRY(Config(fs.get(), "source", "overlay"));
  for (const std::string& l : lower) {
    if (sys::Fsconfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", l.c_str(), 0) < 0) {
      if (errno == EINVAL && &l == &lower[0]) return MountOverlayLegacy(lower, upper, work, target);
      return Errno("overlay lowerdir+=%s", l.c_str());
    }
  }
  TRY(Config(fs.get(), "upperdir", upper));
  TRY(Config(fs.get(), "workdir", work));
  if (sys::Fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return Errno("mount overlay on %s (%zu lower dirs)", target.c_str(), lower.size());
  UniqueFd mnt(sys::Fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
  if (!mnt) return Errno("fsmount overlay");
  if (sys::MoveMount(mnt.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return Errno("move_mount overlay to %s", target.c_str());
  return Ok();
}

bool IsMountPoint(const std::string& path) {
  struct statx a = {}, b = {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &a) < 0)
    return false;
#ifdef STATX_ATTR_MOUNT_ROOT
  if (a.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
    return (a.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
#endif
  if (::statx(AT_FDCWD, (path + "/..").c_str(), 0, STATX_BASIC_STATS, &b) < 0) return false;
  return a.stx_dev_major != b.stx_dev_major || a.stx_dev_minor != b.stx_dev_minor;
}

Status UnmountAll(const std::string& target) {
  for (int i = 0; i < 64 && IsMountPoint(target); ++i) {
    if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL &&
        errno != ENOENT)
      return Errno("unmount %s", target.c_str());
  }
  if (IsMountPoint(target)) return MakeError(EBUSY, "unmount %s: still mounted", target.c_str());
  return Ok();
}

Result<EtcFiles> WriteEtcFiles(const std::string& dir, const std::string& hostname,
                               bool host_network) {
  EtcFiles f{dir + "/hostname", dir + "/hosts", dir + "/resolv.conf"};
  TRY(WriteFileAtomic(f.hostname, hostname + "\n", 0644));
  std::string hosts, resolv;
  if (host_network) {
    auto h = ReadFile("/etc/hosts");
    hosts = h.ok() ? *h : "127.0.0.1\tlocalhost\n";
    auto r = ReadFile("/etc/resolv.conf");
    resolv = r.ok() ? *r : "";
  } else {
    // No network of its own yet (--network none, or the default until src/net exists):
    // Docker's hosts for such a container, and the host's resolvers minus loopback ones.
    hosts =
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
        "ff02::2\tip6-allrouters\n";
    auto r = ReadFile("/etc/resolv.conf");
    if (r.ok()) {
      size_t pos = 0;
      while (pos < r->size()) {
        size_t nl = r->find('\n', pos);
        std::string line = r->substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? r->size() : nl + 1;
        if (line.rfind("nameserver", 0) == 0 &&
            (line.find(" 127.") != std::string::npos || line.find(" ::1") != std::string::npos))
          continue;
        resolv += line + "\n";
      }
    }
  }
  TRY(WriteFileAtomic(f.hosts, hosts, 0644));
  TRY(WriteFileAtomic(f.resolv_conf, resolv, 0644));
  return f;
}

Result<std::map<std::string, std::string>> PrepareVolumes(
    const std::string& volumes_dir, const oci::ImageConfig& image, const RunOptions& opts,
    std::vector<std::string>* anonymous) {
  std::map<std::string, std::string> out;
  auto make = [&](std::string name, const std::string& target) -> Status {
    bool anon = name.empty();
    if (anon) {
      name = TRY(NewContainerId());  // Docker's anonymous volumes are 64-hex too
      if (anonymous) anonymous->push_back(name);
    } else {
      TRY(ValidateVolumeName(name));
    }
    std::string data = volumes_dir + "/" + name + "/_data";
    TRY(MkdirAll(data, 0755).Wrap("volume " + name));
    out[target] = data;
    return Ok();
  };
  std::vector<std::string> mounted;
  for (const MountRequest& m : opts.mounts) {
    mounted.push_back(m.target);
    if (m.kind == MountKind::kVolume) TRY(make(m.source, m.target));
  }
  for (const std::string& v : image.config.volumes) {
    bool taken = false;
    for (const auto& t : mounted) taken = taken || t == v;
    if (!taken) TRY(make("", v));
  }
  return out;
}

}  // namespace skiff::engine
