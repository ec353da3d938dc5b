// What the kernel under skiff offers, found by asking it (skiff info): cgroup layout and
// controllers, overlayfs, namespaces, seccomp, the syscalls skiff prefers (clone3,
// openat2, pidfd) and the store's contents.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace skiff::engine {

struct HostInfo {
  std::string kernel;  // uname release
  std::string os;      // PRETTY_NAME of /etc/os-release
  std::string arch;
  int cpus = 0;
  int64_t mem_total = 0;
  std::string cgroup_layout;  // "v1", "v2", "hybrid"
  std::vector<std::string> cgroup_controllers;
  bool overlayfs = false;
  std::vector<std::string> namespaces;  // the kinds /proc/self/ns shows
  bool seccomp = false;
  bool seccomp_notify = false;
  bool clone3 = false, openat2 = false, pidfd = false, close_range = false;
  bool rootless = false;
  std::string root;
  int images = 0;
};

Result<HostInfo> ProbeHost(const std::string& root);
std::string HostInfoJson(const HostInfo& h);
std::string HostInfoText(const HostInfo& h);

}  // namespace skiff::engine
