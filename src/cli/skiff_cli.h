// The `skiff` front end: shared pieces of the command files. Parsing and printing only.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "base/error.h"

namespace skiff::engine {
struct Engine;
}

namespace skiff::cli {

struct Globals {
  std::string root;  // --root, $SKIFF_ROOT, /var/lib/skiff
  bool debug = false;
};

// Every command sets its action here; main runs it after parsing and turns its result
// into the exit code (Docker's: 125 when skiff itself fails).
using Action = std::function<Result<int>()>;

void AddImageCommands(CLI::App& app, Globals& g, Action& action);
void AddSystemCommands(CLI::App& app, Globals& g, Action& action);
void AddContainerCommands(CLI::App& app, Globals& g, Action& action);
// `skiff container`, made on first use: every command file may add to it (prune, ...).
CLI::App* ContainerGroup(CLI::App& app);

// exec, top, stats, pause, unpause, port, rename, restart, cp, container prune, system df
// and prune, run --explain (container_ops_cmds.cc); after AddContainerCommands.
void AddContainerOpsCommands(CLI::App& app, Globals& g, Action& action);

// The engine at --root, pulling with progress when run/create need an image.
Result<engine::Engine> OpenEngine(const Globals& g);

// Runs fn on each ref, printing the ref as typed on success (Docker's stop/kill/rm/start/
// pause); the exit code is 1 if any failed, as Docker prints "Error response from daemon"
// and exits 1.
Result<int> EachRef(const Globals& g, const char* what, const std::vector<std::string>& refs,
                    const std::function<Status(engine::Engine&, const std::string&)>& fn);

// pull with progress on stderr (run and create --pull).
Status PullImage(const Globals& g, const std::string& ref, const std::string& platform);

// "skiff: <what>: <why>" on stderr; returns 125.
int Fail(const std::string& what, const Error& e);
// Docker's human sizes: "4.2MB", "1.23GB" (powers of 1000).
std::string HumanSize(int64_t bytes);
// Docker's confirmation of a prune without -f: the warning, then y/N on stdin.
bool Confirm(const std::string& warning);
// Docker's "Deleted Images:" block of a prune ("untagged: REF", "deleted: sha256:ID"),
// nothing when no image went.
void PrintPrunedImages(const std::vector<std::string>& lines);
// "3 minutes ago", from an RFC 3339 time.
std::string HumanAgo(const std::string& rfc3339);

}  // namespace skiff::cli
