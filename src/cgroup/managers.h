// The concrete managers behind New/Open (factory.cc), and what they share.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cgroup/manager.h"

namespace skiff::cgroup {

// v1 and hybrid: paths has one entry per v1 controller, plus "" for the cgroup2 hierarchy
// in the hybrid layout.
std::unique_ptr<Manager> NewV1Manager(const Hierarchies& h,
                                      std::map<std::string, std::string> paths);
std::unique_ptr<Manager> NewV2Manager(const Hierarchies& h, std::string rel);

// Sends sig to each pid; a pid that is already gone (ESRCH) is fine.
Status KillPids(const std::vector<pid_t>& pids, int sig);
// Waits (bounded) until no process is left in dir or its descendants.
Status WaitEmpty(const std::string& dir);

}  // namespace skiff::cgroup
