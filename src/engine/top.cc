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
  p.pgid = static_cast<pid_t>(std::stol(f[2]));
  p.sid = static_cast<pid_t>(std::stol(f[3]));
  p.tty_nr = static_cast<int>(std::stol(f[4]));
  p.tpgid = static_cast<pid_t>(std::stol(f[5]));
  p.cpu_ticks = std::stoull(f[11]) + std::stoull(f[12]);
  p.nice = static_cast<int>(std::stol(f[16]));
  p.threads = static_cast<int>(std::stol(f[17]));
  p.start_ticks = std::stoull(f[19]);
  if (f.size() > 21) {
    p.vsize = std::stoull(f[20]);
    p.rss_pages = std::stoull(f[21]);
  }
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
    } else if (key == "Gid:") {
      f >> p->gid;
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
  long page = ::sysconf(_SC_PAGESIZE);
  c.page_kb = page > 0 ? page / 1024 : 4;
  if (auto mi = ReadFile("/proc/meminfo"); mi.ok()) {
    auto at = mi->find("MemTotal:");
    if (at != std::string::npos) c.mem_total_kb = std::stoull(mi->substr(at + 9));
  }
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

// [[DD-]HH:]MM:SS, as ps's etime.
std::string Elapsed(uint64_t secs) {
  uint64_t d = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60, s = secs % 60;
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  if (d) return StrFormat("%llu-%02llu:%02llu:%02llu", u(d), u(h), u(m), u(s));
  if (h) return StrFormat("%02llu:%02llu:%02llu", u(h), u(m), u(s));
  return StrFormat("%02llu:%02llu", u(m), u(s));
}

// ps's STAT: the state, then < (high priority), N (low), s (session leader), l (threads),
// + (in the foreground process group of its terminal).
std::string BsdStat(const ProcInfo& p) {
  std::string s(1, p.state);
  if (p.nice < 0) s += '<';
  if (p.nice > 0) s += 'N';
  if (p.sid == p.pid) s += 's';
  if (p.threads > 1) s += 'l';
  if (p.tpgid > 0 && p.tpgid == p.pgid) s += '+';
  return s;
}

struct FieldInfo {
  const char* key;
  const char* header;
  std::vector<const char*> aliases;
};

const std::vector<FieldInfo>& Fields() {
  static const std::vector<FieldInfo> kFields = {
      {"pid", "PID", {}},
      {"ppid", "PPID", {}},
      {"pgid", "PGID", {"pgrp"}},
      {"sid", "SID", {"sess", "session"}},
      {"cpid", "CPID", {}},
      {"uid", "UID", {"euid"}},
      {"user", "USER", {"euser", "uname"}},
      {"gid", "GID", {"egid"}},
      {"group", "GROUP", {"egroup"}},
      {"comm", "COMMAND", {"ucomm"}},
      {"args", "COMMAND", {"command"}},
      {"cmd", "CMD", {}},
      {"pcpu", "%CPU", {"%cpu"}},
      {"c", "C", {}},
      {"pmem", "%MEM", {"%mem"}},
      {"vsz", "VSZ", {"vsize"}},
      {"rss", "RSS", {"rssize", "rsz"}},
      {"stat", "STAT", {}},
      {"s", "S", {"state"}},
      {"tty", "TT", {"tt", "tname"}},
      {"time", "TIME", {"cputime"}},
      {"bsdtime", "TIME", {}},
      {"etime", "ELAPSED", {}},
      {"stime", "STIME", {"start_time"}},
      {"start", "STARTED", {}},
      {"nlwp", "NLWP", {"thcount"}},
      {"ni", "NI", {"nice"}},
  };
  return kFields;
}

const FieldInfo* FindField(const std::string& name) {
  for (const auto& f : Fields()) {
    if (name == f.key) return &f;
    for (const char* a : f.aliases)
      if (name == a) return &f;
  }
  return nullptr;
}

std::string FieldNames() {
  std::string out;
  for (const auto& f : Fields()) out += (out.empty() ? "" : ", ") + std::string(f.key);
  return out;
}

// ps -ef's columns (its UID column holds the user's name); skiff adds CPID.
const std::vector<TopField>& FullFormat() {
  static const std::vector<TopField> kFull = {
      {"user", "UID"}, {"pid", "PID"},     {"cpid", "CPID"}, {"ppid", "PPID"}, {"c", "C"},
      {"stime", "STIME"}, {"tty", "TTY"}, {"time", "TIME"},  {"cmd", "CMD"}};
  return kFull;
}

// ps aux's columns.
const std::vector<TopField>& UserFormat() {
  static const std::vector<TopField> kUser = {
      {"user", "USER"}, {"pid", "PID"},   {"pcpu", "%CPU"},    {"pmem", "%MEM"},
      {"vsz", "VSZ"},   {"rss", "RSS"},   {"tty", "TTY"},      {"stat", "STAT"},
      {"stime", "START"}, {"bsdtime", "TIME"}, {"args", "COMMAND"}};
  return kUser;
}

Status AddFieldList(const std::string& list, std::vector<TopField>* out) {
  if (list.empty()) return MakeError(EINVAL, "ps option -o: a list of fields is missing");
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string name = item.substr(0, eq);
    const FieldInfo* f = FindField(name);
    if (!f)
      return MakeError(EINVAL, "unsupported ps field \"%s\" (skiff top knows: %s)",
                       name.c_str(), FieldNames().c_str());
    out->push_back({f->key, eq == std::string::npos ? f->header : item.substr(eq + 1)});
  }
  return Ok();
}

