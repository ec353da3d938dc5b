// Seccomp: the parent half. Compiles linux.seccomp into a classic BPF program with
// libseccomp before clone (STYLE.md rule 6); the child loads it with
// child::LoadSeccomp right before execve.
#pragma once

#include "base/fd.h"
#include "runtime/plan.h"

#include <string>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"
#include "runtime/child/seccomp_load.h"

namespace skiff::runtime {

// Builds the filter the spec describes. Syscall names this libseccomp does not know are
// skipped, as runc and crun do: profiles list syscalls of newer kernels and other
// architectures. An unknown action, operator, architecture or flag is an error naming the
// field: `linux.seccomp.syscalls[3].action: unknown action "X"`.
Result<SeccompProgram> CompileSeccomp(const oci::Seccomp& spec);

// CompileSeccomp through a cache in dir ("" = no cache): <dir>/<key>.bpf, where the key is
// the digest of every field of the spec that shapes the program, with libseccomp's version,
// API level and native architecture. A missing or malformed file is compiled and
// (best effort, atomically, mode 0600) written; dir is made 0700 when missing. After such a
// miss (never on a hit) the files of dir that this version would not write are removed:
// those of older versions, and temp files of killed writes once a minute old. The cache
// is as trusted as the runtime's state root it lives in.
Result<SeccompProgram> CompileSeccompCached(const oci::Seccomp& spec, const std::string& dir);
std::string SeccompCacheKey(const oci::Seccomp& spec);

// A profile equal in effect to Docker's default (moby profiles/seccomp/default.json),
// resolved as Docker resolves it for a container with the given capabilities
// ("CAP_SYS_ADMIN"...) on the architecture skiff was built for: defaultAction
// SCMP_ACT_ERRNO (EPERM), an allowlist, personality and socket restricted by argument,
// clone without namespace flags and clone3 failing with ENOSYS unless CAP_SYS_ADMIN is held,
// and the syscalls each capability needs allowed only with that capability.
oci::Seccomp DefaultSeccompProfile(const std::vector<std::string>& capabilities);

// With SCMP_ACT_NOTIFY rules: connects to listenerPath and fills in the plan's listener
// socket and message. Returns an invalid fd when the filter notifies nothing.
Result<UniqueFd> ConnectSeccompAgent(const oci::Spec& spec, const std::string& id,
                                     const std::string& bundle, ChildPlan* plan);

}  // namespace skiff::runtime
