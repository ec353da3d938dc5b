// Parsers for the scalar flags of `skiff run`, following docker/go-units and docker/cli.
#include "engine/run_options.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace skiff::engine {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// strtoll over the whole string; Go's strconv.ParseInt(s, 10, 64).
bool ParseInt64(std::string_view text, int64_t* out) {
  std::string s(text);
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  *out = v;
  return true;
}

// Go's strconv.ParseBool.
std::optional<bool> ParseGoBool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False")
    return false;
  return std::nullopt;
}

struct UlimitName {
  const char* docker;
  const char* oci;
};
constexpr UlimitName kUlimits[] = {
    {"core", "RLIMIT_CORE"},         {"cpu", "RLIMIT_CPU"},
    {"data", "RLIMIT_DATA"},         {"fsize", "RLIMIT_FSIZE"},
    {"locks", "RLIMIT_LOCKS"},       {"memlock", "RLIMIT_MEMLOCK"},
    {"msgqueue", "RLIMIT_MSGQUEUE"}, {"nice", "RLIMIT_NICE"},
    {"nofile", "RLIMIT_NOFILE"},     {"nproc", "RLIMIT_NPROC"},
    {"rss", "RLIMIT_RSS"},           {"rtprio", "RLIMIT_RTPRIO"},
    {"rttime", "RLIMIT_RTTIME"},     {"sigpending", "RLIMIT_SIGPENDING"},
    {"stack", "RLIMIT_STACK"},
};

bool NameChar(char c, bool first) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return !first && (c == '_' || c == '.' || c == '-');
}

}  // namespace

Result<int64_t> ParseMemoryBytes(std::string_view text) {
  std::string s(text);
  // go-units parseSize: the number runs up to the last digit, dot or space.
  size_t sep = s.find_last_of("0123456789. ");
  if (sep == std::string::npos) return MakeError(0, "invalid size: '%s'", s.c_str());
  std::string num = s[sep] == ' ' ? s.substr(0, sep) : s.substr(0, sep + 1);
  std::string sfx = s.substr(sep + 1);
  char* end = nullptr;
  errno = 0;
  double size = num.empty() ? 0 : std::strtod(num.c_str(), &end);
  if (num.empty() || errno != 0 || end != num.c_str() + num.size() || std::isnan(size) ||
      size < 0 || std::isspace(static_cast<unsigned char>(num[0])))
    return MakeError(0, "invalid size: '%s'", s.c_str());
  if (!sfx.empty()) {
    std::string l = Lower(sfx);
    if (l.size() > 3) return MakeError(0, "invalid suffix: '%s'", l.c_str());
    if (l[0] == 'b') {
      if (l.size() > 1) return MakeError(0, "invalid suffix: '%s'", l.c_str());
    } else {
      static constexpr std::string_view kUnits = "kmgtp";
      size_t u = kUnits.find(l[0]);
      if (u == std::string_view::npos) return MakeError(0, "invalid suffix: '%s'", l.c_str());
      if ((l.size() == 2 && l[1] != 'b') || (l.size() == 3 && l.substr(1) != "ib"))
        return MakeError(0, "invalid suffix: '%s'", l.c_str());
      size *= std::pow(1024.0, static_cast<double>(u + 1));
    }
  }
  if (size >= 9.2233720368547758e18) return MakeError(0, "invalid size: '%s'", s.c_str());
  return static_cast<int64_t>(size);
}

Result<int64_t> ParseMemorySwap(std::string_view text) {
  if (text == "-1") return int64_t{-1};
  return ParseMemoryBytes(text);
}

Result<int64_t> ParseNanoCpus(std::string_view text) {
  // docker/cli opts.NanoCPUs: a big.Rat times 1e9 that must come out whole. Decimal forms
  // only here (big.Rat also takes "3/2", which nobody types).
  std::string s(text);
  auto bad = [&] { return MakeError(0, "failed to parse %s as a rational number", s.c_str()); };
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  size_t int_start = i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  std::string int_part = s.substr(int_start, i - int_start);
  std::string frac;
  if (i < s.size() && s[i] == '.') {
    size_t f = ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    frac = s.substr(f, i - f);
  }
  if (i != s.size() || (int_part.empty() && frac.empty())) return bad();
  while (frac.size() > 9) {
    if (frac.back() != '0') return MakeError(0, "value is too precise");
    frac.pop_back();
  }
  frac.resize(9, '0');
  if (int_part.size() > 9) return bad();  // more CPUs than any machine; avoids overflow
  int64_t whole = int_part.empty() ? 0 : std::stoll(int_part);
  int64_t nano = whole * 1000000000LL + std::stoll(frac);
  return neg ? -nano : nano;
}

CpuQuota NanoCpusToQuota(int64_t nano_cpus) {
  constexpr int64_t kPeriod = 100000;
  return {nano_cpus * kPeriod / 1000000000LL, static_cast<uint64_t>(kPeriod)};
}

