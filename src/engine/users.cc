#include "engine/users.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "base/fd.h"
#include "base/syscalls.h"

namespace skiff::engine {
namespace {

constexpr int64_t kMaxId = (1LL << 31) - 1;  // runc's maxID
constexpr off_t kMaxFileSize = 16 << 20;

struct PasswdEntry {
  std::string name;
  int64_t uid = 0;
  int64_t gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  int64_t gid = 0;
  std::vector<std::string> members;
};

std::vector<std::string> SplitFields(std::string_view line, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t i = line.find(sep, start);
    out.emplace_back(line.substr(start, i == std::string_view::npos ? line.npos : i - start));
    if (i == std::string_view::npos) return out;
    start = i + 1;
  }
}

// Strict decimal (Go's strconv.Atoi without the sign): "", "+1", "1x" are not numbers.
std::optional<int64_t> Number(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Lines trimmed of whitespace, empty ones skipped (libcontainer/user's parsers).
template <typename F>
void ForEachLine(std::string_view text, F f) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == text.npos ? text.npos : nl - pos);
    pos = nl == text.npos ? text.size() : nl + 1;
    while (!line.empty() && isspace(static_cast<unsigned char>(line.front())))
      line.remove_prefix(1);
    while (!line.empty() && isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
    if (!line.empty()) f(line);
  }
}

std::vector<PasswdEntry> ParsePasswd(std::string_view text) {
  std::vector<PasswdEntry> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line, ':');  // name:password:uid:gid:gecos:home:shell
    if (f.size() < 4) return;
    auto uid = Number(f[2]), gid = Number(f[3]);
    if (!uid || !gid) return;  // a malformed entry matches nobody
    out.push_back({f[0], *uid, *gid, f.size() > 5 ? f[5] : ""});
  });
  return out;
}

std::vector<GroupEntry> ParseGroup(std::string_view text) {
  std::vector<GroupEntry> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = SplitFields(line, ':');  // name:password:gid:member,member
    if (f.size() < 3) return;
    auto gid = Number(f[2]);
    if (!gid) return;
    GroupEntry g{f[0], *gid, {}};
    if (f.size() > 3 && !f[3].empty()) g.members = SplitFields(f[3], ',');
    out.push_back(std::move(g));
  });
  return out;
}

}  // namespace

Result<ResolvedUser> ResolveUserFromText(std::string_view spec,
                                         const std::optional<std::string>& passwd,
                                         const std::optional<std::string>& group) {
  size_t colon = spec.find(':');
  std::string user_arg(spec.substr(0, colon));
  std::string group_arg(colon == spec.npos ? "" : spec.substr(colon + 1));
  auto uid_arg = Number(user_arg);
  auto gid_arg = Number(group_arg);

  ResolvedUser out;
  std::string matched_name;
  const PasswdEntry* match = nullptr;
  std::vector<PasswdEntry> users;
  if (passwd) users = ParsePasswd(*passwd);
  for (const auto& u : users) {
    bool hit = user_arg.empty() ? u.uid == 0 : uid_arg ? u.uid == *uid_arg : u.name == user_arg;
    if (hit) {
      match = &u;  // the first match wins, as in runc
      break;
    }
  }
  if (match) {
    matched_name = match->name;
    out.uid = static_cast<uint32_t>(match->uid);
    out.gid = static_cast<uint32_t>(match->gid);
    out.home = match->home;
  } else if (!user_arg.empty()) {
    // Only a number may be a user with no passwd entry.
    if (!uid_arg)
      return MakeError(0, "unable to find user %s: no matching entries in passwd file",
                       user_arg.c_str());
    if (*uid_arg > kMaxId)
      return MakeError(ERANGE, "user %s: uids and gids must be in range 0-%lld", user_arg.c_str(),
                       static_cast<long long>(kMaxId));
    out.uid = static_cast<uint32_t>(*uid_arg);
  }
  if (out.uid > kMaxId || out.gid > kMaxId)
    return MakeError(ERANGE, "user %s: uids and gids must be in range 0-%lld", user_arg.c_str(),
                     static_cast<long long>(kMaxId));

  if (group_arg.empty() && matched_name.empty()) return out;
  std::vector<GroupEntry> groups;
  if (group) groups = ParseGroup(*group);
  if (!group_arg.empty()) {
    // The explicit form sets the primary group only, no supplementary groups.
    for (const auto& g : groups) {
      if (gid_arg ? g.gid == *gid_arg : g.name == group_arg) {
        out.gid = static_cast<uint32_t>(g.gid);
        return out;
      }
    }
    if (!gid_arg)
      return MakeError(0, "unable to find group %s: no matching entries in group file",
                       group_arg.c_str());
    if (*gid_arg > kMaxId)
      return MakeError(ERANGE, "group %s: uids and gids must be in range 0-%lld", group_arg.c_str(),
                       static_cast<long long>(kMaxId));
    out.gid = static_cast<uint32_t>(*gid_arg);
    return out;
  }
  for (const auto& g : groups)
    for (const auto& m : g.members)
      if (m == matched_name) {
        out.additional_gids.push_back(static_cast<uint32_t>(g.gid));
        break;
      }
  return out;
}

Result<std::optional<std::string>> ReadFileInRoot(int rootfd, const char* path) {
  sys::OpenHow how;
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = sys::kResolveInRoot | sys::kResolveNoMagiclinks;
  UniqueFd fd(sys::Openat2(rootfd, path, how));
  if (!fd) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Errno("open %s in the container's root", path);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Errno("stat %s", path);
  if (!S_ISREG(st.st_mode))
    return MakeError(0, "%s in the container's root is not a regular file", path);
  if (st.st_size > kMaxFileSize) return MakeError(EFBIG, "%s in the container's root", path);
  std::string data;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("read %s", path);
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > static_cast<size_t>(kMaxFileSize)) return MakeError(EFBIG, "read %s", path);
  }
  return std::optional<std::string>(std::move(data));
}

Result<ResolvedUser> ResolveUser(int rootfd, std::string_view spec) {
  auto passwd = TRY(ReadFileInRoot(rootfd, "/etc/passwd"));
  auto group = TRY(ReadFileInRoot(rootfd, "/etc/group"));
  return ResolveUserFromText(spec, passwd, group);
}

}  // namespace skiff::engine
