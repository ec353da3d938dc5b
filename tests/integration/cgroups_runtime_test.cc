// linux.resources and linux.cgroupsPath as the kernel applies them to a container: the
// files in its own cgroup, and what a process inside runs into (pids, devices, memory).
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bundle.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

class CgroupsRuntimeTest : public BundleTest {
 protected:
  // create (not started: the process waits, so its cgroup can be read); returns the pid.
  pid_t Created(const std::string& id) {
    spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
    WriteConfig();
    CmdResult c = Runtime({"create", "-b", bundle_, id});
    EXPECT_EQ(c.code, 0) << c.err;
    if (c.code != 0) return 0;
    return State(id).value("pid", 0);
  }
  std::string CgroupFile(pid_t pid, const std::string& controller, const std::string& file) {
    std::string dir = HostCgroupDir(pid, controller);
    EXPECT_FALSE(dir.empty()) << "no " << controller << " cgroup for " << pid;
    std::string v = ReadText(dir + "/" + file);
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  }
};

TEST_F(CgroupsRuntimeTest, MemoryLimit) {
  spec_["linux"]["resources"]["memory"] = {{"limit", 64 << 20}};
  std::string id = NewId("mem");
  pid_t pid = Created(id);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(HostCgroupDir(pid, "memory"), "/sys/fs/cgroup/memory/skiff/" + id);
  EXPECT_EQ(CgroupFile(pid, "memory", "memory.limit_in_bytes"), "67108864");
}

TEST_F(CgroupsRuntimeTest, PidsLimitStopsForkBomb) {
  spec_["linux"]["resources"]["pids"] = {{"limit", 20}};
  CmdResult r = RunProbe({"forkbomb", "50"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  // The probe itself is one of the 20.
  EXPECT_LE(j.value("forked", 99), 19) << r.out;
  EXPECT_GE(j.value("forked", 0), 15) << r.out;
  EXPECT_EQ(j["errno"], "EAGAIN 11") << r.out;
}

TEST_F(CgroupsRuntimeTest, CpuSharesQuotaPeriod) {
  spec_["linux"]["resources"]["cpu"] = {{"shares", 512}, {"quota", 50000}, {"period", 100000}};
  std::string id = NewId("cpu");
  pid_t pid = Created(id);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(CgroupFile(pid, "cpu", "cpu.shares"), "512");
  EXPECT_EQ(CgroupFile(pid, "cpu", "cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(CgroupFile(pid, "cpu", "cpu.cfs_period_us"), "100000");
}

TEST_F(CgroupsRuntimeTest, CgroupsPathHonoured) {
  std::string parent = "/skiff-itest-" + std::to_string(getpid());
  OwnCgroupParent(parent);
  std::string id = NewId("path");
  spec_["linux"]["cgroupsPath"] = parent + "/" + id;
  pid_t pid = Created(id);
  ASSERT_GT(pid, 0);
  for (const char* c : {"memory", "pids", "cpu", "devices", "freezer"})
    EXPECT_EQ(HostCgroupDir(pid, c), std::string("/sys/fs/cgroup/") + c + parent + "/" + id) << c;
  EXPECT_EQ(HostCgroupDir(pid, ""), "/sys/fs/cgroup/unified" + parent + "/" + id);
  EXPECT_FALSE(Exists("/sys/fs/cgroup/memory/skiff/" + id));
  CmdResult d = Runtime({"delete", id});
  EXPECT_EQ(d.code, 0) << d.err;
  for (const auto& m : CgroupMounts())
    EXPECT_FALSE(Exists(m + parent + "/" + id)) << m << parent << "/" << id;
}

class DeviceRulesTest : public CgroupsRuntimeTest {
 protected:
  // A host device outside the default allow list, harmless to read (4 bytes, the current
  // latency request), bound into the container. (/dev/zero can't serve: the defaults that
  // follow the spec's rules allow it, as runc's do.)
  void SetUp() override {
    CgroupsRuntimeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    struct stat st;
    if (stat("/dev/cpu_dma_latency", &st) != 0 || !S_ISCHR(st.st_mode))
      GTEST_SKIP() << "no /dev/cpu_dma_latency";
    major_ = major(st.st_rdev);
    minor_ = minor(st.st_rdev);
    spec_["mounts"].push_back({{"destination", "/dev/lat"},
                               {"type", "bind"},
                               {"source", "/dev/cpu_dma_latency"},
                               {"options", {"bind"}}});
  }
  unsigned major_ = 0, minor_ = 0;
};

TEST_F(DeviceRulesTest, DenyAllAllowNull) {
  spec_["linux"]["resources"]["devices"] = {
      {{"allow", false}, {"access", "rwm"}},
      {{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"access", "rwm"}}};
  CmdResult lat = RunProbe({"read", "/dev/lat"});
  EXPECT_EQ(lat.code, 1);
  EXPECT_EQ(lat.out, "EPERM 1\n") << lat.err;
  CmdResult null = RunProbe({"write", "/dev/null", "x"});
  EXPECT_EQ(null.out, "ok\n") << null.err;
}

TEST_F(DeviceRulesTest, AllowRuleOpensIt) {
  // The same device allowed: the EPERM above came from the device cgroup, not elsewhere.
  spec_["linux"]["resources"]["devices"] = {
      {{"allow", false}, {"access", "rwm"}},
      {{"allow", true}, {"type", "c"}, {"major", major_}, {"minor", minor_}, {"access", "r"}}};
  CmdResult lat = RunProbe({"read", "/dev/lat"});
  EXPECT_EQ(lat.code, 0) << lat.out << lat.err;
  EXPECT_EQ(lat.out.size(), 4u);
}

TEST_F(CgroupsRuntimeTest, AllocOverMemoryLimitIsKilled) {
  int64_t limit = 32 << 20;
  spec_["linux"]["resources"]["memory"] = {{"limit", limit}};
  // With swap accounting, memory+swap must be capped too, or the kernel swaps instead.
  if (Exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"))
    spec_["linux"]["resources"]["memory"]["swap"] = limit;
  CmdResult r = RunProbe({"alloc", "256"}, {}, {30000, {}});
  EXPECT_EQ(r.code, 137) << r.out << r.err;
  EXPECT_EQ(r.out.find("allocated"), std::string::npos) << r.out;
}

TEST_F(CgroupsRuntimeTest, AllocUnderMemoryLimitSucceeds) {
  spec_["linux"]["resources"]["memory"] = {{"limit", 64 << 20}};
  CmdResult r = RunProbe({"alloc", "16"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "allocated 16\n");
}

}  // namespace
}  // namespace skiff::itest
