#include "engine/containers.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

#include "base/fd.h"
#include "base/file.h"
#include "base/syscalls.h"
#include "cgroup/manager.h"
#include "engine/container_fs.h"
#include "engine/container_ops.h"
#include "engine/monitor.h"
#include "engine/spec_gen.h"
#include "engine/users.h"
#include "image/images.h"
#include "runtime/container.h"
#include "runtime/state.h"

namespace skiff::engine {
namespace {

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

bool IsNoSuchImage(const Error& e) { return e.Message().rfind("no such image", 0) == 0; }

Result<image::Image> ResolveImage(Engine& e, const image::Store& store, const RunOptions& o) {
  if (o.pull == PullPolicy::kAlways) {
    if (!e.pull) return MakeError(0, "--pull always: no way to pull here");
    TRY(e.pull(o.image, o.platform));
    return image::FindImage(store, o.image);
  }
  auto img = image::FindImage(store, o.image);
  if (img.ok() || !IsNoSuchImage(img.error())) return img;
  auto name = image::StoredName(o.image);
  std::string shown = name.ok() ? *name : o.image;
  if (o.pull == PullPolicy::kNever || !e.pull) return MakeError(0, "No such image: %s", shown.c_str());
  fprintf(stderr, "Unable to find image '%s' locally\n", o.image.c_str());
  TRY(e.pull(o.image, o.platform));
  return image::FindImage(store, o.image);
}

// The parts of a new container that exist on disk, undone together on failure.
struct Undo {
  Engine* e = nullptr;
  RecordStore::Building* building = nullptr;  // its directory, and the flock on it
  std::vector<std::string> volumes;
  bool armed = true;
  ~Undo() {
    if (!armed) return;
    for (const auto& v : volumes) (void)RemoveAll(VolumesDir(*e) + "/" + v);
    // Never remove the directory through a mount that is still there.
    if (UnmountAll(RootfsDir(*e, building->id)).ok())
      (void)e->records.Remove(building->id, std::move(building->lock));
  }
};

bool IsRunning(const ContainerRecord& r) {
  return r.status == ContainerStatus::kRunning || r.status == ContainerStatus::kPaused;
}

// Waits until pred(record) or timeout; the last record read.
Result<ContainerRecord> WaitRecord(Engine& e, const std::string& id, int timeout_ms,
                                   const std::function<bool(const ContainerRecord&)>& pred) {
  for (int waited = 0;; waited += 20) {
    ContainerRecord r = TRY(Refresh(e, id));
    if (pred(r) || (timeout_ms >= 0 && waited >= timeout_ms)) return r;
    SleepMs(20);
  }
}

// The container's host process, if it still runs: pinned by a pidfd.
UniqueFd ProcessFd(const Engine& e, const ContainerRecord& r) {
  if (r.pid <= 0) return UniqueFd();
  auto st = runtime::LoadState(e.run_root, r.id);
  if (!st.ok() || st->pid != r.pid) return UniqueFd();
  UniqueFd fd(sys::PidfdOpen(r.pid, 0));
  if (!fd || !runtime::ProcessAlive(r.pid, st->pid_start)) return UniqueFd();
  return fd;
}

Status Signal(Engine& e, const ContainerRecord& r, int sig) {
  UniqueFd fd = ProcessFd(e, r);
  if (!fd) return MakeError(ESRCH, "container %s is not running", r.id.c_str());
  if (sys::PidfdSendSignal(fd.get(), sig, 0) < 0) return Errno("signal %d", sig);
  return Ok();
}

int StopSignalOf(const ContainerRecord& r) {
  if (r.config.stop_signal.empty()) return SIGTERM;
  auto s = runtime::ParseSignal(r.config.stop_signal);
  return s.ok() ? *s : SIGTERM;
}

// Marks the container stopped by the user (its restart policy leaves it stopped) under its
// start lock (LockStart), so the record returned names whatever process there is to stop
// and no restart begins after it. A restarting container is exited from now on, and its
// monitor is woken from the delay to clean up and leave.
Result<ContainerRecord> MarkStoppedByUser(Engine& e, const std::string& id) {
  ContainerRecord r;
  {
    FileLock lock = TRY(LockStart(e, id));
    r = TRY(e.records.Update(id, [](ContainerRecord* c) {
      c->stopped_by_user = true;
      if (c->status == ContainerStatus::kRestarting) c->status = ContainerStatus::kExited;
    }));
  }
  if (!IsRunning(r)) WakeMonitor(r);
  return r;
}

}  // namespace

Result<Engine> Engine::Open(const std::string& root) {
  Engine e{root, kRunRoot, "", "", "", TRY(RecordStore::Open(root)), nullptr};
  std::string exe = SelfExe();
  std::string dir = exe.substr(0, exe.rfind('/'));
  if (!dir.empty()) {
    e.skiff_exe = exe;
    for (const char* m : {"/skiff-monitor", "/../libexec/skiff/skiff-monitor"}) {
      if (e.monitor_path.empty() && PathExists(dir + m)) e.monitor_path = dir + m;
    }
    for (const char* c : {"/skiff-init", "/../libexec/skiff/skiff-init"}) {
      if (PathExists(dir + c)) {
        e.init_path = dir + c;
        break;
      }
    }
  }
  if (e.init_path.empty() && PathExists("/usr/libexec/skiff/skiff-init"))
    e.init_path = "/usr/libexec/skiff/skiff-init";
  return e;
}

std::string BundleDir(const Engine& e, const std::string& id) { return e.records.Dir(id); }
std::string RootfsDir(const Engine& e, const std::string& id) { return e.records.Dir(id) + "/rootfs"; }
std::string LogPath(const Engine& e, const std::string& id) {
  return e.records.Dir(id) + "/" + id + "-json.log";
}
std::string VolumesDir(const Engine& e) { return e.root + "/volumes"; }

Result<FileLock> LockStart(const Engine& e, const std::string& id) {
  std::string path = BundleDir(e, id) + "/start.lock";
  auto lock = FileLock::Acquire(path);
  // The directory went with an rm that came first.
  if (!lock.ok() && lock.error().code == ENOENT && !PathExists(BundleDir(e, id)))
    return MakeError(0, "No such container: %s", id.c_str());
  return lock;
}

int StartExitCode(const Error& e) {
  const std::string& m = e.Message();
  bool exec = m.find("exec ") != std::string::npos;
  if (exec && (e.code == ENOENT || m.find("not found") != std::string::npos)) return 127;
  if (exec && (e.code == EACCES || e.code == ENOEXEC || e.code == EISDIR)) return 126;
  return 125;
}

namespace {

// create, and run's create. The container is built in a directory without a record (NewDir),
// and its record is written once, complete, at the end: every rewrite of record.json is a
// new ext4 inode and a freed block. self_monitor: a foreground run names itself the
// monitor in that record, so that a concurrent `start` finds it taken from the outset.
Result<ContainerRecord> Create(Engine& e, const RunOptions& opts,
                               std::vector<std::string>* warnings, bool self_monitor) {
  TRY(ValidateRunOptions(opts, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN))));
  if (!opts.name.empty()) TRY(ValidateContainerName(opts.name));
  image::Store store = TRY(image::Store::Open(e.root + "/oci"));
  image::Image img = TRY(ResolveImage(e, store, opts));
  image::LayerStore layers = TRY(image::LayerStore::Open(e.root + "/layers"));
  std::vector<std::string> lower = TRY(image::UnpackImage(store, layers, img));
  ExplainImage(opts.image, img.config_digest, lower);  // explain mode (container_ops.h)

