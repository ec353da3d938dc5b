// More rows of docs/conformance.md, each asserting what the runtime-spec text requires.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "bundle.h"

namespace skiff::itest {
namespace {

void WriteExecutable(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), 0755);
}

// Entries of a directory but . and ..; 0 when it is missing, -1 when it can't be read.
int CountEntries(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return 0;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return -1;
  int n = 0;
  while (struct dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) n++;
  ::closedir(d);
  return n;
}

// The mountinfo line whose mount point is mp, from text.
std::string LineFor(const std::string& mountinfo, const std::string& mp) {
  std::istringstream in(mountinfo);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    f >> id >> parent >> dev >> root >> point;
    if (point == mp) return line;
  }
  return "";
}

// The per-mount options (field 6) and the superblock options (last field) of a line.
std::string MountOpts(const std::string& line) {
  std::istringstream f(line);
  std::string s;
  for (int i = 0; i < 6; ++i) f >> s;
  return "," + s + ",";
}
std::string SuperOpts(const std::string& line) {
  std::istringstream f(line.substr(line.find(" - ") + 3));
  std::string type, source, opts;
  f >> type >> source >> opts;
  return "," + opts + ",";
}

class Conformance2Test : public BundleTest {
 protected:
  // A child of the test in new namespaces of the given CLONE_ flags, killed in TearDown;
  // 0 when that failed.
  pid_t NamespaceHolder(int flags) {
    int ready[2];
    if (::pipe(ready) != 0) return 0;
    pid_t holder = ::fork();
    if (holder < 0) return 0;
    if (holder == 0) {
      ::close(ready[0]);
      char ok = ::unshare(flags) == 0 ? 'y' : 'n';
      (void)!::write(ready[1], &ok, 1);
      ::pause();
      _exit(0);
    }
    OwnPid(holder);
    ::close(ready[1]);
    char ok = 0;
    bool good = ::read(ready[0], &ok, 1) == 1 && ok == 'y';
    ::close(ready[0]);
    return good ? holder : 0;
  }
};

// runtime.md: state, start, kill and delete MUST error without an ID; create without one
// must create nothing (-b defaults to the cwd as in runc, so the bundle can't be missing).
class MissingIdTest : public BundleTest,
                      public ::testing::WithParamInterface<std::vector<std::string>> {};

TEST_P(MissingIdTest, IsAnError) {
  WriteConfig();
  std::vector<std::string> args = GetParam();
  if (args[0] == "create") args = {"create", "-b", bundle_};
  CmdResult r = Runtime(args);
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.err.find("container-id is required"), std::string::npos) << r.err;
  EXPECT_EQ(CountEntries(root_), 0) << "a container was made";
}

INSTANTIATE_TEST_SUITE_P(
    Conformance2, MissingIdTest,
    ::testing::Values(std::vector<std::string>{"state"}, std::vector<std::string>{"create"},
                      std::vector<std::string>{"start"}, std::vector<std::string>{"kill"},
                      std::vector<std::string>{"delete"}),
    [](const auto& info) { return info.param[0] + std::to_string(info.param.size()); });

// runtime.md Create: an invalid ID is an error and no container is made, anywhere.
TEST_F(Conformance2Test, InvalidIdsCreateNothing) {
  WriteConfig();
  for (const char* id : {"a/b", "..", ".", "../escape", ""}) {
    SCOPED_TRACE(id);
    CmdResult r = Runtime({"create", "-b", bundle_, id});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("invalid container id"), std::string::npos) << r.err;
    EXPECT_EQ(CountEntries(root_), 0);
  }
  EXPECT_FALSE(Exists(work_ + "/escape"));
}

// runtime.md Kill: a created container can be killed; it ends stopped and can be deleted.
TEST_F(Conformance2Test, KillOfCreatedContainerStopsIt) {
  std::string id = NewId("kc");
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  ASSERT_EQ(Runtime({"create", "-b", bundle_, id}).code, 0);
  pid_t pid = State(id).value("pid", 0);
  ASSERT_GT(pid, 0);
  CmdResult k = Runtime({"kill", id, "KILL"});
  EXPECT_EQ(k.code, 0) << k.err;
  EXPECT_TRUE(WaitStatus(id, "stopped")) << State(id).dump();
  EXPECT_FALSE(Alive(pid));
  // start of a stopped container: an error, and still stopped.
  EXPECT_NE(Runtime({"start", id}).code, 0);
  EXPECT_EQ(State(id)["status"], "stopped");
  EXPECT_EQ(Runtime({"delete", id}).code, 0);
  EXPECT_TRUE(State(id).is_null());
}

