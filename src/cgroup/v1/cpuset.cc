// v1 cpuset controller.
#include <string>

#include "cgroup/v1/controllers.h"

namespace skiff::cgroup::v1 {

Status SetCpuset(const CgroupDir& d, const oci::Cpu& c) {
  if (!c.cpus.empty()) TRY(WriteValue(d, "cpuset.cpus", c.cpus));
  if (!c.mems.empty()) TRY(WriteValue(d, "cpuset.mems", c.mems));
  return Ok();
}

static Status CopyIfEmpty(const CgroupDir& parent, const CgroupDir& child, const char* name) {
  std::string mine = TRY(ReadValue(child, name));
  if (!mine.empty()) return Ok();
  std::string theirs = TRY(ReadValue(parent, name));
  return WriteValue(child, name, theirs);
}

Status InheritCpuset(const std::string& parent_of_first, const std::vector<std::string>& dirs) {
  std::string parent_path = parent_of_first;
  UniqueFd parent = TRY(OpenDir(parent_path));
  for (const std::string& dir : dirs) {
    UniqueFd child = TRY(OpenDir(dir));
    CgroupDir p{parent.get(), parent_path}, c{child.get(), dir};
    TRY(CopyIfEmpty(p, c, "cpuset.cpus"));
    TRY(CopyIfEmpty(p, c, "cpuset.mems"));
    parent = std::move(child);
    parent_path = dir;
  }
  return Ok();
}

}  // namespace skiff::cgroup::v1
