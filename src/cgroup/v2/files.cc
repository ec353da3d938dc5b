// v2 hugetlb limits and the verbatim `unified` map.
#include <string>

#include "cgroup/v2/controllers.h"

namespace skiff::cgroup::v2 {

Status SetHugetlb(const CgroupDir& d, const std::vector<oci::HugepageLimit>& limits) {
  for (const auto& l : limits) {
    std::string file = "hugetlb." + l.page_size + ".max";
    TRY(WriteValue(d, file.c_str(), std::to_string(l.limit)));
  }
  return Ok();
}

Status SetUnified(const CgroupDir& d, const std::map<std::string, std::string>& files) {
  for (const auto& [key, value] : files) {
    // A key is a file of this cgroup: never a path out of it.
    if (key.empty() || key.find('/') != std::string::npos || key[0] == '.') {
      return MakeError(EINVAL, "unified key \"%s\": not a cgroup file name", key.c_str());
    }
    if (!FileExists(d, key.c_str())) {
      return MakeError(ENOENT, "unified key \"%s\": no such file in %s (controller not enabled?)",
                       key.c_str(), d.path.c_str());
    }
    TRY(WriteValue(d, key.c_str(), value));
  }
  return Ok();
}

}  // namespace skiff::cgroup::v2