std::string CellOf(const std::string& key, const ProcInfo& p, const TopClock& c,
                   const TopNames& names) {
  double start_s = static_cast<double>(p.start_ticks) / c.hz;
  double elapsed = c.uptime_s - start_s;
  double cpu_s = static_cast<double>(p.cpu_ticks) / c.hz;
  time_t start = c.boot_time + static_cast<time_t>(start_s);
  std::string args;
  for (const auto& a : p.cmdline) args += (args.empty() ? "" : " ") + a;
  if (args.empty()) args = "[" + p.comm + "]";
  if (p.state == 'Z') args = "[" + p.comm + "] <defunct>";
  if (key == "pid") return std::to_string(p.pid);
  if (key == "ppid") return std::to_string(p.ppid);
  if (key == "pgid") return std::to_string(p.pgid);
  if (key == "sid") return std::to_string(p.sid);
  if (key == "cpid") return std::to_string(p.cpid);
  if (key == "uid") return std::to_string(p.uid);
  if (key == "user") return UserName(p.uid, names.passwd);
  if (key == "gid") return std::to_string(p.gid);
  if (key == "group") return UserName(p.gid, names.group);
  if (key == "comm") return p.state == 'Z' ? p.comm + " <defunct>" : p.comm;
  if (key == "args" || key == "cmd") return args;
  if (key == "pcpu" || key == "c") {
    // procps: cpu time / elapsed time in per mille; C is that / 10, capped at 99.
    int pm = elapsed > 0 ? static_cast<int>(cpu_s * 1000.0 / elapsed) : 0;
    if (key == "c") return std::to_string(std::clamp(pm / 10, 0, 99));
    pm = std::clamp(pm, 0, 999);
    return StrFormat("%d.%d", pm / 10, pm % 10);
  }
  if (key == "pmem") {
    uint64_t rss_kb = p.rss_pages * static_cast<uint64_t>(c.page_kb);
    uint64_t pm = c.mem_total_kb ? rss_kb * 1000 / c.mem_total_kb : 0;
    return StrFormat("%llu.%llu", static_cast<unsigned long long>(pm / 10),
                     static_cast<unsigned long long>(pm % 10));
  }
  if (key == "vsz") return std::to_string(p.vsize / 1024);
  if (key == "rss") return std::to_string(p.rss_pages * static_cast<uint64_t>(c.page_kb));
  if (key == "stat") return BsdStat(p);
  if (key == "s") return std::string(1, p.state);
  if (key == "tty") return Tty(p.tty_nr);
  if (key == "time") return CpuTime(static_cast<uint64_t>(cpu_s));
  if (key == "bsdtime") {
    auto secs = static_cast<unsigned long long>(cpu_s);
    return StrFormat("%llu:%02llu", secs / 60, secs % 60);
  }
  if (key == "etime") return Elapsed(elapsed > 0 ? static_cast<uint64_t>(elapsed) : 0);
  if (key == "stime") return StartTime(start, c.now);
  if (key == "start") {
    struct tm t;
    localtime_r(&start, &t);
    char buf[32];
    strftime(buf, sizeof buf, c.now - start < 86400 ? "%H:%M:%S" : "%b %d", &t);
    return buf;
  }
  if (key == "nlwp") return std::to_string(p.threads);
  if (key == "ni") return std::to_string(p.nice);
  return "-";
}

}  // namespace

