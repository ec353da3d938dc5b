// The container records: <root>/containers/<id>/record.json, one per container, written
// atomically (temp file + rename). Names are unique: every change that could break that
// (create, rename, remove) holds an flock on <root>/containers/.lock, and so does every
// read-modify-write of a record, so that a monitor recording an exit and a rename at the
// same moment don't lose each other's change. Reads take no lock: a record file is always
// whole. The JSON keys are those of `docker inspect` where Docker has one.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "engine/run_options.h"
#include "oci/image_spec.h"
#include "oci/spec.h"

namespace skiff::engine {

// kRestarting: exited, and its monitor waits out the restart policy's delay (Docker's
// "restarting": Running and Restarting true, no process).
enum class ContainerStatus { kCreated, kRunning, kPaused, kExited, kDead, kRestarting };
const char* StatusName(ContainerStatus s);  // "created", "running", ...

// What the record keeps of the request: enough for ps/inspect, restarts and --rm.
struct RecordConfig {
  std::vector<std::string> args;  // the process args the spec got (ps's COMMAND)
  // What inspect's Config shows: the entrypoint and cmd args came from (image or flags).
  std::vector<std::string> entrypoint, cmd;
  std::string hostname;
  std::string user;
  bool tty = false;
  bool interactive = false;
  bool detach = false;
  bool auto_remove = false;
  bool privileged = false;
  RestartPolicy restart;
  std::string stop_signal;  // "" = SIGTERM
  int stop_timeout = 10;
  NetworkMode network = NetworkMode::kDefault;
  Isolation isolation = Isolation::kDefault;
  // The overlay's lower dirs, top first (remounted at each start; GraphDriver.LowerDir).
  std::vector<std::string> lower_dirs;
  // Anonymous volumes made for the container (rm -v removes them).
  std::vector<std::string> anonymous_volumes;
};

struct ContainerRecord {
  std::string id;        // 64 hex
  std::string name;      // without Docker's leading "/"
  std::string image;     // the reference as typed
  std::string image_id;  // "sha256:..." of the config
  std::string created;   // RFC3339Nano, UTC
  RecordConfig config;
  ContainerStatus status = ContainerStatus::kCreated;
  pid_t pid = 0;
  int exit_code = 0;
  bool oom_killed = false;
  std::string started_at;   // RFC3339Nano; kZeroTime until it first starts
  std::string finished_at;  // RFC3339Nano; kZeroTime until it first stops
  std::string error;        // why it is dead, or the last start failure
  // When the last start that failed ended (RFC3339Nano; "" for none): a container that
  // never ran keeps its FinishedAt, so this is what `wait --condition next-exit` sees change.
  std::string start_failed_at;
  int restart_count = 0;
  pid_t monitor_pid = 0;
  unsigned long long monitor_start = 0;  // /proc/<pid>/stat starttime: a reused pid is not it
  // Set by stop/kill-by-user: the restart policy leaves the container stopped, as Docker's
  // "has been manually stopped"; cleared by start.
  bool stopped_by_user = false;
};

// The record's config for a request and the spec generated for it: the spec's args and
// hostname, the user as asked (-u, else the image's User), the stop signal (--stop-signal,
// else the image's StopSignal, else "" = SIGTERM) and timeout (default 10 s).
RecordConfig MakeRecordConfig(const oci::ImageConfig& image, const RunOptions& opts,
                              const oci::Spec& spec);

inline constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";  // Go's zero time.Time

std::string RecordJson(const ContainerRecord& r);
Result<ContainerRecord> ParseRecord(const std::string& text);

// Go's time.RFC3339Nano in UTC ("2024-05-01T10:11:12.5Z": trailing zeros trimmed).
std::string FormatRfc3339Nano(int64_t seconds, long nanos);
std::string NowRfc3339Nano();
// 32 bytes of /dev/urandom in hex; never all digits in its 12-character short form (moby).
Result<std::string> NewContainerId();
// Docker's adjective_surname names.
Result<std::string> GenerateName();
// 64 lowercase hex digits: a container id (NewContainerId), or an anonymous volume's name.
bool IsHexId(std::string_view s);

// Whether e is Lookup's (or Load's) "No such container: REF".
bool IsNoSuchContainer(const Error& e);

class RecordStore {
 public:
  // <root>/containers, created when missing.
  static Result<RecordStore> Open(const std::string& root);

  // A new id and its directory, without a record: List and Lookup don't see it until
  // Create writes one, so a container can be built in it (bundle, mounts) and appear whole.
  // The directory is flocked for as long as `lock` lives (keep it until Create returns): a
  // directory without a record and without that lock is what a create that died left.
  struct Building {
    std::string id;
    UniqueFd lock;
  };
  Result<Building> NewDir();
  // A directory taken for removal, <root>/containers/.removing-<id>, flocked for as long
  // as `lock` lives: a .removing- directory whose lock is free is one whose remover died.
  struct Taken {
    std::string path;
    UniqueFd lock;
  };
  // What commands that died left (no process holds their lock): the directories of creates
  // that died before writing their record, each renamed to .removing-<id> under the store
  // lock, and the .removing- directories of removals that died before the tree was gone.
  // Returned locked, for the caller to unmount what is mounted in them and remove them.
  Result<std::vector<Taken>> TakeOrphans();
  // Under the lock: a generated name when it has none, and a creation time; refuses a
  // name in use with Docker's conflict text; writes the record, once. rec.id is a
  // directory from NewDir (left for the caller to remove when Create fails), or empty for
  // a new one.
  Result<ContainerRecord> Create(ContainerRecord rec);
  // By full id, then name, then unique id prefix: "No such container: X" (code 0, the
  // whole line is the message), or
  // "multiple IDs found with provided prefix: X".
  Result<ContainerRecord> Lookup(const std::string& ref) const;
  // Read-modify-write of one record under the lock. fn may not change id or name. A record
  // fn leaves as it was is not written again (each rewrite is a new inode on ext4, and the
  // old one's block is freed: a synchronous discard with -o discard).
  Result<ContainerRecord> Update(const std::string& id,
                                 const std::function<void(ContainerRecord*)>& fn);
  Status Rename(const std::string& ref, const std::string& new_name);
  // Every record, oldest first.
  Result<std::vector<ContainerRecord>> List() const;
  // Deletes the container's directory (record, bundle, logs). The directory is flocked,
  // then renamed away to .removing-<id> under the store lock, so a crash midway leaves no
  // half record behind; then its tree is removed by RemoveTreeParallel, the flock held
  // until it is gone (a removal that dies is finished by TakeOrphans). dir_lock: the
  // directory's flocked fd when the caller holds one (a create rolling back its NewDir).
  Status Remove(const std::string& id, UniqueFd dir_lock = UniqueFd());

  // <root>/containers/<id>: where the bundle, upper/, work/ and logs go too.
  std::string Dir(const std::string& id) const { return dir_ + "/" + id; }

 private:
  explicit RecordStore(std::string dir) : dir_(std::move(dir)) {}
  Result<ContainerRecord> Load(const std::string& id) const;
  Result<std::string> MakeDirLocked();  // under the store lock
  Status Write(const ContainerRecord& r) const;
  Result<std::vector<ContainerRecord>> ListUnlocked() const;
  std::string dir_;
};

}  // namespace skiff::engine
