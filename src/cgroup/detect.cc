// Which cgroup hierarchies are mounted where, from /proc/self/mountinfo: never assumed,
// because the same binary meets pure v2, pure v1 and the hybrid layout (MACHINE.md).
#include <optional>
#include <sstream>
#include <string_view>

#include "base/file.h"
#include "cgroup/manager.h"

namespace skiff::cgroup {

const char* LayoutName(Layout l) {
  switch (l) {
    case Layout::kV1:
      return "v1";
    case Layout::kV2:
      return "v2";
    case Layout::kHybrid:
      return "hybrid";
  }
  return "?";
}

// Splits on sep, dropping empty fields.
static std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) p = s.size();
    if (p > start) out.emplace_back(s.substr(start, p - start));
    start = p + 1;
  }
  return out;
}

// mountinfo escapes spaces and the like in paths as \040 (octal).
static std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      out.push_back(static_cast<char>(v));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The v1 super options name the controllers: "rw,cpu,cpuacct", "rw,name=systemd". Options
// that are not controllers are skipped.
static bool IsMountOption(const std::string& o) {
  return o == "rw" || o == "ro" || o == "noprefix" || o == "clone_children" || o == "xattr" ||
         o == "cpuset_v2_mode" || o == "favordynmods" || o.rfind("release_agent=", 0) == 0;
}

Hierarchies ParseMountinfo(const std::string& text) {
  Hierarchies h;
  bool have_v1 = false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mountpoint options [optional...] - fstype source super
    std::vector<std::string> f = Split(line, ' ');
    size_t dash = 0;
    while (dash < f.size() && f[dash] != "-") dash++;
    if (dash < 5 || dash + 3 >= f.size()) continue;
    const std::string& fstype = f[dash + 1];
    std::string mount_point = Unescape(f[4]);
    if (fstype == "cgroup2") {
      if (h.unified.empty()) h.unified = mount_point;
    } else if (fstype == "cgroup") {
      for (const std::string& o : Split(f[dash + 3], ',')) {
        if (IsMountOption(o) || h.v1.count(o)) continue;
        h.v1[o] = mount_point;
        have_v1 = true;
      }
    }
  }
  if (have_v1 && !h.unified.empty()) {
    h.layout = Layout::kHybrid;
  } else if (have_v1) {
    h.layout = Layout::kV1;
  } else if (!h.unified.empty()) {
    h.layout = Layout::kV2;
  }
  return h;
}

static Result<Hierarchies> DetectUncached(const std::string& mountinfo) {
  std::string text = TRY(ReadFile(mountinfo));
  Hierarchies h = ParseMountinfo(text);
  if (h.v1.empty() && h.unified.empty()) {
    return MakeError(ENOENT, "no cgroup hierarchy mounted (read %s)", mountinfo.c_str());
  }
  if (!h.unified.empty()) {
    std::string path = h.unified + "/cgroup.controllers";
    auto ctl = ReadFile(path);
    if (!ctl.ok()) return std::move(ctl).error().Wrap("detect cgroups");
    std::istringstream words(*ctl);
    std::string w;
    while (words >> w) h.unified_controllers.push_back(w);
  }
  return h;
}

Result<Hierarchies> Detect(const std::string& mountinfo) {
  static const std::string kDefault = "/proc/self/mountinfo";
  if (mountinfo != kDefault) return DetectUncached(mountinfo);
  // Detected once (STYLE.md rule 10): mounts do not move under a running engine.
  static std::optional<Hierarchies> cached;
  if (!cached) cached = TRY(DetectUncached(mountinfo));
  return *cached;
}

Result<std::map<std::string, std::string>> ReadProcCgroup(const std::string& path) {
  std::string text = TRY(ReadFile(path));
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string names = line.substr(a + 1, b - a - 1);
    std::string cg = line.substr(b + 1);
    if (names.empty()) {
      out[""] = cg;
      continue;
    }
    for (const std::string& n : Split(names, ',')) out[n] = cg;
  }
  return out;
}

std::string ResolvePath(const std::string& cgroups_path, const std::string& id,
                        const std::string& own_cgroup) {
  if (cgroups_path.empty()) return "/skiff/" + id;
  if (cgroups_path[0] == '/') return cgroups_path;
  std::string base = own_cgroup.empty() ? "/" : own_cgroup;
  if (base.back() != '/') base += '/';
  return base + cgroups_path;
}

}  // namespace skiff::cgroup
