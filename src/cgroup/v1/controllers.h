// cgroup v1 controller writers and readers, one .cc per controller. Each works relative to
// the controller hierarchy's cgroup directory (STYLE.md rule 10), so unit tests can point
// them at a temp dir of plain files.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "cgroup/manager.h"
#include "cgroup/util.h"
#include "oci/spec.h"

namespace skiff::cgroup::v1 {

Status SetMemory(const CgroupDir& d, const oci::Memory& m);
Status ReadMemoryStats(const CgroupDir& d, Stats* s);
Result<uint64_t> ReadOomKills(const CgroupDir& d);

Status SetCpu(const CgroupDir& d, const oci::Cpu& c);
Status ReadCpuStats(const CgroupDir& d, Stats* s);      // cpu.stat: throttling
Status ReadCpuacctStats(const CgroupDir& d, Stats* s);  // cpuacct.usage*

Status SetCpuset(const CgroupDir& d, const oci::Cpu& c);
// A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and no task can
// join it (ENOSPC) until they are set: copies them down from the parent for each dir of
// `dirs` (outermost first, the first a child of parent_of_first) whose values are empty.
Status InheritCpuset(const std::string& parent_of_first, const std::vector<std::string>& dirs);

Status SetPids(const CgroupDir& d, const oci::Pids& p);
std::string PidsMaxValue(int64_t limit);  // "max" for 0 and negatives
Status ReadPidsStats(const CgroupDir& d, Stats* s);

Status SetBlkio(const CgroupDir& d, const oci::BlockIO& b);
Status ReadBlkioStats(const CgroupDir& d, Stats* s);

// "c 1:3 rwm", with "*" for absent numbers and "a" for an empty type.
std::string DeviceRuleString(const oci::DeviceRule& r);
Status SetDevices(const CgroupDir& d, const std::vector<oci::DeviceRule>& rules);

Status SetFreezer(const CgroupDir& d, bool frozen);  // returns once the state is reached
Result<FreezerState> GetFreezer(const CgroupDir& d);

Status SetHugetlb(const CgroupDir& d, const std::vector<oci::HugepageLimit>& limits);
Status SetNetCls(const CgroupDir& d, const oci::NetworkResources& n);
Status SetNetPrio(const CgroupDir& d, const oci::NetworkResources& n);

}  // namespace skiff::cgroup::v1
