// Loading a compiled seccomp program: the child half of seccomp (STYLE.md rule 6). The
// program is compiled by runtime/seccomp.h in the parent, before clone; the child only
// makes the seccomp(2) call, so it needs neither libseccomp nor any allocation.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "base/error.h"

namespace skiff::runtime {

// A classic BPF program ready for SECCOMP_SET_MODE_FILTER.
struct SeccompProgram {
  std::vector<sock_filter> filter;
  unsigned flags = 0;       // SECCOMP_FILTER_FLAG_* from linux.seccomp.flags
  bool has_notify = false;  // some rule returns SCMP_ACT_NOTIFY: ask for a listener fd
};

namespace child {

// Installs the filter. The caller has set no_new_privs first or holds CAP_SYS_ADMIN
// (the kernel refuses an unprivileged filter otherwise, with EACCES). When has_notify is
// set, adds SECCOMP_FILTER_FLAG_NEW_LISTENER and stores the listener fd in *listener_fd
// (which must then be non-null); the caller passes it to the parent over the sync socket.
// Call it as late as possible, right before execve: every syscall after it is filtered.
Status LoadSeccomp(const SeccompProgram& p, int* listener_fd = nullptr);

}  // namespace child
}  // namespace skiff::runtime