std::string RlimitName(const std::string& docker_name) {
  for (const auto& u : kUlimits)
    if (docker_name == u.docker) return u.oci;
  return "";
}

Result<Ulimit> ParseUlimit(std::string_view text) {
  std::string s(text);
  size_t eq = s.find('=');
  if (eq == std::string::npos) return MakeError(0, "invalid ulimit argument: %s", s.c_str());
  Ulimit u;
  u.name = s.substr(0, eq);
  if (RlimitName(u.name).empty()) return MakeError(0, "invalid ulimit type: %s", u.name.c_str());
  std::string vals = s.substr(eq + 1);
  size_t colon = vals.find(':');
  std::string soft = vals.substr(0, colon);
  std::string hard = colon == std::string::npos ? soft : vals.substr(colon + 1);
  if (hard.find(':') != std::string::npos)
    return MakeError(0,
                     "too many limit value arguments - %s, can only have up to two, "
                     "`soft[:hard]`",
                     vals.c_str());
  if (!ParseInt64(soft, &u.soft) || !ParseInt64(hard, &u.hard))
    return MakeError(0, "invalid ulimit argument: %s", s.c_str());
  if (u.hard != -1 && (u.soft == -1 || u.soft > u.hard))
    return MakeError(0, "ulimit soft limit must be less than or equal to hard limit: %lld > %lld",
                     static_cast<long long>(u.soft), static_cast<long long>(u.hard));
  return u;
}

Result<RestartPolicy> ParseRestartPolicy(std::string_view text) {
  std::string s(text);
  size_t colon = s.find(':');
  std::string name = s.substr(0, colon);
  if (colon != std::string::npos && name.empty())
    return MakeError(0, "invalid restart policy format: no policy provided before colon");
  RestartPolicy p;
  std::string count = colon == std::string::npos ? "" : s.substr(colon + 1);
  if (!count.empty()) {
    int64_t n = 0;
    if (!ParseInt64(count, &n) || n > INT32_MAX || n < INT32_MIN)
      return MakeError(0, "invalid restart policy format: maximum retry count must be an integer");
    if (n < 0)
      return MakeError(0, "invalid restart policy: maximum retry count cannot be negative");
    p.max_retries = static_cast<int>(n);
  }
  if (name == "" || name == "no") {
    p.mode = RestartMode::kNo;
  } else if (name == "always") {
    p.mode = RestartMode::kAlways;
  } else if (name == "unless-stopped") {
    p.mode = RestartMode::kUnlessStopped;
  } else if (name == "on-failure") {
    p.mode = RestartMode::kOnFailure;
  } else {
    return MakeError(0,
                     "invalid restart policy: unknown policy '%s'; use one of 'no', 'always', "
                     "'on-failure', or 'unless-stopped'",
                     name.c_str());
  }
  if (!count.empty() && p.mode != RestartMode::kOnFailure)
    return MakeError(0,
                     "invalid restart policy: maximum retry count can only be used with "
                     "'on-failure'");
  return p;
}

Result<NetworkMode> ParseNetworkMode(std::string_view text) {
  if (text == "" || text == "default" || text == "bridge") return NetworkMode::kDefault;
  if (text == "none") return NetworkMode::kNone;
  if (text == "host") return NetworkMode::kHost;
  std::string s(text);
  return MakeError(0, "network %s not found (skiff supports none, host and bridge)", s.c_str());
}

Result<Isolation> ParseIsolation(std::string_view text) {
  if (text == "" || text == "default") return Isolation::kDefault;
  if (text == "chroot") return Isolation::kChroot;
  std::string s(text);
  return MakeError(0, "invalid isolation: %s (use default or chroot)", s.c_str());
}

Result<PullPolicy> ParsePullPolicy(std::string_view text) {
  if (text == "missing") return PullPolicy::kMissing;
  if (text == "always") return PullPolicy::kAlways;
  if (text == "never") return PullPolicy::kNever;
  std::string s(text);
  return MakeError(0,
                   "invalid pull option: '%s': must be one of \"always\", \"missing\" or "
                   "\"never\"",
                   s.c_str());
}

Status ApplySecurityOpt(std::string_view text, SecurityOptions* out) {
  std::string s(text);
  // Docker takes "key=value" and the legacy "key:value".
  size_t sep = s.find_first_of("=:");
  std::string key = s.substr(0, sep);
  std::string value = sep == std::string::npos ? "" : s.substr(sep + 1);
  if (key == "no-new-privileges") {
    if (sep == std::string::npos) {
      out->no_new_privileges = true;
      return Ok();
    }
    auto b = ParseGoBool(value);
    if (!b) return MakeError(0, "invalid --security-opt 2: \"%s\"", s.c_str());
    out->no_new_privileges = *b;
    return Ok();
  }
  if (key == "seccomp" && sep != std::string::npos && !value.empty()) {
    out->seccomp_unconfined = value == "unconfined";
    out->seccomp_profile = out->seccomp_unconfined ? "" : value;
    return Ok();
  }
  if (key == "label" || key == "apparmor")
    return MakeError(0, "--security-opt %s: not supported by skiff (no LSM support yet)",
                     key.c_str());
  return MakeError(0, "invalid --security-opt 1: \"%s\"", s.c_str());
}