// runtime.md State: bundle is an absolute path, whether -b was relative or absent (cwd).
TEST_F(Conformance2Test, BundleInStateIsAbsolute) {
  WriteConfig();
  char real[PATH_MAX];
  ASSERT_NE(::realpath(bundle_.c_str(), real), nullptr);
  std::string rel = NewId("rel"), cwd = NewId("cwd");
  std::string bin = SKIFF_RUNTIME_BIN;
  CmdResult a = RunCommand(
      {"/bin/sh", "-c",
       "cd " + work_ + " && exec " + bin + " --root " + root_ + " create -b bundle " + rel},
      work_);
  ASSERT_EQ(a.code, 0) << a.err;
  CmdResult b =
      RunCommand({"/bin/sh", "-c",
                  "cd " + bundle_ + " && exec " + bin + " --root " + root_ + " create " + cwd},
                 work_);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(State(rel)["bundle"], std::string(real));
  EXPECT_EQ(State(cwd)["bundle"], std::string(real));
}

// runtime.md: after a createRuntime or createContainer hook fails, the lifecycle goes on at
// step 12, so the poststop hooks run; likewise for startContainer once the container goes.
TEST_F(Conformance2Test, FailedCreateHooksStillRunPoststop) {
  std::string log = work_ + "/hooks.log";
  std::string hook = work_ + "/hook.sh";
  WriteExecutable(hook, "#!/bin/sh\necho \"$1\" >> " + log + "\nexit ${2:-0}\n");
  for (const char* point : {"createRuntime", "createContainer"}) {
    SCOPED_TRACE(point);
    ::unlink(log.c_str());
    spec_["hooks"] = {{point, {{{"path", hook}, {"args", {"hook.sh", point, "3"}}}}},
                      {"poststop", {{{"path", hook}, {"args", {"hook.sh", "poststop"}}}}}};
    std::string id = NewId("hk");
    WriteConfig();
    CmdResult c = Runtime({"create", "-b", bundle_, id});
    EXPECT_NE(c.code, 0);
    EXPECT_NE(c.err.find(std::string(point) + " hook"), std::string::npos) << c.err;
    EXPECT_EQ(ReadText(log), std::string(point) + "\npoststop\n");
    EXPECT_FALSE(Exists(root_ + "/" + id));
  }
  // startContainer runs inside the container, so its script lives in the rootfs.
  ::unlink(log.c_str());
  WriteExecutable(rootfs_ + "/start.sh", "#!/bin/sh\nexit 6\n");
  spec_["hooks"] = {{"startContainer", {{{"path", "/start.sh"}}}},
                    {"poststop", {{{"path", hook}, {"args", {"hook.sh", "poststop"}}}}}};
  std::string id = NewId("hs");
  spec_["process"]["args"] = {"/bin/skiff-probe", "sleep", "30"};
  WriteConfig();
  ASSERT_EQ(Runtime({"create", "-b", bundle_, id}).code, 0);
  EXPECT_NE(Runtime({"start", id}).code, 0);
  EXPECT_TRUE(WaitStatus(id, "stopped"));
  CmdResult d = Runtime({"delete", id});
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(ReadText(log), "poststop\n");
}

