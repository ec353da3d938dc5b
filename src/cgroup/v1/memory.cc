// v1 memory controller: limits, swap, swappiness, OOM killer; usage statistics.
#include <string>

#include "cgroup/v1/controllers.h"

namespace skiff::cgroup::v1 {

static std::string Num(int64_t v) { return std::to_string(v); }

// The kernel requires memsw.limit >= limit at every moment, so which file goes first
// depends on whether the limit is going up or down (runc's setMemoryAndSwap).
static Status SetLimitAndSwap(const CgroupDir& d, int64_t limit, int64_t swap) {
  // Unlimited memory with swap left unset means unlimited swap too (runc, docker).
  if (limit == -1 && swap == 0) swap = -1;
  if (limit != 0 && swap != 0) {
    uint64_t cur = TRY(ReadUint(d, "memory.limit_in_bytes"));
    // cur reads 0 when unlimited: then the memory limit must come down first.
    bool raising = swap == -1 || (cur != 0 && cur < static_cast<uint64_t>(swap));
    if (raising) {
      TRY(WriteValue(d, "memory.memsw.limit_in_bytes", Num(swap)));
      return WriteValue(d, "memory.limit_in_bytes", Num(limit));
    }
    TRY(WriteValue(d, "memory.limit_in_bytes", Num(limit)));
    return WriteValue(d, "memory.memsw.limit_in_bytes", Num(swap));
  }
  if (limit != 0) TRY(WriteValue(d, "memory.limit_in_bytes", Num(limit)));
  if (swap != 0) TRY(WriteValue(d, "memory.memsw.limit_in_bytes", Num(swap)));
  return Ok();
}

Status SetMemory(const CgroupDir& d, const oci::Memory& m) {
  TRY(SetLimitAndSwap(d, m.limit.value_or(0), m.swap.value_or(0)));
  if (m.reservation && *m.reservation != 0) {
    TRY(WriteValue(d, "memory.soft_limit_in_bytes", Num(*m.reservation)));
  }
  // memory.kmem.limit_in_bytes is deprecated and, since Linux 5.16, refuses writes with
  // EOPNOTSUPP; runc ignores kernel memory limits, so does skiff.
  if (m.kernel_tcp && *m.kernel_tcp != 0) {
    TRY(WriteValue(d, "memory.kmem.tcp.limit_in_bytes", Num(*m.kernel_tcp)));
  }
  if (m.swappiness) {
    if (*m.swappiness > 100) {
      return MakeError(EINVAL, "memory.swappiness=%llu in %s: must be 0-100",
                       static_cast<unsigned long long>(*m.swappiness), d.path.c_str());
    }
    TRY(WriteValue(d, "memory.swappiness", std::to_string(*m.swappiness)));
  }
  if (m.disable_oom_killer && *m.disable_oom_killer) {
    TRY(WriteValue(d, "memory.oom_control", "1"));
  }
  if (m.use_hierarchy && *m.use_hierarchy) {
    TRY(WriteValue(d, "memory.use_hierarchy", "1"));
  }
  return Ok();
}

Result<uint64_t> ReadOomKills(const CgroupDir& d) {
  std::string text = TRY(ReadValue(d, "memory.oom_control"));
  auto kv = ParseKeyValues(text);
  auto it = kv.find("oom_kill");
  return it == kv.end() ? 0 : it->second;
}

Status ReadMemoryStats(const CgroupDir& d, Stats* s) {
  s->memory_usage = TRY(ReadUint(d, "memory.usage_in_bytes"));
  s->memory_max_usage = TRY(ReadUint(d, "memory.max_usage_in_bytes"));
  s->memory_limit = TRY(ReadUint(d, "memory.limit_in_bytes"));
  std::string stat = TRY(ReadValue(d, "memory.stat"));
  auto kv = ParseKeyValues(stat);
  s->memory_cache = kv.count("total_cache") ? kv["total_cache"] : kv["cache"];
  s->memory_inactive_file =
      kv.count("total_inactive_file") ? kv["total_inactive_file"] : kv["inactive_file"];
  // memsw files exist only with swap accounting (CONFIG_MEMCG_SWAP, swapaccount=1).
  if (FileExists(d, "memory.memsw.usage_in_bytes")) {
    uint64_t memsw = TRY(ReadUint(d, "memory.memsw.usage_in_bytes"));
    s->swap_usage = memsw > s->memory_usage ? memsw - s->memory_usage : 0;
  }
  s->oom_kills = TRY(ReadOomKills(d));
  return Ok();
}

}  // namespace skiff::cgroup::v1
