// skiff-probe: runs inside test containers and prints what it sees (crun's tests/init.c,
// youki's runtimetest). Linked -static so it runs in any rootfs, even an empty one; it
// writes its JSON by hand to stay that small.
//
//   skiff-probe all | ids | caps | fds | mounts | cgroup | ns    one JSON value
//   skiff-probe syscall NAME [ARG]     "ok" or "ERRNAME N" (the errno)
//   skiff-probe write PATH TEXT | read PATH | ls PATH | stat PATH
//   skiff-probe sleep SECONDS | exit CODE | signal-wait
//   skiff-probe zombies N [SECONDS] | forkbomb N | alloc MB
//
// Exit status: 0, or 1 when the operation failed (the errno is printed), 2 on bad usage.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

extern char** environ;

namespace {

// ---- output ----------------------------------------------------------------------------

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string Num(long long v) { return std::to_string(v); }

// {"k": v, ...} from pairs whose values are already JSON.
using Fields = std::vector<std::pair<std::string, std::string>>;
std::string Object(const Fields& fields) {
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ",";
    out += Quote(fields[i].first) + ":" + fields[i].second;
  }
  return out + "}";
}

std::string Array(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ",";
    out += values[i];
  }
  return out + "]";
}

std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name ? name : "E?") + " " + std::to_string(err);
}

int Print(const std::string& s) {
  fputs(s.c_str(), stdout);
  fputc('\n', stdout);
  fflush(stdout);
  return 0;
}

int Fail(const std::string& what, int err) {
  Print(what.empty() ? ErrnoText(err) : what + ": " + ErrnoText(err));
  return 1;
}

// ---- reading /proc ---------------------------------------------------------------------