// runtime.md Delete: what the container did not create survives: the cgroupsPath parent,
// a bind source and the files in it, a joined network namespace and its holder.
TEST_F(Conformance2Test, DeleteKeepsWhatItDidNotCreate) {
  pid_t holder = NamespaceHolder(CLONE_NEWNET);
  ASSERT_GT(holder, 0);
  std::string netns = "/proc/" + std::to_string(holder) + "/ns/net";
  char before[64] = {}, after[64] = {};
  ASSERT_GT(::readlink(netns.c_str(), before, sizeof before - 1), 0);
  for (auto& e : spec_["linux"]["namespaces"])
    if (e["type"] == "network") e["path"] = netns;
  std::string parent = "/skiff-itest2-" + std::to_string(getpid());
  OwnCgroupParent(parent);
  std::string src = TempDir("src");
  std::ofstream(src + "/keep") << "k";
  std::string id = NewId("keep");
  spec_["linux"]["cgroupsPath"] = parent + "/" + id;
  spec_["mounts"].push_back(
      {{"destination", "/src"}, {"type", "bind"}, {"source", src}, {"options", {"rbind"}}});
  spec_["process"]["args"] = {"/bin/sh", "-c", "echo in > /src/new"};
  WriteConfig();
  ASSERT_EQ(Runtime({"create", "-b", bundle_, id}).code, 0);
  ASSERT_EQ(Runtime({"start", id}).code, 0);
  ASSERT_TRUE(WaitStatus(id, "stopped"));
  ASSERT_EQ(Runtime({"delete", id}).code, 0);
  EXPECT_TRUE(Exists("/sys/fs/cgroup/memory" + parent));
  EXPECT_TRUE(Exists("/sys/fs/cgroup/unified" + parent));
  EXPECT_FALSE(Exists("/sys/fs/cgroup/memory" + parent + "/" + id));
  EXPECT_EQ(ReadText(src + "/keep"), "k");
  EXPECT_EQ(ReadText(src + "/new"), "in\n");
  EXPECT_TRUE(Exists(rootfs_ + "/bin/skiff-probe"));
  EXPECT_TRUE(Alive(holder));
  ASSERT_GT(::readlink(netns.c_str(), after, sizeof after - 1), 0);
  EXPECT_STREQ(before, after);
}

