// The operations on an existing container that `skiff` offers beside its lifecycle: exec,
// top, stats, pause/unpause, port, rename, restart, cp, container prune, system df and
// prune; and explain mode's engine steps (before the runtime's: runtime/explain.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/containers.h"
#include "engine/copy.h"
#include "engine/stats.h"

namespace skiff::runtime {
class Explain;
}

namespace skiff::engine {

// Explain mode is per process (one `skiff run --explain`): the engine's steps and the
// runtime's go to the Explain set here; nullptr (the default) is off.
void SetExplain(runtime::Explain* ex);
runtime::Explain* CurrentExplain();
// The engine's steps, each a no-op when explain is off.
void ExplainImage(const std::string& ref, const std::string& image_id,
                  const std::vector<std::string>& lower_dirs);
void ExplainOverlay(const std::vector<std::string>& lower, const std::string& upper,
                    const std::string& work, const std::string& target);
void ExplainSpec(const std::string& config_path, size_t bytes);

// "Container <id> is not running" unless it runs (Docker's text).
Result<ContainerRecord> RunningContainer(Engine& e, const std::string& ref);

struct ExecRequest {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string user;  // name or uid[:gid], resolved in the container's /etc/passwd
  std::string workdir;
  bool interactive = false, tty = false, detach = false;
};
// The process's exit code (0 once started with detach). A failed start gives an Error;
// StartExitCode turns it into Docker's 126/127/125.
Result<int> ExecContainer(Engine& e, const std::string& ref, const ExecRequest& req);

// docker wait --condition (the API's): not-running (the default: returns at once when it
// is not running), next-exit (the next exit from now, even of a container not yet started
// again), removed (once its record is gone). The exit code last seen.
enum class WaitCondition { kNotRunning, kNextExit, kRemoved };
Result<WaitCondition> ParseWaitCondition(const std::string& text);
Result<int> WaitContainerFor(Engine& e, const std::string& ref, WaitCondition c);

// docker top: the table of the container's processes; ps_args are the ps options after the
// container (top.h: ParsePsOptions), checked before the container is looked at.
Result<std::string> TopContainer(Engine& e, const std::string& ref,
                                 const std::vector<std::string>& ps_args = {});

// docker stats: targets and samples per container (stopped ones read as zeros).
struct StatsSource {
  StatsTarget target;
  bool running = false;
};
Result<std::vector<StatsSource>> StatsSources(Engine& e, const std::vector<std::string>& refs,
                                              bool all);
Result<StatsSample> SampleContainer(Engine& e, const StatsSource& s);

Status PauseContainer(Engine& e, const std::string& ref);
Status UnpauseContainer(Engine& e, const std::string& ref);
Status RenameContainer(Engine& e, const std::string& ref, const std::string& new_name);
Status RestartContainer(Engine& e, const std::string& ref, std::optional<int> timeout);

// docker cp: one of src/dest is "CONTAINER:PATH". A stopped container's overlay is mounted
// for the copy and unmounted after.
Status CopyContainer(Engine& e, const std::string& src, const std::string& dest,
                     const CopyOptions& o);

// container prune: every stopped container; their ids and the bytes their upper dirs held.
struct PruneReport {
  std::vector<std::string> deleted;
  uint64_t reclaimed = 0;
};
Result<PruneReport> PruneContainers(Engine& e);

// image prune / system prune's images, as Docker: dangling images (untagged: their tag
// moved on) that no container uses; with all, every image no container uses (its tags
// removed). Mounted images (image mount) stay. lines are Docker's "untagged: REF" and
// "deleted: sha256:ID"; reclaimed counts the store's and the layers' bytes. The blobs and
// layers of containers' images stay, dangling or not.
struct ImagePruneReport {
  std::vector<std::string> lines;
  uint64_t reclaimed = 0;
};
Result<ImagePruneReport> PruneImages(Engine& e, bool all);

// What the containers use of the image store: their image IDs (with one container each,
// for Docker's conflict texts) and the chain IDs of their layer dirs.
struct ImagesInUse {
  std::map<std::string, std::string> image_ids;  // image ID -> a container's ID
  std::set<std::string> layers;
};
Result<ImagesInUse> ContainersImages(Engine& e);
// Garbage collection of the store and the layer dirs that keeps what containers use, even
// of an image no reference names any more (dangling). Bytes reclaimed.
Result<uint64_t> CollectUnusedImageData(Engine& e, const ImagesInUse& use);

// system df's rows: Images, Containers, Local Volumes, Build Cache.
struct DfRow {
  std::string type;
  int total = 0, active = 0;
  uint64_t size = 0, reclaimable = 0;
};
Result<std::vector<DfRow>> DiskUsage(Engine& e);
std::string DiskUsageTable(const std::vector<DfRow>& rows);

// Bytes below a directory (files' st_blocks, as du), not crossing mounts; 0 when missing.
uint64_t DirBytes(const std::string& path);

}  // namespace skiff::engine
