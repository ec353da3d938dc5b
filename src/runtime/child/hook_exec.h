// Running one OCI hook: the container's state JSON on its stdin, a timeout, one error line
// when it fails. base-only, so that the child can run createContainer and startContainer
// hooks itself; the parent uses it for the others.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace skiff::runtime {

struct HookSpec {
  std::string path;
  std::vector<std::string> args;  // args[0] is argv[0]; empty = {path}
  std::vector<std::string> env;
  int timeout_s = 0;  // 0 = no limit
};

// "createRuntime hook /usr/bin/x: exited with status 3".
Status RunHook(const HookSpec& hook, const std::string& state_json, const char* phase);
Status RunHooks(const std::vector<HookSpec>& hooks, const std::string& state_json,
                const char* phase);

}  // namespace skiff::runtime