  ContainerRecord rec;
  RecordStore::Building building = TRY(e.records.NewDir());  // locked until Create returns
  rec.id = building.id;
  Undo undo{&e, &building};
  rec.name = opts.name;
  rec.image = opts.image;
  rec.image_id = img.config_digest;
  rec.started_at = kZeroTime;
  rec.finished_at = kZeroTime;
  std::string dir = BundleDir(e, rec.id);
  for (const char* sub : {"/rootfs", "/upper", "/work"})
    if (::mkdir((dir + sub).c_str(), 0755) < 0) return Errno("mkdir %s%s", dir.c_str(), sub);
  std::string rootfs = RootfsDir(e, rec.id);
  TRY(MountOverlay(lower, dir + "/upper", dir + "/work", rootfs, opts.auto_remove).Wrap("rootfs"));
  ExplainOverlay(lower, dir + "/upper", dir + "/work", rootfs);

  SpecInputs in;
  in.id = rec.id;
  in.rootfs = rootfs;
  {
    UniqueFd rootfd(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!rootfd) return Errno("open %s", rootfs.c_str());
    in.user = TRY(ResolveUser(rootfd.get(), opts.user.empty() ? img.config.config.user : opts.user));
  }
  in.volume_paths =
      TRY(PrepareVolumes(VolumesDir(e), img.config, opts, rootfs, dir, &undo.volumes));
  std::vector<std::string> anon = undo.volumes;
  in.init_path = e.init_path;
  auto h = cgroup::Detect();
  in.cgroup_v2_unified = h.ok() && h->layout == cgroup::Layout::kV2;
  if (h.ok() && h->layout != cgroup::Layout::kV2) {
    auto mem = h->v1.find("memory");
    in.swap_limit_supported =
        mem != h->v1.end() && PathExists(mem->second + "/memory.memsw.limit_in_bytes");
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  in.host_hostname = host;
  if (!opts.security.seccomp_profile.empty())
    in.seccomp_profile_json = TRY(ReadFile(opts.security.seccomp_profile).Wrap("seccomp profile"));
  std::string hostname = opts.network == NetworkMode::kHost ? in.host_hostname
                         : !opts.hostname.empty()           ? opts.hostname
                                                            : rec.id.substr(0, 12);
  if (opts.isolation != Isolation::kChroot) {
    EtcFiles etc = TRY(WriteEtcFiles(dir, hostname, opts.network == NetworkMode::kHost));
    in.hostname_path = etc.hostname;
    in.hosts_path = etc.hosts;
    in.resolv_conf_path = etc.resolv_conf;
  }
  GeneratedSpec gen = TRY(GenerateSpec(img.config, opts, in));
  TRY(WriteNewFile(dir + "/config.json", gen.json, 0600));  // the dir is new and locked
  ExplainSpec(dir + "/config.json", gen.json.size());
  if (warnings) *warnings = gen.warnings;
  RecordConfig rc = MakeRecordConfig(img.config, opts, gen.spec);
  rc.lower_dirs = lower;
  rc.anonymous_volumes = anon;
  rec.config = rc;
  if (self_monitor) {
    e.fresh_id = rec.id;
    e.fresh_json = std::move(gen.json);
    e.fresh_spec = std::move(gen.spec);
    rec.monitor_pid = ::getpid();
    rec.monitor_start = TRY(runtime::ProcessStartTime(::getpid()));
  }
  rec = TRY(e.records.Create(std::move(rec)));
  undo.armed = false;
  // The record lists them now (their markers would tell a sweep to remove them).
  for (const auto& v : anon) UnmarkVolume(dir, v);
  return rec;
}

}  // namespace

