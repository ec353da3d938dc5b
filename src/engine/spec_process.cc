// The process part of the generated spec: args, env, capabilities (moby's
// daemon/container.go, container/env.go and oci/caps).
#include <algorithm>
#include <cctype>
#include <map>

#include "engine/spec_gen.h"

namespace skiff::engine {
namespace {

// Every capability up to CAP_CHECKPOINT_RESTORE (40), in number order. The runtime skips
// those above the kernel's cap_last_cap and those the caller lacks (CAP_SYS_RESOURCE on
// this machine), with a warning, as runc does.
const char* const kAllCapabilities[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

// moby oci/caps/defaults.go, in its order.
const char* const kDockerDefaultCaps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

std::string EnvKey(const std::string& e) { return e.substr(0, e.find('=')); }

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// "net_admin", "CAP_NET_ADMIN", "Net_Admin" -> "CAP_NET_ADMIN"; "all" -> "ALL".
Result<std::vector<std::string>> NormalizeCaps(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& name : in) {
    std::string c = name;
    for (char& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (c != "ALL" && c.rfind("CAP_", 0) != 0) c = "CAP_" + c;
    if (c != "ALL" &&
        !Contains(
            std::vector<std::string>(std::begin(kAllCapabilities), std::end(kAllCapabilities)), c))
      return MakeError(0, "unknown capability: \"%s\"", c.c_str());
    if (!Contains(out, c)) out.push_back(c);
  }
  return out;
}

}  // namespace

std::vector<std::string> DockerDefaultCapabilities() {
  return {std::begin(kDockerDefaultCaps), std::end(kDockerDefaultCaps)};
}

Result<std::vector<std::string>> ContainerCapabilities(const RunOptions& opts) {
  std::vector<std::string> all(std::begin(kAllCapabilities), std::end(kAllCapabilities));
  if (opts.privileged) return all;
  std::vector<std::string> add = TRY(NormalizeCaps(opts.cap_add));
  std::vector<std::string> drop = TRY(NormalizeCaps(opts.cap_drop));
  std::vector<std::string> out;
  if (Contains(add, "ALL")) {
    for (const auto& c : all)
      if (!Contains(drop, c)) out.push_back(c);
    return out;
  }
  if (!Contains(drop, "ALL"))
    for (const auto& c : DockerDefaultCapabilities())
      if (!Contains(drop, c)) out.push_back(c);
  // With --cap-drop ALL only the added ones remain (added after dropping, as Docker).
  for (const auto& c : add)
    if (!Contains(out, c)) out.push_back(c);
  return out;
}

Result<std::vector<std::string>> ProcessArgs(const oci::ContainerConfig& image,
                                             const RunOptions& opts) {
  std::vector<std::string> entrypoint = image.entrypoint;
  std::vector<std::string> cmd = image.cmd;
  if (opts.entrypoint) {
    // docker/cli: a single string, not split; "" resets it. Docker's docs: "Passing
    // --entrypoint will clear out any default command set on the image".
    entrypoint.clear();
    if (!opts.entrypoint->empty()) entrypoint.push_back(*opts.entrypoint);
    cmd.clear();
  }
  if (!opts.args.empty()) cmd = opts.args;
  std::vector<std::string> args = entrypoint;
  args.insert(args.end(), cmd.begin(), cmd.end());
  if (args.empty()) return MakeError(0, "no command specified");
  return args;
}

std::vector<std::string> ContainerEnv(const std::vector<std::string>& image_env,
                                      const std::vector<std::string>& flag_env,
                                      const std::string& hostname, bool tty,
                                      const std::string& home) {
  // moby daemon/commit.go merge(): the flags' entries, then the image's whose key no flag
  // names (a bare "KEY" flag thereby hides the image's KEY).
  std::vector<std::string> config = flag_env;
  for (const auto& e : image_env) {
    bool found = false;
    for (const auto& f : flag_env) found = found || EnvKey(f) == EnvKey(e);
    if (!found) config.push_back(e);
  }
  // container.CreateDaemonEnvironment then ReplaceOrAppendEnvValues(defaults, config).
  std::vector<std::string> env = {kDefaultPath, "HOSTNAME=" + hostname};
  if (tty) env.push_back("TERM=xterm");
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < env.size(); ++i) index[EnvKey(env[i])] = i;
  std::vector<bool> removed(env.size(), false);
  for (const auto& e : config) {
    size_t eq = e.find('=');
    auto it = index.find(EnvKey(e));
    if (eq == std::string::npos) {
      if (it != index.end() && it->second < removed.size()) removed[it->second] = true;
      continue;
    }
    if (it != index.end()) {
      env[it->second] = e;
      if (it->second < removed.size()) removed[it->second] = false;
    } else {
      index[EnvKey(e)] = env.size();
      env.push_back(e);
    }
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < env.size(); ++i)
    if (i >= removed.size() || !removed[i]) out.push_back(env[i]);
  bool has_home = false;
  for (const auto& e : out) has_home = has_home || EnvKey(e) == "HOME";
  if (!has_home && !home.empty()) out.push_back("HOME=" + home);
  return out;
}

}  // namespace skiff::engine
