#include "runtime/child/seccomp_load.h"

#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

namespace skiff::runtime::child {

Status LoadSeccomp(const SeccompProgram& p, int* listener_fd) {
  if (p.filter.empty() || p.filter.size() > USHRT_MAX) {
    return MakeError(EINVAL, "seccomp: program of %zu instructions", p.filter.size());
  }
  if (p.has_notify && listener_fd == nullptr) {
    return MakeError(EINVAL, "seccomp: a notify filter needs somewhere to put the listener");
  }
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(p.filter.size());
  // The kernel copies the program and never writes it, despite the non-const pointer.
  prog.filter = const_cast<sock_filter*>(p.filter.data());
  unsigned flags = p.flags;
  if (p.has_notify) flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  // glibc 2.36 has no seccomp() wrapper, and libseccomp is not for the child.
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0) return Errno("seccomp(SET_MODE_FILTER, flags 0x%x)", flags);
  if (p.has_notify) *listener_fd = static_cast<int>(rc);
  return Ok();
}

}  // namespace skiff::runtime::child