Result<ContainerRecord> CreateContainer(Engine& e, const RunOptions& opts,
                                        std::vector<std::string>* warnings) {
  return Create(e, opts, warnings, false);
}

Status StartContainer(Engine& e, const std::string& ref) {
  ContainerRecord found = TRY(e.records.Lookup(ref));
  // Two starts at once: the second waits here, then finds it running.
  FileLock lock = TRY(LockStart(e, found.id));
  ContainerRecord r = TRY(Refresh(e, found.id));
  if (IsRunning(r)) return Ok();  // Docker: starting a running container is a no-op
  if (MonitorAlive(r))  // between two runs of a restart policy
    return MakeError(EBUSY, "container %s is restarting", r.id.substr(0, 12).c_str());
  return SpawnMonitor(e, r.id);
}

Result<int> StartAttached(Engine& e, const std::string& ref) {
  ContainerRecord found = TRY(e.records.Lookup(ref));
  ContainerRecord r;
  {
    FileLock lock = TRY(LockStart(e, found.id));
    r = TRY(Refresh(e, found.id));
    if (IsRunning(r) || MonitorAlive(r))
      return MakeError(EBUSY, "container %s is already running", r.id.substr(0, 12).c_str());
    // The record names us as its monitor before the lock goes: a concurrent start waits.
    auto self = TRY(runtime::ProcessStartTime(::getpid()));
    TRY(e.records.Update(r.id, [&](ContainerRecord* c) {
      c->monitor_pid = ::getpid();
      c->monitor_start = self;
    }));
  }
  Status started = Ok();
  auto rc = MonitorContainer(e, r.id, true, [&](const Status& st) { started = st; });
  if (!started.ok()) return std::move(started).error();
  return rc;
}

