// The container's root filesystem, built inside its new mount namespace: spec mounts,
// device nodes, masked and read-only paths, sysctls, then pivot_root. Every target is a
// fd resolved inside the root (paths.cc); mount(2) is given its /proc/self/fd path.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>

#include "base/syscalls.h"
#include "runtime/child/child.h"
#include "runtime/child/trace.h"

namespace skiff::runtime::child {
namespace {

// Explain mode: one line per mount(2) as the kernel was asked for it. Callers test
// TraceOn() first.
void TraceMount(const char* source, const std::string& target, const char* type,
                unsigned long flags, const char* data) {
  char f[512];
  Trace("mount", "%s on %s type %s flags %s%s%s", source ? source : "none", target.c_str(),
        type ? type : "none", MountFlagsText(flags, f, sizeof f), data && *data ? " data " : "",
        data && *data ? data : "");
}

Status MountAt(const char* source, int target_fd, const char* type, unsigned long flags,
               const char* data, const std::string& shown) {
  std::string target = FdPath(target_fd);
  if (::mount(source, target.c_str(), type, flags, data) < 0)
    return Errno("mount %s on %s", source ? source : type, shown.c_str());
  if (TraceOn()) TraceMount(source, shown, type, flags, data);
  return Ok();
}

// The mount flags a remount must keep: in a user namespace the kernel locks the flags of
// mounts inherited from the host (MNT_LOCK_*), and a remount that drops one gets EPERM.
unsigned long LockedFlags(int fd) {
  struct statvfs sv;
  if (::fstatvfs(fd, &sv) < 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
  return f;
}

// After a mount the old fd still names the covered directory; the top mount is reached by
// resolving the path again.
Result<UniqueFd> Reopen(int rootfd, const std::string& dest) {
  return OpenInRoot(rootfd, dest, O_PATH);
}

Status ApplyAfter(int rootfd, const MountStep& m, bool remount_bind) {
  const MountOptions& o = m.opts;
  bool needs_remount = remount_bind && (o.flags & ~(MS_REC | MS_REMOUNT)) != 0;
  if (!needs_remount && !o.propagation && !o.rec_attr_set && !o.rec_attr_clr && !o.rec_atime_set)
    return Ok();
  UniqueFd top = TRY(Reopen(rootfd, m.destination));
  if (needs_remount) {
    unsigned long flags = MS_REMOUNT | MS_BIND | (o.flags & ~MS_REC);
    std::string p = FdPath(top.get());
    if (::mount(nullptr, p.c_str(), nullptr, flags, nullptr) < 0) {
      if (errno != EPERM) return Errno("remount %s", m.destination.c_str());
      flags |= LockedFlags(top.get());
      if (::mount(nullptr, p.c_str(), nullptr, flags, nullptr) < 0)
        return Errno("remount %s", m.destination.c_str());
    }
    if (TraceOn()) TraceMount(nullptr, m.destination, nullptr, flags, nullptr);
  }
  if (o.propagation) TRY(MountAt(nullptr, top.get(), nullptr, o.propagation, nullptr,
                                 m.destination));
  if (o.rec_attr_set || o.rec_attr_clr || o.rec_atime_set) {
    struct mount_attr attr = {};
    attr.attr_set = o.rec_attr_set;
    attr.attr_clr = o.rec_attr_clr;
    // The atime mode is one value, not a set of bits: mount_setattr takes a new one only with
    // all of MOUNT_ATTR__ATIME in attr_clr (rnoatime failed with EINVAL otherwise).
    if (o.rec_atime_set) {
      attr.attr_clr |= MOUNT_ATTR__ATIME;
      attr.attr_set |= o.rec_atime;
    }
    if (::mount_setattr(top.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
      return Errno("set recursive attributes on %s", m.destination.c_str());
    if (TraceOn())
      Trace("mount", "mount_setattr %s AT_RECURSIVE set 0x%llx clear 0x%llx", m.destination.c_str(),
            static_cast<unsigned long long>(attr.attr_set),
            static_cast<unsigned long long>(attr.attr_clr));
  }
  return Ok();
}

// An idmapped bind: a detached clone of the source, the mapping set on it with
// mount_setattr(MOUNT_ATTR_IDMAP), then attached at the target.
Status MountIdmapped(const MountStep& m, int target_fd) {
  unsigned rec = m.opts.recursive ? AT_RECURSIVE : 0;
  UniqueFd tree(::open_tree(AT_FDCWD, m.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec));
  if (!tree) return Errno("clone %s for an idmapped mount", m.source.c_str());
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(m.idmap_userns_fd);
  // "idmap" maps the top mount only; "ridmap" the submounts an rbind brought along too.
  unsigned map_rec = m.opts.idmap_recursive ? AT_RECURSIVE : 0;
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | map_rec, &attr, sizeof attr) < 0)
    return Errno("idmap %s", m.source.c_str());
  if (::move_mount(tree.get(), "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return Errno("attach idmapped %s on %s", m.source.c_str(), m.destination.c_str());
  if (TraceOn())
    Trace("mount", "%s on %s: open_tree clone, mount_setattr MOUNT_ATTR_IDMAP, move_mount",
          m.source.c_str(), m.destination.c_str());
  return Ok();
}

Status MountBind(int rootfd, const MountStep& m) {
  struct stat st;
  if (::stat(m.source.c_str(), &st) < 0) return Errno("bind mount source %s", m.source.c_str());
  UniqueFd target = TRY(MkdirAllInRoot(rootfd, m.destination, !S_ISDIR(st.st_mode)));
  if (m.idmap_userns_fd >= 0) {
    TRY(MountIdmapped(m, target.get()));
  } else {
    unsigned long flags = MS_BIND | (m.opts.recursive ? MS_REC : 0);
    TRY(MountAt(m.source.c_str(), target.get(), nullptr, flags, nullptr, m.destination));
  }
  return ApplyAfter(rootfd, m, true);
}

// tmpcopyup: target still names the covered directory after the mount; the copy goes into
// the tmpfs on top, which is mounted writable for it and made read-only after, if asked.
Status CopyUpInto(int rootfd, const MountStep& m, int target, const char* data) {
  UniqueFd top = TRY(Reopen(rootfd, m.destination));
  TRY(CopyUp(target, top.get(), "tmpcopyup " + m.destination));
  if (!(m.opts.flags & MS_RDONLY)) return Ok();
  std::string p = FdPath(top.get());
  if (::mount(nullptr, p.c_str(), nullptr, MS_REMOUNT | m.opts.flags, data) < 0)
    return Errno("remount %s read-only", m.destination.c_str());
  if (TraceOn()) TraceMount(nullptr, m.destination, nullptr, MS_REMOUNT | m.opts.flags, data);
  return Ok();
}

Status MountFs(int rootfd, const MountStep& m) {
  UniqueFd target = TRY(MkdirAllInRoot(rootfd, m.destination, false));
  const char* data = m.opts.data.empty() ? nullptr : m.opts.data.c_str();
  const char* src = m.source.empty() ? m.type.c_str() : m.source.c_str();
  std::string p = FdPath(target.get());
  bool copyup = m.opts.tmpcopyup && m.type == "tmpfs";
  unsigned long flags = copyup ? m.opts.flags & ~MS_RDONLY : m.opts.flags;
  if (::mount(src, p.c_str(), m.type.c_str(), flags, data) < 0) {
    // sysfs needs a network namespace owned by our user namespace; without one runc binds
    // the host's /sys instead, with the same flags.
    if (errno == EPERM && m.type == "sysfs") {
      if (::mount("/sys", p.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
        return Errno("bind /sys on %s", m.destination.c_str());
      if (TraceOn()) TraceMount("/sys", m.destination, nullptr, MS_BIND | MS_REC, nullptr);
      return ApplyAfter(rootfd, m, true);
    }
    return Errno("mount %s on %s", m.type.c_str(), m.destination.c_str());
  }
  if (TraceOn()) TraceMount(src, m.destination, m.type.c_str(), flags, data);
  if (copyup) TRY(CopyUpInto(rootfd, m, target.get(), data));
  return ApplyAfter(rootfd, m, false);
}

// A host cgroup dir bound into the container: read-only when the cgroup mount is, or the
// container could raise its own limits.
Status BindCgroupDir(int rootfd, const std::string& src, const std::string& dest,
                     unsigned long flags) {
  UniqueFd sub = TRY(MkdirAllInRoot(rootfd, dest, false));
  TRY(MountAt(src.c_str(), sub.get(), nullptr, MS_BIND | MS_REC, nullptr, dest));
  UniqueFd top = TRY(Reopen(rootfd, dest));
  std::string p = FdPath(top.get());
  unsigned long re = MS_REMOUNT | MS_BIND | (flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
  if (::mount(nullptr, p.c_str(), nullptr, re, nullptr) < 0)
    return Errno("remount %s", dest.c_str());
  if (TraceOn()) TraceMount(nullptr, dest, nullptr, re, nullptr);
  return Ok();
}

Status MountCgroupV1(int rootfd, const MountStep& m) {
  unsigned long flags = m.opts.flags;
  UniqueFd target = TRY(MkdirAllInRoot(rootfd, m.destination, false));
  TRY(MountAt("tmpfs", target.get(), "tmpfs", flags & ~MS_RDONLY, "mode=755",
              m.destination));
  for (size_t i = 0; i < m.cgroup_v1.size(); ++i) {
    const auto& [dir, controllers] = m.cgroup_v1[i];
    std::string dest = m.destination + "/" + dir;
    const std::string& bind = i < m.cgroup_v1_bind.size() ? m.cgroup_v1_bind[i] : "";
    if (bind.empty()) {
      UniqueFd sub = TRY(MkdirAllInRoot(rootfd, dest, false));
      TRY(MountAt("cgroup", sub.get(), "cgroup", flags, controllers.c_str(), dest));
    } else {
      TRY(BindCgroupDir(rootfd, bind, dest, flags));
    }
  }
  if (m.cgroup_unified) {
    std::string dest = m.destination + "/unified";
    if (m.cgroup_unified_bind.empty()) {
      UniqueFd sub = TRY(MkdirAllInRoot(rootfd, dest, false));
      TRY(MountAt("cgroup2", sub.get(), "cgroup2", flags, nullptr, dest));
    } else {
      TRY(BindCgroupDir(rootfd, m.cgroup_unified_bind, dest, flags));
    }
  }
  UniqueFd top = TRY(Reopen(rootfd, m.destination));
  for (const auto& [link, to] : m.cgroup_links) {
    if (::symlinkat(to.c_str(), top.get(), link.c_str()) < 0 && errno != EEXIST)
      return Errno("symlink %s/%s", m.destination.c_str(), link.c_str());
  }
  if (flags & MS_RDONLY) {
    std::string p = FdPath(top.get());
    if (::mount(nullptr, p.c_str(), nullptr, MS_REMOUNT | MS_BIND | (flags & ~MS_REC), nullptr) < 0)
      return Errno("remount %s read-only", m.destination.c_str());
    if (TraceOn())
      TraceMount(nullptr, m.destination, nullptr, MS_REMOUNT | MS_BIND | (flags & ~MS_REC),
                 nullptr);
  }
  return Ok();
}

Status DoMount(int rootfd, const MountStep& m) {
  switch (m.kind) {
    case MountKind::kBind:
      return MountBind(rootfd, m);
    case MountKind::kFs:
      return MountFs(rootfd, m);
    case MountKind::kCgroupV2: {
      UniqueFd target = TRY(MkdirAllInRoot(rootfd, m.destination, false));
      return MountAt("cgroup2", target.get(), "cgroup2", m.opts.flags, nullptr, m.destination);
    }
    case MountKind::kCgroupV1:
      return MountCgroupV1(rootfd, m);
  }
  return Ok();
}

std::pair<std::string, std::string> SplitParent(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return {"/", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

Status MakeDevice(int rootfd, const DeviceNode& d, bool bind) {
  if (bind) {
    UniqueFd target = TRY(MkdirAllInRoot(rootfd, d.path, true));
    return MountAt(d.path.c_str(), target.get(), nullptr, MS_BIND, nullptr, d.path);
  }
  auto [dir, name] = SplitParent(d.path);
  UniqueFd parent = TRY(MkdirAllInRoot(rootfd, dir, false));
  // An O_PATH dirfd can't be used for mknodat on every kernel: open the directory.
  UniqueFd pdir(::openat(parent.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!pdir) return Errno("open %s", dir.c_str());
  if (::mknodat(pdir.get(), name.c_str(), d.mode, d.dev) < 0) {
    if (errno != EEXIST) return Errno("mknod %s", d.path.c_str());
    // config-linux.md: a file already there that is not this device is an error.
    struct stat st;
    if (::fstatat(pdir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
      return Errno("stat %s", d.path.c_str());
    if ((st.st_mode & S_IFMT) != (d.mode & S_IFMT) ||
        ((d.mode & S_IFMT) != S_IFIFO && st.st_rdev != d.dev))
      return MakeError(EEXIST, "device %s: another file is already there", d.path.c_str());
  }
  if (::fchownat(pdir.get(), name.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW) < 0)
    return Errno("chown %s", d.path.c_str());
  if (TraceOn())
    Trace("mknod", "%s %s %u:%u mode %04o", d.path.c_str(),
          S_ISCHR(d.mode)   ? "c"
          : S_ISBLK(d.mode) ? "b"
                            : "p",
          major(d.dev), minor(d.dev), d.mode & 07777);
  return Ok();
}

Status DevSymlinks(int rootfd) {
  static const char* const kLinks[][2] = {
      {"/proc/self/fd", "fd"},      {"/proc/self/fd/0", "stdin"},
      {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
      {"pts/ptmx", "ptmx"},
  };
  UniqueFd dev = TRY(MkdirAllInRoot(rootfd, "/dev", false));
  for (const auto& l : kLinks) {
    if (::symlinkat(l[0], dev.get(), l[1]) < 0 && errno != EEXIST)
      return Errno("symlink /dev/%s", l[1]);
  }
  return Ok();
}

Status MaskPath(int rootfd, const std::string& path) {
  auto fd = OpenInRoot(rootfd, path, O_PATH | O_NOFOLLOW);
  if (!fd.ok()) return fd.error().code == ENOENT ? Ok() : std::move(fd).error();
  struct stat st;
  if (::fstat(fd->get(), &st) < 0) return Errno("stat %s", path.c_str());
  if (S_ISDIR(st.st_mode))
    return MountAt("tmpfs", fd->get(), "tmpfs", MS_RDONLY, nullptr, path);
  return MountAt("/dev/null", fd->get(), nullptr, MS_BIND, nullptr, path);
}

Status ReadonlyPath(int rootfd, const std::string& path) {
  auto fd = OpenInRoot(rootfd, path, O_PATH | O_NOFOLLOW);
  if (!fd.ok()) return fd.error().code == ENOENT ? Ok() : std::move(fd).error();
  std::string p = FdPath(fd->get());
  if (::mount(p.c_str(), p.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
    return Errno("bind %s read-only", path.c_str());
  UniqueFd top = TRY(Reopen(rootfd, path));
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(top.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
    return Errno("make %s read-only", path.c_str());
  if (TraceOn())
    Trace("mount", "%s bound on itself, mount_setattr MOUNT_ATTR_RDONLY AT_RECURSIVE",
          path.c_str());
  return Ok();
}

// Sysctls go through the container's own procfs, which must really be procfs: a fake /proc
// in the image could otherwise point the write somewhere else.
Status WriteSysctl(int rootfd, const std::string& key, const std::string& value) {
  std::string path = "/proc/sys/" + key;
  UniqueFd fd = TRY(OpenInRoot(rootfd, path, O_WRONLY | O_NOFOLLOW));
  struct statfs sfs;
  if (::fstatfs(fd.get(), &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
    return MakeError(EINVAL, "sysctl %s: /proc in the container is not procfs", key.c_str());
  if (::write(fd.get(), value.data(), value.size()) < 0)
    return Errno("sysctl %s=%s", key.c_str(), value.c_str());
  if (TraceOn()) Trace("sysctl", "write /proc/sys/%s = %s", key.c_str(), value.c_str());
  return Ok();
}

Status EnterRoot(const ChildPlan& plan, int rootfd) {
  if (::fchdir(rootfd) < 0) return Errno("chdir %s", plan.rootfs.c_str());
  if (plan.no_pivot) {
    // chroot fallback, only when asked (--no-pivot): the old root stays reachable for a
    // process with CAP_SYS_CHROOT, so this is weaker than pivot_root.
    if (::mount(".", "/", nullptr, MS_MOVE, nullptr) < 0) return Errno("move rootfs to /");
    if (::chroot(".") < 0) return Errno("chroot %s", plan.rootfs.c_str());
    if (TraceOn())
      Trace("chroot", "%s (moved to /; --no-pivot, weaker than pivot_root)", plan.rootfs.c_str());
  } else {
    // pivot_root(".", ".") stacks the old root under the new one; detaching it then leaves
    // only the container's tree (runc's trick, no put_old directory needed).
    if (sys::PivotRoot(".", ".") < 0) return Errno("pivot_root %s", plan.rootfs.c_str());
    if (::umount2(".", MNT_DETACH) < 0) return Errno("detach the old root");
    if (TraceOn())
      Trace("pivot_root",
            "new root %s, old root stacked under it, then detached "
            "(umount2 MNT_DETACH)",
            plan.rootfs.c_str());
  }
  if (::chdir("/") < 0) return Errno("chdir /");
  return Ok();
}

}  // namespace

Status PrepareRootfs(const ChildPlan& plan) {
  if (!plan.mount_ns) {
    TRY(RunCreateHooks(plan));
    if (::chroot(plan.rootfs.c_str()) < 0) return Errno("chroot %s", plan.rootfs.c_str());
    if (::chdir("/") < 0) return Errno("chdir /");
    if (TraceOn()) Trace("chroot", "%s (no mount namespace)", plan.rootfs.c_str());
    return Ok();
  }
  // Nothing done here may reach the host: make every mount a slave (or private) first. A
  // shared root is restored after pivot_root, which refuses shared parents.
  unsigned long prop = plan.rootfs_propagation;
  unsigned long first = (prop & MS_PRIVATE) ? (MS_PRIVATE | MS_REC) : (MS_SLAVE | MS_REC);
  if (::mount(nullptr, "/", nullptr, first, nullptr) < 0) return Errno("make / a slave mount");
  if (TraceOn()) TraceMount(nullptr, "/", nullptr, first, nullptr);
  // pivot_root needs the new root to be a mount point.
  if (::mount(plan.rootfs.c_str(), plan.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
    return Errno("bind rootfs %s", plan.rootfs.c_str());
  if (TraceOn()) TraceMount(plan.rootfs.c_str(), plan.rootfs, nullptr, MS_BIND | MS_REC, nullptr);
  UniqueFd rootfd(::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) return Errno("open rootfs %s", plan.rootfs.c_str());

  for (const MountStep& m : plan.mounts) TRY(DoMount(rootfd.get(), m));
  for (const DeviceNode& d : plan.devices) TRY(MakeDevice(rootfd.get(), d, plan.bind_devices));
  if (plan.dev_is_tmpfs) TRY(DevSymlinks(rootfd.get()));
  for (const auto& [k, v] : plan.sysctls) TRY(WriteSysctl(rootfd.get(), k, v));
  for (const auto& p : plan.masked_paths) TRY(MaskPath(rootfd.get(), p).Wrap("mask path"));
  for (const auto& p : plan.readonly_paths) TRY(ReadonlyPath(rootfd.get(), p));

  TRY(RunCreateHooks(plan));  // after the mounts, before pivot_root (config.md)
  TRY(EnterRoot(plan, rootfd.get()));
  if (plan.readonly_root) {
    struct mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) < 0)
      return Errno("make the root read-only");
    if (TraceOn()) Trace("mount", "mount_setattr / MOUNT_ATTR_RDONLY (read-only root)");
  }
  // The requested propagation of the new root, once pivot_root no longer minds: shared
  // (refused earlier) and unbindable (which would have refused the rootfs bind).
  if (prop & (MS_SHARED | MS_UNBINDABLE)) {
    if (::mount(nullptr, "/", nullptr, prop, nullptr) < 0) return Errno("set the root's propagation");
    if (TraceOn()) TraceMount(nullptr, "/", nullptr, prop, nullptr);
  }
  return Ok();
}

}  // namespace skiff::runtime::child