std::vector<std::string> TopCells(const ProcInfo& p, const TopClock& c, const std::string& user) {
  std::vector<std::string> cells = TopRow(FullFormat(), p, c, TopNames{});
  cells[0] = user;
  return cells;
}

Result<std::vector<TopField>> ParsePsOptions(const std::vector<std::string>& args) {
  std::vector<TopField> list;
  bool user_format = false;
  auto unsupported = [](const std::string& opt) {
    return MakeError(EINVAL,
                     "unsupported ps option \"%s\": skiff top reads /proc and knows -e, -A, -f, "
                     "a, x, u (as in aux) and -o/o FIELDS (%s)",
                     opt.c_str(), FieldNames().c_str());
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool dash = !a.empty() && a[0] == '-';
    if (a.empty() || a == "-" || a.rfind("--", 0) == 0) return unsupported(a);
    for (size_t k = dash ? 1 : 0; k < a.size(); ++k) {
      char ch = a[k];
      if (ch == 'o') {
        // The rest of this word, else the next word, is the list.
        std::string fields = a.substr(k + 1);
        if (fields.empty()) {
          if (i + 1 >= args.size())
            return MakeError(EINVAL, "ps option -o: a list of fields is missing");
          fields = args[++i];
        }
        TRY(AddFieldList(fields, &list));
        break;
      }
      bool known = dash ? (ch == 'e' || ch == 'A' || ch == 'f' || ch == 'a')
                        : (ch == 'a' || ch == 'x' || ch == 'u' || ch == 'w');
      if (!known) {
        std::string opt(dash ? 2 : 1, '-');
        opt.back() = ch;
        return unsupported(opt);
      }
      if (!dash && ch == 'u') user_format = true;
    }
  }
  if (!list.empty()) return list;
  return user_format ? UserFormat() : FullFormat();
}

std::vector<std::string> TopRow(const std::vector<TopField>& fields, const ProcInfo& p,
                                const TopClock& c, const TopNames& names) {
  std::vector<std::string> cells;
  for (const auto& f : fields) cells.push_back(CellOf(f.key, p, c, names));
  return cells;
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

Result<std::string> TopTable(const std::vector<pid_t>& pids_in,
                             const std::vector<TopField>& fields_in) {
  std::vector<pid_t> pids = pids_in;
  std::sort(pids.begin(), pids.end());
  const std::vector<TopField>& fields = fields_in.empty() ? FullFormat() : fields_in;
  TopClock clock = TRY(ReadTopClock());
  TopNames names;
  if (auto pw = ReadFile("/etc/passwd"); pw.ok()) names.passwd = std::move(pw.value());
  if (auto gr = ReadFile("/etc/group"); gr.ok()) names.group = std::move(gr.value());
  std::vector<std::vector<std::string>> rows(1);
  for (const auto& f : fields) rows[0].push_back(f.header);
  for (pid_t pid : pids) {
    auto p = ReadProc(pid);
    if (!p.ok()) {
      if (p.error().code == ENOENT || p.error().code == ESRCH) continue;  // exited meanwhile
      return std::move(p).error();
    }
    rows.push_back(TopRow(fields, *p, clock, names));
  }
  return TabTable(rows, 20, 3);
}

}  // namespace skiff::engine
