// CVE-2019-5736: a process in a container could open /proc/<pid>/exe of the runtime while
// the runtime is in the container's namespaces, and overwrite the host's runtime binary.
// skiff-runtime therefore runs create, run and exec from a read-only view of itself: a
// detached, read-only clone of the mount of its own binary (open_tree + mount_setattr),
// executed through its fd. /proc/<pid>/exe then names a file on a read-only mount, and
// opening it for writing fails with EROFS.
//
// This is runc 1.2's answer (a read-only bind of /proc/self/exe) without the mount
// namespace, and unlike a memfd copy (runc 1.1) it copies nothing: no start-up time spent on
// megabytes, and nothing charged to anyone's memory cgroup.
#pragma once

#include "base/error.h"

namespace skiff::runtime {

// Returns when already running from a read-only mount; otherwise re-executes itself from
// one (and returns only on failure).
Status ReexecReadOnly(char** argv);

}  // namespace skiff::runtime
