// v1 net_cls and net_prio controllers (no v2 equivalent: v2 uses eBPF for this).
#include <string>

#include "cgroup/v1/controllers.h"

namespace skiff::cgroup::v1 {

Status SetNetCls(const CgroupDir& d, const oci::NetworkResources& n) {
  if (!n.class_id) return Ok();
  return WriteValue(d, "net_cls.classid", std::to_string(*n.class_id));
}

Status SetNetPrio(const CgroupDir& d, const oci::NetworkResources& n) {
  // One "ifname prio" line per write: the kernel parses a single pair each time.
  for (const auto& [ifname, prio] : n.priorities) {
    TRY(WriteValue(d, "net_prio.ifpriomap", ifname + " " + std::to_string(prio)));
  }
  return Ok();
}

}  // namespace skiff::cgroup::v1
