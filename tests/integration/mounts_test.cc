// The container's filesystem: read-only root, masked and read-only paths, spec mounts (tmpfs
// options, bind, rbind), device nodes and /dev symlinks, --no-pivot, and mount isolation in
// both directions.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "bundle.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

class MountsTest : public BundleTest {
 protected:
  json Mounts() {
    CmdResult r = RunProbe({"mounts"});
    EXPECT_EQ(r.code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_array()) << r.out;
    return j.is_array() ? j : json::array();
  }
  static json Find(const json& mounts, const std::string& target) {
    json found;
    for (const auto& m : mounts)
      if (m["target"] == target) found = m;  // the last one is the top mount
    return found;
  }
  static bool HasOption(const std::string& list, const std::string& opt) {
    return ("," + list + ",").find("," + opt + ",") != std::string::npos;
  }
  // `skiff-probe stat PATH` in a container.
  json Stat(const std::string& path) {
    CmdResult r = RunProbe({"stat", path});
    EXPECT_EQ(r.code, 0) << path << ": " << r.out << r.err;
    json j = json::parse(r.out, nullptr, false);
    return j.is_discarded() ? json() : j;
  }
  void AddMount(const std::string& dest, const std::string& type, const std::string& source,
                const std::vector<std::string>& options) {
    spec_["mounts"].push_back(
        {{"destination", dest}, {"type", type}, {"source", source}, {"options", options}});
  }
};

