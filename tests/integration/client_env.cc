#include "client_env.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace skiff::itest {
namespace {

constexpr const char* kApplets[] = {"sh",  "sleep", "cat",  "ls", "echo", "true",
                                    "tty", "stty",  "kill", "ps", "id"};

std::vector<pid_t> Pids() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') out.push_back(atoi(e->d_name));
  }
  ::closedir(d);
  return out;
}

pid_t ParentOf(pid_t pid) {
  std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(stat.substr(paren + 2));
  char state;
  pid_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

// mountinfo escapes blanks in paths as octal (\040).
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// ExeAttack's init. Its report goes to result.tmp, renamed to result once complete.
constexpr const char* kAttackScript = R"sh(#!/bin/sh
bb=/bin/busybox
out=/attack/result.tmp
: >$out
pid=
i=0
while [ -z "$pid" ] && [ $i -lt 1500 ]; do
  for p in /proc/[0-9]*; do
    case "$($bb tr '\0' ' ' <$p/cmdline 2>/dev/null)" in
      *update*/attack/trap*) pid=${p#/proc/} ;;
    esac
  done
  i=$((i + 1))
  [ -n "$pid" ] || sleep 0.01
done
echo "pid ${pid:-none}" >>$out
[ -n "$pid" ] || { $bb mv $out /attack/result; exit 1; }
exec 3</proc/$pid/exe
echo "exe-sha $($bb sha256sum <&3 | $bb cut -d' ' -f1)" >>$out
echo "exe-ino $($bb stat -L -c %i /proc/self/fd/3)" >>$out
{ echo pwned >/proc/$pid/exe; } 2>/attack/alive.err
echo "alive-write $?" >>$out
echo "alive-err $($bb tr '\n' ' ' </attack/alive.err)" >>$out
echo '{}' >/attack/trap
while [ -e /proc/$pid/exe ]; do sleep 0.01; done
{ echo pwned >/proc/self/fd/3; } 2>/attack/dead.err
echo "dead-write $?" >>$out
echo "dead-err $($bb tr '\n' ' ' </attack/dead.err)" >>$out
$bb mv $out /attack/result
)sh";

}  // namespace

std::vector<ClientRuntime> ClientRuntimes() {
  return {{"skiff", SKIFF_RUNTIME_BIN, false},
          {"runc", "/usr/sbin/runc", false},
          {"crun", "/usr/bin/crun", true}};
}

ClientRuntime SkiffRuntimeCopy() { return {"skiff", SKIFF_RUNTIME_BIN, false, true}; }

std::string ClientRuntimeBinary(const ClientRuntime& r, const std::string& dir) {
  if (!r.hide_cgroup2 && !r.copy) return r.path;
  std::string sub = dir + "/" + r.name;
  if (::mkdir(sub.c_str(), 0755) < 0 && errno != EEXIST) return "";
  // Named like the runtime: podman picks runtime-specific behaviour (JSON errors) by name.
  std::string script = sub + r.path.substr(r.path.rfind('/'));
  if (r.copy) return CopyFile(r.path, script, 0755) ? script : "";
  // unshare -m makes every mount private to the new namespace (its default propagation), so
  // the lazy umount does not reach the host. unshare and sh exec, no fork: one pid throughout.
  std::string text =
      "#!/bin/sh\n"
      "exec /usr/bin/unshare -m /bin/sh -c '"
      "umount -l /sys/fs/cgroup/unified 2>/dev/null; exec " +
      r.path + " \"$@\"' " + r.name + " \"$@\"\n";
  if (!WriteText(script, text) || ::chmod(script.c_str(), 0755) < 0) return "";
  return script;
}

