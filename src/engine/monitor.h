// The per-container monitor: the process that starts a container's process with the
// runtime library, copies its output into the json-file log (and, in the foreground, to the
// terminal), waits for it, records the exit (code, OOM kill, time), applies the restart
// policy, and cleans up (runtime state, cgroup, rootfs mount; the whole container with --rm).
// `run -d` and `start` fork one per container; a foreground `run` is its own monitor.
#pragma once

#include <functional>
#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "engine/containers.h"

namespace skiff::engine {

// Runs the container until it stops for good, in the calling process. on_started is
// called once: after the first start, with Ok or why it failed (then the monitor returns
// the error too). foreground: stdio is our own (tee'd into the log), signals are forwarded.
// Returns the last exit code.
Result<int> MonitorContainer(Engine& e, const std::string& id, bool foreground,
                             const std::function<void(const Status&)>& on_started);

// The detached monitor after skiff-monitor saw the container exit (skiff container
// __monitor ID --exit-code N, exec'd by it in the same process): records the exit, restarts
// per the policy or cleans up.
Result<int> ContinueMonitor(Engine& e, const std::string& id, int exit_code);

// Forks a detached monitor (setsid, a subreaper, stdio on /dev/null, every other fd closed)
// and returns once the container's process runs, or with the start error.
Status SpawnMonitor(Engine& e, const std::string& id);

// Whether the record's monitor still runs (pid and start time match).
bool MonitorAlive(const ContainerRecord& r);
// The record's monitor, pinned by a pidfd and checked to be it after opening (a reused pid
// is not); invalid when it is gone or is the calling process.
UniqueFd MonitorFd(const ContainerRecord& r);
// Ends the restart delay of the record's monitor, if it is in one: it then reads the record,
// and leaves when the user stopped the container (stop, rm -f). A monitor that is not
// waiting ignores it.
void WakeMonitor(const ContainerRecord& r);

// Sleeps ms milliseconds, resumed across signals: the engine's polling loops (wait, stop,
// rm, prune, restart).
void SleepMs(int64_t ms);

}  // namespace skiff::engine
