// skiff-runtime --explain: what the kernel was asked to do, checked against a real
// container. Each line the test looks for names one kernel step with its arguments.
#include <regex>
#include <sstream>

#include "bundle.h"

namespace skiff::itest {
namespace {

// The explain lines (after the header) as "who what text", timings stripped.
std::vector<std::string> ExplainLines(const std::string& err) {
  std::vector<std::string> out;
  std::istringstream in(err);
  static const std::regex kLine(R"(^ *[0-9]+\.[0-9]{3} +\+[0-9]+\.[0-9]{3}  (\S+) +(\S+) +(.*)$)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, kLine))
      out.push_back(m[1].str() + " " + m[2].str() + " " + m[3].str());
  }
  return out;
}

bool HasLine(const std::vector<std::string>& lines, const std::string& re) {
  std::regex r(re);
  for (const auto& l : lines)
    if (std::regex_search(l, r)) return true;
  return false;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// The memory limit's file on this host's layout: v1's when a v1 memory controller is mounted.
std::string HostCgroupMemoryFile(const std::string&) {
  for (const auto& m : CgroupMounts())
    if (m.size() >= 7 && m.compare(m.size() - 7, 7, "/memory") == 0) return "memory.limit_in_bytes";
  return "memory.max";
}

class ExplainTest : public BundleTest {};

TEST_F(ExplainTest, RunNarratesTheKernelSteps) {
  spec_["process"]["args"] = {"/bin/echo", "hello", "explain"};
  spec_["linux"]["resources"]["memory"] = {{"limit", 48 << 20}};
  spec_["hostname"] = "explained";
  WriteConfig();
  std::string id = NewId("explain");
  CmdResult r = Runtime({"--explain", "run", "-b", bundle_, id});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello explain\n");
  EXPECT_NE(r.err.find("explain: what the kernel was asked to do"), std::string::npos) << r.err;
  auto lines = ExplainLines(r.err);
  std::string all = Joined(lines);
  // Namespaces created at clone, each one named.
  EXPECT_TRUE(HasLine(
      lines,
      R"(^runtime clone3 .*CLONE_NEWNS\|CLONE_NEWPID\|CLONE_NEWUTS\|CLONE_NEWIPC.* -> pid [0-9]+$)"))
      << all;
  // The cgroup file with its value, in the container's own cgroup.
  std::string mem_file = HostCgroupMemoryFile(id);
  EXPECT_TRUE(HasLine(lines, "^runtime cgroup write .*/" + id + "/" + mem_file + " = 50331648$"))
      << all;
  EXPECT_TRUE(HasLine(lines, R"(^child mount proc on /proc type proc flags)")) << all;
  EXPECT_TRUE(HasLine(lines, R"(^child hostname sethostname explained$)")) << all;
  EXPECT_TRUE(HasLine(lines, R"(^child rlimit setrlimit RLIMIT_NOFILE soft 1024 hard 1024$)"))
      << all;
  EXPECT_TRUE(HasLine(lines, "^child pivot_root new root " + rootfs_ + ", old root .*detached"))
      << all;
  EXPECT_TRUE(HasLine(lines, R"(^child caps bounding 3: KILL,NET_BIND_SERVICE,AUDIT_WRITE$)"))
      << all;
  EXPECT_TRUE(HasLine(lines, R"(^child prctl no_new_privs set)")) << all;
  EXPECT_TRUE(HasLine(lines, R"(^child execve /bin/echo argv \["/bin/echo","hello","explain"\])"))
      << all;
  // In time order, the execve after pivot_root after the /proc mount after clone.
  auto pos = [&](const std::string& s) { return all.find(s); };
  EXPECT_LT(pos("runtime clone3"), pos("child mount proc on /proc"));
  EXPECT_LT(pos("child mount proc on /proc"), pos("child pivot_root"));
  EXPECT_LT(pos("child pivot_root"), pos("child execve"));
}

TEST_F(ExplainTest, SeccompFilterSize) {
  spec_["process"]["args"] = {"/bin/true"};
  spec_["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"syscalls", {{{"names", {"mkdirat", "mkdir"}}, {"action", "SCMP_ACT_ERRNO"}}}}};
  WriteConfig();
  CmdResult r = Runtime({"--explain", "run", "-b", bundle_, NewId("sc")});
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = ExplainLines(r.err);
  std::smatch m;
  std::string all = Joined(lines);
  std::regex plan(R"(runtime seccomp filter compiled before clone: ([0-9]+) BPF instructions)");
  ASSERT_TRUE(std::regex_search(all, m, plan)) << all;
  std::string n = m[1].str();
  EXPECT_GT(std::stoi(n), 3);
  EXPECT_TRUE(HasLine(lines, "^child seccomp seccomp\\(SECCOMP_SET_MODE_FILTER, flags 0x0\\): " +
                                 n + " BPF instructions$"))
      << all;
}

TEST_F(ExplainTest, SilentWithoutTheFlag) {
  spec_["process"]["args"] = {"/bin/true"};
  spec_["linux"]["resources"]["memory"] = {{"limit", 48 << 20}};
  WriteConfig();
  CmdResult r = Runtime({"run", "-b", bundle_, NewId("quiet")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "");
}

TEST_F(ExplainTest, CreateStopsAtTheStartWait) {
  spec_["process"]["args"] = {"/bin/true"};
  WriteConfig();
  std::string id = NewId("create");
  CmdResult r = Runtime({"--explain", "create", "-b", bundle_, id});
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = ExplainLines(r.err);
  EXPECT_TRUE(HasLine(lines, "^child pivot_root ")) << r.err;
  EXPECT_TRUE(HasLine(lines, "^runtime created container process [0-9]+ \\(host pid\\)")) << r.err;
  EXPECT_FALSE(HasLine(lines, "^child execve ")) << r.err;
  CmdResult s = Runtime({"start", id});
  EXPECT_EQ(s.code, 0) << s.err;
}

TEST_F(ExplainTest, FailureStillExplained) {
  spec_["process"]["args"] = {"/bin/no-such-binary"};
  WriteConfig();
  CmdResult r = Runtime({"--explain", "run", "-b", bundle_, NewId("fail")});
  EXPECT_NE(r.code, 0);
  auto lines = ExplainLines(r.err);
  EXPECT_TRUE(HasLine(lines, "^child failed exec /bin/no-such-binary")) << r.err;
  EXPECT_NE(r.err.find("skiff-runtime: "), std::string::npos) << r.err;
}

}  // namespace
}  // namespace skiff::itest
