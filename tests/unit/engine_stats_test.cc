// docker stats's numbers and their printed forms, against values worked out by hand from
// the docker CLI's formulas (cli/command/container/stats_helpers.go, go-units).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/stats.h"
#include "engine/table.h"

namespace skiff::engine {
namespace {

TEST(StatsUnits, HumanSizeAsGoUnits) {
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(999), "999B");
  EXPECT_EQ(HumanSize(1000), "1kB");
  EXPECT_EQ(HumanSize(1536), "1.54kB");
  EXPECT_EQ(HumanSize(12345678), "12.3MB");
  EXPECT_EQ(HumanSize(1e9), "1GB");
}

TEST(StatsUnits, BytesSizeAsGoUnits) {
  EXPECT_EQ(BytesSize(0), "0B");
  EXPECT_EQ(BytesSize(1024), "1KiB");
  EXPECT_EQ(BytesSize(1536 * 1024), "1.5MiB");
  EXPECT_EQ(BytesSize(64.0 * 1024 * 1024), "64MiB");
  EXPECT_EQ(BytesSize(7.7 * 1024 * 1024 * 1024), "7.7GiB");
}

TEST(StatsParse, ProcStat) {
  auto t = ParseProcStatTotal("cpu  100 20 30 400 5 6 7 8 9 10\ncpu0 1 2 3\n", 100);
  ASSERT_TRUE(t.ok());
  // The first eight fields (guest time is already in user), ticks of 10 ms.
  EXPECT_EQ(*t, (100u + 20 + 30 + 400 + 5 + 6 + 7 + 8) * 10000000ULL);
  EXPECT_FALSE(ParseProcStatTotal("intr 1 2\n", 100).ok());
}

TEST(StatsParse, NetDevSkipsLo) {
  const char* dev =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n"
      "    lo:  5000      50    0    0    0     0          0         0     5000      50    0    0  "
      "  0     0       0          0\n"
      "  eth0:  1200      10    0    0    0     0          0         0      800       8    0    0  "
      "  0     0       0          0\n"
      "  eth1:    34       1    0    0    0     0          0         0       66       1    0    0  "
      "  0     0       0          0\n";
  auto r = ParseNetDev(dev);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->first, 1234u);
  EXPECT_EQ(r->second, 866u);
  EXPECT_FALSE(ParseNetDev("garbage").ok());
}

TEST(StatsCompute, AsTheDockerCli) {
  cgroup::Stats a, b;
  a.cpu_usage_ns = 1'000'000'000;
  b.cpu_usage_ns = 1'500'000'000;  // +0.5 s of CPU
  b.memory_usage = 10 << 20;
  b.memory_inactive_file = 2 << 20;  // page cache the CLI leaves out
  b.memory_limit = 64 << 20;
  b.io_read_bytes = 4096;
  b.io_write_bytes = 1'000'000;
  b.pids_current = 3;
  // Over the same moment the host's CPUs (2 of them) ran 2 s in all.
  StatsSample pa = SampleFrom(a, 10'000'000'000ULL, 2, 8ULL << 30);
  StatsSample pb = SampleFrom(b, 12'000'000'000ULL, 2, 8ULL << 30);
  StatsTarget t{"0123456789abcdef0123", "web", "", 0, false};
  StatsRow r = ComputeRow(t, pa, pb);
  EXPECT_DOUBLE_EQ(r.cpu_percent, 50.0);  // 0.5 / 2 * 2 CPUs * 100
  EXPECT_EQ(r.mem_usage, 8u << 20);
  EXPECT_EQ(r.mem_limit, 64u << 20);
  EXPECT_DOUBLE_EQ(r.mem_percent, 12.5);
  std::string table = StatsTable({r});
  EXPECT_EQ(table,
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O  "
            "   PIDS\n"
            "0123456789ab   web       50.00%    8MiB / 64MiB        12.50%    0B / 0B   4.1kB / "
            "1MB   3\n");
  auto j = nlohmann::json::parse(StatsJsonLine(r));
  EXPECT_EQ(j["ID"], "0123456789ab");
  EXPECT_EQ(j["CPUPerc"], "50.00%");
  EXPECT_EQ(j["MemUsage"], "8MiB / 64MiB");
  EXPECT_EQ(j["MemPerc"], "12.50%");
  EXPECT_EQ(j["NetIO"], "0B / 0B");
  EXPECT_EQ(j["BlockIO"], "4.1kB / 1MB");
  EXPECT_EQ(j["PIDs"], "3");
  EXPECT_EQ(j["Name"], "web");
  EXPECT_EQ(j["Container"], "0123456789ab");  // no name typed: the short id, as Docker
  t.ref = "web";
  EXPECT_EQ(nlohmann::json::parse(StatsJsonLine(ComputeRow(t, pa, pb)))["Container"], "web");
}

TEST(StatsCompute, UnlimitedMemoryShowsTheHost) {
  cgroup::Stats s;
  s.memory_usage = 1 << 20;
  StatsSample p = SampleFrom(s, 0, 1, 2ULL << 30);
  EXPECT_EQ(p.mem_limit, 2ULL << 30);
  // No CPU progress, or no system progress: 0%, never a division by zero.
  StatsRow r = ComputeRow({}, p, p);
  EXPECT_EQ(r.cpu_percent, 0.0);
}

TEST(Table, TabwriterWidths) {
  EXPECT_EQ(TabTable({{"A", "LONGER HEADER", "X"}, {"aaaaaaaaaaaa", "b", "last cell"}}),
            "A              LONGER HEADER   X\n"
            "aaaaaaaaaaaa   b               last cell\n");
}

// "…" is three bytes and one column: the columns after it line up (they did not).
TEST(Table, WidthsCountCodePoints) {
  EXPECT_EQ(DisplayWidth("sh -c 'slee…"), 12u);
  EXPECT_EQ(DisplayWidth("naïve"), 5u);
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(TabTable({{"COMMAND", "STATUS", "NAMES"},
                      {"\"sh -c 'slee…\"", "Up 1 second", "web"},
                      {"\"true\"", "Created", "x"}}),
            "COMMAND          STATUS        NAMES\n"
            "\"sh -c 'slee…\"   Up 1 second   web\n"
            "\"true\"           Created       x\n");
}

}  // namespace
}  // namespace skiff::engine
