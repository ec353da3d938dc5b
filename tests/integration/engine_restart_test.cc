// The restart policy's monitor against stop and rm -f: the restart delay ends at a stop (the
// monitor is woken, it does not sleep the delay out), and a stop is never lost to a restart
// that was being decided or started when it came.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "bundle.h"
#include "engine_fixture.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

class EngineRestartTest : public EngineFixture {
 protected:
  EngineRestartTest() : EngineFixture("restart") {}

  // Polls the record until the monitor waits out the delay of restart number count (or a
  // later one); false after timeout_ms.
  bool WaitRestarting(const std::string& id, int count, int timeout_ms = 15000) {
    for (int t = 0; t < timeout_ms; t += 10) {
      json r = Record(id);
      if (!r.is_null() && r["State"]["Status"] == "restarting" && r["RestartCount"] >= count)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // The pids in the container's cgroups ("" when it has none, or no cgroup at all).
  std::string CgroupProcs(const std::string& id) {
    std::string procs;
    for (const auto& m : CgroupMounts()) procs += ReadText(m + "/skiff/" + id + "/cgroup.procs");
    return procs;
  }
};

long long MsSince(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// ms until pid is gone (not alive or a zombie), or -1 after limit_ms.
long long MsUntilGone(pid_t pid, Clock::time_point t0, int limit_ms) {
  while (Alive(pid)) {
    if (MsSince(t0) > limit_ms) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return MsSince(t0);
}

// The delay before the 6th restart is 3.2 s: a monitor that slept it out would outlive the
// stop (and hold up the rm -f) by seconds. Two containers flap side by side, so that both
// reach it in the same few seconds.
TEST_F(EngineRestartTest, StopAndRmForceEndTheRestartDelay) {
  std::string stopped = RunDetached({"--restart", "always", "bb", "sh", "-c", "exit 1"});
  std::string removed = RunDetached({"--restart", "always", "bb", "sh", "-c", "exit 1"});
  ASSERT_TRUE(WaitRestarting(stopped, 6));
  json rec = Record(stopped);
  pid_t monitor = rec["State"]["MonitorPid"].get<int>();
  int count = rec["RestartCount"].get<int>();
  ASSERT_GT(monitor, 0);
  Clock::time_point t0 = Clock::now();
  CmdResult stop = Skiff({"stop", stopped});
  long long stop_ms = MsSince(t0);
  long long gone_ms = MsUntilGone(monitor, t0, 5000);
  EXPECT_EQ(stop.code, 0) << stop.err;
  EXPECT_LT(stop_ms, 1000);
  EXPECT_GE(gone_ms, 0) << "the monitor outlived the stop by 5 s";
  EXPECT_LT(gone_ms, 1000) << "the monitor slept out the restart delay";
  std::printf("stop of a restarting container: returned in %lld ms, monitor gone in %lld ms\n",
              stop_ms, gone_ms);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  rec = Record(stopped);
  EXPECT_EQ(rec["State"]["Status"], "exited");
  EXPECT_EQ(rec["State"]["MonitorPid"], 0);
  EXPECT_EQ(rec["RestartCount"], count) << "restarted after stop";
  EXPECT_EQ(CgroupProcs(stopped), "");

  ASSERT_TRUE(WaitRestarting(removed, 6));
  monitor = Record(removed)["State"]["MonitorPid"].get<int>();
  ASSERT_GT(monitor, 0);
  t0 = Clock::now();
  CmdResult rm = Skiff({"rm", "-f", removed});
  long long rm_ms = MsSince(t0);
  EXPECT_EQ(rm.code, 0) << rm.err;
  EXPECT_LT(rm_ms, 1500) << "rm -f waited for the restart delay or killed the monitor";
  EXPECT_FALSE(Alive(monitor)) << "rm -f returned with the monitor still running";
  std::printf("rm -f of a restarting container: %lld ms\n", rm_ms);
  ExpectNothingLeft(removed);
}

// A stop that lands while the monitor decides to restart, or starts the new process, used to
// be lost: the record said exited, stop returned, and the restarted process ran on. Odd runs
// here exit at once and even runs (the restarts) stay up, so a lost stop leaves one
// running. Each round stops as the restart begins (its runtime state appears).
TEST_F(EngineRestartTest, StopIsNotLostToARestart) {
  const std::string cmd =
      "n=$(cat /n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /n; "
      "[ $((n % 2)) = 0 ] && exec sleep 1000; exit 1";
  std::string id = RunDetached({"--restart", "always", "bb", "sh", "-c", cmd});
  const std::string state_dir = "/run/skiff/runtime/" + id;
  for (int round = 0; round < 4; ++round) {
    if (round > 0) {
      // The next run is odd again, whether or not the last stop came before its restart
      // (the stop is then seen by the decision, and the restart never runs).
      ASSERT_TRUE(WriteText(root_ + "/containers/" + id + "/upper/n", "0\n"));
      CmdResult start = Skiff({"start", id});
      ASSERT_EQ(start.code, 0) << "round " << round << ": " << start.err;
    }
    // The odd run has exited and the restart counted (restarting, or running already when
    // we were late); its runtime state appears as the restart's process is made.
    json rec;
    for (int t = 0; t < 10000; t += 10) {
      rec = Record(id);
      if (!rec.is_null() && rec["RestartCount"] > round && rec["State"]["Status"] != "exited")
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GT(rec["RestartCount"].get<int>(), round) << rec.dump();
    for (int t = 0; t < 10000 && !Exists(state_dir); ++t)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    pid_t monitor = rec["State"]["MonitorPid"].get<int>();
    CmdResult stop = Skiff({"stop", "-t", "0", id});
    ASSERT_EQ(stop.code, 0) << "round " << round << ": " << stop.err;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    rec = Record(id);
    EXPECT_EQ(rec["State"]["Status"], "exited") << "round " << round << ": the stop was lost";
    EXPECT_EQ(CgroupProcs(id), "") << "round " << round;
    EXPECT_GE(MsUntilGone(monitor, Clock::now(), 2000), 0) << "round " << round << ": monitor";
    if (rec["State"]["Status"] != "exited") (void)Skiff({"stop", "-t", "0", id});
  }
}

}  // namespace
}  // namespace skiff::itest
