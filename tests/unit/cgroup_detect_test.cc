#include <gtest/gtest.h>

#include <string>

#include "base/file.h"
#include "cgroup/manager.h"
#include "cgroup/util.h"
#include "cgroup_fake_dir.h"

namespace skiff::cgroup {
namespace {

// This machine's layout (MACHINE.md), plus a co-mounted cpu,cpuacct and net_cls,net_prio.
constexpr const char* kHybrid =
    "23 1 254:1 / / rw,relatime - ext4 /dev/vda rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup "
    "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";

constexpr const char* kV2 =
    "23 1 254:1 / / rw,relatime - ext4 /dev/vda rw\n"
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n"
    "50 23 0:40 / /proc rw - proc proc rw\n";

constexpr const char* kV1 =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "33 31 0:30 / /sys/fs/cgroup/my\\040freezer rw,relatime - cgroup cgroup rw,freezer\n";

TEST(CgroupDetect, Hybrid) {
  Hierarchies h = ParseMountinfo(kHybrid);
  EXPECT_EQ(h.layout, Layout::kHybrid);
  EXPECT_EQ(h.unified, "/sys/fs/cgroup/unified");
  EXPECT_EQ(h.v1["cpu"], "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(h.v1["cpuacct"], "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(h.v1["cpuset"], "/sys/fs/cgroup/cpuset");
  EXPECT_EQ(h.v1["net_prio"], "/sys/fs/cgroup/net_cls,net_prio");
  EXPECT_EQ(h.v1["name=systemd"], "/sys/fs/cgroup/systemd");
  EXPECT_EQ(h.v1.count("rw"), 0u);
  EXPECT_EQ(h.v1.count("xattr"), 0u);
  EXPECT_EQ(h.v1.count("clone_children"), 0u);
  EXPECT_EQ(h.v1.size(), 7u);
}

TEST(CgroupDetect, PureV2) {
  Hierarchies h = ParseMountinfo(kV2);
  EXPECT_EQ(h.layout, Layout::kV2);
  EXPECT_EQ(h.unified, "/sys/fs/cgroup");
  EXPECT_TRUE(h.v1.empty());
}

TEST(CgroupDetect, PureV1WithEscapedPath) {
  Hierarchies h = ParseMountinfo(kV1);
  EXPECT_EQ(h.layout, Layout::kV1);
  EXPECT_EQ(h.unified, "");
  EXPECT_EQ(h.v1["freezer"], "/sys/fs/cgroup/my freezer");
  EXPECT_EQ(h.v1["pids"], "/sys/fs/cgroup/pids");
}

TEST(CgroupDetect, FromFileReadsUnifiedControllers) {
  testing::FakeCgroup root;  // stands for the cgroup2 mount point
  root.Make("cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
  testing::FakeCgroup mi;
  mi.Make("mountinfo", "30 23 0:26 / " + root.path() + " rw - cgroup2 cgroup2 rw\n");
  auto h = Detect(mi.path() + "/mountinfo");
  ASSERT_TRUE(h.ok()) << h.error().Message();
  EXPECT_EQ(h->layout, Layout::kV2);
  EXPECT_EQ(h->unified_controllers,
            (std::vector<std::string>{"cpuset", "cpu", "io", "memory", "hugetlb", "pids"}));
}

TEST(CgroupDetect, NoCgroupsIsAnError) {
  testing::FakeCgroup mi;
  mi.Make("mountinfo", "50 23 0:40 / /proc rw - proc proc rw\n");
  auto h = Detect(mi.path() + "/mountinfo");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().Message().find("no cgroup hierarchy"), std::string::npos);
}

TEST(CgroupDetect, LayoutName) {
  EXPECT_STREQ(LayoutName(Layout::kV1), "v1");
  EXPECT_STREQ(LayoutName(Layout::kV2), "v2");
  EXPECT_STREQ(LayoutName(Layout::kHybrid), "hybrid");
}

TEST(CgroupDetect, ReadProcCgroup) {
  testing::FakeCgroup d;
  d.Make("cgroup",
         "9:name=systemd:/user.slice\n4:memory:/process_api/abc\n1:cpu,cpuacct:/x\n0::/init\n");
  auto m = ReadProcCgroup(d.path() + "/cgroup");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)["name=systemd"], "/user.slice");
  EXPECT_EQ((*m)["memory"], "/process_api/abc");
  EXPECT_EQ((*m)["cpu"], "/x");
  EXPECT_EQ((*m)["cpuacct"], "/x");
  EXPECT_EQ((*m)[""], "/init");
}

TEST(CgroupResolvePath, Cases) {
  EXPECT_EQ(ResolvePath("", "c1", "/user.slice"), "/skiff/c1");
  EXPECT_EQ(ResolvePath("/abs/c1", "c1", "/user.slice"), "/abs/c1");
  EXPECT_EQ(ResolvePath("rel/c1", "c1", "/user.slice"), "/user.slice/rel/c1");
  EXPECT_EQ(ResolvePath("rel", "c1", "/"), "/rel");
  EXPECT_EQ(ResolvePath("rel", "c1", ""), "/rel");
}

TEST(CgroupUtil, JoinAndParse) {
  EXPECT_EQ(JoinPath("/sys/fs/cgroup/", "/a/b"), "/sys/fs/cgroup/a/b");
  EXPECT_EQ(JoinPath("/sys/fs/cgroup", "/"), "/sys/fs/cgroup");
  auto kv = ParseKeyValues("usage_usec 100\nuser_usec 60\nbad\nsystem_usec 40\n");
  EXPECT_EQ(kv["usage_usec"], 100u);
  EXPECT_EQ(kv["system_usec"], 40u);
  EXPECT_EQ(kv.count("bad"), 0u);
}

TEST(CgroupUtil, WriteErrorNamesFileValueAndDir) {
  testing::FakeCgroup d;
  Status st = WriteValue(d.dir(), "memory.limit_in_bytes", "67108864");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().Message(),
            "write memory.limit_in_bytes=67108864 in " + d.path() + ": No such file or directory");
}

TEST(CgroupUtil, MakeDirsReportsCreated) {
  testing::FakeCgroup d;
  auto c = MakeCgroupDirs(d.path(), "/a/b");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, (std::vector<std::string>{d.path() + "/a", d.path() + "/a/b"}));
  auto again = MakeCgroupDirs(d.path(), "/a/b/c");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, (std::vector<std::string>{d.path() + "/a/b/c"}));
  EXPECT_FALSE(MakeCgroupDirs(d.path(), "/a/../x").ok());
}

}  // namespace
}  // namespace skiff::cgroup
