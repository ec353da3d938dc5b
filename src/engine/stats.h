// docker stats: the numbers Docker's CLI prints, computed the way it computes them, from
// cgroup v1 or v2 alike (cgroup::Manager::GetStats) plus /proc.
//
//   CPU %      (container usage delta / system usage delta) * online CPUs * 100, where the
//              system usage is the sum of /proc/stat's first line (as dockerd reads it)
//   MEM USAGE  usage minus inactive_file (v1 total_inactive_file), as the CLI does; LIMIT is
//              the cgroup limit or, without one, the host's memory
//   NET I/O    rx / tx summed over the container's interfaces but lo (/proc/<pid>/net/dev);
//              "0B / 0B" without networking (--network none or host), as Docker prints it
//   BLOCK I/O  read / write bytes of the blkio/io controller
//   PIDS       pids.current
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "cgroup/manager.h"

namespace skiff::engine {

// One reading of a container, with the host's total at the same moment.
struct StatsSample {
  uint64_t cpu_ns = 0;     // the container's CPU time
  uint64_t system_ns = 0;  // the host's: /proc/stat's cpu line, jiffies -> ns
  int online_cpus = 1;
  uint64_t mem_usage = 0;  // already without inactive_file
  uint64_t mem_limit = 0;  // the cgroup's, or the host's memory when unlimited
  uint64_t net_rx = 0, net_tx = 0;
  uint64_t blk_read = 0, blk_write = 0;
  uint64_t pids = 0;
};

struct StatsTarget {
  std::string id;  // full id; the table shows 12 characters
  std::string name;
  std::string ref;           // as the user named it (json's "Container"); "" = the short id
  pid_t pid = 0;             // the container's init, for its network namespace; 0 = stopped
  bool own_network = false;  // false for --network none and host: NET I/O is 0B / 0B
};

// Pure parts, unit-tested.
// /proc/stat text -> the sum of the "cpu " line in ns (clock ticks per second: tck).
Result<uint64_t> ParseProcStatTotal(const std::string& proc_stat, long tck);
// /proc/<pid>/net/dev text -> rx and tx bytes over every interface but lo.
Result<std::pair<uint64_t, uint64_t>> ParseNetDev(const std::string& net_dev);
// cgroup stats + host figures -> a sample (memory without inactive_file, limit defaulted).
StatsSample SampleFrom(const cgroup::Stats& cg, uint64_t system_ns, int online_cpus,
                       uint64_t host_mem);

// Reads everything now: the cgroup's stats, /proc/stat, net/dev of pid when own_network.
Result<StatsSample> TakeSample(cgroup::Manager& cg, const StatsTarget& t);

struct StatsRow {
  std::string id, name, ref;
  double cpu_percent = 0;
  uint64_t mem_usage = 0, mem_limit = 0;
  double mem_percent = 0;
  uint64_t net_rx = 0, net_tx = 0, blk_read = 0, blk_write = 0, pids = 0;
};
// prev may be a sample of a moment ago (streaming) or of ~0 (first reading: Docker's CLI
// shows 0.00% then too, as does --no-stream when the pre-read is missing).
StatsRow ComputeRow(const StatsTarget& t, const StatsSample& prev, const StatsSample& cur);

// docker stats's table (Docker's tabwriter: min width 10, padding 3) and its --format json
// lines (keys as Docker's: BlockIO, CPUPerc, Container, ID, MemPerc, MemUsage, Name, NetIO,
// PIDs).
std::string StatsTable(const std::vector<StatsRow>& rows);
std::string StatsJsonLine(const StatsRow& row);

// Docker's go-units: HumanSizeWithPrecision(n, 3) ("1.5kB", "0B") and BytesSize
// ("1.5MiB"), the two size forms docker stats prints.
std::string HumanSize(double bytes);
std::string BytesSize(double bytes);

}  // namespace skiff::engine
