#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "oci/spec.h"

namespace skiff::oci {
namespace {

const Mount* FindMount(const Spec& s, const std::string& dest) {
  for (const auto& m : s.mounts)
    if (m.destination == dest) return &m;
  return nullptr;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

Spec ParseDefault(bool rootless, uint32_t uid = 0, uint32_t gid = 0) {
  auto r = ParseSpec(DefaultSpecJson(rootless, uid, gid));
  EXPECT_TRUE(r.ok()) << r.error().Message();
  return r.ok() ? *r : Spec{};
}

TEST(OciDefaultSpec, IsPrettyPrinted) {
  std::string json = DefaultSpecJson(false, 0, 0);
  EXPECT_EQ(json.rfind("{\n  \"ociVersion\": \"1.2.0\",\n  \"process\": {\n    \"terminal\"", 0),
            0u)
      << json.substr(0, 80);
  EXPECT_EQ(json.back(), '\n');
}

TEST(OciDefaultSpec, RootfulParsesAndValidates) {
  Spec s = ParseDefault(false);
  Status st = ValidateSpec(s);
  ASSERT_TRUE(st.ok()) << st.error().Message();

  EXPECT_EQ(s.oci_version, kOciVersion);
  ASSERT_TRUE(s.process);
  EXPECT_TRUE(s.process->terminal);
  EXPECT_EQ(s.process->user.uid, 0u);
  EXPECT_EQ(s.process->args, (std::vector<std::string>{"sh"}));
  EXPECT_EQ(s.process->env, (std::vector<std::string>{
                                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                "TERM=xterm"}));
  EXPECT_EQ(s.process->cwd, "/");
  ASSERT_TRUE(s.process->capabilities);
  std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  EXPECT_EQ(s.process->capabilities->bounding, caps);
  EXPECT_EQ(s.process->capabilities->effective, caps);
  EXPECT_EQ(s.process->capabilities->permitted, caps);
  EXPECT_TRUE(s.process->capabilities->inheritable.empty());
  EXPECT_TRUE(s.process->capabilities->ambient.empty());
  ASSERT_EQ(s.process->rlimits.size(), 1u);
  EXPECT_EQ(s.process->rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(s.process->rlimits[0].hard, 1024u);
  EXPECT_EQ(s.process->rlimits[0].soft, 1024u);
  EXPECT_TRUE(s.process->no_new_privileges);
  ASSERT_TRUE(s.root);
  EXPECT_EQ(s.root->path, "rootfs");
  EXPECT_TRUE(s.root->readonly);
  EXPECT_EQ(s.hostname, "skiff");

  std::vector<std::string> dests;
  for (const auto& m : s.mounts) dests.push_back(m.destination);
  EXPECT_EQ(dests, (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue",
                                             "/sys", "/sys/fs/cgroup"}));
  EXPECT_TRUE(Has(FindMount(s, "/dev/pts")->options, "gid=5"));
  EXPECT_EQ(FindMount(s, "/sys")->type, "sysfs");
  EXPECT_EQ(FindMount(s, "/sys/fs/cgroup")->type, "cgroup");
  EXPECT_TRUE(Has(FindMount(s, "/sys/fs/cgroup")->options, "ro"));

  ASSERT_TRUE(s.linux);
  std::vector<std::string> ns;
  for (const auto& n : s.linux->namespaces) ns.push_back(n.type);
  EXPECT_EQ(ns, (std::vector<std::string>{"pid", "network", "ipc", "uts", "mount", "cgroup"}));
  EXPECT_TRUE(s.linux->uid_mappings.empty());
  ASSERT_TRUE(s.linux->resources);
  ASSERT_EQ(s.linux->resources->devices.size(), 1u);
  EXPECT_FALSE(s.linux->resources->devices[0].allow);
  EXPECT_EQ(s.linux->resources->devices[0].access, "rwm");
  EXPECT_EQ(s.linux->masked_paths.size(), 10u);
  EXPECT_TRUE(Has(s.linux->masked_paths, "/proc/kcore"));
  EXPECT_TRUE(Has(s.linux->masked_paths, "/sys/firmware"));
  EXPECT_EQ(s.linux->readonly_paths,
            (std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                      "/proc/sysrq-trigger"}));
}

TEST(OciDefaultSpec, RootlessParsesAndValidates) {
  Spec s = ParseDefault(true, 1000, 1001);
  Status st = ValidateSpec(s);
  ASSERT_TRUE(st.ok()) << st.error().Message();

  ASSERT_TRUE(s.linux);
  std::vector<std::string> ns;
  for (const auto& n : s.linux->namespaces) ns.push_back(n.type);
  EXPECT_EQ(ns, (std::vector<std::string>{"pid", "ipc", "uts", "mount", "cgroup", "user"}));
  ASSERT_EQ(s.linux->uid_mappings.size(), 1u);
  EXPECT_EQ(s.linux->uid_mappings[0].container_id, 0u);
  EXPECT_EQ(s.linux->uid_mappings[0].host_id, 1000u);
  EXPECT_EQ(s.linux->uid_mappings[0].size, 1u);
  ASSERT_EQ(s.linux->gid_mappings.size(), 1u);
  EXPECT_EQ(s.linux->gid_mappings[0].host_id, 1001u);
  EXPECT_EQ(s.linux->gid_mappings[0].size, 1u);
  EXPECT_FALSE(s.linux->resources);

  const Mount* pts = FindMount(s, "/dev/pts");
  ASSERT_NE(pts, nullptr);
  EXPECT_FALSE(Has(pts->options, "gid=5"));
  EXPECT_TRUE(Has(pts->options, "newinstance"));
  const Mount* sys = FindMount(s, "/sys");
  ASSERT_NE(sys, nullptr);
  EXPECT_EQ(sys->type, "none");
  EXPECT_EQ(sys->source, "/sys");
  EXPECT_EQ(sys->options, (std::vector<std::string>{"rbind", "nosuid", "noexec", "nodev", "ro"}));
  EXPECT_EQ(FindMount(s, "/sys/fs/cgroup"), nullptr);
  // The rest is the rootful spec.
  EXPECT_EQ(s.hostname, "skiff");
  EXPECT_EQ(s.process->rlimits.size(), 1u);
  EXPECT_EQ(s.linux->masked_paths.size(), 10u);
}

}  // namespace
}  // namespace skiff::oci