void ExeAttack::Prepare(const std::string& dir) {
  dir_ = dir;
  ASSERT_TRUE(::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) << dir;
  ASSERT_TRUE(WriteText(dir + "/evil", "#!/proc/self/exe update\n"));
  ASSERT_EQ(::chmod((dir + "/evil").c_str(), 0755), 0);
  ASSERT_EQ(::mkfifo((dir + "/trap").c_str(), 0666), 0) << strerror(errno);
  ASSERT_TRUE(WriteText(dir + "/attack", kAttackScript));
  ASSERT_EQ(::chmod((dir + "/attack").c_str(), 0755), 0);
}

std::map<std::string, std::string> ExeAttack::Report(int timeout_ms) const {
  std::map<std::string, std::string> out;
  std::string path = dir_ + "/result";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!Exists(path) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::istringstream in(ReadText(path));
  for (std::string line; std::getline(in, line);) {
    size_t sp = line.find(' ');
    if (sp != std::string::npos) out[line.substr(0, sp)] = line.substr(sp + 1);
  }
  return out;
}

void ExeAttack::ExpectFailed(const std::map<std::string, std::string>& report,
                             const std::string& binary, const std::string& sha_before) const {
  auto get = [&](const char* key) {
    auto it = report.find(key);
    return it == report.end() ? std::string("<missing>") : it->second;
  };
  ASSERT_FALSE(report.empty()) << "no report from the attacker in " << dir_;
  ASSERT_NE(get("pid"), "none") << "no process of the runtime's binary showed up in the container";
  // It held the runtime's binary itself: the same bytes, and the same inode (skiff-runtime
  // runs from a read-only clone of its binary's mount, not from a copy).
  EXPECT_EQ(get("exe-sha"), sha_before);
  struct stat st;
  ASSERT_EQ(::stat(binary.c_str(), &st), 0);
  EXPECT_EQ(get("exe-ino"), std::to_string(st.st_ino));
  struct statvfs sv;
  ASSERT_EQ(::statvfs(binary.c_str(), &sv), 0);
  ASSERT_FALSE(sv.f_flag & ST_RDONLY) << binary << " is on a read-only mount: this proves nothing";
  // Neither while the process ran nor after it exited could it be opened for writing. Both
  // opens truncate (O_TRUNC), so the kernel checks the mount (EROFS) before the running
  // binary (ETXTBSY): EROFS while it runs too.
  EXPECT_NE(get("alive-write"), "0") << "the runtime's binary was opened for writing";
  EXPECT_NE(get("alive-err").find("Read-only file system"), std::string::npos) << get("alive-err");
  EXPECT_NE(get("dead-write"), "0") << "the runtime's binary was opened for writing";
  EXPECT_NE(get("dead-err").find("Read-only file system"), std::string::npos) << get("dead-err");
  EXPECT_EQ(Sha256Of(binary), sha_before) << "the runtime's binary changed";
}

std::string Sha256Of(const std::string& path) {
  char tmpl[] = "/tmp/skiff-sha-XXXXXX";
  if (!::mkdtemp(tmpl)) return "";
  CmdResult r = RunCommand({"/usr/bin/sha256sum", path}, tmpl);
  RemoveTree(tmpl);
  return r.code == 0 ? r.out.substr(0, r.out.find(' ')) : "";
}

std::string ClientRuntimeName(const ::testing::TestParamInfo<ClientRuntime>& info) {
  return info.param.name;
}

void MakeBusyboxRootfs(const std::string& dir) {
  for (const char* d : {"", "/bin", "/proc", "/sys", "/dev", "/tmp", "/etc", "/run"}) {
    std::string path = dir + d;
    ASSERT_TRUE(::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) << path;
  }
  ASSERT_EQ(::chmod((dir + "/tmp").c_str(), 01777), 0);
  ASSERT_TRUE(CopyFile("/bin/busybox", dir + "/bin/busybox", 0755)) << "busybox-static?";
  ASSERT_TRUE(CopyFile(SKIFF_PROBE_BIN, dir + "/bin/skiff-probe", 0755));
  for (const char* a : kApplets) ::symlink("busybox", (dir + "/bin/" + a).c_str());
  std::ofstream(dir + "/etc/passwd") << "root:x:0:0:root:/:/bin/sh\n";
  std::ofstream(dir + "/etc/group") << "root:x:0:\n";
}

