// Containers as a Docker user knows them, with no daemon: create, start, run, stop, kill,
// rm, wait, and the reconciliation that keeps records honest when a monitor is gone.
//
// On disk, per container (RecordStore::Dir(id) = <root>/containers/<id>/):
//   record.json          the engine record (records.h)
//   config.json          the OCI bundle's spec; the bundle dir is Dir(id) itself
//   rootfs/              the overlay mount point (lower = the image's layer dirs)
//   upper/, work/        the overlay's writable layer
//   hostname, hosts, resolv.conf   bind-mounted over /etc/...
//   <id>-json.log        Docker's json-file log, written by the monitor
//   anon-volume-<name>   while it is built only: an anonymous volume it made (container_fs.h)
// A directory without record.json and without its builder's flock is a create that died;
// .removing-<id> is one being removed (flocked by its remover): ListContainers sweeps both.
// Runtime state (runtime::StateOf) lives under Engine::run_root, shared by every --root:
// ids are random 64-hex, so two stores never collide there.
//
// A container's process is made by the in-process runtime library (runtime/), never by
// exec'ing skiff-runtime. Detached containers are watched by a per-container monitor
// (monitor.h); a foreground `run` is its own monitor.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/file.h"
#include "engine/records.h"
#include "engine/run_options.h"

namespace skiff::engine {

inline constexpr const char* kRunRoot = "/run/skiff/runtime";

struct Engine {
  std::string root;                   // --root: records, images, layers, volumes
  std::string run_root = kRunRoot;    // runtime state for runtime:: calls
  std::string init_path;              // skiff-init for --init ("" = not found)
  std::string skiff_exe;              // this program, for the monitor to re-exec
  std::string monitor_path;           // skiff-monitor beside skiff ("" = watch in-process)
  RecordStore records;
  // Pulls an image the store lacks (--pull missing|always); set by the CLI, which owns
  // the progress display. Unset: "No such image".
  std::function<Status(const std::string& ref, const std::string& platform)> pull;
  // The spec a foreground run's create has just written (config.json's text and the spec
  // parsed from it), for its first start in this process: not read and parsed again.
  std::string fresh_id, fresh_json;
  std::optional<oci::Spec> fresh_spec;

  static Result<Engine> Open(const std::string& root);
};

// Paths of a container's parts (see the top of this file).
std::string BundleDir(const Engine& e, const std::string& id);
std::string RootfsDir(const Engine& e, const std::string& id);
std::string LogPath(const Engine& e, const std::string& id);
std::string VolumesDir(const Engine& e);  // <root>/volumes; a volume is <name>/_data

// The container's start lock, <bundle>/start.lock. A start holds it until the process runs
// (two starts at once: the second then finds it running); a monitor holds it from its
// decision to restart until the new process is recorded running (never while the container
// runs or while it waits out the delay); stop, kill and rm -f hold it while they mark the
// container stopped by the user. So a stop comes either before the decision, which then
// sees it, or after the record names the new process, which the stop then stops.
Result<FileLock> LockStart(const Engine& e, const std::string& id);

// skiff create: validates, resolves (and pulls) the image, writes the record, mounts the
// overlay, writes config.json. Rolls everything back on failure. warnings gets Docker's
// warnings (swap limit unsupported...).
Result<ContainerRecord> CreateContainer(Engine& e, const RunOptions& opts,
                                        std::vector<std::string>* warnings = nullptr);

// skiff start: starts a created or exited container under a new detached monitor and
// returns once its process runs (or failed to start: see StartExitCode).
Status StartContainer(Engine& e, const std::string& ref);
// skiff start -a: the caller is the monitor, as in a foreground run; the exit code.
Result<int> StartAttached(Engine& e, const std::string& ref);

// skiff run: create + start. Detached: returns once started, with exit_code 0. In the
// foreground: skiff itself is the monitor (stdio wired, signals forwarded), and exit_code is
// the container's. on_created sees the record before start (run -d prints the ID after).
struct RunResult {
  std::string id;
  int exit_code = 0;
};
Result<RunResult> RunContainer(Engine& e, const RunOptions& opts,
                               std::vector<std::string>* warnings = nullptr);

// Docker's exit code for a failed start: 127 command not found, 126 not executable,
// 125 anything else.
int StartExitCode(const Error& e);

// skiff stop: the stop signal (record's, default SIGTERM), then SIGKILL after timeout
// seconds (nullopt = the record's stop_timeout); signal overrides the stop signal once
// (stop -s). The restart policy does not restart it; a restarting container's monitor is
// woken from its delay and leaves.
Status StopContainer(Engine& e, const std::string& ref, std::optional<int> timeout,
                     std::optional<int> signal = std::nullopt);
// skiff kill: "is not running" unless it runs.
Status KillContainer(Engine& e, const std::string& ref, int sig);
// skiff rm: refuses a running container without force (Docker's text); removes its
// mounts, runtime state, cgroup, directory and, with volumes, its anonymous volumes.
Status RemoveContainer(Engine& e, const std::string& ref, bool force, bool volumes);
// skiff wait: blocks until the container is not running; its exit code.
Result<int> WaitContainer(Engine& e, const std::string& ref);

// The record, reconciled with the kernel: a record that says running whose monitor and
// process are gone is marked exited and its mounts, cgroup and runtime state cleaned up.
Result<ContainerRecord> Refresh(Engine& e, const std::string& ref);
// Every record, each reconciled, oldest first.
Result<std::vector<ContainerRecord>> ListContainers(Engine& e);

// docker inspect's document for a container (one object; the CLI makes the array).
std::string InspectJson(const Engine& e, const ContainerRecord& r);

// Docker's ps STATUS column: "Up 3 seconds", "Exited (0) 5 minutes ago", "Created";
// now_s = seconds since the epoch.
std::string StatusText(const ContainerRecord& r, int64_t now_s);
// Docker's HumanDuration (go-units): "Less than a second", "1 second", "N seconds", "About a
// minute", "N minutes", "About an hour", "N hours" (rounded), "N days", "N weeks",
// "N months", "N years". ps's STATUS and CREATED and images' CREATED all use it.
std::string HumanDuration(int64_t seconds);

// ps --filter: status=, name=, id=, ancestor=, exited=; "invalid filter" on others.
struct PsFilter {
  std::string key, value;
};
Result<PsFilter> ParsePsFilter(const std::string& text);
// All filters must match; several values of one key match when any does (Docker).
bool MatchesFilters(const ContainerRecord& r, const std::vector<PsFilter>& filters);

}  // namespace skiff::engine
