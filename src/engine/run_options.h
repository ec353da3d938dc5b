// The engine's request for `skiff run` / `skiff create`: what the CLI fills from Docker's
// flags, and the parsers for the flags' value syntaxes. Errors use Docker's texts where
// Docker has one, so that scripts and muscle memory carry over; the CLI prefixes them with
// the flag (`invalid argument "64x" for "-m, --memory" flag: invalid size: '64x'`).
// Pure logic: nothing here touches the filesystem or the kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace skiff::engine {

enum class MountKind { kBind, kVolume, kTmpfs };

// One -v, --mount or --tmpfs, in command-line order.
struct MountRequest {
  MountKind kind = MountKind::kVolume;
  std::string source;  // bind: absolute host path; volume: name ("" = anonymous); tmpfs: ""
  std::string target;  // absolute, cleaned
  bool readonly = false;
  std::string propagation;  // bind: "" (= rprivate), private, rprivate, shared, rshared ...
  bool nocopy = false;      // volume: don't copy the image's content into a new volume
  // -v creates a missing bind source on the host (Docker's legacy behaviour); --mount
  // refuses it ("bind source path does not exist").
  bool create_source = false;
  // tmpfs: mount(2) data and flags, already merged over the defaults (--tmpfs), or
  // "size=N"/"mode=NNNN" from --mount's tmpfs-size/tmpfs-mode.
  std::vector<std::string> tmpfs_options;
};

struct Ulimit {
  std::string name;  // Docker's name: "nofile"
  int64_t soft = 0;  // -1 = unlimited
  int64_t hard = 0;
};

enum class RestartMode { kNo, kAlways, kOnFailure, kUnlessStopped };
struct RestartPolicy {
  RestartMode mode = RestartMode::kNo;
  int max_retries = 0;  // on-failure:N; 0 = no limit
};

// kDefault is Docker's bridge: a new network namespace that src/net will connect; until it
// exists, the namespace has only lo, as with none.
enum class NetworkMode { kDefault, kNone, kHost };
// kChroot: a mount namespace and a pivot_root, nothing else (see spec_gen.h). Not a
// security boundary.
enum class Isolation { kDefault, kChroot };
enum class PullPolicy { kMissing, kAlways, kNever };

struct SecurityOptions {
  bool no_new_privileges = false;
  bool seccomp_unconfined = false;
  std::string seccomp_profile;  // seccomp=FILE: the path as given
};

struct RunOptions {
  std::string image;              // as typed: "busybox", "alpine:3.20", "sha256:..."
  std::vector<std::string> args;  // after the image: replace the image's Cmd
  bool detach = false;            // -d
  bool interactive = false;       // -i
  bool tty = false;               // -t
  bool auto_remove = false;       // --rm
  std::string name;               // --name; "" = a generated adjective_surname
  // -e and --env-file in order, each "KEY=VAL", or "KEY" alone when the host had no KEY
  // (which unsets an image variable of that name, as in Docker).
  std::vector<std::string> env;
  std::vector<MountRequest> mounts;       // -v, --mount, --tmpfs in order
  std::string workdir;                    // -w
  std::string user;                       // -u: name, uid, name:group, uid:gid
  std::optional<std::string> entrypoint;  // --entrypoint; set (even to "") when given
  std::string hostname;                   // --hostname
  int64_t memory = 0;                     // -m, bytes; 0 = unlimited
  int64_t memory_swap = 0;                // --memory-swap, bytes; 0 = unset, -1 = unlimited
  int64_t nano_cpus = 0;                  // --cpus * 1e9
  uint64_t cpu_shares = 0;                // --cpu-shares; 0 = unset
  std::string cpuset_cpus;                // --cpuset-cpus
  int64_t pids_limit = 0;                 // --pids-limit; 0 or -1 = unlimited
  bool read_only = false;                 // --read-only
  std::vector<std::string> cap_add, cap_drop;
  bool privileged = false;
  SecurityOptions security;         // --security-opt
  bool init = false;                // --init
  std::vector<Ulimit> ulimits;      // --ulimit
  int64_t shm_size = 0;             // --shm-size, bytes; 0 = 64 MiB
  std::string stop_signal;          // --stop-signal; "" = the image's, else SIGTERM
  std::optional<int> stop_timeout;  // --stop-timeout, seconds; unset = 10
  RestartPolicy restart;
  PullPolicy pull = PullPolicy::kMissing;
  std::string platform;  // --platform "linux/arm64"
  NetworkMode network = NetworkMode::kDefault;
  Isolation isolation = Isolation::kDefault;
};