CmdResult RunInPty(const std::vector<std::string>& argv, int timeout_ms) {
  CmdResult r;
  int master = -1;
  struct winsize ws = {24, 80, 0, 0};
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &ws);
  if (pid < 0) {
    r.err = std::string("forkpty: ") + strerror(errno);
    return r;
  }
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  bool reaped = false, drained = false;
  while (!(reaped && drained)) {
    struct pollfd p = {master, POLLIN, 0};
    drained = true;
    if (::poll(&p, 1, 20) > 0) {
      char buf[4096];
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n > 0) r.out.append(buf, static_cast<size_t>(n));
      drained = n <= 0;  // EIO once every slave fd is closed
    }
    if (!reaped && ::waitpid(pid, &status, WNOHANG) == pid) reaped = true;
    if (!reaped && std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.timed_out = true;
      break;
    }
  }
  ::close(master);
  if (r.timed_out)
    r.code = -1;
  else if (WIFEXITED(status))
    r.code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    r.code = 128 + WTERMSIG(status);
  return r;
}

std::string HostFds(pid_t pid) {
  std::vector<int> fds;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return "";
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') fds.push_back(atoi(e->d_name));
  }
  ::closedir(d);
  std::sort(fds.begin(), fds.end());
  std::string out;
  for (int fd : fds) {
    if (!out.empty()) out += ' ';
    out += std::to_string(fd);
  }
  return out;
}

HostDirGuard::HostDirGuard(std::vector<std::string> paths) {
  for (auto& p : paths)
    if (!Exists(p)) missing_.push_back(std::move(p));
}

void HostDirGuard::Restore() {
  for (const auto& p : missing_) RemoveTree(p);
}

void ThawCgroups(const std::string& rel) {
  std::string dir = "/sys/fs/cgroup/freezer/" + rel;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_type == DT_DIR && e->d_name[0] != '.') ThawCgroups(rel + "/" + e->d_name);
    }
    ::closedir(d);
  }
  std::ofstream(dir + "/freezer.state") << "THAWED";
}

void KillChildren() {
  for (int round = 0; round < 200; ++round) {
    bool any = false;
    for (pid_t pid : Pids()) {
      if (pid != ::getpid() && ParentOf(pid) == ::getpid()) {
        any = true;
        ::kill(pid, SIGKILL);
      }
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) any = true;
    if (!any) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::istringstream in(ReadText("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, target;
    f >> id >> parent >> dev >> root >> target;
    target = Unescape(target);
    if (target == dir || target.rfind(dir + "/", 0) == 0) out.push_back(target);
  }
  // mountinfo lists parents before children: reversed, children go first.
  std::reverse(out.begin(), out.end());
  return out;
}

int DetachMountsUnder(const std::string& dir) {
  std::vector<std::string> mounts = MountsUnder(dir);
  for (const auto& m : mounts) ::umount2(m.c_str(), MNT_DETACH);
  return static_cast<int>(mounts.size());
}

std::vector<std::string> RemoveCgroups(const std::string& rel) {
  std::vector<std::string> found;
  for (const auto& mount : CgroupMounts()) {
    std::string dir = mount + "/" + rel;
    if (!Exists(dir)) continue;
    found.push_back(dir);
    RemoveCgroupDir(dir);
  }
  return found;
}

std::vector<pid_t> ProcessesMentioning(const std::string& text) {
  std::vector<pid_t> out;
  for (pid_t pid : Pids()) {
    if (pid == ::getpid()) continue;
    std::string cmd = ReadText("/proc/" + std::to_string(pid) + "/cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(text) != std::string::npos && Alive(pid)) out.push_back(pid);
  }
  return out;
}

}  // namespace skiff::itest
