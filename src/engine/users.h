// Resolving `-u` and the image's User to numeric ids from the container's own /etc/passwd
// and /etc/group, without NSS (STYLE.md rule 7: NSS would load the image's libnss into
// skiff, CVE-2019-14271) and through openat2(RESOLVE_IN_ROOT) on a rootfs dirfd (rule 11:
// an image whose /etc/passwd is a symlink to "../../../etc/shadow" reads its own tree, not
// the host's). The semantics are runc's libcontainer/user GetExecUser, which Docker uses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace skiff::engine {

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;  // the user's groups in /etc/group (implicit form)
  std::string home = "/";                 // from passwd; "/" without an entry
};

// Resolves spec ("" = root, "name", "uid", "name:group", "uid:gid", "name:gid" ...) against
// the text of passwd and group files; nullopt means the file does not exist. Errors are
// runc's: "unable to find user NAME: no matching entries in passwd file", "unable to find
// group G: no matching entries in group file".
Result<ResolvedUser> ResolveUserFromText(std::string_view spec,
                                         const std::optional<std::string>& passwd,
                                         const std::optional<std::string>& group);

// Reads path (absolute inside the container) below rootfd with RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS; nullopt when it does not exist. Refuses anything but a regular
// file (a FIFO planted as /etc/passwd would block the engine) and files over 16 MiB.
Result<std::optional<std::string>> ReadFileInRoot(int rootfd, const char* path);

// ResolveUserFromText on rootfd's /etc/passwd and /etc/group.
Result<ResolvedUser> ResolveUser(int rootfd, std::string_view spec);

}  // namespace skiff::engine
