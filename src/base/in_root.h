// Paths inside a container root, resolved through fds (CVE-2021-30465: never join strings
// and mount on the result; a symlink swapped in between would redirect it). Used by the
// runtime's child (mount targets) and by the engine (cp on a stopped container).
#pragma once

#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace skiff {

// Resolves a container path inside the root dirfd without ever leaving it (openat2
// RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), creating missing directories (and the last
// component as a file when asked). Returns an O_PATH fd.
Result<UniqueFd> MkdirAllInRoot(int rootfd, const std::string& path, bool last_is_file);
Result<UniqueFd> OpenInRoot(int rootfd, const std::string& path, int flags);
// "/proc/self/fd/N": the path mount(2) takes for an fd resolved inside the root.
std::string FdPath(int fd);

}  // namespace skiff
