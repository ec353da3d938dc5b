#include "bundle.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <ftw.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/syscalls.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

// The busybox applets the tests call by name.
constexpr const char* kApplets[] = {"sh",     "sleep",    "cat",  "ls",    "echo",  "mount",
                                    "umount", "readlink", "true", "mkdir", "touch", "id",
                                    "test",   "head",     "grep", "stat",  "ln"};


int RemoveEntry(const char* path, const struct stat*, int type, struct FTW*) {
  if (type == FTW_DP)
    (void)::rmdir(path);
  else
    (void)::unlink(path);
  return 0;
}

}  // namespace

// rm -rf that never crosses into another filesystem: a mount a test forgot stays, and its
// contents with it, rather than being emptied.
void RemoveTree(const std::string& path) {
  if (path.empty()) return;
  ::nftw(path.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

// Kills what is left in a cgroup dir and removes it, children first.
void RemoveCgroupDir(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_type == DT_DIR && e->d_name[0] != '.') RemoveCgroupDir(dir + "/" + e->d_name);
    }
    ::closedir(d);
  }
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::istringstream procs(ReadText(dir + "/cgroup.procs"));
    pid_t pid;
    while (procs >> pid) ::kill(pid, SIGKILL);
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

CmdResult RunCommand(const std::vector<std::string>& argv, const std::string& dir,
                     const CmdOptions& opts) {
  static int seq = 0;
  CmdResult r;
  std::string base = dir + "/cmd-" + std::to_string(getpid()) + "-" + std::to_string(seq++);
  r.out_path = base + ".out";
  std::string err_path = base + ".err";
  pid_t pid = ::fork();
  if (pid < 0) {
    r.err = std::string("fork: ") + strerror(errno);
    return r;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(r.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) _exit(126);
    // Out of the way first, so that placing one fd can't overwrite another still to go.
    std::vector<int> high;
    for (int fd : opts.pass_fds) high.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 200));
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    int next = 3;
    for (int fd : high) ::dup2(fd, next++);  // dup2 clears CLOEXEC on the copy
    sys::CloseRange(static_cast<unsigned>(next), ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
    // Groups first, then gid, then uid: after setuid we could change neither.
    if (opts.uid >= 0 && (::setgroups(0, nullptr) < 0 || ::setresgid(opts.gid, opts.gid, opts.gid) < 0 ||
                          ::setresuid(opts.uid, opts.uid, opts.uid) < 0))
      _exit(125);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (opts.env) {
      std::vector<char*> envp;
      for (const auto& e : *opts.env) envp.push_back(const_cast<char*>(e.c_str()));
      envp.push_back(nullptr);
      ::execve(args[0], args.data(), envp.data());
    } else {
      ::execv(args[0], args.data());
    }
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts.timeout_ms);
  int status = 0;
  for (;;) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.out = ReadText(r.out_path);
  r.err = ReadText(err_path);
  if (r.timed_out) {
    r.code = -1;
  } else if (WIFEXITED(status)) {
    r.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.code = 128 + WTERMSIG(status);
  }
  return r;
}

std::vector<std::string> CgroupMounts() {
  std::vector<std::string> out;
  std::istringstream in(ReadText("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream rest(line.substr(dash + 3));
    std::string fstype;
    rest >> fstype;
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    std::istringstream f(line);
    std::string id, parent, dev, root, target;
    f >> id >> parent >> dev >> root >> target;
    out.push_back(target);
  }
  return out;
}

std::string HostCgroupDir(pid_t pid, const std::string& controller) {
  std::istringstream in(ReadText("/proc/" + std::to_string(pid) + "/cgroup"));
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find(':');
    auto b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string names = "," + line.substr(a + 1, b - a - 1) + ",";
    bool match = controller.empty() ? names == ",,"
                                    : names.find("," + controller + ",") != std::string::npos;
    if (!match) continue;
    std::string mount =
        controller.empty() ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup/" + controller;
    return mount + line.substr(b + 1);
  }
  return "";
}

