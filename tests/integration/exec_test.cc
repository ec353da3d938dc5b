// skiff-runtime exec: a process inside a running container.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "bundle.h"

namespace skiff::itest {
namespace {

using nlohmann::json;

class ExecTest : public BundleTest {
 protected:
  void SetUp() override {
    BundleTest::SetUp();
    id_ = NewId("exec");
    pid_ = CreateStarted(id_, {"/bin/sleep", "60"});
    ASSERT_GT(pid_, 0);
  }
  CmdResult Exec(const std::vector<std::string>& args) {
    std::vector<std::string> full = {"exec"};
    full.insert(full.end(), args.begin(), args.end());
    return Runtime(full);
  }
  std::string id_;
  pid_t pid_ = 0;
};


TEST_F(ExecTest, JoinsEveryNamespaceAndTheCgroup) {
  CmdResult r = Exec({id_, "/bin/skiff-probe", "all"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  for (const char* ns : {"pid", "mnt", "net", "ipc", "uts"}) {
    std::string link = "/proc/" + std::to_string(pid_) + "/ns/" + ns;
    struct stat st;
    ASSERT_EQ(::stat(link.c_str(), &st), 0);
    EXPECT_EQ(j["namespaces"][ns].get<unsigned long>(), st.st_ino) << ns;
  }
  EXPECT_GT(j["pid"].get<int>(), 1);  // a second process of the container's pid namespace
  EXPECT_EQ(ReadText("/proc/" + std::to_string(pid_) + "/cgroup"),
            ReadText("/proc/" + std::to_string(pid_) + "/cgroup"));
  std::string cg = HostCgroupDir(pid_, "memory");
  ASSERT_FALSE(cg.empty());
  EXPECT_NE(r.out.find("memory:/"), std::string::npos) << r.out;  // cgroup ns root
}

TEST_F(ExecTest, ExitCodeAndOutput) {
  CmdResult r = Exec({id_, "/bin/sh", "-c", "echo out; exit 7"});
  EXPECT_EQ(r.code, 7);
  EXPECT_EQ(r.out, "out\n");
}

TEST_F(ExecTest, UserEnvCwdFlags) {
  CmdResult r = Exec({"--user", "1000:1001", "--env", "FOO=bar", "--cwd", "/dev", id_,
                      "/bin/sh", "-c", "id -u; id -g; echo $FOO; pwd"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1000\n1001\nbar\n/dev\n");
}

TEST_F(ExecTest, ProcessFile) {
  json p = spec_["process"];
  p["args"] = {"/bin/sh", "-c", "echo from-file $X"};
  p["env"] = {"PATH=/bin", "X=42"};
  std::string path = work_ + "/process.json";
  std::ofstream(path) << p.dump();
  CmdResult r = Exec({"--process", path, id_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "from-file 42\n");
}

TEST_F(ExecTest, OnlyStdioFdsInside) {
  CmdResult r = Exec({id_, "/bin/skiff-probe", "fds"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("0"), std::string::npos);
  json j = json::parse(r.out, nullptr, false);
  if (j.is_array()) {
    EXPECT_EQ(j, json::array({0, 1, 2})) << r.out;
  } else {
    EXPECT_EQ(r.out.find("3"), std::string::npos) << r.out;
  }
}

TEST_F(ExecTest, DetachWithPidFile) {
  std::string pidfile = work_ + "/exec.pid";
  CmdResult r = Exec({"-d", "--pid-file", pidfile, id_, "/bin/sleep", "30"});
  ASSERT_EQ(r.code, 0) << r.err;
  pid_t p = std::stoi(ReadText(pidfile));
  EXPECT_TRUE(Alive(p));
  EXPECT_EQ(HostCgroupDir(p, "memory"), HostCgroupDir(pid_, "memory"));
  // The detached process was reparented to us (the test is a subreaper); a zombie would
  // hold its cgroup until reaped, so reap it here.
  ::kill(p, SIGKILL);
  EXPECT_EQ(::waitpid(p, nullptr, 0), p);
}

TEST_F(ExecTest, NotFoundIsOneLine) {
  CmdResult r = Exec({id_, "/nope"});
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.err.rfind("skiff-runtime: exec " + id_ + ": exec /nope", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

TEST_F(ExecTest, StoppedContainerIsRefused) {
  ASSERT_EQ(Runtime({"kill", id_, "KILL"}).code, 0);
  ASSERT_TRUE(WaitStatus(id_, "stopped"));
  CmdResult r = Exec({id_, "/bin/true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("container is stopped"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace skiff::itest