Result<RunResult> RunContainer(Engine& e, const RunOptions& opts,
                               std::vector<std::string>* warnings) {
  RunOptions o = opts;
  ContainerRecord rec = TRY(Create(e, o, warnings, !o.detach));
  RunResult res{rec.id, 0};
  if (o.detach) {
    TRY(SpawnMonitor(e, rec.id));
    return res;
  }
  Status started = Ok();
  auto rc = MonitorContainer(e, rec.id, true, [&](const Status& st) { started = st; });
  if (!started.ok()) return std::move(started).error();
  res.exit_code = TRY(std::move(rc));
  return res;
}

Status StopContainer(Engine& e, const std::string& ref, std::optional<int> timeout,
                     std::optional<int> signal) {
  ContainerRecord r = TRY(Refresh(e, ref));
  r = TRY(MarkStoppedByUser(e, r.id));
  if (!IsRunning(r)) return Ok();
  int t = timeout.value_or(r.config.stop_timeout);
  if (r.status == ContainerStatus::kPaused) {
    (void)runtime::Resume(e.run_root, r.id);
  }
  if (t != 0) (void)Signal(e, r, signal.value_or(StopSignalOf(r)));
  {
    UniqueFd fd = ProcessFd(e, r);
    if (fd) {
      struct pollfd p = {fd.get(), POLLIN, 0};
      int ms = t < 0 ? -1 : t * 1000;
      while (::poll(&p, 1, ms) < 0 && errno == EINTR) {
      }
      if (!(p.revents & POLLIN)) (void)sys::PidfdSendSignal(fd.get(), SIGKILL, 0);
    }
  }
  // The monitor records the exit; a container without one is reconciled by Refresh.
  ContainerRecord after =
      TRY(WaitRecord(e, r.id, 10000, [](const ContainerRecord& c) { return !IsRunning(c); }));
  if (IsRunning(after)) return MakeError(ETIMEDOUT, "container %s did not stop", r.id.c_str());
  return Ok();
}

Status KillContainer(Engine& e, const std::string& ref, int sig) {
  ContainerRecord r = TRY(Refresh(e, ref));
  if (r.status == ContainerStatus::kRestarting)
    return MakeError(0,
                     "Cannot kill container: %s: Container %s is restarting, wait until the "
                     "container is running",
                     ref.c_str(), r.id.c_str());
  if (!IsRunning(r))
    return MakeError(0, "cannot kill container: %s: container %s is not running", ref.c_str(),
                     r.id.c_str());
  // As Docker: the stop signal (or SIGKILL) counts as a manual stop for the restart policy;
  // the process to signal is then the one the record names (a restart may have come since).
  if (sig == StopSignalOf(r) || sig == SIGKILL) r = TRY(MarkStoppedByUser(e, r.id));
  Status st = Signal(e, r, sig);
  if (!st.ok())
    return MakeError(0, "cannot kill container: %s: %s", ref.c_str(), st.error().Message().c_str());
  return Ok();
}

