#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>

#include <sys/stat.h>

#include <cstring>
#include <ctime>

#include "base/file.h"
#include "runtime/seccomp.h"

namespace skiff::runtime {
namespace {

oci::SeccompSyscall Rule(std::vector<std::string> names, std::string action,
                         std::optional<uint32_t> errno_ret = std::nullopt,
                         std::vector<oci::SeccompArg> args = {}) {
  oci::SeccompSyscall s;
  s.names = std::move(names);
  s.action = std::move(action);
  s.errno_ret = errno_ret;
  s.args = std::move(args);
  return s;
}

oci::SeccompArg Arg(uint32_t index, uint64_t value, std::string op, uint64_t value_two = 0) {
  oci::SeccompArg a;
  a.index = index;
  a.value = value;
  a.value_two = value_two;
  a.op = std::move(op);
  return a;
}

oci::Seccomp AllowAllBut(std::vector<oci::SeccompSyscall> rules) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.syscalls = std::move(rules);
  return s;
}

SeccompProgram MustCompile(const oci::Seccomp& s) {
  auto r = CompileSeccomp(s);
  EXPECT_TRUE(r.ok()) << r.error().Message();
  return r.ok() ? std::move(r).value() : SeccompProgram{};
}

std::string CompileError(const oci::Seccomp& s) {
  auto r = CompileSeccomp(s);
  return r.ok() ? "compiled" : r.error().Message();
}

// Forks, loads p in the child (after no_new_privs, as an unprivileged runtime would) and
// runs body there; returns the raw wait status. body returns the child's exit code.
int RunFiltered(const SeccompProgram& p, const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    // A SIGSYS death would otherwise leave a core file behind.
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) _exit(100);
    int listener = -1;
    if (!child::LoadSeccomp(p, &listener).ok()) _exit(101);
    _exit(body());
  }
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

// The errno a raw syscall failed with, 0 if it succeeded.
int ErrnoOf(long rc) { return rc < 0 ? errno : 0; }

TEST(CompileSeccomp, SmallSpecGivesAProgram) {
  SeccompProgram p = MustCompile(AllowAllBut({Rule({"mkdirat", "mkdir"}, "SCMP_ACT_ERRNO")}));
  EXPECT_GT(p.filter.size(), 4u);
  EXPECT_EQ(p.flags, 0u);
  EXPECT_FALSE(p.has_notify);
}

TEST(CompileSeccomp, ErrorsNameTheField) {
  oci::Seccomp s = AllowAllBut({Rule({"getpid"}, "SCMP_ACT_ERRNO"), Rule({"kill"}, "X")});
  EXPECT_EQ(CompileError(s), "linux.seccomp.syscalls[1].action: unknown action \"X\"");

  s = AllowAllBut({Rule({"kill"}, "SCMP_ACT_ERRNO", {}, {Arg(0, 1, "SCMP_CMP_XX")})});
  EXPECT_EQ(CompileError(s),
            "linux.seccomp.syscalls[0].args[0].op: unknown operator "
            "\"SCMP_CMP_XX\"");
  s = AllowAllBut({Rule({"kill"}, "SCMP_ACT_ERRNO", {}, {Arg(6, 1, "SCMP_CMP_EQ")})});
  EXPECT_NE(CompileError(s).find("syscalls[0].args[0].index"), std::string::npos);

  s = AllowAllBut({});
  s.default_action = "SCMP_ACT_NOPE";
  EXPECT_NE(CompileError(s).find("linux.seccomp.defaultAction: unknown action"), std::string::npos);
  s = AllowAllBut({});
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"};
  EXPECT_NE(CompileError(s).find("architectures[1]: unknown architecture \"SCMP_ARCH_VAX\""),
            std::string::npos);
  s = AllowAllBut({});
  s.flags = {"SECCOMP_FILTER_FLAG_BOGUS"};
  EXPECT_NE(CompileError(s).find("flags[0]: unknown flag"), std::string::npos);
  s = AllowAllBut({});
  s.default_action = "SCMP_ACT_NOTIFY";
  EXPECT_NE(CompileError(s).find("defaultAction"), std::string::npos);
}

