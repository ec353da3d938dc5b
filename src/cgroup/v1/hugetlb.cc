// v1 hugetlb controller: one limit file per huge page size ("2MB", "1GB").
#include <string>

#include "cgroup/v1/controllers.h"

namespace skiff::cgroup::v1 {

Status SetHugetlb(const CgroupDir& d, const std::vector<oci::HugepageLimit>& limits) {
  for (const auto& l : limits) {
    std::string file = "hugetlb." + l.page_size + ".limit_in_bytes";
    TRY(WriteValue(d, file.c_str(), std::to_string(l.limit)));
  }
  return Ok();
}

}  // namespace skiff::cgroup::v1
