// docker top: the processes of a container's cgroup in `ps -ef`'s columns, read from /proc
// (no ps is run), with the pid the container sees (NSpid) beside the host's:
//
//   UID   PID   CPID   PPID   C   STIME   TTY   TIME   CMD
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "base/error.h"

namespace skiff::engine {

struct ProcInfo {
  pid_t pid = 0;   // host
  pid_t cpid = 0;  // in the container's pid namespace (NSpid's last field)
  pid_t ppid = 0;  // host
  uid_t uid = 0;   // real uid, as ps -ef shows
  char state = '?';
  uint64_t cpu_ticks = 0;    // utime + stime
  uint64_t start_ticks = 0;  // since boot
  int tty_nr = 0;
  std::string comm;
  std::vector<std::string> cmdline;
};

// Pure parsers, unit-tested. /proc/<pid>/stat (comm may hold spaces and parentheses).
Result<ProcInfo> ParseProcStat(const std::string& text);
// /proc/<pid>/status: sets uid (Uid's first field) and cpid (NSpid's last).
Status ParseProcStatus(const std::string& text, ProcInfo* p);

// Reads /proc/<pid>/{stat,status,cmdline}.
Result<ProcInfo> ReadProc(pid_t pid);

// What the columns need besides the process: the clock and the host's users.
struct TopClock {
  long hz = 100;         // sysconf(_SC_CLK_TCK)
  double uptime_s = 0;   // /proc/uptime
  time_t boot_time = 0;  // /proc/stat btime
  time_t now = 0;
};
Result<TopClock> ReadTopClock();

// ps's columns: C (integer % of CPU since start, at most 99), STIME ("HH:MM" today,
// "MonDD" this year, else the year), TTY ("?", "pts/N", "ttyN"), TIME ("[DD-]HH:MM:SS"),
// CMD (the cmdline, else "[comm]", with " <defunct>" for a zombie).
std::vector<std::string> TopCells(const ProcInfo& p, const TopClock& c, const std::string& user);
// A uid to a name from a passwd file's text (ps uses the host's users), else the number.
std::string UserName(uid_t uid, const std::string& passwd);

// The table for these host pids (those gone meanwhile are left out), sorted by pid.
Result<std::string> TopTable(const std::vector<pid_t>& pids);

}  // namespace skiff::engine