TEST(CompileSeccomp, UnknownSyscallIsSkipped) {
  SeccompProgram none = MustCompile(AllowAllBut({}));
  SeccompProgram unknown =
      MustCompile(AllowAllBut({Rule({"no_such_syscall_in_any_kernel"}, "SCMP_ACT_KILL")}));
  EXPECT_EQ(unknown.filter.size(), none.filter.size());
  // A known name next to an unknown one still gets its rule.
  SeccompProgram mixed = MustCompile(
      AllowAllBut({Rule({"no_such_syscall_in_any_kernel", "getpid"}, "SCMP_ACT_KILL")}));
  EXPECT_GT(mixed.filter.size(), none.filter.size());
}

TEST(CompileSeccomp, RuleEqualToDefaultIsSkipped) {
  SeccompProgram p = MustCompile(AllowAllBut({Rule({"getpid"}, "SCMP_ACT_ALLOW")}));
  EXPECT_EQ(p.filter.size(), MustCompile(AllowAllBut({})).filter.size());
}

TEST(CompileSeccomp, FlagsAndNotifyAreRecorded) {
  oci::Seccomp s = AllowAllBut({Rule({"getpgid"}, "SCMP_ACT_NOTIFY")});
  s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
  SeccompProgram p = MustCompile(s);
  EXPECT_EQ(p.flags, unsigned{SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW});
  EXPECT_TRUE(p.has_notify);
}

TEST(CompileSeccomp, EveryActionAndOperatorCompiles) {
  std::vector<oci::SeccompSyscall> rules;
  const char* actions[] = {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                           "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
                           "SCMP_ACT_LOG"};
  const char* names[] = {"acct", "swapon", "swapoff", "reboot", "syslog", "vhangup", "iopl"};
  for (int i = 0; i < 7; ++i) rules.push_back(Rule({names[i]}, actions[i]));
  const char* ops[] = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",
                       "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT"};
  for (uint32_t i = 0; i < 6; ++i) {
    rules.push_back(Rule({"kill"}, "SCMP_ACT_ERRNO", 1, {Arg(i, 7, ops[i])}));
  }
  rules.push_back(Rule({"kill"}, "SCMP_ACT_ERRNO", 2, {Arg(1, 0xf0, "SCMP_CMP_MASKED_EQ", 0x10)}));
  oci::Seccomp s = AllowAllBut(std::move(rules));
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
                     "SCMP_ARCH_ARM"};
  MustCompile(s);
}

TEST(DefaultSeccompProfile, Compiles) {
  oci::Seccomp s = DefaultSeccompProfile({"CAP_CHOWN", "CAP_SYS_CHROOT"});
  EXPECT_EQ(s.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(s.default_errno_ret, uint32_t{EPERM});
  SeccompProgram p = MustCompile(s);
  EXPECT_GT(p.filter.size(), 100u);
  EXPECT_LE(p.filter.size(), 4096u);
  bool clone3_enosys = false;
  for (const auto& sc : s.syscalls) {
    if (sc.names == std::vector<std::string>{"clone3"}) clone3_enosys = sc.errno_ret == ENOSYS;
  }
  EXPECT_TRUE(clone3_enosys);
  // With CAP_SYS_ADMIN, clone and clone3 are plainly allowed.
  oci::Seccomp admin = DefaultSeccompProfile({"CAP_SYS_ADMIN"});
  for (const auto& sc : admin.syscalls) EXPECT_NE(sc.action, "SCMP_ACT_ERRNO");
  MustCompile(admin);
}

TEST(DefaultSeccompProfile, EveryGatingCapabilityCompiles) {
  // syslog, bpf and perf_event_open are then allowed by two entries each.
  oci::Seccomp s = DefaultSeccompProfile(
      {"CAP_DAC_READ_SEARCH", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_CHROOT", "CAP_SYS_MODULE",
       "CAP_SYS_PACCT", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG",
       "CAP_SYS_NICE", "CAP_SYSLOG", "CAP_BPF", "CAP_PERFMON"});
  SeccompProgram p = MustCompile(s);
  EXPECT_LE(p.filter.size(), 4096u);
}

TEST(LoadSeccomp, ErrnoRuleSeenByTheChild) {
  SeccompProgram p = MustCompile(AllowAllBut({Rule({"getpgid"}, "SCMP_ACT_ERRNO", 42)}));
  int st = RunFiltered(p, [] { return ErrnoOf(syscall(SYS_getpgid, 0)); });
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 42);
}

