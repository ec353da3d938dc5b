#include "engine/container_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <set>

#include "base/fd.h"
#include "base/file.h"
#include "cgroup/manager.h"
#include "engine/container_fs.h"
#include "engine/monitor.h"
#include "engine/table.h"
#include "engine/top.h"
#include "engine/users.h"
#include "image/image_mount.h"
#include "image/images.h"
#include "image/reference.h"
#include "image/snapshot.h"
#include "oci/spec.h"
#include "runtime/container.h"
#include "runtime/explain.h"
#include "runtime/state.h"

namespace skiff::engine {
namespace {

runtime::Explain* g_explain = nullptr;

bool Active(const ContainerRecord& r) {
  return r.status == ContainerStatus::kRunning || r.status == ContainerStatus::kPaused;
}

std::string Short(const std::string& id) { return id.substr(0, 12); }

// A running container's root as its processes see it, mounts (volumes, binds, tmpfs) in
// place: /proc/PID/root, opened and then checked to still be the container's process (a
// reused pid is not it). Invalid when it is not running.
UniqueFd ProcRoot(Engine& e, const ContainerRecord& r) {
  auto st = runtime::LoadState(e.run_root, r.id);
  if (!st.ok() || st->pid != r.pid || r.pid <= 0) return UniqueFd();
  UniqueFd fd(::open(StrFormat("/proc/%d/root", r.pid).c_str(),
                     O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd || !runtime::ProcessAlive(r.pid, st->pid_start)) return UniqueFd();
  return fd;
}

// What cp sees of a stopped container: its root and the binds of its spec (volumes, -v, the
// /etc files, the init), with their read-only flags.
Result<StoppedRoot> StoppedRootOf(const Engine& e, const ContainerRecord& r) {
  std::string dir = BundleDir(e, r.id);
  StoppedRoot out{RootfsDir(e, r.id), r.config.lower_dirs, dir + "/upper", dir + "/work", {}};
  std::string text = TRY(ReadFile(dir + "/config.json").Wrap("the container's spec"));
  oci::Spec spec = TRY(oci::ParseSpec(text));
  for (const auto& m : spec.mounts) {
    bool bind = m.type == "bind" || m.type.empty();
    bool ro = false;
    for (const auto& o : m.options) {
      bind = bind || o == "bind" || o == "rbind";
      ro = ro || o == "ro";
    }
    if (bind) out.mounts.push_back({m.destination, m.source, ro});
  }
  return out;
}

// r as its record reads once its monitor has gone (it records the exit and cleans up before
// it leaves), or after max_ms with the monitor still there.
Result<ContainerRecord> AwaitMonitorExit(Engine& e, ContainerRecord r, int max_ms) {
  for (int waited_ms = 0; MonitorAlive(r) && waited_ms < max_ms; waited_ms += 20) {
    SleepMs(20);
    r = TRY(e.records.Lookup(r.id));
  }
  return r;
}

Result<std::unique_ptr<cgroup::Manager>> CgroupOf(Engine& e, const ContainerRecord& r) {
  runtime::ContainerState s = TRY(runtime::LoadState(e.run_root, r.id));
  cgroup::Hierarchies h = TRY(cgroup::Detect());
  return cgroup::Open(h, s.cgroup_paths);
}

// Puts fd over 0, 1 and/or 2 for the duration (exec without -i: no stdin, as Docker; -d: no
// output either).
class StdioOver {
 public:
  StdioOver(int fd, bool in, bool out) {
    for (int i = 0; i < 3; ++i) {
      if ((i == 0 && !in) || (i > 0 && !out)) continue;
      saved_[i] = ::fcntl(i, F_DUPFD_CLOEXEC, 3);
      ::dup2(fd, i);
    }
  }
  ~StdioOver() {
    for (int i = 0; i < 3; ++i) {
      if (saved_[i] < 0) continue;
      ::dup2(saved_[i], i);
      ::close(saved_[i]);
    }
  }

 private:
  int saved_[3] = {-1, -1, -1};
};

uint64_t g_du_total = 0;

int AddBlocks(const char*, const struct stat* st, int type, struct FTW*) {
  if (type == FTW_F || type == FTW_D || type == FTW_SL) g_du_total += st->st_blocks * 512ULL;
  return 0;
}

}  // namespace

void SetExplain(runtime::Explain* ex) { g_explain = ex; }
runtime::Explain* CurrentExplain() { return g_explain; }

void ExplainImage(const std::string& ref, const std::string& image_id,
                  const std::vector<std::string>& lower_dirs) {
  if (!g_explain) return;
  g_explain->Stepf("engine", "image", "%s resolved to %s, %zu layers", ref.c_str(),
                   image_id.c_str(), lower_dirs.size());
  for (size_t i = 0; i < lower_dirs.size(); ++i)
    g_explain->Stepf("engine", "layer", "%zu: %s (unpacked once, shared)", i + 1,
                     lower_dirs[i].c_str());
}

void ExplainOverlay(const std::vector<std::string>& lower, const std::string& upper,
                    const std::string& work, const std::string& target) {
  if (!g_explain) return;
  std::string dirs;
  for (const auto& l : lower) dirs += (dirs.empty() ? "" : ":") + l;
  g_explain->Stepf("engine", "mount",
                   "overlay on %s type overlay lowerdir=%s,upperdir=%s,workdir=%s", target.c_str(),
                   dirs.c_str(), upper.c_str(), work.c_str());
}

void ExplainSpec(const std::string& config_path, size_t bytes) {
  if (!g_explain) return;
  g_explain->Stepf("engine", "spec", "OCI runtime spec written: %s (%zu bytes)",
                   config_path.c_str(), bytes);
}

Result<ContainerRecord> RunningContainer(Engine& e, const std::string& ref) {
  ContainerRecord r = TRY(Refresh(e, ref));
  if (!Active(r)) return MakeError(0, "Container %s is not running", Short(r.id).c_str());
  return r;
}

Result<int> ExecContainer(Engine& e, const std::string& ref, const ExecRequest& req) {
  ContainerRecord r = TRY(RunningContainer(e, ref));
  if (r.status == ContainerStatus::kPaused)
    return MakeError(0, "Container %s is paused, unpause the container before exec",
                     Short(r.id).c_str());
  runtime::ExecOptions o;
  o.root = e.run_root;
  o.id = r.id;
  o.args = req.args;
  o.env = req.env;
  o.cwd = req.workdir;
  o.tty = req.tty;
  o.detach = req.detach;
  if (!req.user.empty()) {
    // Names are looked up in the container's files, never through the host's NSS.
    UniqueFd rootfd(::open(RootfsDir(e, r.id).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!rootfd) return Errno("open the container's root");
    ResolvedUser u = TRY(ResolveUser(rootfd.get(), req.user));
    o.user = StrFormat("%u:%u", u.uid, u.gid);
    for (uint32_t g : u.additional_gids) o.additional_gids.push_back(g);
  }
  if (req.tty && req.detach)
    return MakeError(EINVAL, "-d with -t: a detached exec has no terminal to attach");
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) return Errno("open /dev/null");
  StdioOver quiet(devnull.get(), !req.interactive, req.detach);
  return runtime::Exec(o);
}

Result<WaitCondition> ParseWaitCondition(const std::string& text) {
  if (text == "not-running" || text.empty()) return WaitCondition::kNotRunning;
  if (text == "next-exit") return WaitCondition::kNextExit;
  if (text == "removed") return WaitCondition::kRemoved;
  return MakeError(EINVAL, "invalid condition: \"%s\" (not-running, next-exit or removed)",
                   text.c_str());
}

Result<int> WaitContainerFor(Engine& e, const std::string& ref, WaitCondition c) {
  ContainerRecord r = TRY(Refresh(e, ref));
  if (c == WaitCondition::kNotRunning) {
    // Docker's not-running is met at once by a container that is not running, one that
    // was only created included (moby State.Wait).
    if (r.status == ContainerStatus::kCreated && !MonitorAlive(r)) return r.exit_code;
    return WaitContainer(e, r.id);
  }
  // An exit shows as a new FinishedAt on a record that is no longer running (restarting
  // counts: Docker's waiters are woken when a restart begins); a start that failed, as a new
  // StartFailedAt (a container that never ran keeps its FinishedAt): Docker's next-exit
  // returns then too, with the failed start's exit code.
  const std::string since = r.finished_at, failed_since = r.start_failed_at;
  int code = r.exit_code;
  for (;;) {
    auto cur = Refresh(e, r.id);
    if (!cur.ok()) {
      if (IsNoSuchContainer(cur.error())) return code;
      return std::move(cur).error();
    }
    code = cur->exit_code;
    bool exited = cur->finished_at != since && !Active(*cur);
    if (c == WaitCondition::kNextExit && (exited || cur->start_failed_at != failed_since))
      return code;
    SleepMs(20);
  }
}

Result<std::string> TopContainer(Engine& e, const std::string& ref,
                                 const std::vector<std::string>& ps_args) {
  std::vector<TopField> fields = TRY(ParsePsOptions(ps_args));
  ContainerRecord r = TRY(RunningContainer(e, ref));
  auto cg = TRY(CgroupOf(e, r));
  std::vector<pid_t> pids = TRY(cg->GetPids());
  return TopTable(pids, fields);
}

Result<std::vector<StatsSource>> StatsSources(Engine& e, const std::vector<std::string>& refs,
                                              bool all) {
  std::vector<ContainerRecord> recs;
  if (refs.empty()) {
    for (auto& r : TRY(ListContainers(e)))
      if (all || Active(r)) recs.push_back(std::move(r));
  } else {
    for (const auto& ref : refs) recs.push_back(TRY(Refresh(e, ref)));
  }
  std::vector<StatsSource> out;
  for (size_t i = 0; i < recs.size(); ++i) {
    const ContainerRecord& r = recs[i];
    StatsSource s;
    if (!refs.empty()) s.target.ref = refs[i];  // Docker's "Container": the name as typed
    s.target.id = r.id;
    s.target.name = r.name;
    s.target.pid = Active(r) ? r.pid : 0;
    // --network none and host have no interfaces of their own: Docker prints 0B / 0B.
    s.target.own_network =
        r.config.network != NetworkMode::kNone && r.config.network != NetworkMode::kHost;
    s.running = Active(r);
    out.push_back(std::move(s));
  }
  return out;
}

Result<StatsSample> SampleContainer(Engine& e, const StatsSource& s) {
  if (!s.running) return StatsSample{};
  auto rec = e.records.Lookup(s.target.id);
  if (!rec.ok()) return StatsSample{};  // removed meanwhile
  auto cg = CgroupOf(e, *rec);
  if (!cg.ok()) return StatsSample{};  // stopped meanwhile: zeros, as Docker
  return TakeSample(**cg, s.target);
}

Status PauseContainer(Engine& e, const std::string& ref) {
  ContainerRecord r = TRY(RunningContainer(e, ref));
  if (r.status == ContainerStatus::kPaused)
    return MakeError(0, "Container %s is already paused", Short(r.id).c_str());
  TRY(runtime::Pause(e.run_root, r.id));
  TRY(e.records.Update(r.id, [](ContainerRecord* c) {
    if (c->status == ContainerStatus::kRunning) c->status = ContainerStatus::kPaused;
  }));
  return Ok();
}

Status UnpauseContainer(Engine& e, const std::string& ref) {
  ContainerRecord r = TRY(Refresh(e, ref));
  if (r.status != ContainerStatus::kPaused)
    return MakeError(0, "Container %s is not paused", Short(r.id).c_str());
  TRY(runtime::Resume(e.run_root, r.id));
  TRY(e.records.Update(r.id, [](ContainerRecord* c) {
    if (c->status == ContainerStatus::kPaused) c->status = ContainerStatus::kRunning;
  }));
  return Ok();
}

Status RenameContainer(Engine& e, const std::string& ref, const std::string& new_name) {
  return e.records.Rename(ref, new_name);
}

Status RestartContainer(Engine& e, const std::string& ref, std::optional<int> timeout) {
  ContainerRecord r = TRY(Refresh(e, ref));
  // Restarting: the stop ends the restart delay, and this start is the restart.
  if (Active(r) || r.status == ContainerStatus::kRestarting) TRY(StopContainer(e, r.id, timeout));
  // The stopped container's monitor records the exit and cleans up before it leaves; a
  // start before that would find it "restarting".
  r = TRY(AwaitMonitorExit(e, std::move(r), 10000));
  return StartContainer(e, r.id);
}

Status CopyContainer(Engine& e, const std::string& src, const std::string& dest,
                     const CopyOptions& o) {
  auto [sc, sp] = SplitCopyArg(src);
  auto [dc, dp] = SplitCopyArg(dest);
  if (sc.empty() && dc.empty()) return MakeError(0, "must specify at least one container source");
  if (!sc.empty() && !dc.empty())
    return MakeError(0, "copying between containers is not supported");
  ContainerRecord r = TRY(Refresh(e, sc.empty() ? dc : sc));
  // The root is a pinned fd, handed on by its /proc/self/fd name, so that no other process
  // can stand in for it.
  auto copy = [&](int rootfd) -> Status {
    std::string at = StrFormat("/proc/self/fd/%d", rootfd);
    return sc.empty() ? CopyIn(at, sp, dp, o) : CopyOut(at, sp, dp, o);
  };
  // Running: through its own root, where the kernel has its mounts in place.
  if (Active(r)) {
    UniqueFd root = ProcRoot(e, r);
    if (root) return copy(root.get());
  }
  // Stopped: the same copy, against its root assembled with its mounts in a namespace of
  // a child's own (as Docker mounts them for cp), so that a link into a volume, a parent of
  // a mount point and the file binds read as they would in the container, and a copy into
  // a volume or bind writes into its source.
  StoppedRoot root = TRY(StoppedRootOf(e, r));
  return InStoppedRoot(root, copy);
}

uint64_t DirBytes(const std::string& path) {
  g_du_total = 0;
  (void)::nftw(path.c_str(), AddBlocks, 32, FTW_PHYS | FTW_MOUNT);
  return g_du_total;
}

Result<PruneReport> PruneContainers(Engine& e) {
  PruneReport rep;
  for (ContainerRecord r : TRY(ListContainers(e))) {
    if (Active(r) || r.status == ContainerStatus::kRestarting) continue;
    // Just stopped: its monitor may still be cleaning up (unmount, record); a moment.
    auto settled = AwaitMonitorExit(e, std::move(r), 3000);
    if (!settled.ok()) continue;  // removed meanwhile
    r = std::move(settled.value());
    if (Active(r) || MonitorAlive(r)) continue;
    uint64_t bytes = DirBytes(BundleDir(e, r.id) + "/upper");
    Status st = RemoveContainer(e, r.id, false, false);
    if (!st.ok()) continue;  // started or removed meanwhile
    rep.deleted.push_back(r.id);
    rep.reclaimed += bytes;
  }
  return rep;
}

Result<ImagesInUse> ContainersImages(Engine& e) {
  ImagesInUse use;
  std::string layers = e.root + "/layers/";
  for (const ContainerRecord& r : TRY(ListContainers(e))) {
    use.image_ids.emplace(r.image_id, r.id);
    for (const auto& d : r.config.lower_dirs)
      if (d.rfind(layers, 0) == 0) use.layers.insert("sha256:" + d.substr(layers.size()));
  }
  return use;
}

namespace {

// An image that prune keeps: a container's, or mounted by `image mount`.
bool ImageKept(const ImagesInUse& use, const image::ImageMounts& mounts, const std::string& id) {
  return use.image_ids.count(id) || mounts.IsMounted(id);
}

}  // namespace

Result<uint64_t> CollectUnusedImageData(Engine& e, const ImagesInUse& use) {
  image::Store store = TRY(image::Store::Open(e.root + "/oci"));
  image::LayerStore layers = TRY(image::LayerStore::Open(e.root + "/layers"));
  image::ImageMounts mounts(e.root + "/mounts");
  uint64_t before = DirBytes(store.dir()) + DirBytes(layers.dir());
  std::vector<std::string> keep_manifests;
  for (const auto& d : TRY(image::DanglingImages(store)))
    if (ImageKept(use, mounts, d.config_digest)) keep_manifests.push_back(d.manifest_digest);
  TRY(image::CollectGarbage(store, keep_manifests));
  TRY(image::PruneLayers(store, layers, use.layers));
  uint64_t after = DirBytes(store.dir()) + DirBytes(layers.dir());
  return before > after ? before - after : 0;
}

Result<ImagePruneReport> PruneImages(Engine& e, bool all) {
  ImagePruneReport rep;
  image::Store store = TRY(image::Store::Open(e.root + "/oci"));
  image::ImageMounts mounts(e.root + "/mounts");
  ImagesInUse use = TRY(ContainersImages(e));
  for (const auto& d : TRY(image::DanglingImages(store)))
    if (!ImageKept(use, mounts, d.config_digest)) rep.lines.push_back("deleted: " + d.config_digest);
  if (all) {
    for (const auto& img : TRY(image::ListImages(store))) {
      if (ImageKept(use, mounts, img.config_digest)) continue;
      for (const auto& ref : img.refs) {
        TRY(store.RemoveRef(ref));
        auto parsed = image::ParseReference(ref);
        rep.lines.push_back("untagged: " + (parsed.ok() ? parsed->Familiar() : ref));
      }
      rep.lines.push_back("deleted: " + img.config_digest);
    }
  }
  rep.reclaimed = TRY(CollectUnusedImageData(e, use));
  return rep;
}

Result<std::vector<DfRow>> DiskUsage(Engine& e) {
  std::vector<ContainerRecord> recs = TRY(ListContainers(e));
  DfRow images{"Images"}, containers{"Containers"}, volumes{"Local Volumes"}, cache{"Build Cache"};
  std::set<std::string> used_images, used_volumes;
  for (const auto& r : recs) {
    used_images.insert(r.image_id);
    for (const auto& v : r.config.anonymous_volumes) used_volumes.insert(v);
    uint64_t bytes = DirBytes(BundleDir(e, r.id) + "/upper");
    ++containers.total;
    containers.size += bytes;
    if (Active(r)) {
      ++containers.active;
    } else {
      containers.reclaimable += bytes;
    }
  }
  auto store = image::Store::Open(e.root + "/oci");
  if (store.ok()) {
    for (const auto& img : TRY(image::ListImages(*store))) {
      ++images.total;
      images.size += static_cast<uint64_t>(img.size);
      if (used_images.count(img.config_digest)) {
        ++images.active;
      } else {
        images.reclaimable += static_cast<uint64_t>(img.size);
      }
    }
  }
  std::string vdir = VolumesDir(e);
  if (UniqueFd d{::open(vdir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)}; d) {
    DIR* dir = ::fdopendir(d.release());
    while (struct dirent* de = dir ? ::readdir(dir) : nullptr) {
      if (de->d_name[0] == '.') continue;
      uint64_t bytes = DirBytes(vdir + "/" + de->d_name);
      ++volumes.total;
      volumes.size += bytes;
      if (used_volumes.count(de->d_name)) {
        ++volumes.active;
      } else {
        volumes.reclaimable += bytes;
      }
    }
    if (dir) ::closedir(dir);
  }
  return std::vector<DfRow>{images, containers, volumes, cache};
}

std::string DiskUsageTable(const std::vector<DfRow>& rows) {
  std::vector<std::vector<std::string>> t = {{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"}};
  for (const DfRow& r : rows) {
    std::string rec = HumanSize(static_cast<double>(r.reclaimable));
    // The share as Docker prints it, when there is anything at all.
    if (r.size > 0) rec += StrFormat(" (%d%%)", static_cast<int>(r.reclaimable * 100 / r.size));
    t.push_back({r.type, std::to_string(r.total), std::to_string(r.active),
                 HumanSize(static_cast<double>(r.size)), rec});
  }
  return TabTable(t);
}

}  // namespace skiff::engine
