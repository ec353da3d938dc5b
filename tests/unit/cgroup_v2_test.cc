// The v2 writers and conversions against plain files (WriteValue appends, see v1's test).
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include "cgroup/v2/controllers.h"
#include "cgroup_fake_dir.h"

namespace skiff::cgroup::v2 {
namespace {

using testing::FakeCgroup;

TEST(CgroupV2Convert, SharesToWeight) {
  EXPECT_EQ(SharesToWeight(0), 0u);
  EXPECT_EQ(SharesToWeight(2), 1u);
  EXPECT_EQ(SharesToWeight(1024), 39u);  // 1 + 1022 * 9999 / 262142
  EXPECT_EQ(SharesToWeight(262144), 10000u);
  EXPECT_EQ(SharesToWeight(1 << 20), 10000u);
}

TEST(CgroupV2Convert, BlkioWeight) {
  EXPECT_EQ(BlkioWeightToIoWeight(10), 1u);
  EXPECT_EQ(BlkioWeightToIoWeight(500), 1 + 490u * 9999 / 990);
  EXPECT_EQ(BlkioWeightToIoWeight(1000), 10000u);
}

TEST(CgroupV2Convert, Swap) {
  EXPECT_EQ(SwapToV2(0, -1).value(), -1);         // unlimited memory: unlimited swap
  EXPECT_EQ(SwapToV2(-1, 1000).value(), -1);      // unlimited swap
  EXPECT_EQ(SwapToV2(0, 1000).value(), 0);        // unset
  EXPECT_EQ(SwapToV2(3000, 1000).value(), 2000);  // memory+swap -> swap
  EXPECT_EQ(SwapToV2(1000, 1000).value(), 0);     // no swap at all
  EXPECT_FALSE(SwapToV2(500, 1000).ok());         // below the limit
  EXPECT_FALSE(SwapToV2(500, 0).ok());            // swap without a memory limit
  EXPECT_FALSE(SwapToV2(500, -1).ok());
}

TEST(CgroupV2Memory, Files) {
  FakeCgroup d;
  for (const char* f : {"memory.max", "memory.low", "memory.swap.max"}) d.Make(f);
  oci::Memory m;
  m.limit = 64 << 20;
  m.swap = 96 << 20;
  m.reservation = 16 << 20;
  ASSERT_TRUE(SetMemory(d.dir(), m).ok());
  EXPECT_EQ(d.Get("memory.max"), "67108864");
  EXPECT_EQ(d.Get("memory.swap.max"), "33554432");
  EXPECT_EQ(d.Get("memory.low"), "16777216");
}

TEST(CgroupV2Memory, Unlimited) {
  FakeCgroup d;
  d.Make("memory.max");
  d.Make("memory.swap.max");
  oci::Memory m;
  m.limit = -1;
  ASSERT_TRUE(SetMemory(d.dir(), m).ok());
  EXPECT_EQ(d.Get("memory.max"), "max");
  EXPECT_EQ(d.Get("memory.swap.max"), "max");
}

TEST(CgroupV2Memory, Stats) {
  FakeCgroup d;
  d.Make("memory.current", "4096\n");
  d.Make("memory.peak", "8192\n");
  d.Make("memory.max", "max\n");
  d.Make("memory.stat", "anon 10\nfile 300\ninactive_file 120\n");
  d.Make("memory.swap.current", "7\n");
  d.Make("memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n");
  Stats s;
  ASSERT_TRUE(ReadMemoryStats(d.dir(), &s).ok());
  EXPECT_EQ(s.memory_usage, 4096u);
  EXPECT_EQ(s.memory_max_usage, 8192u);
  EXPECT_EQ(s.memory_limit, 0u);
  EXPECT_EQ(s.memory_cache, 300u);
  EXPECT_EQ(s.memory_inactive_file, 120u);
  EXPECT_EQ(s.swap_usage, 7u);
  EXPECT_EQ(s.oom_kills, 1u);
}

TEST(CgroupV2Cpu, WeightMaxBurst) {
  FakeCgroup d;
  for (const char* f : {"cpu.weight", "cpu.max", "cpu.max.burst", "cpuset.cpus", "cpuset.mems"}) {
    d.Make(f);
  }
  oci::Cpu c;
  c.shares = 1024;
  c.quota = 50000;
  c.period = 100000;
  c.burst = 2000;
  c.cpus = "0-1";
  c.mems = "0";
  ASSERT_TRUE(SetCpu(d.dir(), c).ok());
  ASSERT_TRUE(SetCpuset(d.dir(), c).ok());
  EXPECT_EQ(d.Get("cpu.weight"), "39");
  EXPECT_EQ(d.Get("cpu.max"), "50000 100000");
  EXPECT_EQ(d.Get("cpu.max.burst"), "2000");
  EXPECT_EQ(d.Get("cpuset.cpus"), "0-1");
  EXPECT_EQ(d.Get("cpuset.mems"), "0");
}

TEST(CgroupV2Cpu, MaxFormats) {
  FakeCgroup a, b;
  a.Make("cpu.max");
  b.Make("cpu.max");
  oci::Cpu unlimited;
  unlimited.quota = -1;
  unlimited.period = 200000;
  ASSERT_TRUE(SetCpu(a.dir(), unlimited).ok());
  EXPECT_EQ(a.Get("cpu.max"), "max 200000");
  oci::Cpu quota_only;
  quota_only.quota = 25000;
  ASSERT_TRUE(SetCpu(b.dir(), quota_only).ok());
  EXPECT_EQ(b.Get("cpu.max"), "25000");
  oci::Cpu rt;
  rt.realtime_runtime = 1;
  EXPECT_FALSE(SetCpu(b.dir(), rt).ok());
}

TEST(CgroupV2Cpu, Stats) {
  FakeCgroup d;
  d.Make("cpu.stat",
         "usage_usec 300\nuser_usec 200\nsystem_usec 100\nnr_periods 5\nnr_throttled 1\n"
         "throttled_usec 9\n");
  Stats s;
  ASSERT_TRUE(ReadCpuStats(d.dir(), &s).ok());
  EXPECT_EQ(s.cpu_usage_ns, 300000u);
  EXPECT_EQ(s.cpu_user_ns, 200000u);
  EXPECT_EQ(s.cpu_system_ns, 100000u);
  EXPECT_EQ(s.cpu_throttled_periods, 1u);
  EXPECT_EQ(s.cpu_throttled_ns, 9000u);
}

TEST(CgroupV2Pids, Max) {
  FakeCgroup d;
  d.Make("pids.max");
  ASSERT_TRUE(SetPids(d.dir(), oci::Pids{-1}).ok());
  EXPECT_EQ(d.Get("pids.max"), "max");
}

TEST(CgroupV2Io, WeightAndMax) {
  FakeCgroup d;
  d.Make("io.weight");
  d.Make("io.max");
  oci::BlockIO b;
  b.weight = 500;
  b.throttle_read_bps_device.push_back({8, 0, 1048576});
  b.throttle_write_iops_device.push_back({8, 0, 100});
  ASSERT_TRUE(SetIo(d.dir(), b).ok());
  EXPECT_EQ(d.Get("io.weight"), std::to_string(BlkioWeightToIoWeight(500)));
  EXPECT_EQ(d.Get("io.max"), "8:0 rbps=10485768:0 wiops=100");
}

TEST(CgroupV2Io, BfqTakesBlkioScale) {
  FakeCgroup d;
  d.Make("io.bfq.weight");
  d.Make("io.weight");
  oci::BlockIO b;
  b.weight = 500;
  b.weight_device.push_back({8, 0, 300, std::nullopt});
  ASSERT_TRUE(SetIo(d.dir(), b).ok());
  EXPECT_EQ(d.Get("io.bfq.weight"), "5008:0 300");
  EXPECT_EQ(d.Get("io.weight"), "");
}

TEST(CgroupV2Io, Stats) {
  FakeCgroup d;
  d.Make("io.stat",
         "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"
         "8:16 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n");
  Stats s;
  ASSERT_TRUE(ReadIoStats(d.dir(), &s).ok());
  EXPECT_EQ(s.io_read_bytes, 101u);
  EXPECT_EQ(s.io_write_bytes, 202u);
  EXPECT_EQ(s.io_read_ops, 4u);
  EXPECT_EQ(s.io_write_ops, 6u);
}

TEST(CgroupV2Files, HugetlbAndUnified) {
  FakeCgroup d;
  d.Make("hugetlb.2MB.max");
  d.Make("memory.high");
  ASSERT_TRUE(SetHugetlb(d.dir(), {{"2MB", 2097152}}).ok());
  EXPECT_EQ(d.Get("hugetlb.2MB.max"), "2097152");
  ASSERT_TRUE(SetUnified(d.dir(), {{"memory.high", "1000000"}}).ok());
  EXPECT_EQ(d.Get("memory.high"), "1000000");
  Status missing = SetUnified(d.dir(), {{"memory.nope", "1"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().Message().find("unified key \"memory.nope\""), std::string::npos);
  EXPECT_FALSE(SetUnified(d.dir(), {{"../x", "1"}}).ok());
}

TEST(CgroupV2Freezer, WaitsForEvents) {
  FakeCgroup d;
  d.Make("cgroup.freeze");
  d.Make("cgroup.events", "populated 1\nfrozen 1\n");  // as the kernel reports it once frozen
  ASSERT_TRUE(SetFrozen(d.dir(), true).ok());
  EXPECT_EQ(d.Get("cgroup.freeze"), "1");
  EXPECT_EQ(GetFrozen(d.dir()).value(), FreezerState::kFrozen);
}

TEST(CgroupV2Freezer, TimesOutAndUndoes) {
  FakeCgroup d;
  d.Make("cgroup.freeze");
  d.Make("cgroup.events", "populated 1\nfrozen 0\n");
  Status st = SetFrozen(d.dir(), true);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(d.Get("cgroup.freeze"), "10");  // asked, then undone
}

TEST(CgroupV2Controllers, EnableOnAncestorsOnly) {
  FakeCgroup root;
  root.Make("cgroup.controllers", "cpu memory pids\n");
  root.Make("cgroup.subtree_control", "pids\n");
  ASSERT_TRUE(MakeCgroupDirs(root.path(), "/a").ok());
  root.Make("a/cgroup.controllers", "cpu memory pids\n");
  root.Make("a/cgroup.subtree_control");
  ASSERT_TRUE(EnableControllers(root.path(), "/a/b", {"cpu", "memory", "pids", "hugetlb"}).ok());
  EXPECT_EQ(root.Get("cgroup.subtree_control"), "pids\n+cpu +memory");
  EXPECT_EQ(root.Get("a/cgroup.subtree_control"), "+cpu +memory +pids");
  EXPECT_FALSE(root.Has("a/b"));  // the leaf is made by the caller
}

// The device program: prologue, one block per rule in reverse order, default deny.
TEST(CgroupV2Devices, ProgramShape) {
  std::vector<oci::DeviceRule> rules = {
      {false, "a", std::nullopt, std::nullopt, "rwm"},
      {true, "c", 1, 3, "rwm"},
      {true, "c", 136, std::nullopt, "rw"},
  };
  auto prog = BuildDeviceProgram(rules);
  // 6 prologue; c 136:* rw = 3 type/major + 3 access + 2 = 7... counted exactly below.
  // rule 3: JNE type, MOV, AND, JNE access, JNE major, MOV r0, EXIT = 7
  // rule 2: JNE type, JNE major, JNE minor, MOV r0, EXIT = 5
  // rule 1: matches everything: MOV r0 0, EXIT = 2, and nothing after it.
  ASSERT_EQ(prog.size(), 6u + 7u + 5u + 2u);
  EXPECT_EQ(prog[6].code, BPF_JMP | BPF_JNE | BPF_K);
  EXPECT_EQ(prog[6].imm, BPF_DEVCG_DEV_CHAR);
  EXPECT_EQ(prog[6].off, 6);  // to the start of the next block
  EXPECT_EQ(prog[9].code, BPF_JMP | BPF_JNE | BPF_X);
  EXPECT_EQ(prog[8].imm, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE);
  EXPECT_EQ(prog[10].imm, 136);
  EXPECT_EQ(prog[11].imm, 1);  // allow
  EXPECT_EQ(prog[12].code, BPF_JMP | BPF_EXIT);
  EXPECT_EQ(prog[18].imm, 0);  // the deny-all rule
  EXPECT_EQ(prog.back().code, BPF_JMP | BPF_EXIT);
  // With no catch-all rule the program ends in a default deny.
  auto only = BuildDeviceProgram({{true, "b", 8, 0, "r"}});
  EXPECT_EQ(only[only.size() - 2].imm, 0);
}

}  // namespace
}  // namespace skiff::cgroup::v2
