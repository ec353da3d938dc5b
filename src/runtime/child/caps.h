// Capabilities: the child half (STYLE.md rule 6). Names are resolved to masks in the
// parent (runtime/caps.h, with libcap); the child applies them with prctl and the raw
// capset(2) syscall, in two steps around the uid switch:
//
//   DropBounding(c)      // needs CAP_SETPCAP; also sets PR_SET_KEEPCAPS so that
//   setresgid/setresuid  // the switch away from uid 0 keeps the permitted set
//   SetCapabilities(c)   // capset e/p/i, clear KEEPCAPS, reset and raise ambient
//
// ApplyCapabilities does both when there is no uid switch in between.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"

namespace skiff::runtime {

// Bit n of each mask is capability n.
struct CapSets {
  uint64_t bounding = 0;
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
  uint64_t ambient = 0;
  // The kernel's highest capability (/proc/sys/kernel/cap_last_cap), read by the parent:
  // the child may no longer see the host's /proc.
  int last_cap = 0;
  // Parent-only: names the parent could not resolve or the kernel lacks, skipped so the
  // caller can warn (as runc does). The child never reads it.
  std::vector<std::string> unknown;
  // Parent-only: known capabilities the runtime cannot grant (not in its own bounding set),
  // removed from every set with a warning (config.md: SHOULD NOT fail for these).
  std::vector<std::string> ungranted;
};

namespace child {

// Drops from the bounding set every capability up to last_cap that is not in c.bounding,
// then sets PR_SET_KEEPCAPS so that a following setuid away from 0 keeps the permitted set.
Status DropBounding(const CapSets& c);
// Sets effective, permitted and inheritable with capset(2), clears PR_SET_KEEPCAPS, clears
// the ambient set and raises each ambient capability (each must be in permitted and
// inheritable, or the kernel refuses it with EPERM).
Status SetCapabilities(const CapSets& c);
// DropBounding then SetCapabilities, for a process that keeps its uid.
Status ApplyCapabilities(const CapSets& c);

}  // namespace child
}  // namespace skiff::runtime