// config.md Mounts: mounts are made in the listed order: a bind below a tmpfs listed after
// it is visible, and hidden when listed before it.
TEST_F(Conformance2Test, MountsAreMadeInOrder) {
  std::string src = TempDir("sub");
  std::ofstream(src + "/mark") << "m";
  nlohmann::json tmpfs = {{"destination", "/m"}, {"type", "tmpfs"}, {"source", "tmpfs"}};
  nlohmann::json bind = {
      {"destination", "/m/sub"}, {"type", "bind"}, {"source", src}, {"options", {"bind"}}};
  nlohmann::json base = spec_["mounts"];
  spec_["mounts"].push_back(tmpfs);
  spec_["mounts"].push_back(bind);
  CmdResult r = RunArgs({"/bin/sh", "-c", "cat /m/sub/mark || echo hidden"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "m");
  spec_["mounts"] = base;
  spec_["mounts"].push_back(bind);
  spec_["mounts"].push_back(tmpfs);
  r = RunArgs({"/bin/sh", "-c", "cat /m/sub/mark 2>/dev/null || echo hidden"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hidden\n");
}

// config.md Mounts: a relative bind source is relative to the bundle.
TEST_F(Conformance2Test, RelativeBindSourceIsInTheBundle) {
  ASSERT_EQ(::mkdir((bundle_ + "/data").c_str(), 0755), 0);
  std::ofstream(bundle_ + "/data/f") << "bundle-data";
  spec_["mounts"].push_back(
      {{"destination", "/data"}, {"type", "bind"}, {"source", "data"}, {"options", {"bind"}}});
  CmdResult r = RunArgs({"/bin/cat", "/data/f"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "bundle-data");
}

// config.md Linux mount options: the atime family, sync/dirsync, lazytime, nosuid/nodev/noexec
// and their clearing counterparts, and per-mount propagation.
TEST_F(Conformance2Test, MountOptionFlagsReachTheKernel) {
  auto add = [&](const std::string& dst, std::vector<std::string> opts) {
    spec_["mounts"].push_back(
        {{"destination", dst}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", opts}});
  };
  add("/o/noatime", {"noatime", "nodiratime"});
  add("/o/strict", {"strictatime"});
  add("/o/relatime", {"relatime"});
  add("/o/nox", {"nosuid", "nodev", "noexec"});
  add("/o/cleared", {"nosuid", "nodev", "noexec", "suid", "dev", "exec"});
  add("/o/sync", {"sync", "dirsync"});
  add("/o/lazy", {"lazytime"});
  add("/o/shared", {"shared"});
  add("/o/unbindable", {"unbindable"});
  add("/o/private", {"private"});
  CmdResult r = RunArgs({"/bin/cat", "/proc/self/mountinfo"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto line = [&](const char* mp) {
    std::string l = LineFor(r.out, mp);
    EXPECT_NE(l, "") << mp << " missing:\n" << r.out;
    return l;
  };
  std::string l = line("/o/noatime");
  EXPECT_NE(MountOpts(l).find(",noatime,"), std::string::npos) << l;
  EXPECT_NE(MountOpts(l).find(",nodiratime,"), std::string::npos) << l;
  l = line("/o/strict");
  EXPECT_EQ(MountOpts(l).find("atime"), std::string::npos) << l;
  l = line("/o/relatime");
  EXPECT_NE(MountOpts(l).find(",relatime,"), std::string::npos) << l;
  l = line("/o/nox");
  for (const char* o : {",nosuid,", ",nodev,", ",noexec,"})
    EXPECT_NE(MountOpts(l).find(o), std::string::npos) << o << " " << l;
  l = line("/o/cleared");
  for (const char* o : {",nosuid,", ",nodev,", ",noexec,"})
    EXPECT_EQ(MountOpts(l).find(o), std::string::npos) << o << " " << l;
  l = line("/o/sync");
  EXPECT_NE(SuperOpts(l).find(",sync,"), std::string::npos) << l;
  EXPECT_NE(SuperOpts(l).find(",dirsync,"), std::string::npos) << l;
  l = line("/o/lazy");
  EXPECT_NE(SuperOpts(l).find(",lazytime,"), std::string::npos) << l;
  l = line("/o/shared");
  EXPECT_NE(l.find(" shared:"), std::string::npos) << l;
  l = line("/o/unbindable");
  EXPECT_NE(l.find(" unbindable "), std::string::npos) << l;
  l = line("/o/private");
  EXPECT_EQ(l.find("shared:"), std::string::npos) << l;
  EXPECT_EQ(l.find("master:"), std::string::npos) << l;
}

// config.md: rro makes the submounts of an rbind read-only too; plain ro does not.
TEST_F(Conformance2Test, RecursiveReadonlyReachesSubmounts) {
  std::string src = TempDir("tree");
  std::string sub = TempDir("tree/sub");
  ASSERT_EQ(::mount("tmpfs", sub.c_str(), "tmpfs", 0, nullptr), 0) << strerror(errno);
  OwnMount(sub);
  spec_["mounts"].push_back(
      {{"destination", "/ro"}, {"type", "bind"}, {"source", src}, {"options", {"rbind", "ro"}}});
  spec_["mounts"].push_back(
      {{"destination", "/rro"}, {"type", "bind"}, {"source", src}, {"options", {"rbind", "rro"}}});
  CmdResult r = RunArgs({"/bin/sh", "-c",
                         "touch /ro/x 2>/dev/null && echo ro-top-rw; "
                         "touch /ro/sub/x 2>/dev/null && echo ro-sub-rw; "
                         "touch /rro/y 2>/dev/null && echo rro-top-rw; "
                         "touch /rro/sub/y 2>/dev/null && echo rro-sub-rw; "
                         "touch /rro/sub/.probe 2>&1 | grep -q Read-only && echo rro-sub-erofs"});
  ASSERT_EQ(r.code, 0) << r.err;
  // Whether plain ro reaches submounts is not specified (runc: it does not); rro must.
  EXPECT_EQ(r.out.find("ro-top-rw"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("rro-top-rw"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("rro-sub-rw"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rro-sub-erofs"), std::string::npos) << r.out;
}

// config.md: the other recursive attributes reach the submounts of an rbind as well.
TEST_F(Conformance2Test, RecursiveAttributesReachSubmounts) {
  std::string src = TempDir("tree");
  std::string sub = TempDir("tree/sub");
  ASSERT_EQ(::mount("tmpfs", sub.c_str(), "tmpfs", 0, nullptr), 0) << strerror(errno);
  OwnMount(sub);
  spec_["mounts"].push_back(
      {{"destination", "/rx"},
       {"type", "bind"},
       {"source", src},
       {"options", {"rbind", "rnosuid", "rnodev", "rnoexec", "rnoatime", "rnodiratime"}}});
  CmdResult r = RunArgs({"/bin/cat", "/proc/self/mountinfo"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* mp : {"/rx", "/rx/sub"}) {
    std::string l = LineFor(r.out, mp);
    ASSERT_NE(l, "") << mp << " missing:\n" << r.out;
    for (const char* o : {",nosuid,", ",nodev,", ",noexec,", ",noatime,", ",nodiratime,"})
      EXPECT_NE(MountOpts(l).find(o), std::string::npos) << o << " " << l;
  }
}

// config.md idmap: without mount mappings, a runtime MAY take the container's user namespace
// maps, otherwise it MUST fail; skiff fails, with a user namespace too.
TEST_F(Conformance2Test, IdmapWithoutMappingsFailsInAUserNamespace) {
  spec_["linux"]["namespaces"].push_back({{"type", "user"}});
  spec_["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  spec_["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  spec_["mounts"].push_back({{"destination", "/m"},
                             {"type", "bind"},
                             {"source", work_},
                             {"options", {"rbind", "ridmap"}}});
  CmdResult r = RunArgs({"/bin/true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("idmap needs uidMappings"), std::string::npos) << r.err;
  EXPECT_EQ(CountEntries(root_), 0);
}

// config.md hooks: prestart, createRuntime and createContainer run before pivot_root: the
// container process's root is not yet the bundle's rootfs, and the createContainer hook
// (in the container's mount namespace) still reaches the rootfs at its host path.
TEST_F(Conformance2Test, CreateHooksRunBeforePivotRoot) {
  std::string log = work_ + "/pivot.log";
  std::string hook = work_ + "/hook.sh";
  WriteExecutable(hook,
                  "#!/bin/sh\npid=$(sed 's/.*\"pid\": *\\([0-9]*\\).*/\\1/')\n"
                  "if test -e /proc/$pid/root/bin/skiff-probe; then w=after; else w=before; fi\n"
                  "case \"$pid\" in ''|*[!0-9]*) w=no-pid;; esac\n"
                  "test -e " +
                      rootfs_ +
                      "/bin/skiff-probe && h=host-path || h=no-host-path\n"
                      "echo \"$1 $w $h\" >> " +
                      log + "\n");
  // poststart, after pivot_root, shows that the check tells the two apart.
  for (const char* p : {"prestart", "createRuntime", "createContainer", "poststart"})
    spec_["hooks"][p] = {{{"path", hook}, {"args", {"hook.sh", p}}}};
  CmdResult r = RunArgs({"/bin/skiff-probe", "sleep", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadText(log),
            "prestart before host-path\ncreateRuntime before host-path\n"
            "createContainer before host-path\npoststart after host-path\n");
}

// config-linux.md Namespaces: with a path, the process joins that namespace (ipc, uts, cgroup).
TEST_F(Conformance2Test, JoinIpcUtsCgroupMountNamespacesByPath) {
  pid_t holder = NamespaceHolder(CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_NEWNS);
  ASSERT_GT(holder, 0);
  std::string ns = "/proc/" + std::to_string(holder) + "/ns/";
  const std::pair<std::string, std::string> kinds[] = {
      {"ipc", "ipc"}, {"uts", "uts"}, {"cgroup", "cgroup"}, {"mount", "mnt"}};
  std::string want, script;
  for (const auto& [type, file] : kinds) {
    char buf[64] = {}, host[64] = {};
    ASSERT_GT(::readlink((ns + file).c_str(), buf, sizeof buf - 1), 0);
    ASSERT_GT(::readlink(("/proc/self/ns/" + file).c_str(), host, sizeof host - 1), 0);
    ASSERT_STRNE(buf, host) << file;  // the holder really has its own
    want += std::string(buf) + "\n";
    script += "readlink /proc/self/ns/" + file + "; ";
    bool listed = false;
    for (auto& e : spec_["linux"]["namespaces"]) {
      if (e["type"] != type) continue;
      e["path"] = ns + file;
      listed = true;
    }
    if (!listed) spec_["linux"]["namespaces"].push_back({{"type", type}, {"path", ns + file}});
  }
  spec_.erase("hostname");
  CmdResult r = RunArgs({"/bin/sh", "-c", script});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, want);
}

// config.md process.args: args[0] without a slash is looked up in the PATH of process.env.
TEST_F(Conformance2Test, RelativeArgs0IsFoundInPath) {
  spec_["process"]["env"] = {"PATH=/nowhere:/bin"};
  CmdResult r = RunArgs({"skiff-probe", "exit", "7"});
  EXPECT_EQ(r.code, 7) << r.err;
}

// config.md Linux process: a capability name the runtime can't map is logged as a warning.
TEST_F(Conformance2Test, UnknownCapabilityIsLogged) {
  for (const char* set : {"bounding", "effective", "permitted"})
    spec_["process"]["capabilities"][set] = {"CAP_KILL", "CAP_NO_SUCH"};
  CmdResult r = RunArgs({"/bin/true"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: CAP_NO_SUCH: unknown capability, skipped"), std::string::npos)
      << r.err;
}

// config.md process: consoleSize is ignored when terminal is false.
TEST_F(Conformance2Test, ConsoleSizeIgnoredWithoutTerminal) {
  spec_["process"]["terminal"] = false;
  spec_["process"]["consoleSize"] = {{"height", 40}, {"width", 120}};
  CmdResult r = RunArgs({"/bin/sh", "-c", "test -t 0 || test -t 1 || echo no-tty"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "no-tty\n");
  EXPECT_EQ(r.err, "");
}

// config-linux.md user namespace mappings: the runtime does not chown the rootfs to match.
TEST_F(Conformance2Test, UserNamespaceDoesNotChownTheRootfs) {
  spec_["linux"]["namespaces"].push_back({{"type", "user"}});
  spec_["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  spec_["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  CmdResult r = RunArgs({"/bin/stat", "-c", "%u", "/bin/busybox"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "65534\n");  // host root is unmapped inside: the overflow uid
  for (const std::string& p : {rootfs_, rootfs_ + "/bin", rootfs_ + "/bin/busybox"}) {
    struct stat st;
    ASSERT_EQ(::lstat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_uid, 0u) << p;
    EXPECT_EQ(st.st_gid, 0u) << p;
  }
}

// config-linux.md rootfsPropagation: with the bundle's rootfs a shared mount on the host,
// (r)slave makes the container's / a slave of it and (r)private cuts it off; either way the
// container's own mounts don't show up on the host.
TEST_F(Conformance2Test, SlaveAndPrivateRootPropagation) {
  ASSERT_EQ(::mount(rootfs_.c_str(), rootfs_.c_str(), nullptr, MS_BIND, nullptr), 0)
      << strerror(errno);
  OwnMount(rootfs_);
  ASSERT_EQ(::mount(nullptr, rootfs_.c_str(), nullptr, MS_SHARED, nullptr), 0) << strerror(errno);
  for (const char* prop : {"slave", "rslave", "private", "rprivate"}) {
    SCOPED_TRACE(prop);
    spec_["linux"]["rootfsPropagation"] = prop;
    CmdResult r = RunArgs({"/bin/cat", "/proc/self/mountinfo"});
    ASSERT_EQ(r.code, 0) << r.err;
    std::string root = LineFor(r.out, "/");
    ASSERT_NE(root, "") << r.out;
    bool slave = std::string(prop).find("slave") != std::string::npos;
    EXPECT_EQ(root.find(" master:") != std::string::npos, slave) << root;
    EXPECT_EQ(root.find(" shared:"), std::string::npos) << root;
    std::string host = ReadText("/proc/self/mountinfo");
    EXPECT_EQ(host.find(rootfs_ + "/"), std::string::npos) << "a container mount leaked:\n" << host;
  }
}

// config-linux.md seccomp listenerPath: one container process state per connection, the
// seccomp fd in the same sendmsg, ociVersion set, and the runtime closes the connection after
// sending (the agent reads EOF next).
TEST_F(Conformance2Test, SeccompListenerGetsOneMessageThenEof) {
  std::string path = work_ + "/agent.sock";
  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lfd, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.c_str(), path.size());
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 1), 0);
  std::string message;
  int fds = 0;
  ssize_t second = -2;
  std::thread agent([&] {
    int conn = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return;
    struct timeval tv = {5, 0};
    ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char data[8192] = {};
    alignas(struct cmsghdr) char ctrl[CMSG_SPACE(4 * sizeof(int))] = {};
    struct iovec iov = {data, sizeof data};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl;
    msg.msg_controllen = sizeof ctrl;
    ssize_t n = ::recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    if (n > 0) message.assign(data, n);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        ::close(fd);
        ++fds;
      }
    }
    char more;
    second = ::recv(conn, &more, 1, 0);
    ::close(conn);
  });
  spec_["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"listenerPath", path},
      {"syscalls", {{{"names", {"mkdirat"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
  CmdResult r = RunArgs({"/bin/true"});
  agent.join();
  ::close(lfd);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(second, 0) << "the runtime kept the connection open or sent more";
  EXPECT_EQ(fds, 1);
  auto m = nlohmann::json::parse(message, nullptr, false);
  ASSERT_TRUE(m.is_object()) << message;
  EXPECT_EQ(m.value("ociVersion", ""), "1.2.0") << message;
  EXPECT_EQ(m["state"].value("ociVersion", ""), "1.2.0") << message;
  EXPECT_EQ(m["fds"], nlohmann::json::array({"seccompFd"}));
}

// config.md Valid values: a field the spec defines and skiff does not implement is refused by
// name, and no container is made (config-linux.md rdma and the 1.3 fields).
TEST_F(Conformance2Test, UnimplementedFieldsAreRefusedByName) {
  struct Case {
    std::vector<std::string> at;
    nlohmann::json value;
    std::string name;
  };
  const Case cases[] = {
      {{"linux", "resources", "rdma"}, {{"mlx5_0", {{"hcaHandles", 3}}}}, "linux.resources.rdma"},
      {{"process", "execCPUAffinity"}, {{"initial", "0"}}, "process.execCPUAffinity"},
      {{"linux", "memoryPolicy"}, {{"mode", "MPOL_BIND"}, {"nodes", "0"}}, "linux.memoryPolicy"},
      {{"linux", "netDevices"}, {{"eth9", nlohmann::json::object()}}, "linux.netDevices"},
  };
  nlohmann::json base = spec_;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    spec_ = base;
    nlohmann::json* at = &spec_;
    for (const auto& k : c.at) at = &(*at)[k];
    *at = c.value;
    CmdResult r = RunArgs({"/bin/true"});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find(c.name + ": not supported by skiff-runtime"), std::string::npos) << r.err;
    EXPECT_EQ(CountEntries(root_), 0);
  }
}

// config-linux.md Namespaces, X4: joining a pid namespace (its init is a grandchild of the
// test) and a user namespace whose maps the test wrote, by path.
TEST_F(Conformance2Test, JoinPidAndUserNamespacesByPath) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    ::close(ready[0]);
    pid_t init = -1;
    if (::unshare(CLONE_NEWPID) == 0) init = ::fork();
    if (init == 0) {
      ::pause();
      _exit(0);
    }
    (void)!::write(ready[1], &init, sizeof init);
    ::pause();
    _exit(0);
  }
  OwnPid(holder);
  ::close(ready[1]);
  pid_t init = -1;
  ASSERT_EQ(::read(ready[0], &init, sizeof init), static_cast<ssize_t>(sizeof init));
  ::close(ready[0]);
  ASSERT_GT(init, 0);
  OwnPid(init);
  pid_t user = NamespaceHolder(CLONE_NEWUSER);
  ASSERT_GT(user, 0);
  std::string us = "/proc/" + std::to_string(user);
  std::ofstream(us + "/uid_map") << "0 100000 65536\n";
  std::ofstream(us + "/gid_map") << "0 100000 65536\n";
  auto link = [](const std::string& p) {
    char buf[64] = {};
    return ::readlink(p.c_str(), buf, sizeof buf - 1) > 0 ? std::string(buf) : std::string();
  };
  std::string want_pid = link("/proc/" + std::to_string(init) + "/ns/pid");
  std::string want_user = link(us + "/ns/user");
  ASSERT_NE(want_pid, "");
  ASSERT_NE(want_user, "");
  // Separately: the user namespace is joined first, and then the test's pid namespace
  // (owned by the host's user namespace) is, rightly, out of reach.
  nlohmann::json base = spec_;
  for (auto& e : spec_["linux"]["namespaces"])
    if (e["type"] == "pid") e["path"] = "/proc/" + std::to_string(init) + "/ns/pid";
  CmdResult r =
      RunArgs({"/bin/sh", "-c", "readlink /proc/self/ns/pid; test $$ != 1 && echo not-init"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, want_pid + "\nnot-init\n");  // the namespace's init is the test's process

  spec_ = base;
  spec_["linux"]["namespaces"].push_back({{"type", "user"}, {"path", us + "/ns/user"}});
  r = RunArgs({"/bin/sh", "-c", "readlink /proc/self/ns/user; cat /proc/self/uid_map"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::string user_line;
  std::getline(in, user_line);
  EXPECT_EQ(user_line, want_user);
  long a = -1, b = -1, c = -1;
  in >> a >> b >> c;
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 100000);
  EXPECT_EQ(c, 65536);
}

}  // namespace
}  // namespace skiff::itest
