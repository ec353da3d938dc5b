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

// The command words of the command line ("run", or "container" then "ls"), so that only
// the invoked command's options are built: building all of them was most of a short skiff
// command's CPU. Empty words (no command, or `skiff container --help`) build everything.
struct CommandWords {
  std::string first, second;
};

struct Globals {
  std::string root;  // --root, $SKIFF_ROOT, /var/lib/skiff
  bool debug = false;
  CommandWords words;
};

// parent's subcommand `name` (also called `alias`), made only if the command line may
// invoke it; nullptr when it names another command.
CLI::App* Sub(CLI::App& parent, const Globals& g, const char* name, const char* help,
              const char* alias = nullptr);
// A subcommand made earlier (nullptr if there is none); never throws, unlike
// CLI::App::get_subcommand.
CLI::App* Find(CLI::App& app, const std::string& name);
// The group `name` (container, image, system): Find, or Sub with require_subcommand(1).
CLI::App* Group(CLI::App& app, const Globals& g, const char* name, const char* help);

// Every command sets its action here; main runs it after parsing and turns its result
// into the exit code (Docker's: 125 when skiff itself fails).
using Action = std::function<Result<int>()>;

void AddImageCommands(CLI::App& app, Globals& g, Action& action);
void AddSystemCommands(CLI::App& app, Globals& g, Action& action);
void AddContainerCommands(CLI::App& app, Globals& g, Action& action);

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
