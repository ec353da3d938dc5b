// What a container process is allowed: capability sets, no_new_privs, seccomp, the fds it
// inherits (CVE-2024-21626), and the runtime's own process while it is in the container's
// namespaces (CVE-2019-5736).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

const std::vector<std::string> kDocker14 = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE"};
constexpr const char* kDocker14Mask = "00000000a80425fb";
constexpr const char* kNone = "0000000000000000";

class SecurityTest : public BundleTest {
 protected:
  json Caps() {
    CmdResult r = RunProbe({"caps"});
    EXPECT_EQ(r.code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    return j.is_discarded() ? json() : j;
  }
  json Fds(const std::vector<std::string>& flags, const std::vector<int>& pass) {
    CmdOptions o;
    o.pass_fds = pass;
    CmdResult r = RunProbe({"fds"}, flags, o);
    EXPECT_EQ(r.code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    return j.is_discarded() ? json() : j;
  }
};

TEST_F(SecurityTest, DockerDefaultCapabilitiesAsRoot) {
  spec_["process"]["capabilities"] = {
      {"bounding", kDocker14}, {"effective", kDocker14}, {"permitted", kDocker14}};
  json c = Caps();
  EXPECT_EQ(c["bnd"], kDocker14Mask);
  EXPECT_EQ(c["eff"], kDocker14Mask);
  EXPECT_EQ(c["prm"], kDocker14Mask);
  EXPECT_EQ(c["inh"], kNone);
  EXPECT_EQ(c["amb"], kNone);
}

TEST_F(SecurityTest, FiveSetsForNonRootUser) {
  // For a non-root user without file capabilities, execve keeps inheritable and bounding
  // and rebuilds permitted and effective from ambient: each set is observable.
  std::vector<std::string> two = {"CAP_CHOWN", "CAP_KILL"};  // bits 0 and 5: 0x21
  spec_["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  spec_["process"]["capabilities"] = {{"bounding", kDocker14},
                                      {"effective", two},
                                      {"permitted", two},
                                      {"inheritable", two},
                                      {"ambient", two}};
  json c = Caps();
  EXPECT_EQ(c["bnd"], kDocker14Mask);
  EXPECT_EQ(c["inh"], "0000000000000021");
  EXPECT_EQ(c["prm"], "0000000000000021");
  EXPECT_EQ(c["eff"], "0000000000000021");
  EXPECT_EQ(c["amb"], "0000000000000021");
}

TEST_F(SecurityTest, EmptyCapabilitySets) {
  spec_["process"]["capabilities"] = {{"bounding", json::array()},
                                      {"effective", json::array()},
                                      {"permitted", json::array()},
                                      {"inheritable", json::array()},
                                      {"ambient", json::array()}};
  json c = Caps();
  for (const char* set : {"bnd", "eff", "prm", "inh", "amb"}) EXPECT_EQ(c[set], kNone) << set;
  // Root without capabilities can't do what root could.
  CmdResult r = RunProbe({"syscall", "sethostname"});
  EXPECT_EQ(r.out, "EPERM 1\n");
}

TEST_F(SecurityTest, AbsentCapabilitiesMeansNone) {
  spec_["process"].erase("capabilities");
  json c = Caps();
  for (const char* set : {"bnd", "eff", "prm", "inh", "amb"}) EXPECT_EQ(c[set], kNone) << set;
}

TEST_F(SecurityTest, UnknownCapabilityIsIgnored) {
  // As runc: a name this kernel does not know (a newer capability in a profile) is skipped,
  // the others still apply.
  spec_["process"]["capabilities"] = {{"bounding", {"CAP_KILL", "CAP_NO_SUCH"}},
                                      {"effective", {"CAP_KILL", "CAP_NO_SUCH"}},
                                      {"permitted", {"CAP_KILL", "CAP_NO_SUCH"}}};
  json c = Caps();
  EXPECT_EQ(c["bnd"], "0000000000000020");
  EXPECT_EQ(c["eff"], "0000000000000020");
}

TEST_F(SecurityTest, NoNewPrivileges) {
  spec_["process"]["noNewPrivileges"] = true;
  json on = ProbeAll();
  ASSERT_TRUE(on.is_object());
  EXPECT_EQ(on["no_new_privs"], 1);
  spec_["process"]["noNewPrivileges"] = false;
  json off = ProbeAll();
  ASSERT_TRUE(off.is_object());
  EXPECT_EQ(off["no_new_privs"], 0);
}

json MkdirErrnoProfile() {
  return {{"defaultAction", "SCMP_ACT_ALLOW"},
          {"architectures", {"SCMP_ARCH_X86_64"}},
          {"syscalls",
           {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 38}}}}};
}