unsigned long HostNsInode(const std::string& name) {
  struct stat st;
  if (::stat(("/proc/self/ns/" + name).c_str(), &st) < 0) return 0;
  return st.st_ino;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool Alive(pid_t pid) {
  std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

pid_t FindProcess(const std::string& text) {
  pid_t found = 0;
  DIR* d = ::opendir("/proc");
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string cmd = ReadText(std::string("/proc/") + e->d_name + "/cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(text) != std::string::npos && Alive(atoi(e->d_name))) {
      found = atoi(e->d_name);
      break;
    }
  }
  ::closedir(d);
  return found;
}

void BundleTest::SetUp() {
  if (::geteuid() != 0) GTEST_SKIP() << "integration tests need root";
  // Containers outlive the create that made them; as their subreaper we reap them in
  // TearDown (this machine's pid 1 does not).
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  char tmpl[] = "/tmp/skiff-itest-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr) << strerror(errno);
  work_ = tmpl;
  // mkdtemp makes it 0700: a container in a user namespace (root = host uid 100000) must be
  // able to reach its rootfs.
  ASSERT_EQ(::chmod(work_.c_str(), 0755), 0);
  bundle_ = work_ + "/bundle";
  rootfs_ = bundle_ + "/rootfs";
  root_ = work_ + "/state";
  ASSERT_EQ(::mkdir(bundle_.c_str(), 0755), 0);
  for (const char* d : {"", "/bin", "/proc", "/sys", "/dev", "/tmp", "/etc", "/mnt"}) {
    ASSERT_EQ(::mkdir((rootfs_ + d).c_str(), 0755), 0) << d;
  }
  ASSERT_EQ(::chmod((rootfs_ + "/tmp").c_str(), 01777), 0);
  ASSERT_TRUE(CopyFile("/bin/busybox", rootfs_ + "/bin/busybox", 0755)) << "busybox-static?";
  ASSERT_TRUE(CopyFile(SKIFF_PROBE_BIN, rootfs_ + "/bin/skiff-probe", 0755));
  for (const char* a : kApplets) ::symlink("busybox", (rootfs_ + "/bin/" + a).c_str());

  CmdResult r = RunCommand({SKIFF_RUNTIME_BIN, "spec", "-b", bundle_}, work_);
  ASSERT_EQ(r.code, 0) << r.err;
  spec_ = json::parse(ReadText(bundle_ + "/config.json"), nullptr, false);
  ASSERT_FALSE(spec_.is_discarded()) << "spec wrote bad JSON";
  spec_["process"]["terminal"] = false;
}

std::string BundleTest::NewId(const std::string& tag) {
  static int n = 0;
  std::string id = "itest-" + std::to_string(getpid()) + "-" + std::to_string(n++) + "-" + tag;
  ids_.push_back(id);
  return id;
}

std::string BundleTest::TempDir(const std::string& name) {
  std::string d = work_ + "/" + name;
  ::mkdir(d.c_str(), 0755);
  return d;
}

CmdResult BundleTest::Runtime(const std::vector<std::string>& args, const CmdOptions& opts) {
  std::vector<std::string> argv = {SKIFF_RUNTIME_BIN, "--root", root_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, work_, opts);
}

void BundleTest::WriteConfig() { WriteText(bundle_ + "/config.json", spec_.dump(2)); }

CmdResult BundleTest::RunArgs(const std::vector<std::string>& args,
                              const std::vector<std::string>& flags, const CmdOptions& opts) {
  spec_["process"]["args"] = args;
  WriteConfig();
  std::vector<std::string> cmd = {"run", "-b", bundle_};
  cmd.insert(cmd.end(), flags.begin(), flags.end());
  cmd.push_back(NewId("run"));
  return Runtime(cmd, opts);
}

CmdResult BundleTest::RunProbe(const std::vector<std::string>& args,
                               const std::vector<std::string>& flags, const CmdOptions& opts) {
  std::vector<std::string> full = {"/bin/skiff-probe"};
  full.insert(full.end(), args.begin(), args.end());
  return RunArgs(full, flags, opts);
}

json BundleTest::ProbeAll(const std::vector<std::string>& flags) {
  CmdResult r = RunProbe({"all"}, flags);
  EXPECT_EQ(r.code, 0) << "stderr: " << r.err << "\nstdout: " << r.out;
  if (r.code != 0) return json();
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "probe output: " << r.out;
  return j.is_discarded() ? json() : j;
}

pid_t BundleTest::CreateStarted(const std::string& id, const std::vector<std::string>& args,
                                CmdResult* create_result) {
  spec_["process"]["args"] = args;
  WriteConfig();
  CmdResult c = Runtime({"create", "-b", bundle_, id});
  if (create_result) *create_result = c;
  EXPECT_EQ(c.code, 0) << c.err;
  if (c.code != 0) return 0;
  CmdResult s = Runtime({"start", id});
  EXPECT_EQ(s.code, 0) << s.err;
  if (s.code != 0) return 0;
  json st = State(id);
  return st.is_object() ? st.value("pid", 0) : 0;
}

json BundleTest::State(const std::string& id) {
  CmdResult r = Runtime({"state", id});
  if (r.code != 0) return json();
  json j = json::parse(r.out, nullptr, false);
  return j.is_discarded() ? json() : j;
}

bool BundleTest::WaitStatus(const std::string& id, const std::string& want, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    json st = State(id);
    if (st.is_object() && st.value("status", "") == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void BundleTest::TearDown() {
  if (work_.empty()) return;  // skipped before anything was made
  // Containers: every id the test used, and anything else listed in its root.
  std::vector<std::string> ids = ids_;
  CmdResult l = Runtime({"list", "-q"}, {5000, {}});
  std::istringstream listed(l.out);
  for (std::string id; std::getline(listed, id);)
    if (!id.empty()) ids.push_back(id);
  for (const auto& id : ids) {
    if (Exists(root_ + "/" + id)) (void)Runtime({"delete", "--force", id}, {10000, {}});
  }
  for (pid_t pid : pids_) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  // No cgroup of ours may be left behind: report it, then remove it so the next run is clean.
  for (const auto& mount : CgroupMounts()) {
    for (const auto& id : ids_) {
      std::vector<std::string> dirs = {mount + "/skiff/" + id};
      for (const auto& p : cgroup_parents_) dirs.push_back(mount + p + "/" + id);
      for (const auto& dir : dirs) {
        if (!Exists(dir)) continue;
        ADD_FAILURE() << "cgroup left behind: " << dir;
        RemoveCgroupDir(dir);
      }
    }
    for (const auto& p : cgroup_parents_)
      if (Exists(mount + p)) RemoveCgroupDir(mount + p);
  }
  for (auto it = host_mounts_.rbegin(); it != host_mounts_.rend(); ++it)
    ::umount2(it->c_str(), MNT_DETACH);
  RemoveTree(work_);
  EXPECT_FALSE(Exists(work_)) << "temp dir left behind: " << work_;
}

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.flush();
  return f.good();
}

bool CopyFile(const std::string& from, const std::string& to, mode_t mode) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  if (!in || !out) return false;
  out << in.rdbuf();
  out.close();
  return ::chmod(to.c_str(), mode) == 0;
}

}  // namespace skiff::itest
