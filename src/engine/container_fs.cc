#include "engine/container_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/fd.h"
#include "base/file.h"
#include "base/syscalls.h"
#include "engine/records.h"

namespace skiff::engine {
namespace {

Status MountOverlayLegacy(const std::vector<std::string>& lower, const std::string& upper,
                          const std::string& work, const std::string& target, bool vol) {
  std::string data = "lowerdir=";
  for (size_t i = 0; i < lower.size(); ++i) data += (i ? ":" : "") + lower[i];
  data += ",upperdir=" + upper + ",workdir=" + work;
  if (vol) data += ",volatile";
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
                    const std::string& work, const std::string& target, bool volatile_upper) {
  if (lower.empty()) return MakeError(EINVAL, "mount overlay on %s: no lower dirs", target.c_str());
  // A volatile mount leaves work/work/incompat/volatile behind, and overlayfs refuses to
  // mount that work dir again until it is gone (Documentation/filesystems/overlayfs.rst).
  (void)RemoveAll(work + "/work/incompat");
  UniqueFd fs(sys::Fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) return MountOverlayLegacy(lower, upper, work, target, volatile_upper);
  TRY(Config(fs.get(), "source", "overlay"));
  for (const std::string& l : lower) {
    if (sys::Fsconfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", l.c_str(), 0) < 0) {
      if (errno == EINVAL && &l == &lower[0])
        return MountOverlayLegacy(lower, upper, work, target, volatile_upper);
      return Errno("overlay lowerdir+=%s", l.c_str());
    }
  }
  TRY(Config(fs.get(), "upperdir", upper));
  TRY(Config(fs.get(), "workdir", work));
  if (volatile_upper && sys::Fsconfig(fs.get(), FSCONFIG_SET_FLAG, "volatile", nullptr, 0) < 0)
    return Errno("overlay volatile");
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
  TRY(WriteNewFile(f.hostname, hostname + "\n", 0644));
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
  TRY(WriteNewFile(f.hosts, hosts, 0644));
  TRY(WriteNewFile(f.resolv_conf, resolv, 0644));
  return f;
}

namespace {

Status CopyTree(int from, int to, int depth);

// copy_file_range where the kernel can (same filesystem), read/write where it can't (an
// overlay to ext4 is EXDEV).
Status CopyData(int from, int to, off_t size) {
  bool plain = false;
  for (off_t left = size; left > 0;) {
    ssize_t n;
    if (!plain) {
      n = ::copy_file_range(from, nullptr, to, nullptr, static_cast<size_t>(left), 0);
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
        plain = true;
        continue;
      }
    } else {
      char buf[65536];
      n = ::read(from, buf, sizeof buf);
      for (ssize_t off = 0; n > 0 && off < n;) {
        ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return Errno("write");
        off += w;
      }
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("read");
    if (n == 0) break;  // the file shrank meanwhile
    left -= n;
  }
  return Ok();
}

Status CopyEntry(int from, int to, const char* name, int depth) {
  struct stat st;
  if (::fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return Errno("stat %s", name);
  if (S_ISDIR(st.st_mode)) {
    if (::mkdirat(to, name, 0700) < 0 && errno != EEXIST) return Errno("mkdir %s", name);
    UniqueFd s(::openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd d(::openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!s || !d) return Errno("open %s", name);
    TRY(CopyTree(s.get(), d.get(), depth + 1));
  } else if (S_ISREG(st.st_mode)) {
    UniqueFd s(::openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd d(::openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!s || !d) return Errno("copy %s", name);
    TRY(CopyData(s.get(), d.get(), st.st_size).Wrap(std::string("copy ") + name));
  } else if (S_ISLNK(st.st_mode)) {
    char buf[4096];
    ssize_t n = ::readlinkat(from, name, buf, sizeof buf - 1);
    if (n < 0) return Errno("readlink %s", name);
    buf[n] = 0;
    if (::symlinkat(buf, to, name) < 0) return Errno("symlink %s", name);
  } else {
    return Ok();  // devices, fifos, sockets: not copied into volumes
  }
  (void)::fchownat(to, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
  if (!S_ISLNK(st.st_mode)) (void)::fchmodat(to, name, st.st_mode & 07777, 0);
  return Ok();
}

Status CopyTree(int from, int to, int depth) {
  if (depth > 64) return MakeError(ELOOP, "volume copy: too deep");
  int dup = ::fcntl(from, F_DUPFD_CLOEXEC, 3);
  if (dup < 0) return Errno("dup");
  DIR* dir = ::fdopendir(dup);
  if (!dir) {
    ::close(dup);
    return Errno("opendir");
  }
  Status st;
  while (struct dirent* de = ::readdir(dir)) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    st = CopyEntry(from, to, de->d_name, depth);
    if (!st.ok()) break;
  }
  ::closedir(dir);
  return st;
}

// The image's content at target (inside rootfs) into the new volume dir data.
Status CopyUp(const std::string& rootfs, const std::string& target, const std::string& data) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Errno("open %s", rootfs.c_str());
  sys::OpenHow how;
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = sys::kResolveInRoot | sys::kResolveNoMagiclinks;
  UniqueFd src(sys::Openat2(root.get(), target.c_str(), how));
  if (!src) return errno == ENOENT || errno == ENOTDIR ? Ok() : Errno("open %s", target.c_str());
  UniqueFd dst(::open(data.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dst) return Errno("open %s", data.c_str());
  struct stat st;
  if (::fstat(src.get(), &st) == 0) {
    (void)::fchown(dst.get(), st.st_uid, st.st_gid);
    (void)::fchmod(dst.get(), st.st_mode & 07777);
  }
  return CopyTree(src.get(), dst.get(), 0).Wrap("copy " + target + " into its volume");
}

}  // namespace

namespace {

constexpr std::string_view kVolumeMark = "anon-volume-";

std::string MarkPath(const std::string& dir, const std::string& name) {
  return dir + "/" + std::string(kVolumeMark) + name;
}

// A new anonymous volume's directory, volumes_dir/<name>, made after its marker.
Result<std::string> MakeAnonymousVolume(const std::string& volumes_dir, const std::string& dir) {
  std::string name = TRY(NewContainerId());  // Docker's anonymous volumes are 64-hex too
  std::string path = volumes_dir + "/" + name;
  if (::symlink(path.c_str(), MarkPath(dir, name).c_str()) < 0)
    return Errno("mark volume %s", name.c_str());
  TRY(MkdirAll(volumes_dir, 0755));
  if (::mkdir(path.c_str(), 0755) < 0) {
    Error err = Errno("volume %s", name.c_str());  // EEXIST: someone's, so not marked
    UnmarkVolume(dir, name);
    return err;
  }
  return name;
}

}  // namespace

std::vector<std::string> MarkedVolumes(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.substr(0, kVolumeMark.size()) == kVolumeMark &&
        IsHexId(name.substr(kVolumeMark.size())))
      out.emplace_back(name.substr(kVolumeMark.size()));
  }
  ::closedir(d);
  return out;
}

void UnmarkVolume(const std::string& dir, const std::string& name) {
  (void)::unlink(MarkPath(dir, name).c_str());
}

Result<std::map<std::string, std::string>> PrepareVolumes(
    const std::string& volumes_dir, const oci::ImageConfig& image, const RunOptions& opts,
    const std::string& rootfs, const std::string& dir, std::vector<std::string>* anonymous) {
  std::map<std::string, std::string> out;
  auto make = [&](std::string name, const std::string& target, bool nocopy) -> Status {
    bool anon = name.empty();
    if (anon) {
      name = TRY(MakeAnonymousVolume(volumes_dir, dir));
      if (anonymous) anonymous->push_back(name);
    } else {
      TRY(ValidateVolumeName(name));
    }
    std::string data = volumes_dir + "/" + name + "/_data";
    bool fresh = anon || !PathExists(data);
    TRY(MkdirAll(data, 0755).Wrap("volume " + name));
    if (fresh && !nocopy) TRY(CopyUp(rootfs, target, data));
    out[target] = data;
    return Ok();
  };
  std::vector<std::string> mounted;
  for (const MountRequest& m : opts.mounts) {
    mounted.push_back(m.target);
    if (m.kind == MountKind::kVolume) TRY(make(m.source, m.target, m.nocopy));
  }
  for (const std::string& v : image.config.volumes) {
    bool taken = false;
    for (const auto& t : mounted) taken = taken || t == v;
    if (!taken) TRY(make("", v, false));
  }
  return out;
}

}  // namespace skiff::engine