TEST_F(SecurityTest, SeccompErrnoRule) {
  spec_["linux"]["seccomp"] = MkdirErrnoProfile();
  CmdResult r = RunProbe({"syscall", "mkdir"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "ENOSYS 38\n");
  CmdResult ok = RunProbe({"syscall", "getpid"});
  EXPECT_EQ(ok.out, "ok\n");
  json j = ProbeAll();
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["seccomp"], 2);
}

TEST_F(SecurityTest, SeccompWithoutNoNewPrivs) {
  // The filter is loaded before the capabilities go (it needs CAP_SYS_ADMIN then).
  spec_["linux"]["seccomp"] = MkdirErrnoProfile();
  spec_["process"]["noNewPrivileges"] = false;
  CmdResult r = RunProbe({"syscall", "mkdir"});
  EXPECT_EQ(r.out, "ENOSYS 38\n") << r.err;
}

TEST_F(SecurityTest, NoSeccompIsMode0) {
  spec_["root"]["readonly"] = false;  // for the mkdir in /tmp
  json j = ProbeAll();
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["seccomp"], 0);
  CmdResult r = RunProbe({"syscall", "mkdir"});
  EXPECT_EQ(r.out, "ok\n");
}

TEST_F(SecurityTest, OnlyStdioFdsInside) {
  // CVE-2024-21626: fds the caller leaks without CLOEXEC (a host directory above all) must
  // not reach the container.
  int dir = open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int file = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  int root = open("/", O_PATH | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  ASSERT_GE(file, 0);
  ASSERT_GE(root, 0);
  json fds = Fds({}, {dir, file, root});
  EXPECT_EQ(fds, json({0, 1, 2}));
  json all = ProbeAll();
  ASSERT_TRUE(all.is_object());
  EXPECT_EQ(all["fds"], json({0, 1, 2}));
  close(dir);
  close(file);
  close(root);
}

TEST_F(SecurityTest, PreserveFds) {
  int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int b = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int c = open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_GE(c, 0);
  json fds = Fds({"--preserve-fds", "2"}, {a, b, c});
  EXPECT_EQ(fds, json({0, 1, 2, 3, 4}));
  close(a);
  close(b);
  close(c);
}

TEST_F(SecurityTest, PreserveFdsNotOpenFails) {
  CmdResult r = RunProbe({"fds"}, {"--preserve-fds", "2"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("fd 3 is not open"), std::string::npos) << r.err;
}

// CVE-2019-5736: while the runtime's own image is inside the container's namespaces (the
// created container before its execve), it must not be dumpable, or a container process
// could open /proc/<pid>/exe and overwrite the runtime binary. The kernel shows it in the
// owner of /proc/<pid>/status: a non-dumpable process's files (not the directory itself,
// which is exempt) belong to root of the user
// namespace its mm was made in (the host's, as the runtime was exec'd there), a dumpable
// one's to its euid. In a user namespace mapping 0 to host 100000 the two differ.
// With fs.suid_dumpable=0 (the default) the kernel's own reset at the setuid to the
// namespace's root hides a missing prctl; run it with fs.suid_dumpable=1 to check the
// runtime's part (it found the prctl missing after that setuid).
TEST_F(SecurityTest, RuntimeNotDumpableInsideContainer) {
  spec_["linux"]["namespaces"].push_back({{"type", "user"}});
  spec_["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  spec_["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  std::string id = NewId();
  CmdResult c = Runtime({"create", "-b", bundle_, id});
  ASSERT_EQ(c.code, 0) << c.err;
  pid_t pid = State(id).value("pid", 0);
  ASSERT_GT(pid, 0);
  std::string proc = "/proc/" + std::to_string(pid);
  EXPECT_NE(ReadText(proc + "/status").find("Uid:\t100000"), std::string::npos)
      << "the created process should be root of its user namespace (host 100000)";
  struct stat st;
  ASSERT_EQ(stat((proc + "/status").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "the created container process is dumpable (CVE-2019-5736)";

  ASSERT_EQ(Runtime({"start", id}).code, 0);
  // After execve of the container's binary it is an ordinary process of that user again.
  ASSERT_EQ(stat((proc + "/status").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100000u);
}

}  // namespace
}  // namespace skiff::itest
