// v2 pids controller.
#include <string>

#include "cgroup/v2/controllers.h"

namespace skiff::cgroup::v2 {

Status SetPids(const CgroupDir& d, const oci::Pids& p) {
  if (!p.limit) return Ok();
  return WriteValue(d, "pids.max", *p.limit > 0 ? std::to_string(*p.limit) : "max");
}

Status ReadPidsStats(const CgroupDir& d, Stats* s) {
  s->pids_current = TRY(ReadUint(d, "pids.current"));
  s->pids_limit = TRY(ReadUint(d, "pids.max"));
  return Ok();
}

}  // namespace skiff::cgroup::v2
