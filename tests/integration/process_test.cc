// process.*: what the container's first process is given (env, cwd, ids, umask, rlimits,
// oom score), plus hostname, domainname and sysctls, as `skiff-probe all` sees them.
#include <sys/resource.h>
#include <unistd.h>

#include "bundle.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

class ProcessTest : public BundleTest {};

TEST_F(ProcessTest, EnvAndCwd) {
  spec_["process"]["env"] = {"PATH=/bin", "FOO=bar baz", "EMPTY="};
  spec_["process"]["cwd"] = "/tmp";
  json j = ProbeAll();
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["env"], json({"PATH=/bin", "FOO=bar baz", "EMPTY="}));
  EXPECT_EQ(j["cwd"], "/tmp");
}

TEST_F(ProcessTest, UserGroupsAndUmask) {
  spec_["process"]["user"] = {
      {"uid", 1000}, {"gid", 1000}, {"additionalGids", {10, 20}}, {"umask", 027}};
  json j = ProbeAll();
  ASSERT_TRUE(j.is_object());
  const json& ids = j["ids"];
  EXPECT_EQ(ids["uid"], 1000);
  EXPECT_EQ(ids["euid"], 1000);
  EXPECT_EQ(ids["suid"], 1000);
  EXPECT_EQ(ids["gid"], 1000);
  EXPECT_EQ(ids["egid"], 1000);
  EXPECT_EQ(ids["sgid"], 1000);
  EXPECT_EQ(ids["groups"], json({10, 20}));
  EXPECT_EQ(j["umask"], 027);
}

TEST_F(ProcessTest, RootHasNoSupplementaryGroupsAndDefaultUmask) {
  json j = ProbeAll();
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["ids"]["uid"], 0);
  EXPECT_EQ(j["ids"]["groups"], json::array());
  EXPECT_EQ(j["umask"], 022);
}

TEST_F(ProcessTest, Rlimits) {
  spec_["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 512}, {"hard", 1024}},
                                 {{"type", "RLIMIT_CORE"}, {"soft", 0}, {"hard", 4096}}};
  json j = ProbeAll();
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["rlimits"]["nofile"], json({{"soft", 512}, {"hard", 1024}}));
  EXPECT_EQ(j["rlimits"]["core"], json({{"soft", 0}, {"hard", 4096}}));
}

TEST_F(ProcessTest, RlimitAboveCallersHardLimitFails) {
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_max == RLIM_INFINITY) GTEST_SKIP() << "hard nofile is unlimited here";
  // Raising a hard limit needs CAP_SYS_RESOURCE; without it in our own effective set the
  // child can't either.
  rlim_t above = rl.rlim_max + 1000;
  spec_["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", above}, {"hard", above}}};
  CmdResult r = RunProbe({"all"});
  if (r.code == 0) GTEST_SKIP() << "the caller may raise its hard limit (CAP_SYS_RESOURCE)";
  EXPECT_NE(r.err.find("RLIMIT_NOFILE"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::to_string(above)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
}

TEST_F(ProcessTest, OomScoreAdj) {
  spec_["process"]["oomScoreAdj"] = 123;
  json j = ProbeAll();
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["oom_score_adj"], 123);
}

TEST_F(ProcessTest, HostnameAndDomainname) {
  spec_["hostname"] = "itest-host";
  spec_["domainname"] = "itest.example";
  json j = ProbeAll();
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["hostname"], "itest-host");
  EXPECT_EQ(j["domainname"], "itest.example");
  char host[256] = "";
  gethostname(host, sizeof host);
  EXPECT_NE(std::string(host), "itest-host") << "the host's hostname changed";
}

TEST_F(ProcessTest, SysctlInNewNetns) {
  spec_["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmax", "4096000"}};
  CmdResult r =
      RunArgs({"/bin/sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1\n4096000\n");
  // The host's values are its own (new net and ipc namespaces).
  EXPECT_NE(ReadText("/proc/sys/kernel/shmmax"), "4096000\n");
}

TEST_F(ProcessTest, SysctlUnknownKeyFails) {
  spec_["linux"]["sysctl"] = {{"net.ipv4.no_such_key", "1"}};
  CmdResult r = RunProbe({"all"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("no_such_key"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace skiff::itest
