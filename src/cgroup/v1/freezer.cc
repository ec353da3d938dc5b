// v1 freezer controller.
#include <chrono>
#include <string>

#include "cgroup/v1/controllers.h"

namespace skiff::cgroup::v1 {

Result<FreezerState> GetFreezer(const CgroupDir& d) {
  std::string s = TRY(ReadValue(d, "freezer.state"));
  if (s == "FROZEN") return FreezerState::kFrozen;
  if (s == "FREEZING") return FreezerState::kFreezing;
  return FreezerState::kThawed;
}

Status SetFreezer(const CgroupDir& d, bool frozen) {
  const char* want = frozen ? "FROZEN" : "THAWED";
  FreezerState target = frozen ? FreezerState::kFrozen : FreezerState::kThawed;
  // The write returns while tasks may still be FREEZING (one in an uninterruptible sleep
  // holds the cgroup there); rewriting FROZEN retries the stragglers, as runc does.
  auto done = PollUntil(
      [&]() -> Result<bool> {
        TRY(WriteValue(d, "freezer.state", want));
        return TRY(GetFreezer(d)) == target;
      },
      std::chrono::milliseconds(2000));
  if (!done.ok()) return std::move(done).error();
  if (!*done) {
    if (frozen) (void)WriteValue(d, "freezer.state", "THAWED");  // don't leave it half frozen
    return MakeError(EBUSY, "write freezer.state=%s in %s: state not reached in 2 s", want,
                     d.path.c_str());
  }
  return Ok();
}

}  // namespace skiff::cgroup::v1