namespace {

// rm returns only when the container's monitor is gone too: one still on its way out would
// otherwise touch the store (the records lock) after rm said the container was removed.
void WaitForExit(int pidfd, int timeout_ms) {
  struct pollfd p = {pidfd, POLLIN, 0};
  while (::poll(&p, 1, timeout_ms) < 0 && errno == EINTR) {
  }
}

Status RemoveRecord(Engine& e, const ContainerRecord& r, bool force, bool volumes) {
  if (r.status == ContainerStatus::kRestarting && !force)
    return MakeError(0,
                     "You cannot remove a restarting container %s. Stop the container before "
                     "attempting removal or force remove",
                     r.id.c_str());
  if (IsRunning(r) && !force)
    return MakeError(0,
                     "You cannot remove a running container %s. Stop the container before "
                     "attempting removal or force remove",
                     r.id.c_str());
  // The monitor removing its own exited container (--rm) has nothing to stop or wait for.
  bool own = r.monitor_pid == ::getpid() && !IsRunning(r);
  if (!own && (IsRunning(r) || MonitorAlive(r))) {
    // A monitor in its restart delay is woken by this and leaves.
    auto marked = MarkStoppedByUser(e, r.id);
    if (!marked.ok() && IsNoSuchContainer(marked.error())) return Ok();
    const ContainerRecord& now = marked.ok() ? *marked : r;
    (void)Signal(e, now, SIGKILL);
    if (now.status == ContainerStatus::kPaused) (void)runtime::Resume(e.run_root, r.id);
    // Let the monitor record the exit and let go of the container (it may be removing it
    // itself, with --rm).
    for (int waited = 0; waited < 10000; waited += 20) {
      auto cur = e.records.Lookup(r.id);
      if (!cur.ok()) return Ok();  // the monitor's --rm got there first
      if (!MonitorAlive(*cur) || cur->monitor_pid == ::getpid()) break;
      if (waited == 2000) {
        // Still there, stuck somewhere: we clean up ourselves.
        UniqueFd m = MonitorFd(*cur);
        if (m) (void)sys::PidfdSendSignal(m.get(), SIGKILL, 0);
      }
      SleepMs(20);
    }
  }
  TRY(runtime::Delete(e.run_root, r.id, true));
  TRY(UnmountAll(RootfsDir(e, r.id)));
  for (const auto& v : r.config.anonymous_volumes) {
    if (volumes) (void)RemoveAll(VolumesDir(e) + "/" + v);
    // A create killed just after its record left the markers: a removal that dies must not
    // leave a directory whose markers would have the sweep remove volumes rm keeps.
    UnmarkVolume(BundleDir(e, r.id), v);
  }
  Status st = e.records.Remove(r.id);
  if (!st.ok() && IsNoSuchContainer(st.error())) return Ok();
  return st;
}

}  // namespace

Status RemoveContainer(Engine& e, const std::string& ref, bool force, bool volumes) {
  ContainerRecord r = TRY(Refresh(e, ref));
  UniqueFd monitor = MonitorFd(r);  // pinned before anything is signalled
  Status st = RemoveRecord(e, r, force, volumes);
  if (st.ok() && monitor) WaitForExit(monitor.get(), 5000);
  return st;
}

Result<int> WaitContainer(Engine& e, const std::string& ref) {
  ContainerRecord r = TRY(Refresh(e, ref));
  std::string id = r.id;
  for (;;) {
    auto cur = Refresh(e, id);
    if (!cur.ok()) return r.exit_code;  // removed (--rm): its last known code
    r = std::move(cur.value());
    bool done = r.status == ContainerStatus::kExited || r.status == ContainerStatus::kDead ||
                r.status == ContainerStatus::kRestarting ||
                (r.status == ContainerStatus::kCreated && !r.error.empty() && !MonitorAlive(r));
    // Between the runs of a restart policy the container is restarting: Docker's wait
    // returns at that exit too.
    if (done) return r.exit_code;
    SleepMs(20);
  }
}

