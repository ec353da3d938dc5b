#include "engine/top.h"

#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "base/file.h"
#include "engine/table.h"

namespace skiff::engine {

Result<ProcInfo> ParseProcStat(const std::string& text) try {
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
  //  utime stime cutime cstime priority nice num_threads itrealvalue starttime ..."
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open)
    return MakeError(EINVAL, "stat: no (comm) in \"%s\"", text.substr(0, 80).c_str());
  ProcInfo p;
  p.pid = static_cast<pid_t>(std::stol(text.substr(0, open)));
  p.comm = text.substr(open + 1, close - open - 1);
  std::istringstream in(text.substr(close + 1));
  std::vector<std::string> f;
  for (std::string w; in >> w;) f.push_back(w);
  // f[0] is field 3 (state); field n is f[n - 3].
  if (f.size() < 20) return MakeError(EINVAL, "stat of %d: %zu fields", p.pid, f.size() + 2);
  p.state = f[0].empty() ? '?' : f[0][0];
  p.ppid = static_cast<pid_t>(std::stol(f[1]));
  p.tty_nr = static_cast<int>(std::stol(f[4]));
  p.cpu_ticks = std::stoull(f[11]) + std::stoull(f[12]);
  p.start_ticks = std::stoull(f[19]);
  return p;
} catch (const std::exception&) {  // std::stol on garbage
  return MakeError(EINVAL, "stat: bad number in \"%s\"", text.substr(0, 80).c_str());
}

Status ParseProcStatus(const std::string& text, ProcInfo* p) {
  std::istringstream in(text);
  bool uid = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string key;
    f >> key;
    if (key == "Uid:") {
      f >> p->uid;
      uid = true;
    } else if (key == "NSpid:") {
      for (pid_t v; f >> v;) p->cpid = v;  // innermost namespace last
    }
  }
  if (!uid) return MakeError(EINVAL, "status of %d: no Uid line", p->pid);
  if (p->cpid == 0) p->cpid = p->pid;  // kernels without NSpid: one namespace
  return Ok();
}

Result<ProcInfo> ReadProc(pid_t pid) {
  std::string dir = StrFormat("/proc/%d", pid);
  ProcInfo p = TRY(ParseProcStat(TRY(ReadFile(dir + "/stat"))));
  TRY(ParseProcStatus(TRY(ReadFile(dir + "/status")), &p));
  std::string cmd = TRY(ReadFile(dir + "/cmdline"));
  size_t start = 0;
  while (start < cmd.size()) {
    size_t nul = cmd.find('\0', start);
    if (nul == std::string::npos) nul = cmd.size();
    p.cmdline.push_back(cmd.substr(start, nul - start));
    start = nul + 1;
  }
  return p;
}

Result<TopClock> ReadTopClock() try {
  TopClock c;
  c.hz = ::sysconf(_SC_CLK_TCK);
  if (c.hz <= 0) c.hz = 100;
  std::string up = TRY(ReadFile("/proc/uptime"));
  c.uptime_s = std::stod(up);
  std::string st = TRY(ReadFile("/proc/stat"));
  auto pos = st.find("\nbtime ");
  if (pos == std::string::npos) return MakeError(EINVAL, "/proc/stat: no btime");
  c.boot_time = static_cast<time_t>(std::stoll(st.substr(pos + 7)));
  c.now = ::time(nullptr);
  return c;
} catch (const std::exception&) {
  return MakeError(EINVAL, "/proc/uptime or /proc/stat: unexpected contents");
}