// Docker's RAMInBytes: "64m", "1g", "512k", "1.5GiB", "100" (bytes); binary units k m g t p,
// case-insensitive, with an optional "b" or "ib". Errors: "invalid size: '64x'" or
// "invalid suffix: 'x'".
Result<int64_t> ParseMemoryBytes(std::string_view text);
// --memory-swap: "-1" (unlimited) or a size.
Result<int64_t> ParseMemorySwap(std::string_view text);
// --cpus "1.5" -> 1500000000 nano CPUs ("failed to parse abc as a rational number",
// "value is too precise" past nine decimals).
Result<int64_t> ParseNanoCpus(std::string_view text);
struct CpuQuota {
  int64_t quota = 0;
  uint64_t period = 0;
};
// Docker's conversion: period 100000 us, quota = nano_cpus * period / 1e9.
CpuQuota NanoCpusToQuota(int64_t nano_cpus);
// --ulimit "nofile=1024:2048", "nproc=512" (soft = hard).
Result<Ulimit> ParseUlimit(std::string_view text);
// "nofile" -> "RLIMIT_NOFILE"; "" when unknown.
std::string RlimitName(const std::string& docker_name);
// --restart no | always | unless-stopped | on-failure[:N].
Result<RestartPolicy> ParseRestartPolicy(std::string_view text);
Result<NetworkMode> ParseNetworkMode(std::string_view text);
Result<Isolation> ParseIsolation(std::string_view text);
Result<PullPolicy> ParsePullPolicy(std::string_view text);
// --security-opt: no-new-privileges[:true|false|=true|=false], seccomp=unconfined,
// seccomp=FILE; applied over what earlier --security-opt flags set.
Status ApplySecurityOpt(std::string_view text, SecurityOptions* out);

// -v SRC:DST[:MODES], -v DST (an anonymous volume). SRC absolute = bind, else a named
// volume. MODES: ro|rw, z|Z (accepted, no SELinux here), nocopy, one propagation mode.
Result<MountRequest> ParseVolumeFlag(std::string_view text);
// --mount type=bind|volume|tmpfs,source=..,target=..,readonly,bind-propagation=..,
// volume-nocopy, tmpfs-size=.., tmpfs-mode=.. (CSV, type defaults to volume).
Result<MountRequest> ParseMountFlag(std::string_view text);
// --tmpfs DST[:OPTIONS], OPTIONS merged over Docker's noexec,nosuid,nodev.
Result<MountRequest> ParseTmpfsFlag(std::string_view text);
// Named volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
Status ValidateVolumeName(std::string_view name);
// Container names: /?[a-zA-Z0-9][a-zA-Z0-9_.-]+.
Status ValidateContainerName(std::string_view name);

// Looks a variable up in the caller's environment; tests pass a fake.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup HostEnvLookup();
// -e VALUE: "KEY=VAL" as is; "KEY" alone becomes "KEY=<host value>" when the host has it,
// and stays "KEY" (unset in the container) when not.
Result<std::string> ResolveEnvFlag(std::string_view value, const EnvLookup& lookup);
// --env-file content: one KEY=VAL per line, "KEY" alone takes the host's value (and is
// dropped when the host has none), blank lines and lines starting with # are skipped.
Result<std::vector<std::string>> ParseEnvFile(std::string_view content, const EnvLookup& lookup);

// Cross-flag checks Docker makes (client and daemon), with Docker's texts: --rm with a
// restart policy, --memory-swap without or below --memory, memory below 6 MB, --cpus over
// the host's CPUs (host_cpus 0 = don't check).
Status ValidateRunOptions(const RunOptions& opts, int host_cpus);

}  // namespace skiff::engine
