// Capabilities: the parent half. Resolves the names of process.capabilities to masks
// before clone, so the child applies plain numbers (runtime/child/caps.h).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"
#include "runtime/child/caps.h"

namespace skiff::runtime {

// The kernel's highest capability number, from /proc/sys/kernel/cap_last_cap.
Result<int> KernelLastCap();

// "CAP_CHOWN" ... for every capability both libcap and the kernel know (features lists them).
std::vector<std::string> KnownCapabilityNames();

// Resolves each name ("CAP_CHOWN") with libcap. A name libcap does not know, or one above
// the kernel's last capability, is skipped and listed in CapSets::unknown: profiles name
// capabilities newer kernels added, and runc warns about them instead of failing.
Result<CapSets> ResolveCapabilities(const oci::Capabilities& caps);
// The same against a given last capability (for tests, and for callers that read it once).
CapSets ResolveCapabilities(const oci::Capabilities& caps, int last_cap);

}  // namespace skiff::runtime
