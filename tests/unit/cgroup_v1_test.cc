// The v1 writers against plain files. WriteValue opens with O_APPEND, so a file shows every
// write in order.
#include <gtest/gtest.h>

#include "cgroup/v1/controllers.h"
#include "cgroup_fake_dir.h"

namespace skiff::cgroup::v1 {
namespace {

using testing::FakeCgroup;

TEST(CgroupV1Memory, LimitSwapAndFriends) {
  FakeCgroup d;
  for (const char* f :
       {"memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.swappiness",
        "memory.oom_control", "memory.kmem.tcp.limit_in_bytes"}) {
    d.Make(f);
  }
  d.Make("memory.limit_in_bytes", "9223372036854771712\n");  // unlimited
  oci::Memory m;
  m.limit = 64 << 20;
  m.swap = 128 << 20;
  m.reservation = 32 << 20;
  m.swappiness = 10;
  m.disable_oom_killer = true;
  m.kernel = 1 << 20;  // ignored: deprecated and refused by the kernel
  m.kernel_tcp = 2 << 20;
  ASSERT_TRUE(SetMemory(d.dir(), m).ok());
  EXPECT_EQ(d.Get("memory.limit_in_bytes"), "9223372036854771712\n67108864");
  EXPECT_EQ(d.Get("memory.memsw.limit_in_bytes"), "134217728");
  EXPECT_EQ(d.Get("memory.soft_limit_in_bytes"), "33554432");
  EXPECT_EQ(d.Get("memory.swappiness"), "10");
  EXPECT_EQ(d.Get("memory.oom_control"), "1");
  EXPECT_EQ(d.Get("memory.kmem.tcp.limit_in_bytes"), "2097152");
  EXPECT_FALSE(d.Has("memory.kmem.limit_in_bytes"));
}

// Which of limit and memsw goes first is what makes the kernel accept the pair. Both names
// are hard links to one file here, so its content is the order of the writes.
static std::string WriteOrder(const std::string& current, int64_t limit, int64_t swap) {
  FakeCgroup d;
  d.Make("log", current);
  EXPECT_EQ(::link((d.path() + "/log").c_str(), (d.path() + "/memory.limit_in_bytes").c_str()), 0);
  EXPECT_EQ(
      ::link((d.path() + "/log").c_str(), (d.path() + "/memory.memsw.limit_in_bytes").c_str()), 0);
  oci::Memory m;
  m.limit = limit;
  m.swap = swap;
  EXPECT_TRUE(SetMemory(d.dir(), m).ok());
  return d.Get("log");
}

TEST(CgroupV1Memory, WriteOrderFollowsDirection) {
  // Raising: memsw first (the new limit would exceed the old memsw).
  EXPECT_EQ(WriteOrder("1000\n", 4000, 8000), "1000\n80004000");
  // Lowering below the current limit: memory first (the new memsw would be below it).
  EXPECT_EQ(WriteOrder("10000\n", 1000, 2000), "10000\n10002000");
  // Currently unlimited: memory first, then memsw.
  EXPECT_EQ(WriteOrder("9223372036854771712\n", 1000, 2000), "9223372036854771712\n10002000");
  // Unlimited swap: memsw first.
  EXPECT_EQ(WriteOrder("1000\n", 500, -1), "1000\n-1500");
}

TEST(CgroupV1Memory, UnlimitedLimitMeansUnlimitedSwap) {
  FakeCgroup d;
  d.Make("memory.limit_in_bytes", "1000");
  d.Make("memory.memsw.limit_in_bytes");
  oci::Memory m;
  m.limit = -1;
  ASSERT_TRUE(SetMemory(d.dir(), m).ok());
  EXPECT_EQ(d.Get("memory.memsw.limit_in_bytes"), "-1");
  EXPECT_EQ(d.Get("memory.limit_in_bytes"), "1000-1");
}

TEST(CgroupV1Memory, SwappinessRange) {
  FakeCgroup d;
  d.Make("memory.swappiness");
  oci::Memory m;
  m.swappiness = 101;
  EXPECT_FALSE(SetMemory(d.dir(), m).ok());
}

TEST(CgroupV1Memory, Stats) {
  FakeCgroup d;
  d.Make("memory.usage_in_bytes", "4096\n");
  d.Make("memory.max_usage_in_bytes", "8192\n");
  d.Make("memory.limit_in_bytes", "9223372036854771712\n");
  d.Make("memory.memsw.usage_in_bytes", "5096\n");
  d.Make("memory.stat",
         "cache 100\nrss 200\ninactive_file 40\ntotal_cache 300\ntotal_inactive_file 50\n");
  d.Make("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  Stats s;
  ASSERT_TRUE(ReadMemoryStats(d.dir(), &s).ok());
  EXPECT_EQ(s.memory_usage, 4096u);
  EXPECT_EQ(s.memory_max_usage, 8192u);
  EXPECT_EQ(s.memory_limit, 0u);
  EXPECT_EQ(s.memory_cache, 300u);
  EXPECT_EQ(s.memory_inactive_file, 50u);  // the hierarchical total, as docker stats uses
  EXPECT_EQ(s.swap_usage, 1000u);
  EXPECT_EQ(s.oom_kills, 3u);
}

TEST(CgroupV1Cpu, AllFiles) {
  FakeCgroup d;
  for (const char* f : {"cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.cfs_burst_us",
                        "cpu.rt_period_us", "cpu.rt_runtime_us"}) {
    d.Make(f);
  }
  oci::Cpu c;
  c.shares = 512;
  c.quota = 50000;
  c.period = 100000;
  c.burst = 1000;
  c.realtime_period = 1000000;
  c.realtime_runtime = 950000;
  ASSERT_TRUE(SetCpu(d.dir(), c).ok());
  EXPECT_EQ(d.Get("cpu.shares"), "512");
  EXPECT_EQ(d.Get("cpu.cfs_period_us"), "100000");
  EXPECT_EQ(d.Get("cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(d.Get("cpu.cfs_burst_us"), "1000");
  EXPECT_EQ(d.Get("cpu.rt_period_us"), "1000000");
  EXPECT_EQ(d.Get("cpu.rt_runtime_us"), "950000");
}

TEST(CgroupV1Cpu, Stats) {
  FakeCgroup d;
  d.Make("cpuacct.usage", "3000\n");
  d.Make("cpuacct.usage_user", "2000\n");
  d.Make("cpuacct.usage_sys", "1000\n");
  d.Make("cpu.stat", "nr_periods 10\nnr_throttled 2\nthrottled_time 555\n");
  Stats s;
  ASSERT_TRUE(ReadCpuacctStats(d.dir(), &s).ok());
  ASSERT_TRUE(ReadCpuStats(d.dir(), &s).ok());
  EXPECT_EQ(s.cpu_usage_ns, 3000u);
  EXPECT_EQ(s.cpu_user_ns, 2000u);
  EXPECT_EQ(s.cpu_system_ns, 1000u);
  EXPECT_EQ(s.cpu_throttled_periods, 2u);
  EXPECT_EQ(s.cpu_throttled_ns, 555u);
}

TEST(CgroupV1Cpuset, InheritCopiesEmptyValuesDown) {
  FakeCgroup root;
  root.Make("cpuset.cpus", "0-1\n");
  root.Make("cpuset.mems", "0\n");
  ASSERT_TRUE(MakeCgroupDirs(root.path(), "/a/b").ok());
  for (const char* f : {"a/cpuset.cpus", "a/cpuset.mems", "a/b/cpuset.mems"}) root.Make(f);
  root.Make("a/b/cpuset.cpus", "1\n");  // already set: kept
  ASSERT_TRUE(InheritCpuset(root.path(), {root.path() + "/a", root.path() + "/a/b"}).ok());
  EXPECT_EQ(root.Get("a/cpuset.cpus"), "0-1");
  EXPECT_EQ(root.Get("a/cpuset.mems"), "0");
  EXPECT_EQ(root.Get("a/b/cpuset.cpus"), "1\n");
  EXPECT_EQ(root.Get("a/b/cpuset.mems"), "0");
}

TEST(CgroupV1Cpuset, CpusAndMems) {
  FakeCgroup d;
  d.Make("cpuset.cpus");
  d.Make("cpuset.mems");
  oci::Cpu c;
  c.cpus.push_back('0');  // not = "0": GCC 12's bogus -Wrestrict on one-char assigns
  c.mems.push_back('0');
  ASSERT_TRUE(SetCpuset(d.dir(), c).ok());
  EXPECT_EQ(d.Get("cpuset.cpus"), "0");
  EXPECT_EQ(d.Get("cpuset.mems"), "0");
}

TEST(CgroupV1Pids, MaxValues) {
  EXPECT_EQ(PidsMaxValue(-1), "max");
  EXPECT_EQ(PidsMaxValue(0), "max");
  EXPECT_EQ(PidsMaxValue(42), "42");
  FakeCgroup d;
  d.Make("pids.max");
  ASSERT_TRUE(SetPids(d.dir(), oci::Pids{100}).ok());
  EXPECT_EQ(d.Get("pids.max"), "100");
}

TEST(CgroupV1Blkio, BfqWeightAndThrottles) {
  FakeCgroup d;
  for (const char* f : {"blkio.bfq.weight", "blkio.bfq.weight_device",
                        "blkio.throttle.read_bps_device", "blkio.throttle.write_iops_device"}) {
    d.Make(f);
  }
  oci::BlockIO b;
  b.weight = 300;
  b.weight_device.push_back({8, 0, 200, std::nullopt});
  b.throttle_read_bps_device.push_back({8, 0, 1048576});
  b.throttle_write_iops_device.push_back({8, 16, 100});
  ASSERT_TRUE(SetBlkio(d.dir(), b).ok());
  EXPECT_EQ(d.Get("blkio.bfq.weight"), "300");
  EXPECT_EQ(d.Get("blkio.bfq.weight_device"), "8:0 200");
  EXPECT_EQ(d.Get("blkio.throttle.read_bps_device"), "8:0 1048576");
  EXPECT_EQ(d.Get("blkio.throttle.write_iops_device"), "8:16 100");
}

TEST(CgroupV1Blkio, PrefersCfqWeightWhenPresent) {
  FakeCgroup d;
  d.Make("blkio.weight");
  d.Make("blkio.bfq.weight");
  oci::BlockIO b;
  b.weight = 500;
  ASSERT_TRUE(SetBlkio(d.dir(), b).ok());
  EXPECT_EQ(d.Get("blkio.weight"), "500");
  EXPECT_EQ(d.Get("blkio.bfq.weight"), "");
}

TEST(CgroupV1Blkio, Stats) {
  FakeCgroup d;
  d.Make("blkio.throttle.io_service_bytes_recursive",
         "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n8:16 Read 1\nTotal 12289\n");
  d.Make("blkio.throttle.io_serviced_recursive", "8:0 Read 2\n8:0 Write 3\nTotal 5\n");
  Stats s;
  ASSERT_TRUE(ReadBlkioStats(d.dir(), &s).ok());
  EXPECT_EQ(s.io_read_bytes, 4097u);
  EXPECT_EQ(s.io_write_bytes, 8192u);
  EXPECT_EQ(s.io_read_ops, 2u);
  EXPECT_EQ(s.io_write_ops, 3u);
}

TEST(CgroupV1Devices, DenyAllThenRulesInOrder) {
  FakeCgroup d;
  d.Make("devices.allow");
  d.Make("devices.deny");
  std::vector<oci::DeviceRule> rules = {
      {false, "a", std::nullopt, std::nullopt, "rwm"},
      {true, "c", 1, 3, "rwm"},
      {true, "c", 136, std::nullopt, "rw"},
      {false, "c", 1, 3, "w"},
  };
  ASSERT_TRUE(SetDevices(d.dir(), rules).ok());
  EXPECT_EQ(d.Get("devices.deny"), "aa *:* rwmc 1:3 w");
  EXPECT_EQ(d.Get("devices.allow"), "c 1:3 rwmc 136:* rw");
  EXPECT_EQ(DeviceRuleString({true, "", std::nullopt, std::nullopt, ""}), "a *:* rwm");
}

TEST(CgroupV1Freezer, FreezeAndState) {
  FakeCgroup d;
  d.Make("freezer.state");
  ASSERT_TRUE(SetFreezer(d.dir(), true).ok());
  auto st = GetFreezer(d.dir());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, FreezerState::kFrozen);
}

TEST(CgroupV1HugetlbNet, Files) {
  FakeCgroup d;
  d.Make("hugetlb.2MB.limit_in_bytes");
  d.Make("net_cls.classid");
  d.Make("net_prio.ifpriomap");
  ASSERT_TRUE(SetHugetlb(d.dir(), {{"2MB", 4194304}}).ok());
  EXPECT_EQ(d.Get("hugetlb.2MB.limit_in_bytes"), "4194304");
  oci::NetworkResources n;
  n.class_id = 0x100001;
  n.priorities = {{"eth0", 5}, {"lo", 1}};
  ASSERT_TRUE(SetNetCls(d.dir(), n).ok());
  ASSERT_TRUE(SetNetPrio(d.dir(), n).ok());
  EXPECT_EQ(d.Get("net_cls.classid"), "1048577");
  EXPECT_EQ(d.Get("net_prio.ifpriomap"), "eth0 5lo 1");
  Status st = SetHugetlb(d.dir(), {{"1GB", 1}});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().Message().find("write hugetlb.1GB.limit_in_bytes=1 in "), std::string::npos);
}

}  // namespace
}  // namespace skiff::cgroup::v1