TEST(LoadSeccomp, ArgumentComparisons) {
  SeccompProgram p = MustCompile(AllowAllBut({
      Rule({"getpgid"}, "SCMP_ACT_ERRNO", 77, {Arg(0, 4242, "SCMP_CMP_EQ")}),
      Rule({"getpgid"}, "SCMP_ACT_ERRNO", 78, {Arg(0, 0xf00, "SCMP_CMP_MASKED_EQ", 0x100)}),
  }));
  int st = RunFiltered(p, [] {
    if (ErrnoOf(syscall(SYS_getpgid, 0)) != 0) return 1;
    if (ErrnoOf(syscall(SYS_getpgid, 4242)) != 77) return 2;
    if (ErrnoOf(syscall(SYS_getpgid, 0x1234567)) != 78) return 3;  // & 0xf00 == 0x100? no
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(st));
  // 0x1234567 & 0xf00 == 0x500: not matched, so the kernel answers (ESRCH) and body says 3.
  EXPECT_EQ(WEXITSTATUS(st), 3);
  st = RunFiltered(p, [] { return ErrnoOf(syscall(SYS_getpgid, 0x7153)); });  // & 0xf00 = 0x100
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 78);
}

// Two comparisons of one argument can't both hold; runc reads them as "either", one rule
// each, and so does skiff.
TEST(LoadSeccomp, SameArgumentTwiceMeansEither) {
  SeccompProgram p = MustCompile(AllowAllBut({Rule(
      {"getpgid"}, "SCMP_ACT_ERRNO", 79, {Arg(0, 5, "SCMP_CMP_EQ"), Arg(0, 6, "SCMP_CMP_EQ")})}));
  int st = RunFiltered(p, [] {
    if (ErrnoOf(syscall(SYS_getpgid, 5)) != 79) return 1;
    if (ErrnoOf(syscall(SYS_getpgid, 6)) != 79) return 2;
    if (ErrnoOf(syscall(SYS_getpgid, 0)) != 0) return 3;
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(LoadSeccomp, KillProcess) {
  SeccompProgram p = MustCompile(AllowAllBut({Rule({"getpgid"}, "SCMP_ACT_KILL_PROCESS")}));
  int st = RunFiltered(p, [] { return static_cast<int>(syscall(SYS_getpgid, 0) & 0); });
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGSYS);
}

TEST(LoadSeccomp, NotifyGivesAListener) {
  SeccompProgram p = MustCompile(AllowAllBut({Rule({"getpgid"}, "SCMP_ACT_NOTIFY")}));
  pid_t pid = fork();
  if (pid == 0) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) _exit(100);
    int listener = -1;
    if (!child::LoadSeccomp(p, &listener).ok()) _exit(101);
    _exit(listener > 2 && fcntl(listener, F_GETFD) >= 0 ? 0 : 102);
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(LoadSeccomp, DockerDefaultInTheChild) {
  SeccompProgram p = MustCompile(DefaultSeccompProfile({"CAP_CHOWN"}));
  int st = RunFiltered(p, [] {
    if (ErrnoOf(syscall(SYS_getpid)) != 0) return 1;
    if (ErrnoOf(syscall(SYS_personality, 0xffffffffUL)) != 0) return 2;
    if (ErrnoOf(syscall(SYS_unshare, CLONE_NEWUTS)) != EPERM) return 3;
    if (ErrnoOf(syscall(SYS_clone3, nullptr, 0)) != ENOSYS) return 4;
    if (ErrnoOf(syscall(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0)) != EPERM) return 5;
    if (ErrnoOf(syscall(SYS_personality, 0x0400000UL /* ADDR_NO_RANDOMIZE */)) != EPERM) {
      return 6;
    }
    // fork() is clone without namespace flags: allowed.
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid < 0) return 7;
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return 8;
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

}  // namespace
}  // namespace skiff::runtime

namespace skiff::runtime {
namespace {

bool SameFilter(const SeccompProgram& a, const SeccompProgram& b) {
  return a.flags == b.flags && a.has_notify == b.has_notify &&
         a.filter.size() == b.filter.size() &&
         std::memcmp(a.filter.data(), b.filter.data(), a.filter.size() * sizeof(sock_filter)) == 0;
}

class SeccompCache : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/skiff-seccomp-cache.XXXXXX";
    ASSERT_NE(mkdtemp(t), nullptr);
    dir_ = std::string(t) + "/cache";  // made by the first compile
  }
  void TearDown() override { (void)RemoveAll(dir_.substr(0, dir_.rfind('/'))); }
  std::string FileOf(const oci::Seccomp& s) { return dir_ + "/" + SeccompCacheKey(s) + ".bpf"; }
  std::string dir_;
};

TEST_F(SeccompCache, SecondCompileReadsWhatTheFirstWrote) {
  oci::Seccomp s = DefaultSeccompProfile({"CAP_CHOWN", "CAP_KILL"});
  auto first = CompileSeccompCached(s, dir_);
  ASSERT_TRUE(first.ok()) << first.error().Message();
  ASSERT_TRUE(SameFilter(*first, MustCompile(s)));
  struct stat st;
  ASSERT_EQ(::stat(FileOf(s).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // The second compile reads the file: it is not written again.
  ASSERT_EQ(::stat(FileOf(s).c_str(), &st), 0);
  ino_t ino = st.st_ino;
  auto again = CompileSeccompCached(s, dir_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(SameFilter(*again, MustCompile(s)));
  ASSERT_EQ(::stat(FileOf(s).c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, ino);
}

// The file name is a cheap hash: a program cached for another profile under the same name
// (a collision, made or by chance) is not used, but recompiled and replaced.
TEST_F(SeccompCache, AnotherProfilesProgramUnderTheNameIsNotUsed) {
  oci::Seccomp s = DefaultSeccompProfile({"CAP_CHOWN", "CAP_KILL"});
  ASSERT_TRUE(CompileSeccompCached(s, dir_).ok());
  oci::Seccomp other = AllowAllBut({Rule({"mkdirat"}, "SCMP_ACT_ERRNO")});
  std::string other_dir = dir_ + "-other";
  ASSERT_TRUE(CompileSeccompCached(other, other_dir).ok());
  std::string planted = other_dir + FileOf(other).substr(dir_.size());
  ASSERT_EQ(::rename(planted.c_str(), FileOf(s).c_str()), 0);
  auto second = CompileSeccompCached(s, dir_);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(SameFilter(*second, MustCompile(s)));
  EXPECT_FALSE(SameFilter(*second, MustCompile(other)));
  auto third = CompileSeccompCached(s, dir_);  // and the file holds s's program again
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(SameFilter(*third, MustCompile(s)));
}

TEST_F(SeccompCache, KeyFollowsEveryField) {
  oci::Seccomp a = AllowAllBut({Rule({"mkdirat"}, "SCMP_ACT_ERRNO")});
  oci::Seccomp b = a;
  EXPECT_EQ(SeccompCacheKey(a), SeccompCacheKey(b));
  b.syscalls[0].errno_ret = 1;
  EXPECT_NE(SeccompCacheKey(a), SeccompCacheKey(b));
  b = a;
  b.syscalls[0].names = {"mkdir", "at"};  // not the same as {"mkdirat"} by concatenation
  oci::Seccomp c = a;
  c.syscalls[0].names = {"mkdirat", ""};
  EXPECT_NE(SeccompCacheKey(b), SeccompCacheKey(c));
  b = a;
  b.flags = {"SECCOMP_FILTER_FLAG_LOG"};
  EXPECT_NE(SeccompCacheKey(a), SeccompCacheKey(b));
  b = a;
  b.syscalls[0].args.push_back({0, 1, 0, "SCMP_CMP_EQ"});
  EXPECT_NE(SeccompCacheKey(a), SeccompCacheKey(b));
}

TEST_F(SeccompCache, MalformedFileIsRecompiledAndReplaced) {
  oci::Seccomp s = AllowAllBut({Rule({"mkdirat"}, "SCMP_ACT_ERRNO")});
  ASSERT_TRUE(CompileSeccompCached(s, dir_).ok());
  for (const char* junk : {"", "SKSECC2\n", "garbage that is not a program at all........."}) {
    ASSERT_TRUE(WriteFile(FileOf(s), junk).ok());
    auto p = CompileSeccompCached(s, dir_);
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE(SameFilter(*p, MustCompile(s))) << junk;
  }
}

TEST_F(SeccompCache, ErrorsAreNotCached) {
  oci::Seccomp s = AllowAllBut({Rule({"kill"}, "X")});
  EXPECT_FALSE(CompileSeccompCached(s, dir_).ok());
  EXPECT_NE(::access(FileOf(s).c_str(), F_OK), 0);
}

TEST_F(SeccompCache, NoDirMeansNoCache) {
  oci::Seccomp s = AllowAllBut({Rule({"mkdirat"}, "SCMP_ACT_ERRNO")});
  auto p = CompileSeccompCached(s, "");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(SameFilter(*p, MustCompile(s)));
}

// What a miss leaves in the cache dir: current-named files (any profile's) and what is not a
// file; v1's SHA-256-named files, unknown names and a killed write's old temp file go. A
// fresh temp file may be a concurrent write's: it stays. A hit removes nothing.
TEST_F(SeccompCache, MissRemovesFilesOfOtherVersions) {
  oci::Seccomp other = AllowAllBut({Rule({"mkdirat"}, "SCMP_ACT_ERRNO")});
  ASSERT_TRUE(CompileSeccompCached(other, dir_).ok());
  std::string v1 = dir_ + "/" + std::string(64, 'e') + ".bpf";
  std::string junk = dir_ + "/notes.txt";
  std::string sub = dir_ + "/subdir";
  std::string old_tmp = FileOf(other) + ".tmp.AbC123";
  std::string new_tmp = FileOf(other) + ".tmp.XyZ789";
  for (const auto& f : {v1, junk, old_tmp, new_tmp}) ASSERT_TRUE(WriteFileAtomic(f, "x").ok()) << f;
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  struct timespec hour_ago[2] = {{::time(nullptr) - 3600, 0}, {::time(nullptr) - 3600, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, old_tmp.c_str(), hour_ago, 0), 0);

  ASSERT_TRUE(CompileSeccompCached(other, dir_).ok());  // a hit
  EXPECT_EQ(::access(v1.c_str(), F_OK), 0) << "a hit swept the dir";

  oci::Seccomp s = DefaultSeccompProfile({"CAP_CHOWN"});
  ASSERT_TRUE(CompileSeccompCached(s, dir_).ok());  // a miss
  EXPECT_EQ(::access(FileOf(s).c_str(), F_OK), 0);
  EXPECT_EQ(::access(FileOf(other).c_str(), F_OK), 0);
  EXPECT_EQ(::access(new_tmp.c_str(), F_OK), 0);
  EXPECT_EQ(::access(sub.c_str(), F_OK), 0);
  for (const auto& f : {v1, junk, old_tmp}) EXPECT_NE(::access(f.c_str(), F_OK), 0) << f;
  auto again = CompileSeccompCached(other, dir_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(SameFilter(*again, MustCompile(other)));
}

}  // namespace
}  // namespace skiff::runtime