TEST_F(MountsTest, ReadonlyRoot) {
  ASSERT_EQ(spec_["root"]["readonly"], true);
  CmdResult r = RunProbe({"write", "/newfile", "x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "EROFS 30\n");
  EXPECT_FALSE(Exists(rootfs_ + "/newfile"));
  // /dev/shm is its own writable tmpfs.
  CmdResult shm = RunProbe({"write", "/dev/shm/x", "x"});
  EXPECT_EQ(shm.out, "ok\n") << shm.err;
}

TEST_F(MountsTest, WritableRoot) {
  spec_["root"]["readonly"] = false;
  CmdResult r = RunProbe({"write", "/newfile", "hello"});
  EXPECT_EQ(r.out, "ok\n") << r.err;
  EXPECT_EQ(ReadText(rootfs_ + "/newfile"), "hello");
}

TEST_F(MountsTest, MaskedFileIsDevNull) {
  // /proc/kcore is not in every kernel (this VM's has none); /proc/timer_list and /proc/keys
  // are masked by the default spec too.
  std::string path;
  for (const char* p : {"/proc/kcore", "/proc/timer_list", "/proc/keys"})
    if (path.empty() && Exists(p)) path = p;
  ASSERT_FALSE(path.empty()) << "no masked /proc file exists on this host";
  json st = Stat(path);
  EXPECT_EQ(st["type"], "char");
  EXPECT_EQ(st["rdev_major"], 1);
  EXPECT_EQ(st["rdev_minor"], 3);
  CmdResult r = RunProbe({"read", path});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "");
}

TEST_F(MountsTest, MaskedDirIsEmptyReadonlyTmpfs) {
  ASSERT_TRUE(Exists("/sys/firmware/acpi") || Exists("/sys/firmware/memmap"))
      << "nothing in the host's /sys/firmware to hide";
  CmdResult ls = RunProbe({"ls", "/sys/firmware"});
  EXPECT_EQ(ls.out, "[]\n") << ls.err;
  json m = Find(Mounts(), "/sys/firmware");
  ASSERT_TRUE(m.is_object());
  EXPECT_EQ(m["fstype"], "tmpfs");
  EXPECT_TRUE(HasOption(m["options"], "ro")) << m.dump();
  CmdResult w = RunProbe({"write", "/sys/firmware/x", "x"});
  EXPECT_EQ(w.out, "EROFS 30\n");
}

TEST_F(MountsTest, MaskedPathMissingIsIgnored) {
  spec_["linux"]["maskedPaths"].push_back("/proc/no-such-entry");
  CmdResult r = RunProbe({"exit", "0"});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(MountsTest, ReadonlyProcSys) {
  CmdResult r = RunProbe({"write", "/proc/sys/kernel/hostname", "x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "EROFS 30\n");
  json m = Find(Mounts(), "/proc/sys");
  ASSERT_TRUE(m.is_object());
  EXPECT_TRUE(HasOption(m["options"], "ro")) << m.dump();
}

TEST_F(MountsTest, TmpfsWithSizeAndMode) {
  AddMount("/scratch", "tmpfs", "itest-scratch", {"nosuid", "nodev", "size=1m", "mode=1770"});
  json m = Find(Mounts(), "/scratch");
  ASSERT_TRUE(m.is_object());
  EXPECT_EQ(m["fstype"], "tmpfs");
  EXPECT_EQ(m["source"], "itest-scratch");
  EXPECT_TRUE(HasOption(m["super"], "size=1024k")) << m.dump();
  EXPECT_TRUE(HasOption(m["super"], "mode=1770")) << m.dump();
  EXPECT_TRUE(HasOption(m["options"], "nosuid")) << m.dump();
  EXPECT_TRUE(HasOption(m["options"], "nodev")) << m.dump();
  json st = Stat("/scratch");
  EXPECT_EQ(st["mode"], "01770");
}

// tmpcopyup (runc's and crun's extension, podman's default for --tmpfs): the tmpfs starts
// with a copy of what it covers: contents, modes (set-id bits too), owners, symlinks as links
// (never followed), fifos; writes go to the tmpfs, not the rootfs.
TEST_F(MountsTest, TmpfsCopyUp) {
  std::string seed = rootfs_ + "/seed";
  ASSERT_EQ(::mkdir(seed.c_str(), 0755), 0);
  ASSERT_TRUE(WriteText(seed + "/data", "seed-data"));
  ASSERT_EQ(::chown((seed + "/data").c_str(), 1000, 1001), 0);
  ASSERT_EQ(::chmod((seed + "/data").c_str(), 04755), 0);
  ASSERT_EQ(::mkdir((seed + "/sub").c_str(), 0710), 0);
  ASSERT_TRUE(WriteText(seed + "/sub/deep", "deep"));
  ASSERT_EQ(::symlink("/etc/passwd", (seed + "/out").c_str()), 0);
  ASSERT_EQ(::mkfifo((seed + "/pipe").c_str(), 0600), 0);
  AddMount("/seed", "tmpfs", "tmpfs", {"nosuid", "tmpcopyup"});
  CmdResult r = RunArgs({"sh", "-c",
                         "stat -c '%a %u:%g' /seed/data; stat -c '%a' /seed/sub; cat /seed/data "
                         "/seed/sub/deep; echo; readlink /seed/out; stat -c %F /seed/pipe; "
                         "echo new >/seed/new"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "4755 1000:1001\n710\nseed-datadeep\n/etc/passwd\nfifo\n") << r.err;
  EXPECT_FALSE(Exists(seed + "/new")) << "the write went to the rootfs, not the tmpfs";
  json m = Find(Mounts(), "/seed");
  ASSERT_TRUE(m.is_object());
  EXPECT_EQ(m["fstype"], "tmpfs");
}

TEST_F(MountsTest, ReadonlyTmpfsCopyUp) {
  std::string seed = rootfs_ + "/seed";
  ASSERT_EQ(::mkdir(seed.c_str(), 0755), 0);
  ASSERT_TRUE(WriteText(seed + "/data", "seed-data"));
  AddMount("/seed", "tmpfs", "tmpfs", {"ro", "tmpcopyup"});
  CmdResult r = RunProbe({"read", "/seed/data"});
  EXPECT_EQ(r.out, "seed-data") << r.err;
  CmdResult w = RunProbe({"write", "/seed/new", "x"});
  EXPECT_EQ(w.out, "EROFS 30\n");
}

TEST_F(MountsTest, ReadonlyBindOfHostDir) {
  std::string host = TempDir("share");
  std::ofstream(host + "/hello") << "from the host";
  AddMount("/mnt/share", "bind", host, {"rbind", "ro"});
  CmdResult r = RunProbe({"read", "/mnt/share/hello"});
  EXPECT_EQ(r.out, "from the host") << r.err;
  CmdResult w = RunProbe({"write", "/mnt/share/new", "x"});
  EXPECT_EQ(w.out, "EROFS 30\n");
  EXPECT_FALSE(Exists(host + "/new"));
}

TEST_F(MountsTest, WritableBindOfHostFile) {
  std::string host = TempDir("files");
  std::ofstream(host + "/f") << "old";
  AddMount("/etc/f", "bind", host + "/f", {"bind", "rw"});
  CmdResult w = RunProbe({"write", "/etc/f", "new"});
  EXPECT_EQ(w.out, "ok\n") << w.err;
  EXPECT_EQ(ReadText(host + "/f"), "new");
}

TEST_F(MountsTest, RbindCarriesSubmountsBindDoesNot) {
  std::string host = TempDir("tree");
  std::string sub = host + "/sub";
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  ASSERT_EQ(mount("itest-sub", sub.c_str(), "tmpfs", 0, "size=1m"), 0) << strerror(errno);
  OwnMount(sub);
  std::ofstream(sub + "/marker") << "in the submount";
  AddMount("/mnt/r", "bind", host, {"rbind"});
  AddMount("/mnt/b", "bind", host, {"bind"});
  CmdResult r = RunProbe({"read", "/mnt/r/sub/marker"});
  EXPECT_EQ(r.out, "in the submount") << r.err;
  CmdResult b = RunProbe({"ls", "/mnt/b/sub"});
  EXPECT_EQ(b.out, "[]\n") << b.err;
}

TEST_F(MountsTest, DefaultDevices) {
  struct Dev {
    const char* path;
    int major, minor;
  };
  const Dev devs[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
                      {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
  std::string script;
  for (const Dev& d : devs) script += std::string("/bin/skiff-probe stat ") + d.path + "; ";
  CmdResult r = RunArgs({"/bin/sh", "-c", script});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  for (const Dev& d : devs) {
    std::string line;
    std::getline(in, line);
    json st = json::parse(line, nullptr, false);
    ASSERT_TRUE(st.is_object()) << d.path << ": " << line;
    EXPECT_EQ(st["type"], "char") << d.path;
    EXPECT_EQ(st["rdev_major"], d.major) << d.path;
    EXPECT_EQ(st["rdev_minor"], d.minor) << d.path;
    EXPECT_EQ(st["mode"], "0666") << d.path;
  }
  // And they work: /dev/zero reads zeros, /dev/full refuses writes.
  CmdResult full = RunProbe({"write", "/dev/full", "x"});
  EXPECT_EQ(full.out, "ENOSPC 28\n");
}

TEST_F(MountsTest, DevSymlinks) {
  CmdResult r =
      RunArgs({"/bin/sh", "-c", "for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\npts/ptmx\n");
}

TEST_F(MountsTest, SpecDeviceWithModeAndOwner) {
  spec_["linux"]["devices"] = {{{"path", "/dev/mynull"},
                                {"type", "c"},
                                {"major", 1},
                                {"minor", 3},
                                {"fileMode", 0600},
                                {"uid", 1000},
                                {"gid", 1001}}};
  json st = Stat("/dev/mynull");
  EXPECT_EQ(st["type"], "char");
  EXPECT_EQ(st["mode"], "0600");
  EXPECT_EQ(st["uid"], 1000);
  EXPECT_EQ(st["gid"], 1001);
  EXPECT_EQ(st["rdev_major"], 1);
  EXPECT_EQ(st["rdev_minor"], 3);
  // Its owner may write it (no capability needed), and the device cgroup allows it, as runc
  // does for spec devices.
  spec_["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  CmdResult w = RunProbe({"write", "/dev/mynull", "x"});
  EXPECT_EQ(w.out, "ok\n");
}

TEST_F(MountsTest, NoPivot) {
  CmdResult r = RunProbe({"mounts"}, {"--no-pivot"});
  ASSERT_EQ(r.code, 0) << r.err;
  json mounts = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(mounts.is_array());
  EXPECT_TRUE(Find(mounts, "/proc").is_object());
  EXPECT_TRUE(Find(mounts, "/").is_object());
  CmdResult ls = RunProbe({"ls", "/bin"}, {"--no-pivot"});
  EXPECT_NE(ls.out.find("\"skiff-probe\""), std::string::npos) << ls.out;
}

TEST_F(MountsTest, HostMountsInvisibleInside) {
  std::string host = TempDir("hostmnt");
  std::string tag = "itest-host-" + std::to_string(getpid());
  ASSERT_EQ(mount(tag.c_str(), host.c_str(), "tmpfs", 0, "size=1m"), 0) << strerror(errno);
  OwnMount(host);
  json mounts = Mounts();
  ASSERT_FALSE(mounts.empty());
  for (const auto& m : mounts) {
    EXPECT_NE(m["source"], tag) << m.dump();
    EXPECT_EQ(m["target"].get<std::string>().find("/tmp/skiff-itest"), std::string::npos)
        << m.dump();
  }
}

TEST_F(MountsTest, MountsInsideInvisibleOnHost) {
  std::string tag = "itest-inner-" + std::to_string(getpid());
  spec_["root"]["readonly"] = false;
  spec_["process"]["capabilities"]["bounding"].push_back("CAP_SYS_ADMIN");
  spec_["process"]["capabilities"]["effective"].push_back("CAP_SYS_ADMIN");
  spec_["process"]["capabilities"]["permitted"].push_back("CAP_SYS_ADMIN");
  std::string id = NewId("inner");
  CmdResult c;
  pid_t pid = CreateStarted(
      id, {"/bin/sh", "-c", "mount -t tmpfs " + tag + " /mnt && echo mounted && sleep 30"}, &c);
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 250 && ReadText(c.out_path).find("mounted") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_NE(ReadText(c.out_path).find("mounted"), std::string::npos)
      << ReadText(c.out_path) << c.err;
  // The container sees it...
  EXPECT_NE(ReadText("/proc/" + std::to_string(pid) + "/mountinfo").find(tag), std::string::npos);
  // ...the host does not.
  EXPECT_EQ(ReadText("/proc/self/mountinfo").find(tag), std::string::npos);
  EXPECT_EQ(ReadText("/proc/1/mountinfo").find(tag), std::string::npos);
}

}  // namespace
}  // namespace skiff::itest
