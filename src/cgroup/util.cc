#include "cgroup/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "base/file.h"
#include "cgroup/manager.h"

namespace skiff::cgroup {

namespace {
WriteObserver g_observer = nullptr;
void* g_observer_ctx = nullptr;
}  // namespace

void SetWriteObserver(WriteObserver fn, void* ctx) {
  g_observer = fn;
  g_observer_ctx = ctx;
}

Status WriteValue(const CgroupDir& d, const char* name, std::string_view value) {
  // O_APPEND: kernfs control files ignore the offset, and against the plain files of a
  // unit test every write is kept, in order (devices.allow takes one rule per write).
  UniqueFd fd(::openat(d.fd, name, O_WRONLY | O_APPEND | O_CLOEXEC));
  ssize_t n = -1;
  if (fd) {
    do {
      n = ::write(fd.get(), value.data(), value.size());
    } while (n < 0 && errno == EINTR);
  }
  if (n < 0) {
    return Errno("write %s=%.*s in %s", name, static_cast<int>(value.size()), value.data(),
                 d.path.c_str());
  }
  if (g_observer) g_observer(g_observer_ctx, d.path, name, value);
  return Ok();
}

static std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

Result<std::string> ReadValue(const CgroupDir& d, const char* name) {
  auto text = ReadFileAt(d.fd, name);
  if (!text.ok()) return MakeError(text.error().code, "read %s in %s", name, d.path.c_str());
  return std::string(Trim(*text));
}

bool ParseUint(std::string_view s, uint64_t* out) {
  s = Trim(s);
  if (s == "max") {
    *out = 0;
    return true;
  }
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

Result<uint64_t> ReadUint(const CgroupDir& d, const char* name) {
  std::string s = TRY(ReadValue(d, name));
  uint64_t v = 0;
  if (!ParseUint(s, &v)) {
    return MakeError(EINVAL, "read %s in %s: not a number: \"%s\"", name, d.path.c_str(),
                     s.c_str());
  }
  // v1 reports "unlimited" as PAGE_COUNTER_MAX pages (9223372036854771712 on x86-64).
  if (v >= (1ULL << 62)) v = 0;
  return v;
}

bool FileExists(const CgroupDir& d, const char* name) {
  return ::faccessat(d.fd, name, F_OK, 0) == 0;
}

std::map<std::string, uint64_t> ParseKeyValues(std::string_view text) {
  std::map<std::string, uint64_t> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    uint64_t v = 0;
    if (ParseUint(line.substr(sp + 1), &v)) out[std::string(line.substr(0, sp))] = v;
  }
  return out;
}

Result<UniqueFd> OpenDir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Errno("open %s", path.c_str());
  return fd;
}

std::string JoinPath(const std::string& mount, const std::string& rel) {
  std::string out = mount;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  size_t i = 0;
  while (i < rel.size() && rel[i] == '/') i++;
  if (i < rel.size()) out.append("/").append(rel, i, std::string::npos);
  return out;
}

Result<std::vector<std::string>> MakeCgroupDirs(const std::string& root, const std::string& rel) {
  std::vector<std::string> created;
  std::string cur = JoinPath(root, "");
  size_t pos = 0;
  while (pos < rel.size()) {
    size_t next = rel.find('/', pos);
    if (next == std::string::npos) next = rel.size();
    if (next > pos) {
      std::string part = rel.substr(pos, next - pos);
      if (part == "." || part == "..") {
        return MakeError(EINVAL, "cgroup path %s: \"%s\" component", rel.c_str(), part.c_str());
      }
      cur += "/" + part;
      if (::mkdir(cur.c_str(), 0755) == 0) {
        created.push_back(cur);
      } else if (errno != EEXIST) {
        return Errno("mkdir %s", cur.c_str());
      }
    }
    pos = next + 1;
  }
  return created;
}

// Lists the subdirectories of dir (cgroup children); a missing dir has none.
static Result<std::vector<std::string>> Children(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    return Errno("opendir %s", dir.c_str());
  }
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    out.push_back(dir + "/" + e->d_name);
  }
  ::closedir(d);
  return out;
}

Result<std::vector<pid_t>> ReadPidsRecursive(const std::string& dir) {
  std::vector<pid_t> pids;
  auto text = ReadFile(dir + "/cgroup.procs");
  if (!text.ok()) {
    if (text.error().code == ENOENT) return pids;
    return std::move(text).error();
  }
  std::string_view t = *text;
  while (!t.empty()) {
    size_t nl = t.find('\n');
    uint64_t v = 0;
    if (ParseUint(t.substr(0, nl), &v) && v > 0) pids.push_back(static_cast<pid_t>(v));
    if (nl == std::string_view::npos) break;
    t.remove_prefix(nl + 1);
  }
  for (const std::string& child : TRY(Children(dir))) {
    std::vector<pid_t> more = TRY(ReadPidsRecursive(child));
    pids.insert(pids.end(), more.begin(), more.end());
  }
  return pids;
}

Status RemoveCgroupTree(const std::string& dir) {
  // A container's cgroup rarely has children: rmdir first, as runc does, and list the
  // dir (kernfs makes an entry for every control file) only when that fails.
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return Ok();
  if (errno != EBUSY && errno != ENOTEMPTY) return Errno("rmdir %s", dir.c_str());
  for (const std::string& child : TRY(Children(dir))) TRY(RemoveCgroupTree(child));
  auto removed = PollUntil(
      [&]() -> Result<bool> {
        if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return true;
        if (errno == EBUSY) return false;
        return Errno("rmdir %s", dir.c_str());
      },
      std::chrono::milliseconds(1000));
  if (!removed.ok()) return std::move(removed).error();
  if (!*removed) return MakeError(EBUSY, "rmdir %s", dir.c_str());
  return Ok();
}

Result<bool> PollUntil(const std::function<Result<bool>()>& done,
                       std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto sleep = std::chrono::microseconds(100);
  for (;;) {
    if (TRY(done())) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(sleep);
    sleep = std::min(sleep * 2, std::chrono::microseconds(10000));
  }
}

}  // namespace skiff::cgroup
