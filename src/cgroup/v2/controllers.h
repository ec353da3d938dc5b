// cgroup v2 controller writers and readers, one .cc per controller, each relative to the
// cgroup's directory fd. Conversions from the OCI (v1-shaped) values follow runc and crun.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "cgroup/manager.h"
#include "cgroup/util.h"
#include "oci/spec.h"

namespace skiff::cgroup::v2 {

// OCI swap is memory+swap (v1's memsw); memory.swap.max is swap alone. Returns -1 for
// "max", 0 for "leave unset", else swap - limit; an error for impossible pairs.
Result<int64_t> SwapToV2(int64_t swap, int64_t limit);
Status SetMemory(const CgroupDir& d, const oci::Memory& m);
Status ReadMemoryStats(const CgroupDir& d, Stats* s);
Result<uint64_t> ReadOomKills(const CgroupDir& d);

// cpu.shares [2, 262144] -> cpu.weight [1, 10000], crun's formula.
uint64_t SharesToWeight(uint64_t shares);
Status SetCpu(const CgroupDir& d, const oci::Cpu& c);
Status ReadCpuStats(const CgroupDir& d, Stats* s);
Status SetCpuset(const CgroupDir& d, const oci::Cpu& c);

Status SetPids(const CgroupDir& d, const oci::Pids& p);
Status ReadPidsStats(const CgroupDir& d, Stats* s);

// blkio.weight [10, 1000] -> io.weight [1, 10000] (runc), when BFQ's file is absent.
uint64_t BlkioWeightToIoWeight(uint64_t weight);
Status SetIo(const CgroupDir& d, const oci::BlockIO& b);
Status ReadIoStats(const CgroupDir& d, Stats* s);

Status SetHugetlb(const CgroupDir& d, const std::vector<oci::HugepageLimit>& limits);
// linux.resources.unified: each key is a file of the cgroup, written as given.
Status SetUnified(const CgroupDir& d, const std::map<std::string, std::string>& files);

// cgroup.freeze, waiting for "frozen 1" in cgroup.events.
Status SetFrozen(const CgroupDir& d, bool frozen);
Result<FreezerState> GetFrozen(const CgroupDir& d);

// Devices on v2: a BPF_PROG_TYPE_CGROUP_DEVICE program built from the rules (devices.cc).
struct BpfInsn {
  uint8_t code;
  uint8_t regs;  // dst in the low nibble, src in the high one
  int16_t off;
  int32_t imm;
};
std::vector<BpfInsn> BuildDeviceProgram(const std::vector<oci::DeviceRule>& rules);
// Loads the program and attaches it to the cgroup (BPF_F_ALLOW_MULTI), then detaches the
// device programs that were there before, so an update replaces rather than stacks.
Status SetDevices(const CgroupDir& d, const std::vector<oci::DeviceRule>& rules);

// Writes "+c1 +c2" into cgroup.subtree_control of root and of each directory on the way to
// rel (not rel itself), for the controllers root's cgroup.controllers lists.
Status EnableControllers(const std::string& root, const std::string& rel,
                         const std::vector<std::string>& wanted);

}  // namespace skiff::cgroup::v2
