// Explain mode's formatting and merging, without a container: the child's lines are written
// with child::Trace into the pipe the Explain made, as the cloned child does.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include "runtime/child/trace.h"
#include "runtime/explain.h"

namespace skiff::runtime {
namespace {

std::string Drain(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, n);
  return s;
}

TEST(ExplainFormat, Flags) {
  char buf[256];
  EXPECT_STREQ(child::MountFlagsText(MS_NOSUID | MS_NODEV | MS_NOEXEC, buf, sizeof buf),
               "MS_NOSUID|MS_NODEV|MS_NOEXEC");
  EXPECT_STREQ(child::MountFlagsText(0, buf, sizeof buf), "0");
  EXPECT_STREQ(child::MountFlagsText(MS_BIND | (1UL << 30), buf, sizeof buf), "MS_BIND|0x40000000");
  EXPECT_STREQ(child::CloneFlagsText(CLONE_NEWNS | CLONE_NEWPID, buf, sizeof buf),
               "CLONE_NEWNS|CLONE_NEWPID");
}

TEST(ExplainFormat, Caps) {
  char buf[1200];
  EXPECT_STREQ(child::CapsText(0, 40, buf, sizeof buf), "none");
  EXPECT_STREQ(child::CapsText((1ULL << 0) | (1ULL << 21), 40, buf, sizeof buf),
               "2: CHOWN,SYS_ADMIN");
  EXPECT_STREQ(child::CapsText((1ULL << 41) - 1, 40, buf, sizeof buf), "all 41");
  // Truncated, never overrun.
  char small[8];
  EXPECT_STREQ(child::CapsText(3, 40, small, sizeof small), "2: CHOW");
}

TEST(ExplainFormat, Argv) {
  char buf[128];
  EXPECT_STREQ(child::ArgvText({"sh", "-c", "echo \"hi\"\nx\\"}, buf, sizeof buf),
               R"(["sh","-c","echo \"hi\"\nx\\"])");
}

TEST(Explain, MergesChildLinesByTime) {
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  {
    Explain ex(out[1]);
    ex.Step("runtime", "plan", "first");
    int fd = ex.ChildEnd();
    ASSERT_GE(fd, 0);
    child::TraceInit(fd, ex.origin_ns());
    child::Trace("mount", "proc on /proc type %s", "proc");
    child::Trace("execve", "multi\nline");
    ex.Step("runtime", "later", "after the child's lines");
    child::TraceInit(-1, 0);
    ex.CloseChildEnd();
    ex.Flush(true);
    const auto& p = ex.printed();
    ASSERT_EQ(p.size(), 5u);
    EXPECT_NE(p[0].find("explain:"), std::string::npos);
    EXPECT_NE(p[1].find("runtime plan       first"), std::string::npos) << p[1];
    EXPECT_NE(p[2].find("child   mount      proc on /proc type proc"), std::string::npos) << p[2];
    EXPECT_NE(p[3].find("child   execve     multi line"), std::string::npos) << p[3];
    EXPECT_NE(p[4].find("runtime later"), std::string::npos) << p[4];
    // Times are non-decreasing and the deltas are not negative.
    double last = -1;
    for (size_t i = 1; i < p.size(); ++i) {
      double t = std::stod(p[i]);
      EXPECT_GE(t, last);
      last = t;
      EXPECT_EQ(p[i].find(" -"), std::string::npos) << p[i];
    }
  }
  ::close(out[1]);
  std::string text = Drain(out[0]);
  ::close(out[0]);
  EXPECT_NE(text.find("child   mount"), std::string::npos) << text;
}

TEST(Explain, OffTracesNothing) {
  child::TraceInit(-1, 0);
  EXPECT_FALSE(child::TraceOn());
  child::Trace("mount", "x");  // no fd: must not write anywhere or crash
}

TEST(Explain, FlushWithoutWaitReturnsWhileTheWriterLives) {
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  Explain ex(out[1]);
  int fd = ex.ChildEnd();
  ASSERT_GE(fd, 0);
  child::TraceInit(fd, ex.origin_ns());
  child::Trace("created", "waiting");
  child::TraceInit(-1, 0);
  // The write end is still open (as with create: the child waits for start): no blocking.
  ex.Flush(false);
  ASSERT_EQ(ex.printed().size(), 2u);
  EXPECT_NE(ex.printed()[1].find("created"), std::string::npos);
  ::close(out[0]);
  ::close(out[1]);
}

}  // namespace
}  // namespace skiff::runtime
