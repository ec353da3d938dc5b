// CVE-2019-5736: a process in the container that gets hold of the runtime's binary (through
// /proc/<pid>/exe of a runtime process in its namespaces) must not be able to write it.
// skiff-runtime re-executes create and run from a detached read-only clone of its binary's
// mount, so the file reachable that way is on a read-only mount, and nothing is copied
// into the container's memory cgroup (runc 1.1's memfd copy was, and OOMed small limits).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sstream>

#include "base/fd.h"
#include "bundle.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

// mnt_id of an open fd, from /proc/self/fdinfo; -1 when missing.
int MountId(int fd) {
  std::istringstream in(ReadText("/proc/self/fdinfo/" + std::to_string(fd)));
  std::string key;
  int value;
  while (in >> key >> value)
    if (key == "mnt_id:") return value;
  return -1;
}

class ExeProtectTest : public BundleTest {
 protected:
  pid_t CreateWaiting(const std::string& id) {
    spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
    WriteConfig();
    CmdResult c = Runtime({"create", "-b", bundle_, id});
    EXPECT_EQ(c.code, 0) << c.err;
    json st = State(id);
    return st.is_object() ? st.value("pid", 0) : 0;
  }
};

TEST_F(ExeProtectTest, RuntimeBinarySeenFromTheContainerIsReadOnly) {
  const std::string before = ReadText(SKIFF_RUNTIME_BIN);
  ASSERT_GT(before.size(), 0u);
  std::string id = NewId("exe");
  pid_t pid = CreateWaiting(id);
  ASSERT_GT(pid, 0);
  // Until start, the container's init is still skiff-runtime: its exe is the runtime.
  std::string exe_link = "/proc/" + std::to_string(pid) + "/exe";
  skiff::UniqueFd exe(::open(exe_link.c_str(), O_PATH | O_CLOEXEC));
  ASSERT_TRUE(exe) << exe_link << ": " << strerror(errno);
  skiff::UniqueFd host(::open(SKIFF_RUNTIME_BIN, O_PATH | O_CLOEXEC));
  ASSERT_TRUE(host);
  struct stat a, b;
  ASSERT_EQ(::fstat(exe.get(), &a), 0);
  ASSERT_EQ(::fstat(host.get(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "not the runtime's binary";
  EXPECT_EQ(a.st_dev, b.st_dev);
  // Same file, another mount: the clone, read-only; the host's own mount is writable.
  EXPECT_NE(MountId(exe.get()), MountId(host.get()));
  struct statvfs sv;
  ASSERT_EQ(::fstatvfs(exe.get(), &sv), 0);
  EXPECT_TRUE(sv.f_flag & ST_RDONLY);
  ASSERT_EQ(::fstatvfs(host.get(), &sv), 0);
  ASSERT_FALSE(sv.f_flag & ST_RDONLY) << "the build dir is read-only: the test proves nothing";

  // Once nothing runs the binary (no ETXTBSY), only the mount stands in the way.
  ASSERT_EQ(Runtime({"delete", "--force", id}).code, 0);
  ASSERT_FALSE(Alive(pid));
  std::string through = "/proc/self/fd/" + std::to_string(exe.get());
  int w = ::open(through.c_str(), O_WRONLY | O_CLOEXEC);
  int err = errno;
  if (w >= 0) ::close(w);
  EXPECT_LT(w, 0) << "the runtime's binary was opened for writing through the container's view";
  EXPECT_EQ(err, EROFS) << strerror(err);
  // The same open of the host's path works: the protection is the clone, not the inode.
  int hw = ::open(SKIFF_RUNTIME_BIN, O_WRONLY | O_CLOEXEC);
  EXPECT_GE(hw, 0) << strerror(errno);
  if (hw >= 0) ::close(hw);
  EXPECT_EQ(ReadText(SKIFF_RUNTIME_BIN), before) << "the runtime binary changed";
}

TEST_F(ExeProtectTest, NoCopyChargedToTheContainerMemoryCgroup) {
  struct stat st;
  ASSERT_EQ(::stat(SKIFF_RUNTIME_BIN, &st), 0);
  // A copy of the binary would cost at least its size; the bound below is only meaningful
  // while the binary is bigger than it.
  constexpr long kBound = 2L << 20;
  ASSERT_GT(st.st_size, kBound + (512L << 10));
  std::string id = NewId("mem");
  pid_t pid = CreateWaiting(id);
  ASSERT_GT(pid, 0);
  std::string memcg = HostCgroupDir(pid, "memory");
  ASSERT_EQ(memcg, "/sys/fs/cgroup/memory/skiff/" + id);
  // Measured: about 256 KiB while the init waits for start (page tables, kernel stack).
  std::string usage = ReadText(memcg + "/memory.usage_in_bytes");
  ASSERT_FALSE(usage.empty());
  EXPECT_LT(std::stol(usage), kBound) << "the runtime binary seems charged to the container";
  ASSERT_EQ(Runtime({"start", id}).code, 0);
  usage = ReadText(memcg + "/memory.usage_in_bytes");
  ASSERT_FALSE(usage.empty());
  EXPECT_LT(std::stol(usage), kBound);
}

TEST_F(ExeProtectTest, MemoryLimitBelowTheBinarySizeIsEnough) {
  // runc's memfd copy made containers with a few MiB of memory fail to start. Here the limit
  // is smaller than the binary itself: a copy charged to the container could not fit.
  constexpr long kLimit = 2L << 20;
  struct stat st;
  ASSERT_EQ(::stat(SKIFF_RUNTIME_BIN, &st), 0);
  ASSERT_GT(st.st_size, kLimit);
  spec_["linux"]["resources"]["memory"] = {{"limit", kLimit}};
  std::string id = NewId("limit");
  pid_t pid = CreateWaiting(id);
  ASSERT_GT(pid, 0);
  std::string memcg = HostCgroupDir(pid, "memory");
  EXPECT_EQ(ReadText(memcg + "/memory.limit_in_bytes"), std::to_string(kLimit) + "\n");
  ASSERT_EQ(Runtime({"delete", id}).code, 0);
  CmdResult r = RunProbe({"exit", "0"});
  EXPECT_EQ(r.code, 0) << r.err;
}

}  // namespace
}  // namespace skiff::itest
