// The runtime's lifecycle operations (runtime.md "Operations"), one function each. The CLI
// calls these; every error is one line of context.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"
#include "runtime/state.h"

namespace skiff::runtime {

class Explain;  // runtime/explain.h

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
  // Explain mode: the steps of create (and run's start) are recorded here; nullptr = off.
  // Run prints them once the container has exec'd; after Create the caller calls Flush.
  Explain* explain = nullptr;
  // An in-process caller that has just written the bundle's config.json passes its text
  // and the spec parsed from it and validated: create does not read and parse it again.
  const std::string* config_json = nullptr;
  const oci::Spec* spec = nullptr;
  // The engine's: a network namespace the container makes gets its loopback up, as Docker
  // does for every container with one of its own. The child does it (one ioctl, as crun),
  // so the parent never enters the namespace. A joined namespace is left as it is.
  bool loopback_up = false;
};

Status Create(const CreateOptions& opts);
Status Start(const std::string& root, const std::string& id);
// create + start + wait; returns the container's exit code (128+signal when killed).
// detach returns 0 once started; keep leaves the stopped container for `delete`.
Result<int> Run(const CreateOptions& opts, bool detach, bool keep);
struct ExecOptions {
  std::string root = "/run/skiff-runtime";
  std::string id;
  std::string process_file;  // --process: a Process JSON replaces the flags below
  std::vector<std::string> args;
  std::string cwd;
  std::vector<std::string> env;
  std::string user;  // UID[:GID]
  std::vector<gid_t> additional_gids;
  std::vector<std::string> caps;  // added to the container's sets
  bool no_new_privs = false;
  bool tty = false;
  bool detach = false;
  std::string pid_file;
  std::string console_socket;
  int preserve_fds = 0;
};
// Returns the process's exit code, or 0 once started with detach.
Result<int> Exec(const ExecOptions& opts);

// ps: the container's processes (json: a list of pids, as runc prints it).
Result<std::string> Ps(const std::string& root, const std::string& id, bool as_json);
Status Update(const std::string& root, const std::string& id, const oci::Resources& r);
// events: a JSON stats line every interval (and an "oom" line on a new OOM kill) until the
// container stops; stats_once prints one and returns.
Status Events(const std::string& root, const std::string& id, bool stats_once, int interval_s);
std::string FeaturesJson();

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
