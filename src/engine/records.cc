#include "engine/records.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "base/fd.h"
#include "base/file.h"

namespace skiff::engine {
namespace {

using Json = nlohmann::json;

const char* const kStatusNames[] = {"created", "running", "paused", "exited", "dead", "restarting"};
const char* const kRestartNames[] = {"no", "always", "on-failure", "unless-stopped"};
const char* const kNetworkNames[] = {"default", "none", "host"};
const char* const kIsolationNames[] = {"default", "chroot"};

// From moby's pkg/namesgenerator, shortened.
const char* const kLeft[] = {
    "admiring",   "adoring",  "agitated",   "amazing",  "angry",    "awesome",  "blissful",
    "bold",       "boring",   "brave",      "busy",     "charming", "clever",   "cool",
    "cranky",     "dazzling", "determined", "dreamy",   "eager",    "ecstatic", "elegant",
    "epic",       "festive",  "focused",    "friendly", "funny",    "gallant",  "gifted",
    "goofy",      "happy",    "hopeful",    "hungry",   "jolly",    "jovial",   "keen",
    "kind",       "laughing", "loving",     "lucid",    "modest",   "musing",   "nifty",
    "optimistic", "peaceful", "pensive",    "quirky",   "relaxed",  "serene",   "sharp",
    "sleepy",     "stoic",    "sweet",      "tender",   "upbeat",   "vibrant",  "zealous",
};
const char* const kRight[] = {
    "albattani", "allen",   "archimedes", "babbage",  "banach",   "bardeen",   "bartik",
    "bell",      "bohr",    "booth",      "brattain", "curie",    "darwin",    "dijkstra",
    "einstein",  "elion",   "euclid",     "euler",    "fermat",   "fermi",     "feynman",
    "franklin",  "galileo", "gauss",      "goodall",  "hamilton", "hawking",   "hopper",
    "hypatia",   "jackson", "kepler",     "knuth",    "lamarr",   "lovelace",  "meitner",
    "mendel",    "noether", "pascal",     "pasteur",  "pike",     "ramanujan", "ritchie",
    "shannon",   "tesla",   "thompson",   "torvalds", "turing",   "wiles",     "wozniak",
};

template <typename E, size_t N>
const char* NameOf(const char* const (&names)[N], E e) {
  size_t i = static_cast<size_t>(e);
  return i < N ? names[i] : names[0];
}

template <typename E, size_t N>
Result<E> EnumOf(const char* const (&names)[N], const std::string& s, const char* field) {
  for (size_t i = 0; i < N; ++i)
    if (s == names[i]) return static_cast<E>(i);
  return MakeError(0, "%s: unknown value \"%s\"", field, s.c_str());
}

Status RandomBytes(void* buf, size_t n) {
  UniqueFd fd(::open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  if (!fd) return Errno("open /dev/urandom");
  auto* p = static_cast<unsigned char*>(buf);
  while (n > 0) {
    ssize_t r = ::read(fd.get(), p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Errno("read /dev/urandom");
    p += r;
    n -= static_cast<size_t>(r);
  }
  return Ok();
}

Error Conflict(const std::string& name, const std::string& id) {
  return MakeError(0,
                   "Conflict. The container name \"/%s\" is already in use by container \"%s\". "
                   "You have to remove (or rename) that container to be able to reuse that name.",
                   name.c_str(), id.c_str());
}

std::string StripSlash(const std::string& name) {
  return !name.empty() && name[0] == '/' ? name.substr(1) : name;
}

constexpr std::string_view kRemoving = ".removing-";

// The names in dir that are container ids (directories, with or without a record); and,
// from the same listing, the ids of its .removing-<id> directories.
Result<std::vector<std::string>> IdsIn(const std::string& dir,
                                       std::vector<std::string>* removing = nullptr) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Errno("open %s", dir.c_str());
  std::vector<std::string> ids;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (IsHexId(e->d_name)) {
      ids.push_back(e->d_name);
    } else if (removing && name.substr(0, kRemoving.size()) == kRemoving &&
               IsHexId(name.substr(kRemoving.size()))) {
      removing->emplace_back(name.substr(kRemoving.size()));
    }
  }
  ::closedir(d);
  return ids;
}

// The directory at path, flocked: once its lock is free (wait), or at once, invalid when
// someone holds it. The one way the store locks a container's directory (NewDir, Remove,
// TakeOrphans), so that all three agree on what a held lock means.
Result<UniqueFd> LockDir(const std::string& path, bool wait) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Errno("open %s", path.c_str());
  while (::flock(fd.get(), wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0) {
    if (errno == EINTR) continue;
    if (!wait && errno == EWOULDBLOCK) return UniqueFd();
    return Errno("lock %s", path.c_str());
  }
  return fd;
}

Result<FileLock> LockStore(const std::string& dir) {
  return FileLock::Acquire(dir + "/.lock").Wrap("lock the container records");
}

}  // namespace

const char* StatusName(ContainerStatus s) { return NameOf(kStatusNames, s); }

bool IsHexId(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool IsNoSuchContainer(const Error& e) { return e.Message().rfind("No such container", 0) == 0; }

RecordConfig MakeRecordConfig(const oci::ImageConfig& image, const RunOptions& opts,
                              const oci::Spec& spec) {
  RecordConfig c;
  if (spec.process) c.args = spec.process->args;
  // Docker: --entrypoint (one word, "" for none) replaces the image's and drops its Cmd.
  if (opts.entrypoint) {
    if (!opts.entrypoint->empty()) c.entrypoint = {*opts.entrypoint};
  } else {
    c.entrypoint = image.config.entrypoint;
  }
  c.cmd = !opts.args.empty() ? opts.args
          : opts.entrypoint  ? std::vector<std::string>{}
                             : image.config.cmd;
  c.hostname = spec.hostname;
  c.user = opts.user.empty() ? image.config.user : opts.user;
  c.tty = opts.tty;
  c.interactive = opts.interactive;
  c.detach = opts.detach;
  c.auto_remove = opts.auto_remove;
  c.privileged = opts.privileged;
  c.restart = opts.restart;
  c.stop_signal = opts.stop_signal.empty() ? image.config.stop_signal : opts.stop_signal;
  c.stop_timeout = opts.stop_timeout.value_or(10);
  c.network = opts.network;
  c.isolation = opts.isolation;
  return c;
}

std::string FormatRfc3339Nano(int64_t seconds, long nanos) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  ::gmtime_r(&t, &tm);
  char buf[64];
  ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (nanos > 0) {
    char frac[32];
    snprintf(frac, sizeof frac, ".%09ld", nanos);
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

std::string NowRfc3339Nano() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return FormatRfc3339Nano(ts.tv_sec, ts.tv_nsec);
}

Result<std::string> NewContainerId() {
  while (true) {
    unsigned char b[32];
    TRY(RandomBytes(b, sizeof b));
    static const char kHex[] = "0123456789abcdef";
    std::string id;
    for (unsigned char c : b) {
      id += kHex[c >> 4];
      id += kHex[c & 15];
    }
    // An all-digit short id would read as a number (moby stringid).
    if (!std::all_of(id.begin(), id.begin() + 12, [](char c) { return c >= '0' && c <= '9'; }))
      return id;
  }
}

Result<std::string> GenerateName() {
  uint32_t r[2];
  TRY(RandomBytes(r, sizeof r));
  std::string name =
      std::string(kLeft[r[0] % std::size(kLeft)]) + "_" + kRight[r[1] % std::size(kRight)];
  if (name == "boring_wozniak")
    return std::string("focused_wozniak");  // "Steve Wozniak is not boring"
  return name;
}

std::string RecordJson(const ContainerRecord& r) {
  const RecordConfig& c = r.config;
  Json config = {
      {"Cmd", c.args},
      {"ConfigEntrypoint", c.entrypoint},
      {"ConfigCmd", c.cmd},
      {"Hostname", c.hostname},
      {"User", c.user},
      {"Tty", c.tty},
      {"OpenStdin", c.interactive},
      {"Detach", c.detach},
      {"AutoRemove", c.auto_remove},
      {"Privileged", c.privileged},
      {"RestartPolicy",
       {{"Name", NameOf(kRestartNames, c.restart.mode)},
        {"MaximumRetryCount", c.restart.max_retries}}},
      {"StopSignal", c.stop_signal},
      {"StopTimeout", c.stop_timeout},
      {"NetworkMode", NameOf(kNetworkNames, c.network)},
      {"Isolation", NameOf(kIsolationNames, c.isolation)},
      {"LowerDirs", c.lower_dirs},
      {"AnonymousVolumes", c.anonymous_volumes},
  };
  Json state = {
      {"Status", StatusName(r.status)},
      {"Pid", r.pid},
      {"ExitCode", r.exit_code},
      {"OOMKilled", r.oom_killed},
      {"StartedAt", r.started_at},
      {"FinishedAt", r.finished_at},
      {"Error", r.error},
      {"StartFailedAt", r.start_failed_at},
      {"MonitorPid", r.monitor_pid},
      {"MonitorStart", r.monitor_start},
      {"StoppedByUser", r.stopped_by_user},
  };
  Json j = {{"Id", r.id},
            {"Name", "/" + r.name},
            {"Image", r.image},
            {"ImageID", r.image_id},
            {"Created", r.created},
            {"State", state},
            {"RestartCount", r.restart_count},
            {"Config", config}};
  return j.dump(2) + "\n";
}

Result<ContainerRecord> ParseRecord(const std::string& text) {
  try {
    Json j = Json::parse(text);
    ContainerRecord r;
    r.id = j.at("Id").get<std::string>();
    r.name = StripSlash(j.at("Name").get<std::string>());
    r.image = j.value("Image", "");
    r.image_id = j.value("ImageID", "");
    r.created = j.value("Created", "");
    r.restart_count = j.value("RestartCount", 0);
    const Json& s = j.at("State");
    r.status = TRY(
        EnumOf<ContainerStatus>(kStatusNames, s.at("Status").get<std::string>(), "State.Status"));
    r.pid = s.value("Pid", 0);
    r.exit_code = s.value("ExitCode", 0);
    r.oom_killed = s.value("OOMKilled", false);
    r.started_at = s.value("StartedAt", kZeroTime);
    r.finished_at = s.value("FinishedAt", kZeroTime);
    r.error = s.value("Error", "");
    r.start_failed_at = s.value("StartFailedAt", "");
    r.monitor_pid = s.value("MonitorPid", 0);
    r.monitor_start = s.value("MonitorStart", 0ULL);
    r.stopped_by_user = s.value("StoppedByUser", false);
    const Json& c = j.at("Config");
    RecordConfig& rc = r.config;
    rc.args = c.value("Cmd", std::vector<std::string>{});
    rc.entrypoint = c.value("ConfigEntrypoint", std::vector<std::string>{});
    rc.cmd = c.value("ConfigCmd", std::vector<std::string>{});
    rc.hostname = c.value("Hostname", "");
    rc.user = c.value("User", "");
    rc.tty = c.value("Tty", false);
    rc.interactive = c.value("OpenStdin", false);
    rc.detach = c.value("Detach", false);
    rc.auto_remove = c.value("AutoRemove", false);
    rc.privileged = c.value("Privileged", false);
    const Json& rp = c.at("RestartPolicy");
    rc.restart.mode = TRY(
        EnumOf<RestartMode>(kRestartNames, rp.value("Name", "no"), "Config.RestartPolicy.Name"));
    rc.restart.max_retries = rp.value("MaximumRetryCount", 0);
    rc.stop_signal = c.value("StopSignal", "");
    rc.stop_timeout = c.value("StopTimeout", 10);
    rc.network = TRY(EnumOf<NetworkMode>(kNetworkNames, c.value("NetworkMode", "default"),
                                         "Config.NetworkMode"));
    rc.isolation = TRY(
        EnumOf<Isolation>(kIsolationNames, c.value("Isolation", "default"), "Config.Isolation"));
    rc.lower_dirs = c.value("LowerDirs", std::vector<std::string>{});
    rc.anonymous_volumes = c.value("AnonymousVolumes", std::vector<std::string>{});
    if (!IsHexId(r.id)) return MakeError(0, "Id: \"%s\" is not a container id", r.id.c_str());
    return r;
  } catch (const std::exception& e) {
    return MakeError(0, "container record: %s", e.what());
  }
}

Result<RecordStore> RecordStore::Open(const std::string& root) {
  std::string dir = root + "/containers";
  TRY(MkdirAll(dir, 0700));
  HintUnrelatedSubdirs(dir);
  return RecordStore(dir);
}

Result<ContainerRecord> RecordStore::Load(const std::string& id) const {
  std::string text = TRY(ReadFile(Dir(id) + "/record.json"));
  return ParseRecord(text).Wrap("container " + id);
}

Status RecordStore::Write(const ContainerRecord& r) const {
  return WriteFileAtomic(Dir(r.id) + "/record.json", RecordJson(r), 0600);
}

Result<std::vector<ContainerRecord>> RecordStore::ListUnlocked() const {
  std::vector<std::string> ids = TRY(IdsIn(dir_));
  std::vector<ContainerRecord> out;
  for (const auto& id : ids) {
    auto r = Load(id);
    if (r.ok()) {
      out.push_back(std::move(r).value());
    } else if (r.error().code != ENOENT) {
      return std::move(r).error();
    }
    // ENOENT: removed meanwhile, or a directory whose record was never written (a crash
    // between mkdir and the write); neither is a container.
  }
  std::sort(out.begin(), out.end(), [](const ContainerRecord& a, const ContainerRecord& b) {
    return a.created != b.created ? a.created < b.created : a.id < b.id;
  });
  return out;
}

Result<std::vector<ContainerRecord>> RecordStore::List() const { return ListUnlocked(); }

Result<std::string> RecordStore::MakeDirLocked() {
  for (;;) {
    std::string id = TRY(NewContainerId());
    if (::mkdir(Dir(id).c_str(), 0700) == 0) return id;
    if (errno != EEXIST) return Errno("mkdir %s", Dir(id).c_str());
  }
}

// mkdir and flock under the store lock, so that TakeOrphans never sees a live create's
// directory unlocked.
Result<RecordStore::Building> RecordStore::NewDir() {
  FileLock lock = TRY(LockStore(dir_));
  Building b;
  b.id = TRY(MakeDirLocked());
  auto locked = LockDir(Dir(b.id), true);
  if (!locked.ok()) {
    (void)::rmdir(Dir(b.id).c_str());
    return std::move(locked).error();
  }
  b.lock = std::move(locked.value());
  return b;
}

Result<std::vector<RecordStore::Taken>> RecordStore::TakeOrphans() {
  FileLock lock = TRY(LockStore(dir_));
  std::vector<std::string> removing;
  std::vector<std::string> ids = TRY(IdsIn(dir_, &removing));
  std::vector<Taken> out;
  for (const auto& id : ids) {
    if (PathExists(Dir(id) + "/record.json")) continue;
    auto locked = LockDir(Dir(id), false);
    if (!locked.ok() || !*locked) continue;              // being built
    UniqueFd fd = std::move(locked.value());
    if (PathExists(Dir(id) + "/record.json")) continue;  // Create wrote it meanwhile
    std::string gone = dir_ + "/.removing-" + id;
    if (::rename(Dir(id).c_str(), gone.c_str()) == 0) out.push_back({gone, std::move(fd)});
  }
  for (const auto& id : removing) {
    // Its remover holds the lock until the tree is gone. Locked only once the remover had
    // removed it and let go: a directory no longer there (no links).
    std::string path = dir_ + "/.removing-" + id;
    auto locked = LockDir(path, false);
    if (!locked.ok()) continue;
    UniqueFd fd = std::move(locked.value());
    struct stat st;
    if (fd && ::fstat(fd.get(), &st) == 0 && st.st_nlink > 0) out.push_back({path, std::move(fd)});
  }
  return out;
}

Result<ContainerRecord> RecordStore::Create(ContainerRecord rec) {
  rec.name = StripSlash(rec.name);
  if (!rec.name.empty()) TRY(ValidateContainerName(rec.name));
  bool own_dir = rec.id.empty();
  if (!own_dir && (!IsHexId(rec.id) || !PathExists(Dir(rec.id))))
    return MakeError(EINVAL, "create: \"%s\" is not a directory from NewDir", rec.id.c_str());
  if (!own_dir && PathExists(Dir(rec.id) + "/record.json"))
    return MakeError(EEXIST, "create: container %s already has a record", rec.id.c_str());
  FileLock lock = TRY(LockStore(dir_));
  std::vector<ContainerRecord> all = TRY(ListUnlocked());
  std::set<std::string> names;
  for (const auto& r : all) {
    if (!rec.name.empty() && r.name == rec.name) return Conflict(rec.name, r.id);
    names.insert(r.name);
  }
  if (rec.name.empty()) {
    for (int attempt = 0; rec.name.empty() || names.count(rec.name); ++attempt) {
      if (attempt == 100) return MakeError(0, "could not generate a unique container name");
      rec.name = TRY(GenerateName());
      // moby appends a digit after the first collision; skiff two, after ten.
      if (attempt >= 10) rec.name += std::to_string(attempt % 100);
    }
  }
  if (own_dir) rec.id = TRY(MakeDirLocked());
  rec.created = NowRfc3339Nano();
  if (rec.started_at.empty()) rec.started_at = kZeroTime;
  if (rec.finished_at.empty()) rec.finished_at = kZeroTime;
  Status st = Write(rec);
  if (!st.ok()) {
    if (own_dir) (void)RemoveAll(Dir(rec.id));
    return std::move(st).error();
  }
  return rec;
}

Result<ContainerRecord> RecordStore::Lookup(const std::string& ref) const {
  if (ref.empty()) return MakeError(0, "No such container: %s", ref.c_str());
  if (IsHexId(ref)) {
    auto r = Load(ref);
    if (r.ok() || r.error().code != ENOENT) return r;
  }
  std::vector<ContainerRecord> all = TRY(ListUnlocked());
  std::string name = StripSlash(ref);
  for (auto& r : all)
    if (r.name == name) return std::move(r);
  const ContainerRecord* match = nullptr;
  for (const auto& r : all) {
    if (r.id.rfind(ref, 0) != 0) continue;
    if (match) return MakeError(0, "multiple IDs found with provided prefix: %s", ref.c_str());
    match = &r;
  }
  if (!match) return MakeError(0, "No such container: %s", ref.c_str());
  return *match;
}

Result<ContainerRecord> RecordStore::Update(const std::string& id,
                                            const std::function<void(ContainerRecord*)>& fn) {
  FileLock lock = TRY(LockStore(dir_));
  // The text as read: what RecordJson gave when it was written (a record from another
  // version that formats differently is just written again).
  std::string text = TRY(ReadFile(Dir(id) + "/record.json"));
  ContainerRecord r = TRY(ParseRecord(text).Wrap("container " + id));
  const std::string old_id = r.id, old_name = r.name;
  fn(&r);
  if (r.id != old_id || r.name != old_name)
    return MakeError(0, "container %s: Update can't change the id or the name", id.c_str());
  std::string json = RecordJson(r);
  if (json != text) TRY(WriteFileAtomic(Dir(r.id) + "/record.json", json, 0600));
  return r;
}

Status RecordStore::Rename(const std::string& ref, const std::string& new_name_in) {
  std::string new_name = StripSlash(new_name_in);
  TRY(ValidateContainerName(new_name));
  FileLock lock = TRY(LockStore(dir_));
  ContainerRecord r = TRY(Lookup(ref));
  if (r.name == new_name)
    return MakeError(0, "Renaming a container with the same name as its current name");
  for (const auto& other : TRY(ListUnlocked()))
    if (other.name == new_name) return Conflict(new_name, other.id);
  r.name = new_name;
  return Write(r);
}

Status RecordStore::Remove(const std::string& id, UniqueFd dir_lock) {
  if (!IsHexId(id)) return MakeError(0, "remove: \"%s\" is not a container id", id.c_str());
  if (!dir_lock) {
    // Flocked before the rename, so that the .removing- directory is never seen unlocked
    // while this remover lives. Waits out a sweep's look at it, or a concurrent rm's removal.
    auto locked = LockDir(Dir(id), true);
    if (!locked.ok() && locked.error().code == ENOENT)
      return MakeError(0, "No such container: %s", id.c_str());
    dir_lock = TRY(std::move(locked));
  }
  std::string gone = dir_ + "/.removing-" + id;
  {
    FileLock lock = TRY(LockStore(dir_));
    if (::rename(Dir(id).c_str(), gone.c_str()) != 0) {
      if (errno == ENOENT) return MakeError(0, "No such container: %s", id.c_str());
      return Errno("rename %s", Dir(id).c_str());
    }
  }
  return RemoveTreeParallel(gone, dir_lock.get());
}

}  // namespace skiff::engine
