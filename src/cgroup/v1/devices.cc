// v1 devices controller: deny everything, then replay the rules in order (runc).
#include <string>

#include "cgroup/v1/controllers.h"

namespace skiff::cgroup::v1 {

std::string DeviceRuleString(const oci::DeviceRule& r) {
  std::string s = r.type.empty() ? "a" : r.type;
  s += " ";
  s += r.major ? std::to_string(*r.major) : "*";
  s += ":";
  s += r.minor ? std::to_string(*r.minor) : "*";
  s += " ";
  s += r.access.empty() ? "rwm" : r.access;
  return s;
}

Status SetDevices(const CgroupDir& d, const std::vector<oci::DeviceRule>& rules) {
  // A cgroup inherits its parent's list; start from nothing so the rules mean what they say.
  TRY(WriteValue(d, "devices.deny", "a"));
  for (const auto& r : rules) {
    TRY(WriteValue(d, r.allow ? "devices.allow" : "devices.deny", DeviceRuleString(r)));
  }
  return Ok();
}

}  // namespace skiff::cgroup::v1
