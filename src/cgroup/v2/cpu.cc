// v2 cpu and cpuset controllers.
#include <string>

#include "cgroup/v2/controllers.h"

namespace skiff::cgroup::v2 {

uint64_t SharesToWeight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  return 1 + ((shares - 2) * 9999) / 262142;
}

static Status SetMax(const CgroupDir& d, const oci::Cpu& c) {
  int64_t quota = c.quota.value_or(0);
  uint64_t period = c.period.value_or(0);
  std::string burst = c.burst ? std::to_string(*c.burst) : "";
  if (!burst.empty()) {
    Status st = WriteValue(d, "cpu.max.burst", burst);
    // A burst above the current quota is refused (EINVAL) until the new quota is in (runc).
    if (!st.ok() && !(st.error().code == EINVAL && quota != 0)) return st;
    if (st.ok()) burst.clear();
  }
  if (quota != 0 || period != 0) {
    // "max" keeps the quota unlimited; a quota alone keeps the current period.
    std::string v = quota > 0 ? std::to_string(quota) : "max";
    if (period != 0) v.append(" ").append(std::to_string(period));
    TRY(WriteValue(d, "cpu.max", v));
  }
  if (!burst.empty()) TRY(WriteValue(d, "cpu.max.burst", burst));
  return Ok();
}

Status SetCpu(const CgroupDir& d, const oci::Cpu& c) {
  if (c.realtime_runtime.value_or(0) != 0 || c.realtime_period.value_or(0) != 0) {
    return MakeError(EOPNOTSUPP, "cpu.realtimeRuntime/realtimePeriod in %s: not on cgroup v2",
                     d.path.c_str());
  }
  if (c.shares && *c.shares != 0) {
    TRY(WriteValue(d, "cpu.weight", std::to_string(SharesToWeight(*c.shares))));
  }
  TRY(SetMax(d, c));
  if (c.idle) TRY(WriteValue(d, "cpu.idle", std::to_string(*c.idle)));
  return Ok();
}

Status SetCpuset(const CgroupDir& d, const oci::Cpu& c) {
  if (!c.cpus.empty()) TRY(WriteValue(d, "cpuset.cpus", c.cpus));
  if (!c.mems.empty()) TRY(WriteValue(d, "cpuset.mems", c.mems));
  return Ok();
}

Status ReadCpuStats(const CgroupDir& d, Stats* s) {
  std::string text = TRY(ReadValue(d, "cpu.stat"));
  auto kv = ParseKeyValues(text);
  s->cpu_usage_ns = kv["usage_usec"] * 1000;
  s->cpu_user_ns = kv["user_usec"] * 1000;
  s->cpu_system_ns = kv["system_usec"] * 1000;
  s->cpu_throttled_periods = kv["nr_throttled"];
  s->cpu_throttled_ns = kv["throttled_usec"] * 1000;
  return Ok();
}

}  // namespace skiff::cgroup::v2
