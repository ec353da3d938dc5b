// -v, --mount and --tmpfs: moby's volume/mounts linux_parser.go and docker/cli's
// opts/mount.go, with their error texts.
#include <cctype>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "engine/run_options.h"

namespace skiff::engine {
namespace {

const char* TypeName(MountKind k) {
  switch (k) {
    case MountKind::kBind:
      return "bind";
    case MountKind::kVolume:
      return "volume";
    case MountKind::kTmpfs:
      return "tmpfs";
  }
  return "";
}

Error MountConfigError(MountKind k, const std::string& why) {
  return MakeError(0, "invalid mount config for type \"%s\": %s", TypeName(k), why.c_str());
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t i = s.find(sep, start);
    out.emplace_back(
        s.substr(start, i == std::string_view::npos ? std::string_view::npos : i - start));
    if (i == std::string_view::npos) return out;
    start = i + 1;
  }
}

// Go's path.Clean for the absolute paths mounts use: no "." or "..", no double or trailing
// slashes ("/.." is "/").
std::string CleanPath(const std::string& p) {
  std::vector<std::string> parts;
  for (auto& part : Split(p, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (auto& part : parts) out += "/" + part;
  return out.empty() ? "/" : out;
}

bool IsPropagation(const std::string& m) {
  static const std::set<std::string> kModes = {"private", "rprivate", "shared",
                                               "rshared", "slave",    "rslave"};
  return kModes.count(m) > 0;
}

// moby ValidMountMode: at most one of each kind.
bool ValidMountMode(const std::string& mode) {
  if (mode.empty()) return true;
  int rw = 0, label = 0, prop = 0, copy = 0, consistency = 0;
  for (const auto& o : Split(mode, ',')) {
    if (o == "rw" || o == "ro") {
      ++rw;
    } else if (o == "z" || o == "Z") {
      ++label;
    } else if (IsPropagation(o)) {
      ++prop;
    } else if (o == "nocopy") {
      ++copy;
    } else if (o == "consistent" || o == "cached" || o == "delegated") {
      ++consistency;
    } else {
      return false;
    }
  }
  return rw <= 1 && label <= 1 && prop <= 1 && copy <= 1 && consistency <= 1;
}

// The checks moby's validateMountConfig makes for every kind, then the kind's own.
Status ValidateMount(MountRequest* m) {
  if (m->target.empty()) return MountConfigError(m->kind, "field Target must not be empty");
  if (m->target[0] != '/')
    return MountConfigError(m->kind,
                            "invalid mount path: '" + m->target + "' mount path must be absolute");
  m->target = CleanPath(m->target);
  if (m->target == "/") return MakeError(0, "invalid specification: destination can't be '/'");
  switch (m->kind) {
    case MountKind::kBind:
      if (m->source.empty()) return MountConfigError(m->kind, "field Source must not be empty");
      if (m->source[0] != '/')
        return MountConfigError(
            m->kind, "invalid mount path: '" + m->source + "' mount path must be absolute");
      m->source = CleanPath(m->source);
      if (!m->propagation.empty() && !IsPropagation(m->propagation))
        return MakeError(0, "invalid propagation mode: %s", m->propagation.c_str());
      break;
    case MountKind::kVolume:
      if (!m->source.empty()) TRY(ValidateVolumeName(m->source));
      break;
    case MountKind::kTmpfs:
      if (!m->source.empty())
        return MountConfigError(m->kind, "field Source must not be specified");
      break;
  }
  return Ok();
}

// One CSV record (encoding/csv as docker/cli reads --mount): fields split on commas, a
// field in double quotes may hold commas, "" inside quotes is a quote.
Result<std::vector<std::string>> CsvFields(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false, field_start = true;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"' && field_start) {
      quoted = true;
      field_start = false;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
      field_start = true;
    } else {
      cur += c;
      field_start = false;
    }
  }
  if (quoted) return MakeError(0, "parse error: extraneous or missing \" in quoted-field");
  out.push_back(std::move(cur));
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::optional<bool> GoBool(const std::string& s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False")
    return false;
  return std::nullopt;
}

// Flags mount(2) takes for tmpfs, and each one's opposite; moby MergeTmpfsOptions lets a
// later flag replace an earlier one of the pair.
const std::pair<const char*, const char*> kFlagPairs[] = {
    {"ro", "rw"},
    {"noexec", "exec"},
    {"nosuid", "suid"},
    {"nodev", "dev"},
    {"sync", "async"},
    {"dirsync", ""},
    {"mand", "nomand"},
    {"noatime", "atime"},
    {"nodiratime", "diratime"},
    {"relatime", "norelatime"},
    {"strictatime", "nostrictatime"},
    {"private", ""},
    {"rprivate", ""},
    {"shared", ""},
    {"rshared", ""},
    {"slave", ""},
    {"rslave", ""},
    {"unbindable", ""},
    {"runbindable", ""},
};
const char* const kTmpfsData[] = {"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"};

bool IsPropagationFlag(const std::string& f) {
  return IsPropagation(f) || f == "unbindable" || f == "runbindable";
}

// The flag f's opposite, "" when it has none; false when f is no tmpfs flag at all.
bool TmpfsFlag(const std::string& f, std::string* opposite) {
  for (const auto& [a, b] : kFlagPairs) {
    if (f == a) return *opposite = b, true;
    if (*b && f == b) return *opposite = a, true;
  }
  return false;
}

Result<std::vector<std::string>> MergeTmpfsOptions(const std::vector<std::string>& opts) {
  std::vector<std::string> out;
  for (const auto& o : opts) {
    std::string opposite;
    size_t eq = o.find('=');
    if (eq != std::string::npos) {
      std::string key = o.substr(0, eq);
      bool known = false;
      for (const char* k : kTmpfsData) known = known || key == k;
      if (!known) return MakeError(0, "invalid tmpfs option [\"%s\"]", o.c_str());
      std::erase_if(out, [&](const std::string& x) { return x.rfind(key + "=", 0) == 0; });
    } else if (TmpfsFlag(o, &opposite)) {
      bool prop = IsPropagationFlag(o);
      std::erase_if(out, [&](const std::string& x) {
        return x == o || (!opposite.empty() && x == opposite) || (prop && IsPropagationFlag(x));
      });
    } else {
      return MakeError(0, "invalid tmpfs option [\"%s\"]", o.c_str());
    }
    out.push_back(o);
  }
  return out;
}

}  // namespace

Result<MountRequest> ParseVolumeFlag(std::string_view text) {
  std::string raw(text);
  auto spec_error = [&] { return MakeError(0, "invalid volume specification: '%s'", raw.c_str()); };
  std::vector<std::string> arr = Split(raw, ':');
  if (arr.empty() || arr[0].empty()) return spec_error();
  MountRequest m;
  std::string mode;
  switch (arr.size()) {
    case 1:
      m.target = arr[0];  // an anonymous volume
      break;
    case 2:
      // "/foo:rw" would be a destination with a mode, which volumes can't have.
      if (ValidMountMode(arr[1])) return spec_error();
      m.source = arr[0];
      m.target = arr[1];
      break;
    case 3:
      m.source = arr[0];
      m.target = arr[1];
      mode = arr[2];
      break;
    default:
      return spec_error();
  }
  if (!ValidMountMode(mode)) return MakeError(0, "invalid mode: %s", mode.c_str());
  m.kind = !m.source.empty() && m.source[0] == '/' ? MountKind::kBind : MountKind::kVolume;
  for (const auto& o : Split(mode, ',')) {
    if (o == "ro") m.readonly = true;
    if (o == "nocopy") m.nocopy = true;
    if (IsPropagation(o)) m.propagation = o;
  }
  if (m.kind == MountKind::kVolume && !m.propagation.empty()) return spec_error();
  m.create_source = m.kind == MountKind::kBind;
  TRY(ValidateMount(&m));
  return m;
}

Result<MountRequest> ParseMountFlag(std::string_view text) {
  std::vector<std::string> fields = TRY(CsvFields(text));
  MountRequest m;
  std::string type = "volume";
  bool bind_opts = false, volume_opts = false, tmpfs_opts = false;
  for (const auto& field : fields) {
    size_t eq = field.find('=');
    std::string key = Lower(field.substr(0, eq));
    std::string val = eq == std::string::npos ? "" : field.substr(eq + 1);
    if (eq == std::string::npos) {
      if (key == "readonly" || key == "ro") {
        m.readonly = true;
      } else if (key == "volume-nocopy") {
        m.nocopy = volume_opts = true;
      } else {
        return MakeError(0, "invalid field '%s' must be a key=value pair", field.c_str());
      }
      continue;
    }
    if (key == "type") {
      type = Lower(val);
    } else if (key == "source" || key == "src") {
      m.source = val;
    } else if (key == "target" || key == "dst" || key == "destination") {
      m.target = val;
    } else if (key == "readonly" || key == "ro") {
      auto b = GoBool(val);
      if (!b) return MakeError(0, "invalid value for %s: %s", key.c_str(), val.c_str());
      m.readonly = *b;
    } else if (key == "bind-propagation") {
      m.propagation = Lower(val);
      bind_opts = true;
    } else if (key == "volume-nocopy") {
      auto b = GoBool(val);
      if (!b) return MakeError(0, "invalid value for volume-nocopy: %s", val.c_str());
      m.nocopy = *b;
      volume_opts = true;
    } else if (key == "tmpfs-size") {
      auto size = ParseMemoryBytes(val);
      if (!size.ok()) return MakeError(0, "invalid value for %s: %s", key.c_str(), val.c_str());
      m.tmpfs_options.push_back("size=" + std::to_string(*size));
      tmpfs_opts = true;
    } else if (key == "tmpfs-mode") {
      char* end = nullptr;
      unsigned long mode = std::strtoul(val.c_str(), &end, 8);
      if (val.empty() || *end != '\0' || mode > 07777)
        return MakeError(0, "invalid value for %s: %s", key.c_str(), val.c_str());
      char buf[16];
      snprintf(buf, sizeof buf, "mode=%04lo", mode);
      m.tmpfs_options.push_back(buf);
      tmpfs_opts = true;
    } else if (key == "consistency") {
      // macOS only; Docker accepts and ignores it on Linux.
    } else {
      return MakeError(0, "unexpected key '%s' in '%s'", key.c_str(), field.c_str());
    }
  }
  if (type.empty()) return MakeError(0, "type is required");
  if (m.target.empty()) return MakeError(0, "target is required");
  if (type == "bind") {
    m.kind = MountKind::kBind;
  } else if (type == "volume") {
    m.kind = MountKind::kVolume;
  } else if (type == "tmpfs") {
    m.kind = MountKind::kTmpfs;
  } else {
    return MakeError(0, "invalid mount config for type \"%s\": mount type unknown", type.c_str());
  }
  if (volume_opts && m.kind != MountKind::kVolume)
    return MakeError(0, "cannot mix 'volume-*' options with mount type '%s'", type.c_str());
  if (bind_opts && m.kind != MountKind::kBind)
    return MakeError(0, "cannot mix 'bind-*' options with mount type '%s'", type.c_str());
  if (tmpfs_opts && m.kind != MountKind::kTmpfs)
    return MakeError(0, "cannot mix 'tmpfs-*' options with mount type '%s'", type.c_str());
  if (m.kind == MountKind::kTmpfs) {
    std::vector<std::string> opts = {"noexec", "nosuid", "nodev"};
    opts.insert(opts.end(), m.tmpfs_options.begin(), m.tmpfs_options.end());
    m.tmpfs_options = TRY(MergeTmpfsOptions(opts));
  }
  TRY(ValidateMount(&m));
  return m;
}

Result<MountRequest> ParseTmpfsFlag(std::string_view text) {
  std::string s(text);
  size_t colon = s.find(':');
  MountRequest m;
  m.kind = MountKind::kTmpfs;
  m.target = s.substr(0, colon);
  std::vector<std::string> opts = {"noexec", "nosuid", "nodev"};
  if (colon != std::string::npos && colon + 1 < s.size())
    for (auto& o : Split(s.substr(colon + 1), ',')) opts.push_back(o);
  m.tmpfs_options = TRY(MergeTmpfsOptions(opts));
  for (const auto& o : m.tmpfs_options) m.readonly = m.readonly || o == "ro";
  std::erase(m.tmpfs_options, std::string("rw"));
  std::erase(m.tmpfs_options, std::string("ro"));
  TRY(ValidateMount(&m));
  return m;
}

}  // namespace skiff::engine
