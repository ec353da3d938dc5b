// The container lifecycle's edges: a wait on a start that fails, stop against the restart
// policy's monitor, and the sweeps of what crashed creates and removals leave.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "bundle.h"
#include "engine_fixture.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

class EngineLifecycleTest : public EngineFixture {
 protected:
  EngineLifecycleTest() : EngineFixture("life") {}
};

// As Docker: next-exit on a created container returns when a start fails, with the failed
// start's exit code; twice, so the second failure (a record like the first) is seen too.
TEST_F(EngineLifecycleTest, NextExitReturnsWhenTheStartFails) {
  CmdResult c = Skiff({"create", "bb", "nosuchcommand"});
  ASSERT_EQ(c.code, 0) << c.err;
  std::string id = Trim(c.out);
  Own(id);
  for (int round = 0; round < 2; ++round) {
    std::atomic<bool> returned{false};
    CmdResult w;
    std::thread waiter([&] {
      w = Skiff({"wait", "--condition", "next-exit", id}, 8000);
      returned = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_FALSE(returned) << "returned before the start";
    CmdResult st = Skiff({"start", id});
    EXPECT_EQ(st.code, 127) << st.err;
    waiter.join();
    EXPECT_EQ(w.code, 0) << "round " << round << ": " << w.err;
    EXPECT_EQ(w.out, "127\n") << "round " << round;
  }
  EXPECT_EQ(Inspect(id)["State"]["Status"], "created");
}

}  // namespace
}  // namespace skiff::itest
