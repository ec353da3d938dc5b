// The registry settings a user sets in skiff's config file, with the key of Docker's
// daemon.json: {"insecure-registries": ["reg.lan:5000", "10.0.0.0/8", "fd00::/8"]}. Read only
// when a registry is contacted (Registry::Open), never at start: a command that talks to no
// registry (a container start) opens no file for it.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace skiff::image {

// Where the config is: $SKIFF_CONFIG when set (then it must exist, as a file named on
// purpose); else, for a user other than root, $XDG_CONFIG_HOME/skiff/config.json (or
// ~/.config/skiff/config.json) when it exists, as podman's per-user registries.conf; else
// /etc/skiff/config.json. A default file that is missing is an empty config.
struct ConfigFile {
  std::string path;
  bool must_exist = false;
};
ConfigFile FindConfigFile(bool root);

struct RegistryConfig {
  std::vector<std::string> insecure_registries;  // as CheckInsecureRegistry returns them
};

// The config in text, read from file (which errors name): an object whose
// "insecure-registries", when there, is an array of entries CheckInsecureRegistry takes.
// Other keys are left for other parts of skiff (and a daemon.json copied over works).
Result<RegistryConfig> ParseRegistryConfig(const std::string& text, const std::string& file);
Result<RegistryConfig> LoadRegistryConfig(const ConfigFile& f);

// An insecure-registries entry checked as Docker checks one: "host" or "host:port" (a name,
// an IPv4 address, an IPv6 one in brackets or bare), or a CIDR ("10.0.0.0/8", "fd00::/8").
// "http://" or "https://" before it is dropped, as Docker does; other URL parts are refused.
// Returns the entry as matched (names lowercased, a bare IPv6 address in brackets).
Result<std::string> CheckInsecureRegistry(const std::string& entry);

// Whether a registry host (a reference's domain: "host", "host:port", "[v6]:port") is what a
// checked entry names: the same host and port; the same host when the entry has no port; an
// address inside the CIDR. Names are never resolved: a CIDR matches IP literals only.
bool MatchesInsecureRegistry(const std::string& host, const std::string& entry);

}  // namespace skiff::image
