#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/caps.h"

namespace skiff::runtime {
namespace {

uint64_t Bit(int cap) { return uint64_t{1} << cap; }

TEST(ResolveCapabilities, KnownNamesGiveMasks) {
  oci::Capabilities c;
  c.bounding = {"CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"};
  c.effective = {"CAP_NET_BIND_SERVICE"};
  c.permitted = {"CAP_NET_BIND_SERVICE", "CAP_KILL"};
  c.inheritable = {"CAP_KILL"};
  c.ambient = {"CAP_KILL"};
  CapSets s = ResolveCapabilities(c, 40);
  EXPECT_EQ(s.bounding, Bit(CAP_CHOWN) | Bit(CAP_KILL) | Bit(CAP_SYS_ADMIN));
  EXPECT_EQ(s.effective, Bit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(s.permitted, Bit(CAP_NET_BIND_SERVICE) | Bit(CAP_KILL));
  EXPECT_EQ(s.inheritable, Bit(CAP_KILL));
  EXPECT_EQ(s.ambient, Bit(CAP_KILL));
  EXPECT_EQ(s.last_cap, 40);
  EXPECT_TRUE(s.unknown.empty());
}

TEST(ResolveCapabilities, UnknownNamesAreListedOnce) {
  oci::Capabilities c;
  // CAP_CHECKPOINT_RESTORE is 40: unknown to a kernel whose last capability is 39.
  c.bounding = {"CAP_NOPE", "CAP_CHOWN", "chown", "5", "CAP_CHECKPOINT_RESTORE"};
  c.effective = {"CAP_NOPE"};
  CapSets s = ResolveCapabilities(c, 39);
  EXPECT_EQ(s.bounding, Bit(CAP_CHOWN));
  EXPECT_EQ(s.effective, 0u);
  EXPECT_EQ(s.unknown,
            (std::vector<std::string>{"CAP_NOPE", "chown", "5", "CAP_CHECKPOINT_RESTORE"}));
}

TEST(ResolveCapabilities, ReadsTheKernelsLastCap) {
  auto last = KernelLastCap();
  ASSERT_TRUE(last.ok()) << last.error().Message();
  EXPECT_GE(*last, CAP_AUDIT_READ);  // 37, in every kernel skiff supports
  oci::Capabilities c;
  c.bounding = {"CAP_SETPCAP"};
  auto s = ResolveCapabilities(c);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->bounding, Bit(CAP_SETPCAP));
  EXPECT_EQ(s->last_cap, *last);
}

// Applies a reduced set in a forked child and checks what the kernel reports.
TEST(ApplyCapabilities, ChildSeesTheSets) {
  if (prctl(PR_CAPBSET_READ, CAP_SETPCAP, 0, 0, 0) != 1 || geteuid() != 0) {
    GTEST_SKIP() << "needs root with CAP_SETPCAP";
  }
  oci::Capabilities c;
  c.bounding = {"CAP_KILL", "CAP_CHOWN", "CAP_NET_BIND_SERVICE"};
  c.permitted = {"CAP_KILL", "CAP_CHOWN", "CAP_NET_BIND_SERVICE"};
  c.effective = {"CAP_KILL", "CAP_CHOWN"};
  c.inheritable = {"CAP_NET_BIND_SERVICE"};
  c.ambient = {"CAP_NET_BIND_SERVICE"};
  auto sets = ResolveCapabilities(c);
  ASSERT_TRUE(sets.ok());
  pid_t pid = fork();
  if (pid == 0) {
    if (!child::ApplyCapabilities(*sets).ok()) _exit(1);
    if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0) _exit(2);
    if (prctl(PR_CAPBSET_READ, CAP_KILL, 0, 0, 0) != 1) _exit(3);
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2] = {};
    if (syscall(SYS_capget, &h, d) < 0) _exit(4);
    if (d[0].effective != (Bit(CAP_KILL) | Bit(CAP_CHOWN))) _exit(5);
    if (d[0].permitted != (Bit(CAP_KILL) | Bit(CAP_CHOWN) | Bit(CAP_NET_BIND_SERVICE))) _exit(6);
    if (d[0].inheritable != Bit(CAP_NET_BIND_SERVICE) || d[1].permitted != 0) _exit(7);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0) != 1) _exit(8);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0) != 0) _exit(9);
    if (prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) != 0) _exit(10);
    _exit(0);
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

}  // namespace
}  // namespace skiff::runtime
