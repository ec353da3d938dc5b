// Shared by create and run: a container process that has finished setup and waits.
#pragma once

#include <memory>

#include "base/fd.h"
#include "cgroup/manager.h"
#include "oci/spec.h"
#include "runtime/container.h"
#include "runtime/state.h"

namespace skiff::runtime {

struct Created {
  ContainerState state;
  OwnedPid pid;        // killed and reaped unless released
  UniqueFd sync_fd;    // run sends kStart here
  UniqueFd dir_fd;     // the state directory, locked
  std::unique_ptr<cgroup::Manager> cgroup;
  oci::Spec spec;
  UniqueFd console_master;  // run in the foreground with a terminal: we proxy it
};

// The cgroup's resources: the spec's, and the device rules as runc has them (deny all, the
// spec's rules, the default devices, the spec's devices), each rule that would change
// nothing left out (an engine's spec lists the default devices too).
oci::Resources ResourcesWithDefaults(const oci::Spec& spec);

// for_run: the start signal comes over the sync socket instead of start.sock.
Result<Created> CreateContainer(const CreateOptions& opts, bool for_run);

}  // namespace skiff::runtime