bool ReadAll(const char* path, std::string* out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return true;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

// The value of "Key:\tvalue" in /proc/self/status.
std::string StatusField(const char* key) {
  std::string text;
  if (!ReadAll("/proc/self/status", &text)) return "";
  std::string prefix = std::string(key) + ":";
  for (const std::string& line : Lines(text)) {
    if (line.rfind(prefix, 0) != 0) continue;
    size_t v = line.find_first_not_of(" \t", prefix.size());
    return v == std::string::npos ? "" : line.substr(v);
  }
  return "";
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    bool octal = i + 3 < s.size() && std::all_of(s.begin() + static_cast<long>(i) + 1,
                                                 s.begin() + static_cast<long>(i) + 4,
                                                 [](char c) { return c >= '0' && c <= '7'; });
    if (s[i] == '\\' && octal) {
      out += static_cast<char>(std::strtol(s.substr(i + 1, 3).c_str(), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// ---- what the process sees -------------------------------------------------------------

std::string Ids() {
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  getresuid(&ruid, &euid, &suid);
  getresgid(&rgid, &egid, &sgid);
  std::vector<gid_t> groups(static_cast<size_t>(std::max(getgroups(0, nullptr), 0)));
  int n = getgroups(static_cast<int>(groups.size()), groups.data());
  std::vector<std::string> g;
  for (int i = 0; i < n; ++i) g.push_back(Num(groups[static_cast<size_t>(i)]));
  return Object({{"uid", Num(ruid)},
                 {"gid", Num(rgid)},
                 {"euid", Num(euid)},
                 {"egid", Num(egid)},
                 {"suid", Num(suid)},
                 {"sgid", Num(sgid)},
                 {"groups", Array(g)}});
}

std::string Caps() {
  return Object({{"inh", Quote(StatusField("CapInh"))},
                 {"prm", Quote(StatusField("CapPrm"))},
                 {"eff", Quote(StatusField("CapEff"))},
                 {"bnd", Quote(StatusField("CapBnd"))},
                 {"amb", Quote(StatusField("CapAmb"))}});
}

// The open fds, without the one opendir uses to list them.
std::string Fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return "null";
  std::vector<int> fds;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    int fd = std::atoi(e->d_name);
    if (fd != dirfd(dir)) fds.push_back(fd);
  }
  closedir(dir);
  std::sort(fds.begin(), fds.end());
  std::vector<std::string> out;
  for (int fd : fds) out.push_back(Num(fd));
  return Array(out);
}

std::string Rlimits() {
  static const std::pair<const char*, int> kLimits[] = {
      {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
      {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
      {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
      {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
      {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
      {"stack", RLIMIT_STACK},
  };
  // Unlimited is printed as -1: RLIM_INFINITY does not fit a signed JSON reader.
  auto value = [](rlim_t v) { return v == RLIM_INFINITY ? std::string("-1") : Num(v); };
  Fields fields;
  for (const auto& [name, resource] : kLimits) {
    rlimit rl{};
    if (getrlimit(resource, &rl) != 0) continue;
    fields.push_back({name, Object({{"soft", value(rl.rlim_cur)}, {"hard", value(rl.rlim_max)}})});
  }
  return Object(fields);
}

// Namespace inode numbers: two processes share a namespace when the numbers match.
std::string Namespaces() {
  Fields fields;
  DIR* dir = opendir("/proc/self/ns");
  if (!dir) return "null";
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    struct stat st {};
    std::string path = std::string("/proc/self/ns/") + e->d_name;
    if (stat(path.c_str(), &st) == 0) fields.push_back({e->d_name, Num(st.st_ino)});
  }
  closedir(dir);
  std::sort(fields.begin(), fields.end());
  return Object(fields);
}

std::string Cgroup() {
  std::string text;
  if (!ReadAll("/proc/self/cgroup", &text)) return "null";
  std::vector<std::string> out;
  for (const std::string& line : Lines(text)) out.push_back(Quote(line));
  return Array(out);
}

// One object per line of /proc/self/mountinfo:
// "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw,errors=continue".
std::string Mounts() {
  std::string text;
  if (!ReadAll("/proc/self/mountinfo", &text)) return "null";
  std::vector<std::string> out;
  for (const std::string& line : Lines(text)) {
    std::vector<std::string> f = Split(line, ' ');
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 6 || f.end() - dash < 3) continue;  // fstype and source follow "-"
    out.push_back(Object({{"target", Quote(Unescape(f[4]))},
                          {"root", Quote(Unescape(f[3]))},
                          {"fstype", Quote(dash[1])},
                          {"source", Quote(Unescape(dash[2]))},
                          {"options", Quote(f[5])},
                          {"super", Quote(dash + 3 < f.end() ? dash[3] : "")}}));
  }
  return Array(out);
}

std::string Env() {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) out.push_back(Quote(*e));
  return Array(out);
}

std::string All() {
  char cwd[4096] = "";
  if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
  utsname u{};
  uname(&u);
  mode_t mask = umask(0);
  umask(mask);
  std::string oom;
  ReadAll("/proc/self/oom_score_adj", &oom);
  std::string seccomp = StatusField("Seccomp");
  return Object({{"pid", Num(getpid())},
                 {"ppid", Num(getppid())},
                 {"ids", Ids()},
                 {"umask", Num(mask)},
                 {"cwd", Quote(cwd)},
                 {"hostname", Quote(u.nodename)},
                 {"domainname", Quote(u.domainname)},
                 {"env", Env()},
                 {"caps", Caps()},
                 {"no_new_privs", Num(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0))},
                 {"seccomp", seccomp.empty() ? "null" : seccomp},
                 {"fds", Fds()},
                 {"rlimits", Rlimits()},
                 {"oom_score_adj", oom.empty() ? "null" : Num(std::atoll(oom.c_str()))},
                 {"namespaces", Namespaces()},
                 {"cgroup", Cgroup()},
                 {"mounts", Mounts()}});
}

// ---- syscall NAME: one harmless call each, for seccomp and capability tests -------------

// Mounts a tmpfs on a fresh temp dir and takes it away again.
long TryMount() {
  char dir[] = "/tmp/skiff-probe-mnt-XXXXXX";
  if (!mkdtemp(dir)) return -1;
  long rc = mount("skiff-probe", dir, "tmpfs", 0, nullptr);
  int err = errno;
  if (rc == 0) umount2(dir, MNT_DETACH);
  rmdir(dir);
  errno = err;
  return rc;
}

// PTRACE_TRACEME in a child: the probe itself never becomes a tracee, whose stops nobody
// would handle.
long TryPtrace() {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) _exit(ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0 ? 0 : errno);
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return -1;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  errno = WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
  return -1;
}

long TryMkdir() {
  char path[64];
  snprintf(path, sizeof path, "/tmp/skiff-probe-%d", getpid());
  long rc = mkdir(path, 0700);
  int err = errno;
  if (rc == 0) rmdir(path);
  errno = err;
  return rc;
}

// chmod to the mode the path already has: the permission check without the change.
long TryChmod(const char* path) {
  struct stat st {};
  if (stat(path, &st) < 0) return -1;
  return chmod(path, st.st_mode & 07777);
}

long TrySetns() {
  int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long rc = setns(fd, CLONE_NEWUTS);
  int err = errno;
  close(fd);
  errno = err;
  return rc;
}

long TrySocket(int family) {
  long fd = syscall(SYS_socket, family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) close(static_cast<int>(fd));
  return fd;
}

long TrySethostname() {
  utsname u{};
  uname(&u);
  return sethostname(u.nodename, strlen(u.nodename));
}

int Syscall(const std::string& name, const char* arg) {
  long rc;
  errno = 0;
  if (name == "getpid") {
    rc = syscall(SYS_getpid);
  } else if (name == "uname") {
    utsname u{};
    rc = uname(&u);
  } else if (name == "mkdir") {
    rc = TryMkdir();
  } else if (name == "chmod") {
    rc = TryChmod(arg ? arg : "/");
  } else if (name == "unshare") {
    rc = unshare(CLONE_NEWUTS);  // the probe's own uts namespace, gone when it exits
  } else if (name == "setns") {
    rc = TrySetns();
  } else if (name == "ptrace") {
    rc = TryPtrace();
  } else if (name == "personality") {
    // Default: the query Docker's profile allows; pass e.g. 0x0040000 to be refused.
    unsigned long persona = arg ? std::strtoul(arg, nullptr, 0) : 0xffffffffUL;
    rc = syscall(SYS_personality, persona);
  } else if (name == "mount") {
    rc = TryMount();
  } else if (name == "clone3") {
    // A null clone_args: EFAULT when clone3 is allowed, ENOSYS under Docker's profile.
    rc = syscall(SYS_clone3, nullptr, 88);
  } else if (name == "socket") {
    rc = TrySocket(AF_INET);
  } else if (name == "vsock") {
    rc = TrySocket(40);  // AF_VSOCK
  } else if (name == "chroot") {
    rc = chroot("/");
  } else if (name == "sethostname") {
    rc = TrySethostname();
  } else if (name == "getpgid") {
    rc = syscall(SYS_getpgid, arg ? std::strtol(arg, nullptr, 0) : 0);
  } else {
    fprintf(stderr, "skiff-probe: unknown syscall %s\n", name.c_str());
    return 2;
  }
  return rc >= 0 ? Print("ok") : Fail("", errno);
}

// ---- files -----------------------------------------------------------------------------

int Write(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Fail("", errno);
  size_t len = strlen(text);
  ssize_t n = write(fd, text, len);
  int err = errno;
  close(fd);
  if (n < 0) return Fail("", err);
  if (static_cast<size_t>(n) != len) return Fail("short write", EIO);
  return Print("ok");
}

int Read(const char* path) {
  std::string text;
  if (!ReadAll(path, &text)) return Fail("", errno);
  fwrite(text.data(), 1, text.size(), stdout);
  fflush(stdout);
  return 0;
}

int Ls(const char* path) {
  DIR* dir = opendir(path);
  if (!dir) return Fail("", errno);
  std::vector<std::string> names;
  while (dirent* e = readdir(dir)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  for (std::string& n : names) n = Quote(n);
  return Print(Array(names));
}

int Stat(const char* path) {
  struct stat st {};
  if (lstat(path, &st) < 0) return Fail("", errno);
  const char* type = S_ISDIR(st.st_mode)    ? "dir"
                     : S_ISREG(st.st_mode)  ? "file"
                     : S_ISLNK(st.st_mode)  ? "symlink"
                     : S_ISCHR(st.st_mode)  ? "char"
                     : S_ISBLK(st.st_mode)  ? "block"
                     : S_ISFIFO(st.st_mode) ? "fifo"
                     : S_ISSOCK(st.st_mode) ? "socket"
                                            : "unknown";
  char mode[16];
  snprintf(mode, sizeof mode, "0%o", static_cast<unsigned>(st.st_mode & 07777));
  return Print(Object({{"type", Quote(type)},
                       {"mode", Quote(mode)},
                       {"uid", Num(st.st_uid)},
                       {"gid", Num(st.st_gid)},
                       {"size", Num(st.st_size)},
                       {"rdev_major", Num(major(st.st_rdev))},
                       {"rdev_minor", Num(minor(st.st_rdev))}}));
}

// ---- processes, memory, signals --------------------------------------------------------

void SleepMs(long ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

// Zombie processes visible in this pid namespace.
int CountZombies() {
  DIR* dir = opendir("/proc");
  if (!dir) return -1;
  int count = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string stat;
    if (!ReadAll(("/proc/" + std::string(e->d_name) + "/stat").c_str(), &stat)) continue;
    size_t paren = stat.rfind(')');  // the command may contain spaces and parens
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z') {
      ++count;
    }
  }
  closedir(dir);
  return count;
}

// Leaves n orphans behind: a middle process forks them and exits, so they are reparented
// to pid 1 (or the nearest subreaper), whose job is to reap them when they exit.
int Zombies(int n, long seconds) {
  pid_t middle = fork();
  if (middle < 0) return Fail("fork", errno);
  if (middle == 0) {
    for (int i = 0; i < n; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        SleepMs(100);  // outlive the middle process, so that the new parent reaps us
        _exit(0);
      }
    }
    _exit(0);
  }
  waitpid(middle, nullptr, 0);
  SleepMs(500);
  Print(Object({{"forked", Num(n)}, {"zombies", Num(CountZombies())}}));
  sleep(static_cast<unsigned>(seconds));
  return 0;
}

int ForkBomb(int n) {
  std::vector<pid_t> pids;
  int err = 0;
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      pause();
      _exit(0);
    }
    if (pid < 0) {
      err = errno;
      break;
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) kill(pid, SIGKILL);
  for (pid_t pid : pids) waitpid(pid, nullptr, 0);
  return Print(Object({{"requested", Num(n)},
                       {"forked", Num(static_cast<long long>(pids.size()))},
                       {"errno", err ? Quote(ErrnoText(err)) : "null"}}));
}

// Touches every page so that the memory is really charged to the cgroup.
int Alloc(long mb) {
  const size_t chunk = 1 << 20;
  long long page = sysconf(_SC_PAGESIZE);
  for (long i = 0; i < mb; ++i) {
    char* p = static_cast<char*>(malloc(chunk));  // leaked on purpose: keep it charged
    if (!p) return Fail("malloc", ENOMEM);
    for (size_t off = 0; off < chunk; off += static_cast<size_t>(page)) p[off] = 1;
  }
  return Print("allocated " + Num(mb));
}

// Blocks every signal and waits for one, so that even as pid 1 (where unhandled signals are
// ignored) it sees what the runtime sends.
int SignalWait() {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, nullptr);
  Print("ready");
  siginfo_t info{};
  int sig;
  while ((sig = sigwaitinfo(&all, &info)) < 0 && errno == EINTR) {
  }
  if (sig < 0) return Fail("sigwaitinfo", errno);
  const char* abbrev = sigabbrev_np(sig);
  Print(std::string("signal ") + std::to_string(sig) + " SIG" + (abbrev ? abbrev : "?"));
  return 128 + sig;
}

