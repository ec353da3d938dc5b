// docker cp: copies between the host and a container's root filesystem (the host path of
// its rootfs), safe against whatever the container planted there. Every container path is
// resolved with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) against a dirfd of the
// root, so a symlink to "/" or "../../etc" resolves inside the container, as it would for a
// process in there; trees are then walked and written through dirfds only, entries made
// with O_NOFOLLOW/O_EXCL, so nothing outside the root is ever read or written (the
// CVE-2018-15664 / CVE-2019-14271 class of bugs).
//
// SRC/DEST as in docker cp:
//   file -> DEST missing: DEST is created (its parent must exist; "DEST/" is an error)
//   file -> existing file: overwritten;  file -> existing dir: copied into it
//   dir  -> DEST missing: created with SRC's contents;  dir -> existing file: error
//   dir  -> existing dir: SRC copied into it, or only its contents when SRC ends in "/."
//   "-" as SRC (copy in): a tar stream on stdin is extracted into the DEST directory
//   "-" as DEST (copy out): SRC is written as a tar stream to stdout
// Modes and times are kept; owners too with archive (-a), else copies into the container
// belong to its root (0:0) and copies out to the caller, as in Docker. A final symlink in
// SRC is copied as a link unless follow_link (-L).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"

namespace skiff::engine {

struct CopyOptions {
  bool archive = false;      // -a: keep uid/gid
  bool follow_link = false;  // -L: follow a symlink that SRC names
};

// rootfs: the host path of the container's root. src/dest: paths in the container (relative
// to its root, "/" allowed) or on the host; fd: the tar stream for "-".
Status CopyOut(const std::string& rootfs, const std::string& src, const std::string& dest,
               const CopyOptions& o, int stdout_fd = 1);
Status CopyIn(const std::string& rootfs, const std::string& src, const std::string& dest,
              const CopyOptions& o, int stdin_fd = 0);

// "CONTAINER:PATH" -> {container, path}; a path with no ':' before its first '/' (or one
// starting with '/' or '.') is local: {"" , path}, as the docker CLI splits them.
std::pair<std::string, std::string> SplitCopyArg(const std::string& arg);

}  // namespace skiff::engine
