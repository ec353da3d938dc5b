// v2 memory controller: memory.max, memory.low, memory.swap.max; usage statistics.
#include <string>

#include "cgroup/v2/controllers.h"

namespace skiff::cgroup::v2 {

static std::string Limit(int64_t v) { return v < 0 ? std::string("max") : std::to_string(v); }

Result<int64_t> SwapToV2(int64_t swap, int64_t limit) {
  // Unlimited memory and no swap given: unlimited swap too, as on v1 (runc).
  if (limit == -1 && swap == 0) return -1;
  if (swap == -1 || swap == 0) return swap;
  if (limit == 0 || limit == -1) {
    return MakeError(EINVAL, "memory.swap=%lld: a swap limit needs a memory limit",
                     static_cast<long long>(swap));
  }
  if (limit < 0) return MakeError(EINVAL, "memory.limit=%lld", static_cast<long long>(limit));
  if (swap < limit) {
    return MakeError(EINVAL, "memory.swap=%lld is below memory.limit=%lld (it is memory+swap)",
                     static_cast<long long>(swap), static_cast<long long>(limit));
  }
  return swap - limit;
}

Status SetMemory(const CgroupDir& d, const oci::Memory& m) {
  int64_t limit = m.limit.value_or(0);
  int64_t swap = TRY(SwapToV2(m.swap.value_or(0), limit).Wrap(d.path));
  // v2 has no ordering constraint between memory.max and memory.swap.max.
  if (swap != 0) TRY(WriteValue(d, "memory.swap.max", Limit(swap)));
  if (limit != 0) TRY(WriteValue(d, "memory.max", Limit(limit)));
  if (m.reservation && *m.reservation != 0) {
    TRY(WriteValue(d, "memory.low", Limit(*m.reservation)));
  }
  // swappiness, kernel memory and disable_oom_killer have no v2 files; runc and crun ignore
  // them there too.
  return Ok();
}

Result<uint64_t> ReadOomKills(const CgroupDir& d) {
  std::string text = TRY(ReadValue(d, "memory.events"));
  return ParseKeyValues(text)["oom_kill"];
}

Status ReadMemoryStats(const CgroupDir& d, Stats* s) {
  s->memory_usage = TRY(ReadUint(d, "memory.current"));
  if (FileExists(d, "memory.peak")) s->memory_max_usage = TRY(ReadUint(d, "memory.peak"));
  s->memory_limit = TRY(ReadUint(d, "memory.max"));
  std::string stat = TRY(ReadValue(d, "memory.stat"));
  auto kv = ParseKeyValues(stat);
  s->memory_cache = kv["file"];
  s->memory_inactive_file = kv["inactive_file"];
  if (FileExists(d, "memory.swap.current")) {
    s->swap_usage = TRY(ReadUint(d, "memory.swap.current"));
  }
  s->oom_kills = TRY(ReadOomKills(d));
  return Ok();
}

}  // namespace skiff::cgroup::v2
