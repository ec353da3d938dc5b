#include "image/registry_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/file.h"

namespace skiff::image {

namespace {

using json = nlohmann::json;

struct HostPort {
  std::string host;  // an IPv6 address keeps its brackets
  std::string port;  // "" when there is none
};

// "reg:5000" -> {reg, 5000}; "[::1]:5000" -> {[::1], 5000}; a bare "fd00::1" -> {[fd00::1]};
// nullopt for what can't be split ("[::1", "[::1]x").
std::optional<HostPort> SplitHostPort(const std::string& s) {
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos) return std::nullopt;
    std::string rest = s.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return std::nullopt;
    return HostPort{s.substr(0, close + 1), rest.empty() ? "" : rest.substr(1)};
  }
  size_t colons = std::count(s.begin(), s.end(), ':');
  if (colons == 1) return HostPort{s.substr(0, s.find(':')), s.substr(s.find(':') + 1)};
  if (colons > 1) return HostPort{"[" + s + "]", ""};
  return HostPort{s, ""};
}

// An IP literal: 4 or 16 bytes, v6 only in brackets (as a host is written) or bare (as in
// a CIDR).
struct Address {
  int family = 0;
  unsigned char bytes[16] = {};
};

std::optional<Address> ParseAddress(std::string s) {
  Address a;
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') {
    s = s.substr(1, s.size() - 2);
    if (inet_pton(AF_INET6, s.c_str(), a.bytes) != 1) return std::nullopt;
    a.family = AF_INET6;
    return a;
  }
  if (inet_pton(AF_INET, s.c_str(), a.bytes) == 1) {
    a.family = AF_INET;
  } else if (inet_pton(AF_INET6, s.c_str(), a.bytes) == 1) {
    a.family = AF_INET6;
  } else {
    return std::nullopt;
  }
  return a;
}

int Bits(const Address& a) { return a.family == AF_INET ? 32 : 128; }

// "10.0.0.0/8" -> the address and the prefix length; nullopt if it is not a CIDR.
std::optional<std::pair<Address, int>> ParseCidr(const std::string& s) {
  size_t slash = s.find('/');
  std::string bits = s.substr(slash + 1);
  auto a = ParseAddress(s.substr(0, slash));
  if (!a || (!s.empty() && s[0] == '[') || bits.empty() || bits.size() > 3 ||
      !std::all_of(bits.begin(), bits.end(), ::isdigit) || std::stoi(bits) > Bits(*a))
    return std::nullopt;
  return std::make_pair(*a, std::stoi(bits));
}

bool InPrefix(const Address& a, const Address& net, int bits) {
  if (a.family != net.family) return false;
  int whole = bits / 8, rest = bits % 8;
  if (std::memcmp(a.bytes, net.bytes, whole) != 0) return false;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a.bytes[whole] & mask) == (net.bytes[whole] & mask);
}

// distribution's domain name: dot-separated labels of letters, digits and inner dashes.
bool IsHostName(const std::string& s) {
  size_t start = 0;
  while (true) {
    size_t end = s.find('.', start);
    std::string label = s.substr(start, end == std::string::npos ? end : end - start);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    if (end == std::string::npos) return true;
    start = end + 1;
  }
}

bool IsPort(const std::string& p) {
  return !p.empty() && p.size() <= 5 && std::all_of(p.begin(), p.end(), ::isdigit) &&
         std::stoi(p) >= 1 && std::stoi(p) <= 65535;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

ConfigFile FindConfigFile(bool root) {
  if (const char* p = std::getenv("SKIFF_CONFIG"); p && *p) return {p, true};
  if (!root) {
    std::string dir;
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) {
      dir = x;
    } else if (const char* home = std::getenv("HOME"); home && *home) {
      dir = std::string(home) + "/.config";
    }
    std::string user = dir + "/skiff/config.json";
    if (!dir.empty() && PathExists(user)) return {user, false};
  }
  return {"/etc/skiff/config.json", false};
}

Result<std::string> CheckInsecureRegistry(const std::string& entry) {
  std::string e = Lower(entry);
  for (const char* scheme : {"http://", "https://"})
    if (e.rfind(scheme, 0) == 0) e = e.substr(std::strlen(scheme));
  if (e.find("://") != std::string::npos)
    return MakeError(0, "\"%s\": a host[:port] or a CIDR, not a URL", entry.c_str());
  if (e.find('/') != std::string::npos) {
    if (!ParseCidr(e)) return MakeError(0, "\"%s\": invalid CIDR", entry.c_str());
    return e;
  }
  auto hp = SplitHostPort(e);
  if (!hp || (!IsHostName(hp->host) && !ParseAddress(hp->host)))
    return MakeError(0, "\"%s\": invalid host", entry.c_str());
  if (!hp->port.empty() || e.back() == ':') {
    if (!IsPort(hp->port)) return MakeError(0, "\"%s\": invalid port", entry.c_str());
    return hp->host + ":" + hp->port;
  }
  return hp->host;
}

bool MatchesInsecureRegistry(const std::string& host, const std::string& entry) {
  auto hp = SplitHostPort(Lower(host));
  if (!hp) return false;
  if (entry.find('/') != std::string::npos) {
    auto cidr = ParseCidr(entry);
    auto a = ParseAddress(hp->host);
    return cidr && a && InPrefix(*a, cidr->first, cidr->second);
  }
  auto want = SplitHostPort(entry);
  return want && want->host == hp->host && (want->port.empty() || want->port == hp->port);
}

Result<RegistryConfig> ParseRegistryConfig(const std::string& text, const std::string& file) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return MakeError(0, "%s: invalid JSON: %s", file.c_str(), e.what());
  }
  if (!j.is_object())
    return MakeError(0, "%s: expected a JSON object, not %s", file.c_str(), j.type_name());
  RegistryConfig c;
  auto it = j.find("insecure-registries");
  if (it == j.end()) return c;
  const char* key = "insecure-registries";
  if (!it->is_array())
    return MakeError(0, "%s: %s: expected an array of strings, not %s", file.c_str(), key,
                     it->type_name());
  for (const auto& v : *it) {
    if (!v.is_string())
      return MakeError(0, "%s: %s: expected strings, not %s %s", file.c_str(), key,
                       v.type_name(), v.dump().c_str());
    auto e = CheckInsecureRegistry(v.get<std::string>());
    if (!e.ok()) return std::move(e).error().Wrapf("%s: %s", file.c_str(), key);
    c.insecure_registries.push_back(std::move(*e));
  }
  return c;
}

Result<RegistryConfig> LoadRegistryConfig(const ConfigFile& f) {
  auto text = ReadFile(f.path);
  if (!text.ok()) {
    if (text.error().code == ENOENT && !f.must_exist) return RegistryConfig{};
    return std::move(text).error();
  }
  return ParseRegistryConfig(*text, f.path);
}

}  // namespace skiff::image
