// The runtime's lifecycle operations (runtime.md "Operations"), one function each. The CLI
// calls these; every error is one line of context.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "runtime/state.h"

namespace skiff::runtime {

struct CreateOptions {
  std::string root = "/run/skiff-runtime";
  std::string id;
  std::string bundle;  // "" = the current directory
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  bool detach = false;  // run -d: a terminal then needs --console-socket, as in runc
};

Status Create(const CreateOptions& opts);
Status Start(const std::string& root, const std::string& id);
// create + start + wait; returns the container's exit code (128+signal when killed).
// detach returns 0 once started; keep leaves the stopped container for `delete`.
Result<int> Run(const CreateOptions& opts, bool detach, bool keep);
Status Kill(const std::string& root, const std::string& id, int sig, bool all);
Status Pause(const std::string& root, const std::string& id);
Status Resume(const std::string& root, const std::string& id);
Status Delete(const std::string& root, const std::string& id, bool force);
Result<std::string> StateOf(const std::string& root, const std::string& id);

struct ListEntry {
  ContainerState state;
  ContainerStatus status;
};
Result<std::vector<ListEntry>> List(const std::string& root);

// "KILL", "SIGKILL", "9" -> 9.
Result<int> ParseSignal(const std::string& s);

}  // namespace skiff::runtime