Result<ContainerRecord> Refresh(Engine& e, const std::string& ref) {
  ContainerRecord r = TRY(e.records.Lookup(ref));
  bool active = IsRunning(r) || r.monitor_pid > 0;
  if (!active || MonitorAlive(r)) return r;
  // The monitor is gone (SIGKILLed, OOM-killed, the machine...): nobody will record the exit
  // or clean up, so we do, now. Re-read under the record lock: it may have just finished.
  bool was_running = false;
  ContainerRecord out = TRY(e.records.Update(r.id, [&](ContainerRecord* c) {
    if (MonitorAlive(*c) || (!IsRunning(*c) && c->monitor_pid == 0)) return;
    was_running = IsRunning(*c);
    if (c->status == ContainerStatus::kRestarting) c->status = ContainerStatus::kExited;
    if (was_running) {
      c->status = ContainerStatus::kExited;
      c->exit_code = 137;
      c->finished_at = NowRfc3339Nano();
      c->error = "the container's monitor died";
    }
    c->pid = 0;
    c->monitor_pid = 0;
    c->monitor_start = 0;
  }));
  // Delete kills what is left of the container and removes its cgroup and runtime state.
  (void)runtime::Delete(e.run_root, r.id, true);
  (void)UnmountAll(RootfsDir(e, r.id));
  return out;
}

namespace {

// The volumes that containers with a record use, by name: their anonymous ones, and
// whatever their spec mounts from VolumesDir (a named volume, or another's by its id).
Result<std::set<std::string>> VolumesInUse(const Engine& e) {
  std::set<std::string> used;
  std::string vols = VolumesDir(e) + "/";
  for (const ContainerRecord& r : TRY(e.records.List())) {
    used.insert(r.config.anonymous_volumes.begin(), r.config.anonymous_volumes.end());
    auto spec = oci::LoadSpec(BundleDir(e, r.id) + "/config.json");
    if (!spec.ok() && spec.error().code == ENOENT) continue;  // removed meanwhile
    if (!spec.ok()) return std::move(spec).error();
    for (const oci::Mount& m : spec->mounts) {
      if (m.source.rfind(vols, 0) != 0) continue;
      std::string rest = m.source.substr(vols.size());
      used.insert(rest.substr(0, rest.find('/')));
    }
  }
  return used;
}

// The directories of commands that died (TakeOrphans): the anonymous volumes a dead create
// made (its markers; not one a container uses), what is mounted at the rootfs, the tree.
// Each marker goes after its volume, so that a sweep killed halfway leaves the rest to the
// next one (the directory stays locked until it is gone).
void SweepTaken(const Engine& e, std::vector<RecordStore::Taken>& taken) {
  std::optional<Result<std::set<std::string>>> used;  // read once a volume is marked
  for (RecordStore::Taken& t : taken) {
    std::vector<std::string> marked = MarkedVolumes(t.path);
    if (!marked.empty() && !used) used = VolumesInUse(e);
    if (!marked.empty() && !used->ok()) continue;  // in use unknown: left for the next sweep
    for (const std::string& v : marked) {
      if (!(*used)->count(v)) (void)RemoveAll(VolumesDir(e) + "/" + v);
      UnmarkVolume(t.path, v);
    }
    if (UnmountAll(t.path + "/rootfs").ok()) (void)RemoveTreeParallel(t.path, t.lock.get());
  }
}

}  // namespace

Result<std::vector<ContainerRecord>> ListContainers(Engine& e) {
  // What creates and removals that died left (a mounted rootfs, a bundle, anonymous
  // volumes): no one can name them, so ps cleans them up, as it reconciles containers
  // whose monitor died.
  auto taken = e.records.TakeOrphans();
  if (taken.ok()) SweepTaken(e, *taken);
  std::vector<ContainerRecord> out;
  for (const ContainerRecord& r : TRY(e.records.List())) {
    auto cur = Refresh(e, r.id);
    if (cur.ok()) out.push_back(std::move(cur.value()));
  }
  return out;
}

}  // namespace skiff::engine
