// A stopped container's root with its mounts in place, for cp, in a child's own mount
// namespace. Docker does the same for a stopped container (daemon/archive.go mounts its
// volumes on the rootfs for the copy); doing it in a private namespace means that no mount
// is ever made in the host's table, so none can be left there by a failure half-way.
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/file.h"
#include "base/in_root.h"
#include "engine/container_fs.h"

namespace skiff::engine {
namespace {

// open_tree + move_mount rather than mount(MS_BIND) on FdPath(target): a read-only bind
// is set on the detached tree, so no second lookup of the target (which would name the
// covered directory, not the new mount) is needed.
Status BindInRoot(int rootfd, const RootMount& m) {
  struct stat st;
  if (::stat(m.source.c_str(), &st) < 0) return Errno("bind mount source %s", m.source.c_str());
  UniqueFd target = TRY(MkdirAllInRoot(rootfd, m.destination, !S_ISDIR(st.st_mode)));
  UniqueFd tree(::open_tree(AT_FDCWD, m.source.c_str(),
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  if (!tree) return Errno("clone the mount of %s", m.source.c_str());
  // Private as well: "/" is a slave already, so nothing mounted on this tree could reach
  // the source's mount on the host anyway; this says so without relying on it.
  struct mount_attr attr = {};
  attr.propagation = MS_PRIVATE;
  if (m.read_only) attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
    return Errno("set up the mount of %s on %s", m.source.c_str(), m.destination.c_str());
  if (::move_mount(tree.get(), "", target.get(), "",
                   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return Errno("bind %s on %s", m.source.c_str(), m.destination.c_str());
  return Ok();
}

// In the child: a namespace of its own, the root mounted in it when it is not mounted
// already, then each mount in the spec's order (parents before children), every target
// resolved inside the root as it is by then (CVE-2021-30465).
Result<UniqueFd> AssembleRoot(const StoppedRoot& r) {
  if (::unshare(CLONE_NEWNS) < 0) return Errno("unshare the mount namespace");
  // Before anything is mounted: a shared "/" would carry our mounts back to the host.
  if (::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) < 0)
    return Errno("make / a slave mount");
  if (!IsMountPoint(r.rootfs))
    TRY(MountOverlay(r.lower, r.upper, r.work, r.rootfs).Wrap("mount the container's root"));
  UniqueFd root(::open(r.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Errno("container root %s", r.rootfs.c_str());
  for (const RootMount& m : r.mounts) TRY(BindInRoot(root.get(), m));
  return root;
}

}  // namespace

Status InStoppedRoot(const StoppedRoot& r, const std::function<Status(int rootfd)>& fn) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return Errno("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t parent = ::getpid();
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return Errno("fork");
  if (pid == 0) {
    rd.reset();
    // The namespace and all in it die with this process; it must not outlive its parent.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (::getppid() != parent) ::_exit(1);
    Status st = [&]() -> Status {
      UniqueFd root = TRY(AssembleRoot(r));
      return fn(root.get());
    }();
    // One write under PIPE_BUF: "0" or "<errno>\n<message>".
    std::string msg = st.ok() ? "0" : StrFormat("%d\n%s", st.error().code, st.error().msg.c_str());
    if (msg.size() > 4000) msg.resize(4000);
    (void)!::write(wr.get(), msg.data(), msg.size());
    ::_exit(st.ok() ? 0 : 1);  // never exit(): the parent's destructors are not ours to run
  }
  OwnedPid child(pid);
  wr.reset();
  auto report = ReadAll(rd.get(), "the cp child's report");
  int status = 0;
  while (::waitpid(child.get(), &status, 0) < 0 && errno == EINTR) {
  }
  child.release();
  if (WIFSIGNALED(status))
    return MakeError(0, "the copy was killed by signal %d (%s)", WTERMSIG(status),
                     strsignal(WTERMSIG(status)));
  if (!report.ok() || report->empty()) return MakeError(ECHILD, "cp ended without a report");
  if (*report == "0") return Ok();
  size_t nl = report->find('\n');
  if (nl == std::string::npos) return MakeError(0, "%s", report->c_str());
  return Error{std::atoi(report->c_str()), report->substr(nl + 1)};
}

}  // namespace skiff::engine
