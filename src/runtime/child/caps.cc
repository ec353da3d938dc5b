#include "runtime/child/caps.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace skiff::runtime::child {

namespace {

bool Has(uint64_t mask, int cap) { return (mask >> cap) & 1; }

}  // namespace

Status DropBounding(const CapSets& c) {
  for (int cap = 0; cap <= c.last_cap && cap < 64; ++cap) {
    if (Has(c.bounding, cap)) continue;
    // EINVAL: a capability this kernel does not know, nothing to drop.
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
      return Errno("drop capability %d from the bounding set", cap);
    }
  }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return Errno("prctl(PR_SET_KEEPCAPS, 1)");
  return Ok();
}

Status SetCapabilities(const CapSets& c) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  // Version 3 splits each 64-bit set into two 32-bit words, low word first.
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
    data[i].effective = static_cast<uint32_t>(c.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(c.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(c.inheritable >> (32 * i));
  }
  if (syscall(SYS_capset, &header, data) < 0) {
    return Errno("capset(eff 0x%llx, prm 0x%llx, inh 0x%llx)",
                 static_cast<unsigned long long>(c.effective),
                 static_cast<unsigned long long>(c.permitted),
                 static_cast<unsigned long long>(c.inheritable));
  }
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return Errno("prctl(PR_SET_KEEPCAPS, 0)");
  // The ambient set is cleared first: an inherited ambient capability would otherwise
  // survive execve although the spec does not list it.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
    return Errno("clear the ambient capabilities");
  }
  for (int cap = 0; cap <= c.last_cap && cap < 64; ++cap) {
    if (!Has(c.ambient, cap)) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
      return Errno("raise ambient capability %d", cap);
    }
  }
  return Ok();
}

Status ApplyCapabilities(const CapSets& c) {
  TRY(DropBounding(c));
  return SetCapabilities(c);
}

}  // namespace skiff::runtime::child
