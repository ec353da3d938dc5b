#include "engine/stats.h"

#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/file.h"
#include "engine/table.h"

namespace skiff::engine {
namespace {

// go-units' getSizeAndUnit: divide by base while >= base, at most to the last unit.
std::string SizeWithUnit(double size, double base, const char* const* units, int n, int precision) {
  int i = 0;
  while (size >= base && i < n - 1) {
    size /= base;
    ++i;
  }
  // Go's %.*g and C's agree for the values this yields (below base, or the last unit).
  return StrFormat("%.*g%s", precision, size, units[i]);
}

Result<uint64_t> HostMemory() {
  std::string text = TRY(ReadFile("/proc/meminfo"));
  std::istringstream in(text);
  for (std::string key; in >> key;) {
    uint64_t kb = 0;
    in >> kb;
    if (key == "MemTotal:") return kb * 1024;
    in.ignore(1 << 20, '\n');
  }
  return MakeError(0, "/proc/meminfo: no MemTotal");
}

}  // namespace

std::string HumanSize(double bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  return SizeWithUnit(bytes, 1000.0, kUnits, 9, 3);
}

std::string BytesSize(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  return SizeWithUnit(bytes, 1024.0, kUnits, 9, 4);
}

Result<uint64_t> ParseProcStatTotal(const std::string& proc_stat, long tck) {
  std::istringstream in(proc_stat);
  std::string first;
  std::getline(in, first);
  std::istringstream f(first);
  std::string label;
  f >> label;
  if (label != "cpu") return MakeError(EINVAL, "/proc/stat: no cpu line");
  // user nice system idle iowait irq softirq steal (guest time is already in user): the
  // eight fields dockerd adds up.
  uint64_t total = 0, v = 0;
  for (int i = 0; i < 8 && (f >> v); ++i) total += v;
  if (tck <= 0) tck = 100;
  return total * (1000000000ULL / static_cast<uint64_t>(tck));
}

Result<std::pair<uint64_t, uint64_t>> ParseNetDev(const std::string& net_dev) {
  std::istringstream in(net_dev);
  std::string line;
  uint64_t rx = 0, tx = 0;
  int n = 0;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;  // the two header lines
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    std::istringstream f(line.substr(colon + 1));
    // Receive: bytes packets errs drop fifo frame compressed multicast; Transmit: bytes ...
    uint64_t fields[9] = {};
    for (uint64_t& x : fields)
      if (!(f >> x)) return MakeError(EINVAL, "net/dev: bad line \"%s\"", line.c_str());
    ++n;
    if (name == "lo") continue;
    rx += fields[0];
    tx += fields[8];
  }
  if (n == 0) return MakeError(EINVAL, "net/dev: no interfaces");
  return std::make_pair(rx, tx);
}

StatsSample SampleFrom(const cgroup::Stats& cg, uint64_t system_ns, int online_cpus,
                       uint64_t host_mem) {
  StatsSample s;
  s.cpu_ns = cg.cpu_usage_ns;
  s.system_ns = system_ns;
  s.online_cpus = online_cpus > 0 ? online_cpus : 1;
  // The docker CLI's calculateMemUsageUnixNoCache: inactive_file is reclaimable page cache.
  s.mem_usage = cg.memory_inactive_file < cg.memory_usage
                    ? cg.memory_usage - cg.memory_inactive_file
                    : cg.memory_usage;
  s.mem_limit = cg.memory_limit;
  if (s.mem_limit == 0 || (host_mem && s.mem_limit > host_mem)) s.mem_limit = host_mem;
  s.blk_read = cg.io_read_bytes;
  s.blk_write = cg.io_write_bytes;
  s.pids = cg.pids_current;
  return s;
}

Result<StatsSample> TakeSample(cgroup::Manager& cg, const StatsTarget& t) {
  cgroup::Stats st = TRY(cg.GetStats());
  std::string proc_stat = TRY(ReadFile("/proc/stat"));
  uint64_t system_ns = TRY(ParseProcStatTotal(proc_stat, ::sysconf(_SC_CLK_TCK)));
  uint64_t host_mem = TRY(HostMemory());
  StatsSample s =
      SampleFrom(st, system_ns, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)), host_mem);
  if (t.own_network && t.pid > 0) {
    auto dev = ReadFile(StrFormat("/proc/%d/net/dev", t.pid));
    if (dev.ok()) {
      auto rxtx = TRY(ParseNetDev(*dev));
      s.net_rx = rxtx.first;
      s.net_tx = rxtx.second;
    }  // gone meanwhile: it stopped, and Docker shows zeros then too
  }
  return s;
}

StatsRow ComputeRow(const StatsTarget& t, const StatsSample& prev, const StatsSample& cur) {
  StatsRow r;
  r.id = t.id;
  r.name = t.name;
  r.ref = t.ref;
  // The docker CLI's calculateCPUPercentUnix.
  if (cur.cpu_ns > prev.cpu_ns && cur.system_ns > prev.system_ns) {
    double cpu_delta = static_cast<double>(cur.cpu_ns - prev.cpu_ns);
    double system_delta = static_cast<double>(cur.system_ns - prev.system_ns);
    r.cpu_percent = cpu_delta / system_delta * cur.online_cpus * 100.0;
  }
  r.mem_usage = cur.mem_usage;
  r.mem_limit = cur.mem_limit;
  if (cur.mem_limit) r.mem_percent = static_cast<double>(cur.mem_usage) / cur.mem_limit * 100.0;
  r.net_rx = cur.net_rx;
  r.net_tx = cur.net_tx;
  r.blk_read = cur.blk_read;
  r.blk_write = cur.blk_write;
  r.pids = cur.pids;
  return r;
}

namespace {

struct Cells {
  std::string id, cpu, mem, mem_perc, net, block, pids;
};

Cells CellsOf(const StatsRow& r) {
  Cells c;
  c.id = r.id.substr(0, 12);
  c.cpu = StrFormat("%.2f%%", r.cpu_percent);
  c.mem = BytesSize(static_cast<double>(r.mem_usage)) + " / " +
          BytesSize(static_cast<double>(r.mem_limit));
  c.mem_perc = StrFormat("%.2f%%", r.mem_percent);
  c.net =
      HumanSize(static_cast<double>(r.net_rx)) + " / " + HumanSize(static_cast<double>(r.net_tx));
  c.block = HumanSize(static_cast<double>(r.blk_read)) + " / " +
            HumanSize(static_cast<double>(r.blk_write));
  c.pids = std::to_string(r.pids);
  return c;
}

}  // namespace

std::string StatsTable(const std::vector<StatsRow>& rows) {
  std::vector<std::vector<std::string>> t;
  t.push_back({"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
               "BLOCK I/O", "PIDS"});
  for (const StatsRow& r : rows) {
    Cells c = CellsOf(r);
    t.push_back({c.id, r.name, c.cpu, c.mem, c.mem_perc, c.net, c.block, c.pids});
  }
  return TabTable(t);
}

std::string StatsJsonLine(const StatsRow& r) {
  Cells c = CellsOf(r);
  // nlohmann's default object is ordered by key, as Go's map marshalling is.
  nlohmann::json j = {
      {"BlockIO", c.block}, {"CPUPerc", c.cpu},      {"Container", r.ref.empty() ? c.id : r.ref},
      {"ID", c.id},         {"MemPerc", c.mem_perc}, {"MemUsage", c.mem},
      {"Name", r.name},     {"NetIO", c.net},        {"PIDs", c.pids}};
  return j.dump();
}

}  // namespace skiff::engine
