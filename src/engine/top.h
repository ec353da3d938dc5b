// docker top: the processes of a container's cgroup in ps's columns, read from /proc (no ps
// is run). Docker hands `top CONTAINER [ps OPTIONS]` to the host's ps; skiff understands
// the common options itself (ParsePsOptions): by default `ps -ef`'s columns with the pid the
// container sees (NSpid) beside the host's,
//
//   UID   PID   CPID   PPID   C   STIME   TTY   TIME   CMD
//
// `aux` (BSD user format), and `-o FIELD[=HEADER],...` for the fields of kTopFields.
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
  gid_t gid = 0;   // real gid
  pid_t pgid = 0, sid = 0, tpgid = 0;
  int nice = 0;
  int threads = 1;
  uint64_t vsize = 0;      // bytes
  uint64_t rss_pages = 0;  // pages
  char state = '?';
  uint64_t cpu_ticks = 0;    // utime + stime
  uint64_t start_ticks = 0;  // since boot
  int tty_nr = 0;
  std::string comm;
  std::vector<std::string> cmdline;
};

// Pure parsers, unit-tested. /proc/<pid>/stat (comm may hold spaces and parentheses).
Result<ProcInfo> ParseProcStat(const std::string& text);
// /proc/<pid>/status: sets uid (Uid's first field), gid (Gid's) and cpid (NSpid's last).
Status ParseProcStatus(const std::string& text, ProcInfo* p);

// Reads /proc/<pid>/{stat,status,cmdline}.
Result<ProcInfo> ReadProc(pid_t pid);

// What the columns need besides the process: the clock and the host's users.
struct TopClock {
  long hz = 100;         // sysconf(_SC_CLK_TCK)
  double uptime_s = 0;   // /proc/uptime
  time_t boot_time = 0;  // /proc/stat btime
  time_t now = 0;
  uint64_t mem_total_kb = 0;  // /proc/meminfo MemTotal (for %MEM)
  long page_kb = 4;
};
Result<TopClock> ReadTopClock();

// ps's columns: C (integer % of CPU since start, at most 99), STIME ("HH:MM" today,
// "MonDD" this year, else the year), TTY ("?", "pts/N", "ttyN"), TIME ("[DD-]HH:MM:SS"),
// CMD (the cmdline, else "[comm]", with " <defunct>" for a zombie).
std::vector<std::string> TopCells(const ProcInfo& p, const TopClock& c, const std::string& user);
// A uid to a name from a passwd file's text (ps uses the host's users), else the number;
// also a gid to a name from a group file's text.
std::string UserName(uid_t uid, const std::string& passwd);

// The fields `-o` knows (ps's names, with its aliases) and the header ps gives each:
// pid PID, ppid PPID, pgid PGID, sid SID, cpid CPID (the pid inside the container), uid UID,
// user USER, gid GID, group GROUP, comm COMMAND, args/command COMMAND, cmd CMD,
// pcpu/%cpu %CPU, c C, pmem/%mem %MEM, vsz VSZ, rss RSS, stat STAT, s/state S, tty/tt TT,
// time/cputime TIME, bsdtime TIME, etime ELAPSED, stime/start_time STIME, start STARTED,
// nlwp/thcount NLWP, ni/nice NI.
struct TopField {
  std::string key;     // the canonical name
  std::string header;  // as ps prints it, or as FIELD=HEADER asked
};
// ps options after `top CONTAINER`: none, -e/-A (every process: a no-op, the container's
// are all shown), -f (ps -ef's columns, the default), BSD a/x (no-ops) and u (aux's
// columns), -o/o LIST (repeatable; "-eo pid,args" too). Anything else: an error that names
// the option and what is supported.
Result<std::vector<TopField>> ParsePsOptions(const std::vector<std::string>& args);
// The host's user and group files, for user and group names.
struct TopNames {
  std::string passwd, group;
};
// One row: the cells of fields for p.
std::vector<std::string> TopRow(const std::vector<TopField>& fields, const ProcInfo& p,
                                const TopClock& c, const TopNames& names);

// The table for these host pids (those gone meanwhile are left out), sorted by pid, in
// fields' columns (empty: ps -ef's).
Result<std::string> TopTable(const std::vector<pid_t>& pids,
                             const std::vector<TopField>& fields = {});

}  // namespace skiff::engine
