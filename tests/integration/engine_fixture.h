// The fixture of skiff's container-command tests (engine_test.cc, engine_ops_test.cc, ...):
// the real `skiff` binary with a temp --root and a busybox image ("bb:latest") imported from
// busybox-static. TearDown removes every container the test made and then checks that
// nothing of them is left: no mount, no cgroup dir, no process, no directory.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bundle.h"

namespace skiff::itest {

class EngineFixture : public ::testing::Test {
 protected:
  // tag names the temp dir: /tmp/skiff-<tag>-XXXXXX.
  explicit EngineFixture(std::string tag = "eng") : tag_(std::move(tag)) {}

  void SetUp() override;
  void TearDown() override;
  // More of the image's tree (work_/tree) before it is imported as bb:latest.
  virtual void ExtendTree(const std::string& tree) { (void)tree; }

  // skiff --root ROOT ARGS, run in work_ (or dir).
  CmdResult Skiff(std::vector<std::string> args, int timeout_ms = 30000);
  CmdResult SkiffIn(const std::string& dir, std::vector<std::string> args,
                    int timeout_ms = 30000);
  // sh -c SCRIPT with $SKIFF set to skiff --root ROOT (for pipes into skiff).
  CmdResult Shell(const std::string& script);
  // run -d ARGS: the full ID (the test fails when it does not start); removed in TearDown.
  std::string RunDetached(std::vector<std::string> args);
  // A container TearDown checks for leftovers of (those of RunDetached are already).
  void Own(const std::string& id) { ids_.push_back(id); }

  // inspect REF's one object, or null.
  nlohmann::json Inspect(const std::string& ref);
  // Polls inspect until State.Status is want.
  bool WaitStatus(const std::string& ref, const std::string& want, int timeout_ms = 10000);
  // The record.json of a container, parsed (null when unreadable).
  nlohmann::json Record(const std::string& id);
  // No mount, directory, runtime state, cgroup or process of id; wait_ms lets a monitor
  // that is on its way out finish.
  void ExpectNothingLeft(const std::string& id, int wait_ms = 0);

  std::string work_, root_;

 private:
  std::string tag_;
  std::vector<std::string> ids_;
};

}  // namespace skiff::itest
