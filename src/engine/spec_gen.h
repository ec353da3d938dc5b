// Image config + `skiff run` flags -> the OCI runtime spec (config.json) that the engine
// writes into the container's bundle: what moby's daemon/oci_linux.go does, for Linux.
//
// The spec is Docker's for the same flags: the 14 default capabilities in bounding,
// effective and permitted (not inheritable or ambient, as Docker 20.10+), Docker's default
// seccomp profile (runtime::DefaultSeccompProfile, resolved for the final capabilities),
// Docker's masked and read-only /proc and /sys paths, Docker's default mounts and device
// allowlist, namespaces mount, network, uts, pid, ipc (and cgroup on a pure cgroup v2 host,
// where Docker defaults to a private cgroup namespace).
//
// --isolation chroot is NOT a security boundary. It keeps only a mount namespace (so the
// rootfs mounts and pivot_root don't touch the host's mount table) and otherwise shares the
// host's pid, network, ipc, uts, cgroup and user namespaces; no cgroup is asked for and no
// resource limits can be set. It still applies the default capabilities, seccomp profile
// and masked paths, which cost nothing and only take away power. Use it where namespaces
// are not available (inside some CI sandboxes), never to contain untrusted code.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/run_options.h"
#include "engine/users.h"
#include "oci/image_spec.h"
#include "oci/spec.h"

namespace skiff::engine {

// What the engine resolved before generating the spec (filesystem and host facts).
struct SpecInputs {
  std::string id;      // the container id (64 hex): hostname default, cgroup path
  std::string rootfs;  // root.path: the overlay mount point, or a path relative to the bundle
  ResolvedUser user;   // from ResolveUser(rootfs, opts.user or the image's User)
  // Host directory of each volume mount, by mount target: named volumes, anonymous ones
  // and the image's VOLUMEs (an image VOLUME without an entry here is not mounted).
  std::map<std::string, std::string> volume_paths;
  std::string init_path;             // host path of skiff-init, for --init
  bool cgroup_v2_unified = false;    // pure cgroup v2 host: a private cgroup namespace
  bool swap_limit_supported = true;  // memory.memsw / memory.swap.max exist
  std::string host_hostname;         // the hostname --network host containers get
  std::string seccomp_profile_json;  // the file --security-opt seccomp=FILE names, read
  // Host files bind-mounted over /etc/resolv.conf, /etc/hostname, /etc/hosts; "" = none.
  std::string resolv_conf_path, hostname_path, hosts_path;
  std::string cgroup_parent = "/skiff";   // linux.cgroupsPath = cgroup_parent/id
  std::vector<oci::Device> host_devices;  // --privileged: the host's device nodes
};

inline constexpr const char* kInitPathInContainer = "/sbin/skiff-init";
inline constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct GeneratedSpec {
  std::string json;                   // config.json text
  oci::Spec spec;                     // the same, parsed back and validated
  std::vector<std::string> warnings;  // what Docker warns about (swap limit unsupported...)
};

Result<GeneratedSpec> GenerateSpec(const oci::ImageConfig& image, const RunOptions& opts,
                                   const SpecInputs& in);

// Docker's combination of ENTRYPOINT, CMD, --entrypoint and the arguments: --entrypoint
// replaces the image's entrypoint and drops its Cmd; arguments replace Cmd. Nothing left:
// "no command specified".
Result<std::vector<std::string>> ProcessArgs(const oci::ContainerConfig& image,
                                             const RunOptions& opts);

// Docker's environment: PATH (default when neither image nor flags set it), HOSTNAME,
// TERM=xterm with -t, then the image's Env overridden by -e/--env-file by key; a flag
// "KEY" without "=" removes KEY. HOME from passwd is added when nobody set it (runc does
// that in its init; skiff's runtime takes the env as is).
std::vector<std::string> ContainerEnv(const std::vector<std::string>& image_env,
                                      const std::vector<std::string>& flag_env,
                                      const std::string& hostname, bool tty,
                                      const std::string& home);

// The capability set after --privileged, --cap-add and --cap-drop (Docker's
// TweakCapabilities): names with or without CAP_, any case, ALL. Unknown names:
// `unknown capability: "CAP_FOO"`.
Result<std::vector<std::string>> ContainerCapabilities(const RunOptions& opts);
std::vector<std::string> DockerDefaultCapabilities();

}  // namespace skiff::engine
