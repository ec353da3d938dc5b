// v1 pids controller (the same files as on v2).
#include <string>

#include "cgroup/v1/controllers.h"

namespace skiff::cgroup::v1 {

std::string PidsMaxValue(int64_t limit) {
  return limit > 0 ? std::to_string(limit) : std::string("max");
}

Status SetPids(const CgroupDir& d, const oci::Pids& p) {
  if (!p.limit) return Ok();
  return WriteValue(d, "pids.max", PidsMaxValue(*p.limit));
}

Status ReadPidsStats(const CgroupDir& d, Stats* s) {
  s->pids_current = TRY(ReadUint(d, "pids.current"));
  s->pids_limit = TRY(ReadUint(d, "pids.max"));
  return Ok();
}

}  // namespace skiff::cgroup::v1
