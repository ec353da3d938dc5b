#include "runtime/caps.h"

#include <sys/prctl.h>

#include <sys/capability.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "base/file.h"

namespace skiff::runtime {

namespace {

// Adds the names to *mask; a name that does not resolve goes once into *unknown.
void ResolveSet(const std::vector<std::string>& names, int last_cap, uint64_t* mask,
                std::vector<std::string>* unknown) {
  for (const std::string& name : names) {
    cap_value_t value = -1;
    // cap_from_name also takes numbers and lower case; the OCI spec says "CAP_" names, so
    // anything else is unknown rather than silently meaning capability 5.
    bool ok = name.rfind("CAP_", 0) == 0 && cap_from_name(name.c_str(), &value) == 0 &&
              value >= 0 && value <= last_cap && value < 64;
    if (ok) {
      *mask |= uint64_t{1} << value;
    } else if (std::find(unknown->begin(), unknown->end(), name) == unknown->end()) {
      unknown->push_back(name);
    }
  }
}

// libcap's name in the spec's upper case ("CAP_CHOWN"), or the number when it has none.
std::string CapName(int cap) {
  char* name = cap_to_name(static_cast<cap_value_t>(cap));
  std::string n = name ? name : std::to_string(cap);
  if (name) cap_free(name);
  for (auto& ch : n) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  return n;
}

}  // namespace

Result<int> KernelLastCap() {
  std::string text = TRY(ReadFile("/proc/sys/kernel/cap_last_cap"));
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (end == text.c_str() || v < 0 || v > 63) {
    return MakeError(EINVAL, "/proc/sys/kernel/cap_last_cap: unexpected \"%s\"", text.c_str());
  }
  return static_cast<int>(v);
}

CapSets ResolveCapabilities(const oci::Capabilities& caps, int last_cap) {
  CapSets out;
  out.last_cap = last_cap;
  ResolveSet(caps.bounding, last_cap, &out.bounding, &out.unknown);
  ResolveSet(caps.effective, last_cap, &out.effective, &out.unknown);
  ResolveSet(caps.permitted, last_cap, &out.permitted, &out.unknown);
  ResolveSet(caps.inheritable, last_cap, &out.inheritable, &out.unknown);
  ResolveSet(caps.ambient, last_cap, &out.ambient, &out.unknown);
  return out;
}

std::vector<std::string> KnownCapabilityNames() {
  auto last = KernelLastCap();
  int last_cap = last.ok() ? *last : CAP_LAST_CAP;
  std::vector<std::string> names;
  for (int cap = 0; cap <= last_cap && cap <= CAP_LAST_CAP; ++cap) {
    std::string n = CapName(cap);
    if (n.rfind("CAP_", 0) == 0) names.push_back(n);
  }
  return names;
}

Result<CapSets> ResolveCapabilities(const oci::Capabilities& caps) {
  int last_cap = TRY(KernelLastCap().Wrap("capabilities"));
  CapSets out = ResolveCapabilities(caps, last_cap);
  // A capability outside our own bounding set can't be given to anyone (here: root without
  // CAP_SYS_RESOURCE); capset would fail with EPERM. Drop it with a warning instead.
  uint64_t wanted = out.bounding | out.effective | out.permitted | out.inheritable | out.ambient;
  for (int cap = 0; cap <= last_cap; ++cap) {
    uint64_t bit = 1ULL << cap;
    if (!(wanted & bit) || ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0) continue;
    out.bounding &= ~bit;
    out.effective &= ~bit;
    out.permitted &= ~bit;
    out.inheritable &= ~bit;
    out.ambient &= ~bit;
    out.ungranted.push_back(CapName(cap));
  }
  return out;
}

}  // namespace skiff::runtime
