#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "oci/spec.h"
#include "runtime/container.h"
#include "runtime/mount_options.h"
#include "runtime/planner.h"
#include "runtime/state.h"

namespace skiff::runtime {
namespace {

TEST(MountOptions, FlagsPropagationAndData) {
  auto o = ParseMountOptions({"nosuid", "noexec", "nodev", "ro", "rw", "size=64k", "mode=755",
                              "rslave", "X-mount.mkdir"});
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC | MS_NODEV));
  EXPECT_EQ(o.propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(o.data, "size=64k,mode=755");
  EXPECT_FALSE(o.bind);
}

TEST(MountOptions, BindAndRecursiveAttributes) {
  auto o = ParseMountOptions({"rbind", "rro", "rnosuid", "rsuid"});
  EXPECT_TRUE(o.bind);
  EXPECT_TRUE(o.recursive);
  EXPECT_EQ(o.rec_attr_set, static_cast<uint64_t>(MOUNT_ATTR_RDONLY));
  EXPECT_EQ(o.rec_attr_clr, static_cast<uint64_t>(MOUNT_ATTR_NOSUID));
}

TEST(MountOptions, RecursiveAtimeAndIdmap) {
  auto a = ParseMountOptions({"rbind", "rrelatime"});
  EXPECT_TRUE(a.rec_atime_set);
  EXPECT_EQ(a.rec_atime, static_cast<uint64_t>(MOUNT_ATTR_RELATIME));
  EXPECT_EQ(a.data, "");  // not passed on as filesystem data, where a bind would ignore it
  auto s = ParseMountOptions({"rstrictatime"});
  EXPECT_EQ(s.rec_atime, static_cast<uint64_t>(MOUNT_ATTR_STRICTATIME));
  auto n = ParseMountOptions({"rnoatime", "rdiratime"});
  EXPECT_EQ(n.rec_atime, static_cast<uint64_t>(MOUNT_ATTR_NOATIME));
  EXPECT_EQ(n.rec_attr_clr, static_cast<uint64_t>(MOUNT_ATTR_NODIRATIME));
  EXPECT_FALSE(ParseMountOptions({"idmap"}).idmap_recursive);
  EXPECT_TRUE(ParseMountOptions({"ridmap"}).idmap_recursive);
  EXPECT_TRUE(ParseMountOptions({"ridmap"}).idmap);
}

TEST(MountOptions, Propagation) {
  EXPECT_EQ(ParsePropagation("").value(), static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(ParsePropagation("private").value(), static_cast<unsigned long>(MS_PRIVATE));
  EXPECT_EQ(ParsePropagation("rshared").value(), static_cast<unsigned long>(MS_SHARED | MS_REC));
  auto bad = ParsePropagation("sideways");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().msg.find("linux.rootfsPropagation"), std::string::npos);
}

const cgroup::Hierarchies kV2 = [] {
  cgroup::Hierarchies h;
  h.layout = cgroup::Layout::kV2;
  h.unified = "/sys/fs/cgroup";
  return h;
}();

oci::Spec BaseSpec() {
  auto spec = oci::ParseSpec(oci::DefaultSpecJson(false, 0, 0));
  EXPECT_TRUE(spec.ok());
  return spec.value();
}

TEST(Planner, NewNamespacesAreClonedCgroupAndTimeLate) {
  oci::Spec spec = BaseSpec();
  spec.linux->namespaces.push_back({"time", ""});
  spec.linux->time_offsets["monotonic"] = {5, 10};
  auto plan = BuildPlan(spec, {"/b", false, 0, &kV2});
  ASSERT_TRUE(plan.ok()) << plan.error().Message();
  EXPECT_TRUE(plan->clone_flags & CLONE_NEWPID);
  EXPECT_TRUE(plan->clone_flags & CLONE_NEWNS);
  EXPECT_FALSE(plan->clone_flags & CLONE_NEWCGROUP);
  EXPECT_TRUE(plan->unshare_cgroup);
  EXPECT_TRUE(plan->unshare_time);
  EXPECT_EQ(plan->timens_offsets, "monotonic 5 10\n");
  EXPECT_EQ(plan->rootfs, "/b/rootfs");
  EXPECT_TRUE(plan->mount_ns);
  EXPECT_FALSE(plan->fork_into_pidns);
}

TEST(Planner, JoinedUserNamespaceComesFirstAndOwnsTheNewOnes) {
  oci::Spec spec = BaseSpec();
  spec.linux->namespaces = {{"network", "/proc/1/ns/net"}, {"user", "/proc/1/ns/user"},
                            {"pid", ""}, {"mount", ""}};
  auto plan = BuildPlan(spec, {"/b", false, 0, &kV2});
  ASSERT_TRUE(plan.ok()) << plan.error().Message();
  ASSERT_EQ(plan->joins.size(), 2u);
  EXPECT_EQ(plan->joins[0].nstype, CLONE_NEWUSER);
  EXPECT_EQ(plan->joins[1].nstype, CLONE_NEWNET);
  EXPECT_EQ(plan->clone_flags, 0u);
  EXPECT_EQ(plan->unshare_flags, static_cast<uint64_t>(CLONE_NEWPID | CLONE_NEWNS));
  EXPECT_TRUE(plan->fork_into_pidns);  // a new pid ns made by unshare needs a fork
  EXPECT_TRUE(plan->bind_devices);     // no mknod in a user namespace
}

TEST(Planner, DefaultDevicesUnlessTheSpecHasThem) {
  oci::Spec spec = BaseSpec();
  oci::Device d;
  d.type = "c";
  d.path = "/dev/null";
  d.major = 1;
  d.minor = 3;
  d.file_mode = 0600;
  d.uid = 7;
  spec.linux->devices.push_back(d);
  auto plan = BuildPlan(spec, {"/b", false, 0, &kV2});
  ASSERT_TRUE(plan.ok());
  int nulls = 0;
  bool tty = false;
  for (const auto& n : plan->devices) {
    if (n.path == "/dev/null") {
      ++nulls;
      EXPECT_EQ(n.mode, static_cast<mode_t>(S_IFCHR | 0600));
      EXPECT_EQ(n.uid, 7u);
    }
    if (n.path == "/dev/tty") {
      tty = true;
      EXPECT_EQ(n.dev, makedev(5, 0));
    }
  }
  EXPECT_EQ(nulls, 1);
  EXPECT_TRUE(tty);
  EXPECT_TRUE(plan->dev_is_tmpfs);
}

TEST(Planner, MountsBindsAndCgroups) {
  oci::Spec spec = BaseSpec();
  spec.mounts.push_back({"/data", "none", "host-data", {"rbind", "ro"}, {}, {}});
  cgroup::Hierarchies h;
  h.layout = cgroup::Layout::kHybrid;
  h.v1 = {{"cpu", "/sys/fs/cgroup/cpu,cpuacct"}, {"cpuacct", "/sys/fs/cgroup/cpu,cpuacct"},
          {"memory", "/sys/fs/cgroup/memory"}};
  h.unified = "/sys/fs/cgroup/unified";
  auto plan = BuildPlan(spec, {"/b", false, 0, &h});
  ASSERT_TRUE(plan.ok()) << plan.error().Message();
  const MountStep* bind = nullptr;
  const MountStep* cg = nullptr;
  for (const auto& m : plan->mounts) {
    if (m.destination == "/data") bind = &m;
    if (m.destination == "/sys/fs/cgroup") cg = &m;
  }
  ASSERT_TRUE(bind && cg);
  EXPECT_EQ(bind->kind, MountKind::kBind);
  EXPECT_EQ(bind->source, "/b/host-data");  // relative to the bundle
  EXPECT_TRUE(bind->opts.recursive);
  EXPECT_EQ(cg->kind, MountKind::kCgroupV1);
  ASSERT_EQ(cg->cgroup_v1.size(), 2u);
  EXPECT_EQ(cg->cgroup_v1[0], (std::pair<std::string, std::string>{"cpu,cpuacct", "cpu,cpuacct"}));
  EXPECT_TRUE(cg->cgroup_unified);
  ASSERT_EQ(cg->cgroup_links.size(), 2u);  // cpu -> cpu,cpuacct and cpuacct -> cpu,cpuacct
}

TEST(Planner, ProcessFieldsAndRlimits) {
  oci::Spec spec = BaseSpec();
  spec.process->user = {1000, 1000, 027, {10, 20}};
  spec.process->rlimits = {{"RLIMIT_NOFILE", 1024, 512}};
  spec.process->cwd = "/tmp";
  spec.linux->sysctl["net.ipv4.ip_forward"] = "1";
  auto plan = BuildPlan(spec, {"/b", false, 2, &kV2});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->uid, 1000u);
  EXPECT_EQ(plan->groups, (std::vector<gid_t>{10, 20}));
  EXPECT_EQ(*plan->umask, static_cast<mode_t>(027));
  ASSERT_EQ(plan->rlimits.size(), 1u);
  EXPECT_EQ(plan->rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(plan->rlimits[0].value.rlim_cur, 512u);
  EXPECT_EQ(plan->rlimits[0].value.rlim_max, 1024u);
  EXPECT_EQ(plan->cwd, "/tmp");
  EXPECT_EQ(plan->preserve_fds, 2);
  ASSERT_EQ(plan->sysctls.size(), 1u);
  EXPECT_EQ(plan->sysctls[0].first, "net/ipv4/ip_forward");
  EXPECT_TRUE(plan->caps.bounding & (1ULL << 5));  // CAP_KILL from the default spec
}

TEST(Planner, MissingProcessPlansNothingToRun) {
  // config.md: process is only needed by start; create still builds the container.
  oci::Spec spec = BaseSpec();
  spec.process.reset();
  auto plan = BuildPlan(spec, {"/b", false, 0, &kV2});
  ASSERT_TRUE(plan.ok()) << plan.error().Message();
  EXPECT_TRUE(plan->args.empty());
  EXPECT_EQ(plan->cwd, "/");
}

TEST(Signals, ByNameAndNumber) {
  EXPECT_EQ(ParseSignal("KILL").value(), 9);
  EXPECT_EQ(ParseSignal("SIGTERM").value(), 15);
  EXPECT_EQ(ParseSignal("term").value(), 15);
  EXPECT_EQ(ParseSignal("10").value(), 10);
  EXPECT_EQ(ParseSignal("RTMIN+2").value(), SIGRTMIN + 2);
  EXPECT_FALSE(ParseSignal("NOPE").ok());
  EXPECT_FALSE(ParseSignal("0").ok());
  EXPECT_FALSE(ParseSignal("99").ok());
}

TEST(State, IdsAreValidated) {
  EXPECT_TRUE(ValidateId("abc-1.2_3+x").ok());
  EXPECT_FALSE(ValidateId("").ok());
  EXPECT_FALSE(ValidateId("..").ok());
  EXPECT_FALSE(ValidateId("a/b").ok());
  EXPECT_FALSE(ValidateId("a b").ok());
}

TEST(State, JsonShapeAsRunc) {
  ContainerState s;
  s.id = "c1";
  s.pid = 42;
  s.bundle = "/b";
  s.rootfs = "/b/rootfs";
  s.created = "2026-01-01T00:00:00.000000000Z";
  std::string j = StateJson(s, ContainerStatus::kRunning, -1);
  EXPECT_NE(j.find("\"ociVersion\":\"1.2.0\""), std::string::npos);
  EXPECT_NE(j.find("\"status\":\"running\""), std::string::npos);
  EXPECT_NE(j.find("\"pid\":42"), std::string::npos);
  // A stopped container has no pid (runtime.md: pid is for created and running).
  EXPECT_NE(StateJson(s, ContainerStatus::kStopped, -1).find("\"pid\":0"), std::string::npos);
}

TEST(State, NowIsRfc3339Utc) {
  std::string t = NowRfc3339();
  ASSERT_EQ(t.size(), 30u);
  EXPECT_EQ(t[4], '-');
  EXPECT_EQ(t[10], 'T');
  EXPECT_EQ(t.back(), 'Z');
}

}  // namespace
}  // namespace skiff::runtime