Status ValidateVolumeName(std::string_view name) {
  bool ok = !name.empty();
  for (size_t i = 0; ok && i < name.size(); ++i) ok = NameChar(name[i], i == 0);
  if (ok) return Ok();
  std::string n(name);
  return MakeError(0,
                   "\"%s\" includes invalid characters for a local volume name, only "
                   "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host "
                   "directory, use absolute path",
                   n.c_str());
}

Status ValidateContainerName(std::string_view name) {
  std::string_view n = name;
  if (!n.empty() && n[0] == '/') n.remove_prefix(1);
  bool ok = n.size() >= 2;
  for (size_t i = 0; ok && i < n.size(); ++i) ok = NameChar(n[i], i == 0);
  if (ok) return Ok();
  std::string s(name);
  return MakeError(0, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                   s.c_str());
}

EnvLookup HostEnvLookup() {
  return [](const std::string& key) -> std::optional<std::string> {
    const char* v = ::getenv(key.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

Result<std::string> ResolveEnvFlag(std::string_view value, const EnvLookup& lookup) {
  std::string s(value);
  size_t eq = s.find('=');
  if (eq == 0) return MakeError(0, "invalid environment variable: %s", s.c_str());
  if (eq != std::string::npos) return s;
  if (auto v = lookup(s)) return s + "=" + *v;
  return s;
}

Result<std::vector<std::string>> ParseEnvFile(std::string_view content, const EnvLookup& lookup) {
  // docker/cli opts/envfile.go (parseKeyValueFile).
  std::vector<std::string> out;
  size_t pos = 0;
  int line_no = 0;
  while (pos <= content.size()) {
    size_t nl = content.find('\n', pos);
    std::string_view raw =
        content.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? content.size() + 1 : nl + 1;
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    size_t lead = 0;
    while (lead < raw.size() && std::isspace(static_cast<unsigned char>(raw[lead]))) ++lead;
    std::string_view line = raw.substr(lead);
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    std::string key(line.substr(0, eq));
    if (key.empty())
      return MakeError(0, "no variable name on line '%s'", std::string(line).c_str());
    for (char c : key)
      if (std::isspace(static_cast<unsigned char>(c)))
        return MakeError(0, "variable '%s' contains whitespaces", key.c_str());
    if (eq != std::string_view::npos) {
      out.emplace_back(line);
    } else if (auto v = lookup(key)) {
      out.push_back(key + "=" + *v);
    }
  }
  return out;
}

Status ValidateRunOptions(const RunOptions& o, int host_cpus) {
  if (!o.name.empty()) TRY(ValidateContainerName(o.name));
  if (o.auto_remove && o.restart.mode != RestartMode::kNo)
    return MakeError(0, "Conflicting options: --restart and --rm");
  constexpr int64_t kMinMemory = 6 * 1024 * 1024;
  if (o.memory != 0 && o.memory < kMinMemory)
    return MakeError(0, "Minimum memory limit allowed is 6MB");
  if (o.memory == 0 && o.memory_swap > 0)
    return MakeError(0,
                     "You should always set the Memory limit when using Memoryswap limit, "
                     "see usage");
  if (o.memory > 0 && o.memory_swap > 0 && o.memory_swap < o.memory)
    return MakeError(0, "Minimum memoryswap limit should be larger than memory limit, see usage");
  if (o.nano_cpus < 0 || (host_cpus > 0 && o.nano_cpus > int64_t{host_cpus} * 1000000000LL))
    return MakeError(0, "range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available",
                     host_cpus, host_cpus);
  if (o.nano_cpus > 0 && NanoCpusToQuota(o.nano_cpus).quota < 1000)
    return MakeError(0, "CPU cfs quota can not be less than 1ms (i.e. 1000)");
  if (o.shm_size < 0) return MakeError(0, "SHM size can not be less than 0");
  if (o.isolation == Isolation::kChroot) {
    if (o.memory || o.memory_swap || o.nano_cpus || o.cpu_shares || !o.cpuset_cpus.empty() ||
        o.pids_limit > 0)
      return MakeError(0,
                       "--isolation chroot: resource limits (-m, --cpus, --pids-limit ...) "
                       "need cgroups, which chroot isolation doesn't set up");
    if (o.privileged) return MakeError(0, "--isolation chroot: --privileged makes no sense here");
  }
  if (o.isolation == Isolation::kChroot && o.network != NetworkMode::kDefault &&
      o.network != NetworkMode::kHost)
    return MakeError(0,
                     "--isolation chroot shares the host's network: --network none needs a "
                     "network namespace");
  return Ok();
}

}  // namespace skiff::engine
