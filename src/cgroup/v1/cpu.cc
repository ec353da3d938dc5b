// v1 cpu and cpuacct controllers: CFS shares, quota and burst, realtime budget; usage.
#include <string>

#include "cgroup/v1/controllers.h"

namespace skiff::cgroup::v1 {

static Status SetQuotaAndPeriod(const CgroupDir& d, const oci::Cpu& c) {
  bool period_failed = false;
  if (c.period && *c.period != 0) {
    Status st = WriteValue(d, "cpu.cfs_period_us", std::to_string(*c.period));
    // A smaller period can be refused (EINVAL) while old quota / new period exceeds the
    // parent's bandwidth; once the new quota is in, the same period fits (runc does this).
    if (!st.ok() && !(st.error().code == EINVAL && c.quota && *c.quota != 0)) return st;
    period_failed = !st.ok();
  }
  if (c.quota && *c.quota != 0) {
    TRY(WriteValue(d, "cpu.cfs_quota_us", std::to_string(*c.quota)));
    if (period_failed) TRY(WriteValue(d, "cpu.cfs_period_us", std::to_string(*c.period)));
  }
  if (c.burst) TRY(WriteValue(d, "cpu.cfs_burst_us", std::to_string(*c.burst)));
  return Ok();
}

Status SetCpu(const CgroupDir& d, const oci::Cpu& c) {
  if (c.shares && *c.shares != 0) {
    TRY(WriteValue(d, "cpu.shares", std::to_string(*c.shares)));
  }
  TRY(SetQuotaAndPeriod(d, c));
  // The runtime is bounded by the period, so the period goes first.
  if (c.realtime_period && *c.realtime_period != 0) {
    TRY(WriteValue(d, "cpu.rt_period_us", std::to_string(*c.realtime_period)));
  }
  if (c.realtime_runtime && *c.realtime_runtime != 0) {
    TRY(WriteValue(d, "cpu.rt_runtime_us", std::to_string(*c.realtime_runtime)));
  }
  if (c.idle) TRY(WriteValue(d, "cpu.idle", std::to_string(*c.idle)));
  return Ok();
}

Status ReadCpuStats(const CgroupDir& d, Stats* s) {
  std::string text = TRY(ReadValue(d, "cpu.stat"));
  auto kv = ParseKeyValues(text);
  s->cpu_throttled_periods = kv["nr_throttled"];
  s->cpu_throttled_ns = kv["throttled_time"];  // v1 reports nanoseconds
  return Ok();
}

Status ReadCpuacctStats(const CgroupDir& d, Stats* s) {
  s->cpu_usage_ns = TRY(ReadUint(d, "cpuacct.usage"));
  // usage_user/usage_sys are newer (4.7) than cpuacct.stat, which counts USER_HZ ticks.
  if (FileExists(d, "cpuacct.usage_user")) {
    s->cpu_user_ns = TRY(ReadUint(d, "cpuacct.usage_user"));
    s->cpu_system_ns = TRY(ReadUint(d, "cpuacct.usage_sys"));
  } else {
    std::string text = TRY(ReadValue(d, "cpuacct.stat"));
    auto kv = ParseKeyValues(text);
    s->cpu_user_ns = kv["user"] * 10'000'000ULL;  // USER_HZ = 100
    s->cpu_system_ns = kv["system"] * 10'000'000ULL;
  }
  return Ok();
}

}  // namespace skiff::cgroup::v1