int Usage() {
  fputs(
      "usage: skiff-probe all|ids|caps|fds|mounts|cgroup|ns | syscall NAME [ARG] |\n"
      "  write PATH TEXT | read PATH | ls PATH | stat PATH | sleep S | exit CODE |\n"
      "  signal-wait | zombies N [S] | forkbomb N | alloc MB\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  std::string cmd = argv[1];
  const char* a2 = argc > 2 ? argv[2] : nullptr;
  const char* a3 = argc > 3 ? argv[3] : nullptr;
  if (cmd == "all") return Print(All());
  if (cmd == "ids") return Print(Ids());
  if (cmd == "caps") return Print(Caps());
  if (cmd == "fds") return Print(Fds());
  if (cmd == "mounts") return Print(Mounts());
  if (cmd == "cgroup") return Print(Cgroup());
  if (cmd == "ns") return Print(Namespaces());
  if (cmd == "signal-wait") return SignalWait();
  if (!a2) return Usage();
  if (cmd == "syscall") return Syscall(a2, a3);
  if (cmd == "write") return a3 ? Write(a2, a3) : Usage();
  if (cmd == "read") return Read(a2);
  if (cmd == "ls") return Ls(a2);
  if (cmd == "stat") return Stat(a2);
  if (cmd == "sleep") {
    SleepMs(static_cast<long>(std::strtod(a2, nullptr) * 1000));
    return 0;
  }
  if (cmd == "exit") return std::atoi(a2);
  if (cmd == "zombies") return Zombies(std::atoi(a2), a3 ? std::atol(a3) : 3600);
  if (cmd == "forkbomb") return ForkBomb(std::atoi(a2));
  if (cmd == "alloc") return Alloc(std::atol(a2));
  return Usage();
}
