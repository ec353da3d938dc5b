// v2 freezer: cgroup.freeze, with the result reported in cgroup.events.
#include <chrono>
#include <string>

#include "cgroup/v2/controllers.h"

namespace skiff::cgroup::v2 {

static Result<bool> EventsFrozen(const CgroupDir& d) {
  std::string text = TRY(ReadValue(d, "cgroup.events"));
  return ParseKeyValues(text)["frozen"] == 1;
}

Status SetFrozen(const CgroupDir& d, bool frozen) {
  TRY(WriteValue(d, "cgroup.freeze", frozen ? "1" : "0"));
  // The write only requests it; cgroup.events says "frozen 1" once every task has stopped.
  auto done = PollUntil([&]() -> Result<bool> { return TRY(EventsFrozen(d)) == frozen; },
                        std::chrono::milliseconds(2000));
  if (!done.ok()) return std::move(done).error();
  if (!*done) {
    if (frozen) (void)WriteValue(d, "cgroup.freeze", "0");
    return MakeError(EBUSY, "write cgroup.freeze=%d in %s: not %s in 2 s", frozen ? 1 : 0,
                     d.path.c_str(), frozen ? "frozen" : "thawed");
  }
  return Ok();
}

Result<FreezerState> GetFrozen(const CgroupDir& d) {
  uint64_t want = TRY(ReadUint(d, "cgroup.freeze"));
  bool is = TRY(EventsFrozen(d));
  if (want == 0) return FreezerState::kThawed;
  return is ? FreezerState::kFrozen : FreezerState::kFreezing;
}

}  // namespace skiff::cgroup::v2