namespace {

std::string Tty(int tty_nr) {
  if (tty_nr == 0) return "?";
  unsigned maj = major(static_cast<dev_t>(tty_nr)), min = minor(static_cast<dev_t>(tty_nr));
  if (maj >= 136 && maj <= 143) return StrFormat("pts/%u", (maj - 136) * 256 + min);
  if (maj == 4 && min < 64) return StrFormat("tty%u", min);
  if (maj == 4) return StrFormat("ttyS%u", min - 64);
  if (maj == 5 && min == 1) return "console";
  return StrFormat("%u:%u", maj, min);
}

std::string CpuTime(uint64_t secs) {
  uint64_t d = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60, s = secs % 60;
  if (d)
    return StrFormat("%llu-%02llu:%02llu:%02llu", static_cast<unsigned long long>(d),
                     static_cast<unsigned long long>(h), static_cast<unsigned long long>(m),
                     static_cast<unsigned long long>(s));
  return StrFormat("%02llu:%02llu:%02llu", static_cast<unsigned long long>(h),
                   static_cast<unsigned long long>(m), static_cast<unsigned long long>(s));
}

std::string StartTime(time_t start, time_t now) {
  struct tm s, n;
  localtime_r(&start, &s);
  localtime_r(&now, &n);
  char buf[32];
  if (s.tm_year == n.tm_year && s.tm_yday == n.tm_yday) {
    strftime(buf, sizeof buf, "%H:%M", &s);
  } else if (s.tm_year == n.tm_year) {
    strftime(buf, sizeof buf, "%b%d", &s);
  } else {
    strftime(buf, sizeof buf, "%Y", &s);
  }
  return buf;
}

}  // namespace

std::vector<std::string> TopCells(const ProcInfo& p, const TopClock& c, const std::string& user) {
  double start_s = static_cast<double>(p.start_ticks) / c.hz;
  double elapsed = c.uptime_s - start_s;
  double cpu_s = static_cast<double>(p.cpu_ticks) / c.hz;
  // procps: pcpu = cpu time / elapsed time in per mille, and C is that / 10, capped at 99.
  int pc = elapsed > 0 ? static_cast<int>(cpu_s * 1000.0 / elapsed) / 10 : 0;
  pc = std::clamp(pc, 0, 99);
  std::string cmd;
  for (const auto& a : p.cmdline) cmd += (cmd.empty() ? "" : " ") + a;
  if (cmd.empty()) cmd = "[" + p.comm + "]";
  if (p.state == 'Z') cmd = "[" + p.comm + "] <defunct>";
  time_t start = c.boot_time + static_cast<time_t>(start_s);
  return {user,
          std::to_string(p.pid),
          std::to_string(p.cpid),
          std::to_string(p.ppid),
          std::to_string(pc),
          StartTime(start, c.now),
          Tty(p.tty_nr),
          CpuTime(static_cast<uint64_t>(cpu_s)),
          cmd};
}

std::string UserName(uid_t uid, const std::string& passwd) {
  std::istringstream in(passwd);
  for (std::string line; std::getline(in, line);) {
    // name:x:uid:gid:...
    auto a = line.find(':');
    if (a == std::string::npos) continue;
    auto b = line.find(':', a + 1);
    if (b == std::string::npos) continue;
    auto e = line.find(':', b + 1);
    std::string id = line.substr(b + 1, e == std::string::npos ? std::string::npos : e - b - 1);
    if (id == std::to_string(uid)) return line.substr(0, a);
  }
  return std::to_string(uid);
}

Result<std::string> TopTable(const std::vector<pid_t>& pids_in) {
  std::vector<pid_t> pids = pids_in;
  std::sort(pids.begin(), pids.end());
  TopClock clock = TRY(ReadTopClock());
  auto passwd = ReadFile("/etc/passwd");
  std::vector<std::vector<std::string>> rows = {
      {"UID", "PID", "CPID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}};
  for (pid_t pid : pids) {
    auto p = ReadProc(pid);
    if (!p.ok()) {
      if (p.error().code == ENOENT || p.error().code == ESRCH) continue;  // exited meanwhile
      return std::move(p).error();
    }
    rows.push_back(TopCells(*p, clock, UserName(p->uid, passwd.ok() ? *passwd : "")));
  }
  return TabTable(rows, 20, 3);
}

}  // namespace skiff::engine
