// ps, update, events, features: what a shim asks of a running container.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include "bundle.h"

namespace skiff::itest {
namespace {

using nlohmann::json;

class InspectTest : public BundleTest {
 protected:
  void SetUp() override {
    BundleTest::SetUp();
    id_ = NewId("insp");
    pid_ = CreateStarted(id_, {"/bin/sleep", "60"});
    ASSERT_GT(pid_, 0);
  }
  std::string id_;
  pid_t pid_ = 0;
};

TEST_F(InspectTest, PsListsTheContainersProcesses) {
  CmdResult exec = Runtime({"exec", "-d", id_, "/bin/sleep", "50"});
  ASSERT_EQ(exec.code, 0) << exec.err;
  CmdResult r = Runtime({"ps", "--format", "json", id_});
  ASSERT_EQ(r.code, 0) << r.err;
  json pids = json::parse(r.out);
  ASSERT_TRUE(pids.is_array());
  EXPECT_EQ(pids.size(), 2u) << r.out;
  EXPECT_NE(std::find(pids.begin(), pids.end(), pid_), pids.end());
  CmdResult t = Runtime({"ps", id_});
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_EQ(t.out.rfind("PID", 0), 0u);
  EXPECT_NE(t.out.find("sleep 50"), std::string::npos) << t.out;
  // Reap the exec'd process ourselves (we are its subreaper) before TearDown.
  for (const auto& p : pids) {
    if (p.get<int>() == pid_) continue;
    ::kill(p.get<int>(), SIGKILL);
    EXPECT_EQ(::waitpid(p.get<int>(), nullptr, 0), p.get<int>());
  }
}

TEST_F(InspectTest, UpdateFlagsAndResourcesFile) {
  ASSERT_EQ(Runtime({"update", "--memory", "33554432", "--pids-limit", "12", id_}).code, 0);
  std::string mem = HostCgroupDir(pid_, "memory");
  std::string pids = HostCgroupDir(pid_, "pids");
  EXPECT_EQ(ReadText(mem + "/memory.limit_in_bytes"), "33554432\n");
  EXPECT_EQ(ReadText(pids + "/pids.max"), "12\n");
  std::string file = work_ + "/res.json";
  std::ofstream(file) << R"({"memory": {"limit": 50331648}, "pids": {"limit": 7}})";
  CmdResult r = Runtime({"update", "--resources", file, id_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadText(mem + "/memory.limit_in_bytes"), "50331648\n");
  EXPECT_EQ(ReadText(pids + "/pids.max"), "7\n");
  std::ofstream(file) << R"({"memory": {"limit": "lots"}})";
  CmdResult bad = Runtime({"update", "--resources", file, id_});
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("memory.limit"), std::string::npos) << bad.err;
}

TEST_F(InspectTest, CheckBeforeUpdateRefusesALimitBelowUsage) {
  std::string file = work_ + "/res.json";
  std::ofstream(file) << R"({"memory": {"limit": 4096, "checkBeforeUpdate": true}})";
  CmdResult r = Runtime({"update", "--resources", file, id_});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("below the current usage"), std::string::npos) << r.err;
  std::string mem = HostCgroupDir(pid_, "memory");
  EXPECT_NE(ReadText(mem + "/memory.limit_in_bytes"), "4096\n");
  std::ofstream(file) << R"({"memory": {"limit": 134217728, "checkBeforeUpdate": true}})";
  CmdResult ok = Runtime({"update", "--resources", file, id_});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ReadText(mem + "/memory.limit_in_bytes"), "134217728\n");
}

TEST_F(InspectTest, EventsStats) {
  CmdResult r = Runtime({"events", "--stats", id_});
  ASSERT_EQ(r.code, 0) << r.err;
  json ev = json::parse(r.out);
  EXPECT_EQ(ev["type"], "stats");
  EXPECT_EQ(ev["id"], id_);
  EXPECT_GE(ev["data"]["pids"]["current"].get<int>(), 1);
  EXPECT_GT(ev["data"]["memory"]["usage"]["usage"].get<uint64_t>(), 0u);
}

TEST_F(InspectTest, FeaturesTellTheTruth) {
  CmdResult r = Runtime({"features"});
  ASSERT_EQ(r.code, 0) << r.err;
  json f = json::parse(r.out);
  EXPECT_EQ(f["ociVersionMax"], "1.2.0");
  EXPECT_EQ(f["linux"]["cgroup"]["systemd"], false);
  EXPECT_EQ(f["linux"]["apparmor"]["enabled"], false);
  auto ns = f["linux"]["namespaces"];
  EXPECT_NE(std::find(ns.begin(), ns.end(), "time"), ns.end());
  auto hooks = f["hooks"];
  EXPECT_EQ(hooks.size(), 6u);
}

}  // namespace
}  // namespace skiff::itest
