#include "image/images.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>

#include "base/file.h"
#include "base/parallel.h"
#include "image/layer_writer.h"
#include "image/reference.h"
#include "image/unpack.h"

namespace skiff::image {

using nlohmann::json;

namespace {

std::string NowRfc3339() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return StrFormat("%s.%09ldZ", buf, ts.tv_nsec);
}

// Loads what a reference points at: an image manifest (an index in the store is resolved
// for this host's platform, as skopeo writes them).
Result<Image> LoadImage(const Store& store, const Descriptor& desc) {
  Image img;
  img.manifest_desc = desc;
  std::string text = TRY(store.ReadBlob(desc.digest));
  oci::ManifestDoc doc = TRY(oci::ParseManifestDoc(text, desc.media_type));
  if (doc.is_index) {
    Descriptor d = TRY(oci::SelectPlatform(doc.index, oci::HostPlatform()));
    text = TRY(store.ReadBlob(d.digest));
    doc = TRY(oci::ParseManifestDoc(text, d.media_type));
    if (doc.is_index) return MakeError(0, "manifest %s: nested index", d.digest.c_str());
  }
  img.manifest = doc.manifest;
  img.config_digest = img.manifest.config.digest;
  std::string config = TRY(store.ReadBlob(img.config_digest).Wrap("config"));
  img.config = TRY(oci::ParseImageConfig(config));
  img.size = img.manifest.config.size;
  for (const auto& l : img.manifest.layers) img.size += l.size;
  return img;
}

void SortNewestFirst(std::vector<Image>* images) {
  std::stable_sort(images->begin(), images->end(), [](const Image& a, const Image& b) {
    return a.config.created > b.config.created;
  });
}

Result<std::vector<Image>> LoadAll(const Store& store) {
  auto refs = TRY(store.ListRefs());
  std::map<std::string, Image> by_id;
  std::vector<std::string> order;
  for (const auto& [name, desc] : refs) {
    auto img = LoadImage(store, desc);
    if (!img.ok()) continue;  // a broken entry must not hide the others; rmi can remove it
    auto it = by_id.find(img->config_digest);
    if (it == by_id.end()) {
      order.push_back(img->config_digest);
      it = by_id.emplace(img->config_digest, std::move(*img)).first;
    }
    it->second.refs.push_back(name);
    it->second.pulled_digests.push_back(PulledDigest(desc));
  }
  std::vector<Image> out;
  for (const auto& id : order) out.push_back(std::move(by_id[id]));
  SortNewestFirst(&out);
  return out;
}

bool IsHex(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// Splits a Dockerfile-style value: JSON array form, or shell form run by /bin/sh -c.
Result<std::vector<std::string>> CommandValue(const std::string& v) {
  if (!v.empty() && v[0] == '[') {
    try {
      return json::parse(v).get<std::vector<std::string>>();
    } catch (const json::exception& e) {
      return MakeError(0, "invalid JSON array %s", v.c_str());
    }
  }
  return std::vector<std::string>{"/bin/sh", "-c", v};
}

Status ApplyChange(oci::ContainerConfig* c, const std::string& change) {
  size_t sp = change.find_first_of(" \t");
  std::string op = change.substr(0, sp);
  std::transform(op.begin(), op.end(), op.begin(), ::toupper);
  std::string v = sp == std::string::npos ? "" : change.substr(change.find_first_not_of(" \t", sp));
  auto kv = [&](std::map<std::string, std::string>* m) {
    size_t eq = v.find('=');
    (*m)[v.substr(0, eq)] = eq == std::string::npos ? "" : v.substr(eq + 1);
  };
  if (op == "CMD") {
    c->cmd = TRY(CommandValue(v));
    c->cmd_set = true;
  } else if (op == "ENTRYPOINT") {
    c->entrypoint = TRY(CommandValue(v));
    c->entrypoint_set = true;
  } else if (op == "ENV") {
    size_t eq = v.find_first_of("= ");
    if (eq == std::string::npos) return MakeError(0, "ENV needs KEY=VALUE");
    std::string key = v.substr(0, eq);
    std::erase_if(c->env, [&](const std::string& e) { return e.rfind(key + "=", 0) == 0; });
    c->env.push_back(key + "=" + v.substr(eq + 1));
  } else if (op == "WORKDIR") {
    c->working_dir = v;
  } else if (op == "USER") {
    c->user = v;
  } else if (op == "LABEL") {
    kv(&c->labels);
  } else if (op == "EXPOSE") {
    c->exposed_ports.push_back(v.find('/') == std::string::npos ? v + "/tcp" : v);
  } else if (op == "VOLUME") {
    c->volumes.push_back(v);
  } else if (op == "STOPSIGNAL") {
    c->stop_signal = v;
  } else {
    return MakeError(0,
                     "unsupported change \"%s\" (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, "
                     "EXPOSE, VOLUME, STOPSIGNAL)",
                     op.c_str());
  }
  return Ok();
}

}  // namespace

Result<std::string> StoredName(const std::string& ref) {
  Reference r = TRY(ParseReference(ref));
  return r.String();
}

Result<Image> FindImage(const Store& store, const std::string& name_or_id) {
  std::string id = name_or_id;
  if (id.rfind("sha256:", 0) == 0) id = id.substr(7);
  bool maybe_id = IsHex(id) && id.size() >= 4;
  if (!maybe_id || id.size() < 64) {
    auto name = StoredName(name_or_id);
    if (name.ok()) {
      auto desc = TRY(store.GetRef(*name));
      if (desc) {
        Image img = TRY(LoadImage(store, *desc).Wrap(name_or_id));
        img.refs.push_back(*name);
        img.pulled_digests.push_back(PulledDigest(*desc));
        return img;
      }
    } else if (!maybe_id) {
      return std::move(name).error();
    }
  }
  if (maybe_id) {
    std::vector<Image> found;
    for (auto& img : TRY(LoadAll(store))) {
      if (img.config_digest.compare(7, id.size(), id) == 0) found.push_back(std::move(img));
    }
    if (found.size() == 1) return std::move(found[0]);
    if (found.size() > 1)
      return MakeError(0, "image ID prefix %s is ambiguous (%zu images)", id.c_str(), found.size());
  }
  return MakeError(0, "no such image: %s", name_or_id.c_str());
}

Result<std::vector<Image>> ListImages(const Store& store, bool with_dangling) {
  std::vector<Image> out = TRY(LoadAll(store));
  if (!with_dangling) return out;
  std::set<std::string> ids;
  for (const auto& img : out) ids.insert(img.config_digest);
  for (const auto& d : TRY(DanglingImages(store))) {
    if (!ids.insert(d.config_digest).second) continue;
    auto img = LoadImage(store, {.digest = d.manifest_digest});
    if (img.ok()) out.push_back(std::move(*img));  // a broken one is garbage collection's
  }
  SortNewestFirst(&out);
  return out;
}

Status TagImage(Store& store, const std::string& source, const std::string& target) {
  Image img = TRY(FindImage(store, source));
  Reference r = TRY(ParseReference(target));
  if (!r.digest.empty()) return MakeError(0, "tag %s: a tag can't name a digest", target.c_str());
  return store.SetRef(r.String(), img.manifest_desc);
}

Result<std::vector<std::string>> RemoveImage(
    Store& store, const std::string& name_or_id, bool force,
    const std::function<Status(const Image&)>& before_delete) {
  Image img = TRY(FindImage(store, name_or_id));
  std::vector<std::string> lines;
  std::vector<std::string> untag;
  auto name = StoredName(name_or_id);
  bool by_ref = name.ok() && std::find(img.refs.begin(), img.refs.end(), *name) != img.refs.end();
  // FindImage by ref returns only that ref; the image's other names decide whether it goes.
  std::vector<std::string> all_refs;
  for (auto& other : TRY(LoadAll(store)))
    if (other.config_digest == img.config_digest) all_refs = other.refs;
  if (by_ref) {
    untag.push_back(*name);
  } else {
    if (all_refs.size() > 1 && !force)
      return MakeError(0,
                       "conflict: unable to delete %s (must be forced) - image is referenced in "
                       "multiple repositories",
                       img.config_digest.substr(7, 12).c_str());
    untag = all_refs;
  }
  if (untag.size() == all_refs.size() && before_delete) TRY(before_delete(img));
  for (const auto& r : untag) {
    TRY(store.RemoveRef(r));
    auto parsed = ParseReference(r);
    lines.push_back("Untagged: " + (parsed.ok() ? parsed->Familiar() : r));
  }
  if (untag.size() == all_refs.size()) {
    lines.push_back("Deleted: " + img.config_digest);
    TRY(CollectGarbage(store));
  }
  return lines;
}

static Result<UniqueFd> LockStore(const Store& store, int op) {
  return LockStoreDir(store.dir(), op);
}

Result<StoreLock> StoreLock::Shared(const Store& store) {
  return StoreLock(TRY(LockStore(store, LOCK_SH)));
}

Result<StoreLock> StoreLock::Exclusive(const Store& store) {
  return StoreLock(TRY(LockStore(store, LOCK_EX)));
}

Status SweepTemps(const Store& store) {
  auto lock = LockStore(store, LOCK_EX | LOCK_NB);
  if (!lock.ok()) {
    if (lock.error().code == EWOULDBLOCK) return Ok();  // someone is writing: their temps live
    return std::move(lock).error();
  }
  for (const auto& [dir, prefix] :
       {std::pair<std::string, std::string>{"/blobs/sha256", ".tmp-"},
        {"", "index.json.tmp."},
        {"", "oci-layout.tmp."}}) {
    std::string d = store.dir() + dir;
    DIR* dp = ::opendir(d.c_str());
    if (!dp) return Errno("open %s", d.c_str());
    std::vector<std::string> stale;
    while (struct dirent* de = ::readdir(dp))
      if (std::string_view(de->d_name).starts_with(prefix)) stale.push_back(de->d_name);
    ::closedir(dp);
    for (const auto& n : stale) {
      if (::unlink((d + "/" + n).c_str()) < 0 && errno != ENOENT)
        return Errno("remove %s/%s", d.c_str(), n.c_str());
    }
  }
  return Ok();
}

// A blob's text if it is JSON: read only when its first byte is '{' (a manifest or an
// index; a layer, which can be gigabytes, is never read in full to find out). nullopt for
// anything else, a missing blob included, and with max_size >= 0 for a blob larger than
// that (the size of the file it opened: one open, no stat by path before it).
static std::optional<std::string> ReadIfJson(const Store& store, const std::string& digest,
                                             off_t max_size = -1) {
  if (!ValidateSha256Digest(digest).ok()) return std::nullopt;
  UniqueFd fd(::open(store.BlobPath(digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  struct stat st;
  if (max_size >= 0 && (::fstat(fd.get(), &st) < 0 || st.st_size > max_size)) return std::nullopt;
  char first = 0;
  if (::pread(fd.get(), &first, 1, 0) != 1 || first != '{') return std::nullopt;
  auto text = ReadAll(fd.get(), digest.c_str());  // from 0: pread moved no offset
  if (!text.ok()) return std::nullopt;
  return std::move(*text);
}

// What a descriptor names may be walked: a manifest or an index, or a type not said.
static bool MayBeManifest(const std::string& media_type) {
  return media_type.empty() || media_type == oci::kMediaOciManifest ||
         media_type == oci::kMediaOciIndex || media_type == oci::kMediaDockerManifest ||
         media_type == oci::kMediaDockerList;
}

// Every blob reachable from the references (and from roots): manifests, indexes (all their
// children: skopeo and umoci may want them), configs, layers. Only what may be a manifest
// is read (configs and layers are leaves, never opened); a blob that doesn't parse keeps
// only itself.
static Result<std::set<std::string>> LiveBlobs(const Store& store,
                                               const std::vector<std::string>& roots) {
  std::set<std::string> live;
  std::vector<std::string> todo = roots;  // manifests or indexes, to be read
  std::vector<std::string> indexes;       // live, but not walked: see kIndexAnnotation
  for (const auto& [name, d] : TRY(store.ListRefs())) {
    todo.push_back(d.digest);
    if (PulledDigest(d) != d.digest) indexes.push_back(PulledDigest(d));
  }
  while (!todo.empty()) {
    std::string d = todo.back();
    todo.pop_back();
    if (!live.insert(d).second) continue;
    auto text = ReadIfJson(store, d);
    if (!text) continue;
    auto doc = oci::ParseManifestDoc(*text, "");
    if (!doc.ok()) continue;
    if (doc->is_index) {
      for (const auto& m : doc->index.manifests) {
        if (MayBeManifest(m.media_type)) todo.push_back(m.digest);
        else live.insert(m.digest);
      }
    } else {
      live.insert(doc->manifest.config.digest);
      for (const auto& l : doc->manifest.layers) live.insert(l.digest);
    }
  }
  live.insert(indexes.begin(), indexes.end());
  return live;
}

static Result<std::vector<std::string>> BlobNames(const Store& store) {
  std::string dir = store.dir() + "/blobs/sha256";
  DIR* dp = ::opendir(dir.c_str());
  if (!dp) return Errno("read %s", dir.c_str());
  std::vector<std::string> names;
  while (struct dirent* de = ::readdir(dp)) names.push_back(de->d_name);
  ::closedir(dp);
  return names;
}

Result<std::vector<DanglingImage>> DanglingImages(const Store& store) {
  std::set<std::string> live = TRY(LiveBlobs(store, {}));
  std::vector<DanglingImage> out;
  for (const auto& n : TRY(BlobNames(store))) {
    std::string digest = "sha256:" + n;
    if (live.count(digest) || !ValidateSha256Digest(digest).ok()) continue;
    // Manifests are small JSON; layers are not worth reading.
    auto text = ReadIfJson(store, digest, 1 << 20);
    if (!text) continue;
    auto doc = oci::ParseManifestDoc(*text, "");
    if (!doc.ok() || doc->is_index || doc->manifest.config.digest.empty()) continue;
    out.push_back({digest, doc->manifest.config.digest});
  }
  return out;
}

Result<std::vector<std::string>> CollectGarbage(Store& store, const std::vector<std::string>& keep) {
  StoreLock lock = TRY(StoreLock::Exclusive(store));
  std::set<std::string> live = TRY(LiveBlobs(store, keep));
  std::vector<std::string> removed;
  std::string dir = store.dir() + "/blobs/sha256";
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return Errno("open %s", dir.c_str());
  DIR* dp = ::fdopendir(::dup(dfd.get()));
  if (!dp) return Errno("read %s", dir.c_str());
  std::vector<std::string> names;
  while (struct dirent* de = ::readdir(dp)) names.push_back(de->d_name);
  ::closedir(dp);
  for (const auto& n : names) {
    if (n == "." || n == "..") continue;
    std::string digest = "sha256:" + n;
    // Temp files of a pull that died: nobody holds the shared lock now, so they are stale.
    bool stale_tmp = n.rfind(".tmp-", 0) == 0;
    if (!stale_tmp && (live.count(digest) || !ValidateSha256Digest(digest).ok())) continue;
    if (::unlinkat(dfd.get(), n.c_str(), 0) < 0 && errno != ENOENT)
      return Errno("remove blob %s", n.c_str());
    if (!stale_tmp) removed.push_back(digest);
  }
  return removed;
}

Result<std::string> ImportDir(Store& store, const std::string& dir, const std::string& ref,
                              const ImportOptions& opts) {
  std::string name;
  if (!ref.empty()) {
    Reference r = TRY(ParseReference(ref));
    if (!r.digest.empty()) return MakeError(0, "import: %s: can't name a digest", ref.c_str());
    name = r.String();
  }
  oci::ImageConfig cfg;
  oci::Platform host = oci::HostPlatform();
  cfg.os = host.os;
  cfg.architecture = host.architecture;
  cfg.variant = host.variant;
  cfg.created = NowRfc3339();
  for (const auto& c : opts.changes) TRY(ApplyChange(&cfg.config, c).Wrap("import --change"));
  StoreLock lock = TRY(StoreLock::Shared(store));
  LayerBlob layer = TRY(WriteLayerFromDir(store, dir));
  cfg.diff_ids.push_back(layer.diff_id);
  cfg.history.push_back(
      {.created = cfg.created, .created_by = "skiff import " + dir, .comment = opts.message});
  std::string cfg_json = oci::ImageConfigJson(cfg);
  std::string cfg_digest = TRY(store.PutBlob(cfg_json));
  oci::Manifest m;
  m.media_type = oci::kMediaOciManifest;
  m.config = {.media_type = oci::kMediaOciConfig,
              .digest = cfg_digest,
              .size = static_cast<int64_t>(cfg_json.size())};
  m.layers.push_back(layer.desc);
  std::string m_json = oci::ManifestJson(m);
  std::string m_digest = TRY(store.PutBlob(m_json));
  if (!name.empty()) {
    TRY(store.SetRef(name, {.media_type = oci::kMediaOciManifest,
                            .digest = m_digest,
                            .size = static_cast<int64_t>(m_json.size())}));
  }
  return cfg_digest;
}

Result<std::vector<std::string>> UnpackImage(const Store& store, LayerStore& layers,
                                             const Image& img, int parallel) {
  std::vector<std::string> chain = TRY(ChainIds(img.config.diff_ids));
  if (chain.size() != img.manifest.layers.size())
    return MakeError(0, "image %s: %zu layers but the config lists %zu diff_ids",
                     img.config_digest.c_str(), img.manifest.layers.size(), chain.size());
  // Layers unpack into their own dirs (overlay mode), so they don't depend on each other:
  // a few threads take them in turn. Unpacking is metadata-bound (MACHINE.md).
  TRY(ForEachParallel(chain.size(), parallel, [&](size_t i, const std::atomic<bool>&) -> Status {
    const Descriptor& blob = img.manifest.layers[i];
    TRY(layers.Ensure(chain[i], [&](int dest) -> Status {
      std::string path = store.BlobPath(blob.digest);
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) return Errno("open blob %s", blob.digest.c_str());
      UnpackOptions opts{.expected_diff_id = img.config.diff_ids[i]};
      TRY(UnpackLayerFd(fd.get(), dest, opts));
      return Ok();
    }));
    return Ok();
  }));
  return layers.LowerDirs(chain);
}

Result<std::vector<std::string>> PruneLayers(const Store& store, LayerStore& layers,
                                             const std::set<std::string>& keep) {
  StoreLock lock = TRY(StoreLock::Exclusive(store));
  std::set<std::string> in_use = keep;
  for (const auto& img : TRY(LoadAll(store))) {
    auto chain = ChainIds(img.config.diff_ids);
    if (chain.ok()) in_use.insert(chain->begin(), chain->end());
  }
  return layers.RemoveUnused(in_use);
}

std::string InspectJson(const Image& img) {
  json tags = json::array(), digests = json::array();
  std::set<std::string> seen;
  for (size_t i = 0; i < img.refs.size(); ++i) {
    const std::string& r = img.refs[i];
    auto parsed = ParseReference(r);
    // A reference by digest is no tag (Docker lists it only in RepoDigests).
    if (!parsed.ok() || parsed->digest.empty())
      tags.push_back(parsed.ok() ? parsed->Familiar() : r);
    if (!parsed.ok()) continue;
    // As Docker: NAME@ the digest pulled (a manifest list's for a multi-platform image), once.
    std::string d =
        i < img.pulled_digests.size() ? img.pulled_digests[i] : img.manifest_desc.digest;
    std::string rd = parsed->Name() + "@" + d;
    if (seen.insert(rd).second) digests.push_back(rd);
  }
  json layers = json::array();
  for (const auto& d : img.config.diff_ids) layers.push_back(d);
  json blobs = json::array();
  for (const auto& l : img.manifest.layers)
    blobs.push_back({{"MediaType", l.media_type}, {"Digest", l.digest}, {"Size", l.size}});
  const auto& c = img.config.config;
  json config = {{"User", c.user},
                 {"Env", c.env},
                 {"Entrypoint", c.entrypoint_set ? json(c.entrypoint) : json(nullptr)},
                 {"Cmd", c.cmd_set ? json(c.cmd) : json(nullptr)},
                 {"WorkingDir", c.working_dir},
                 {"Labels", c.labels},
                 {"StopSignal", c.stop_signal}};
  json doc = {{"Id", img.config_digest},
              {"RepoTags", tags},
              {"RepoDigests", digests},
              {"Created", img.config.created},
              {"Author", img.config.author},
              {"Architecture", img.config.architecture},
              {"Os", img.config.os},
              {"Size", img.size},
              {"Config", config},
              {"Manifest",
               {{"MediaType", img.manifest_desc.media_type}, {"Digest", img.manifest_desc.digest}}},
              {"Layers", blobs},
              {"RootFS", {{"Type", img.config.rootfs_type}, {"Layers", layers}}}};
  if (!img.config.variant.empty()) doc["Variant"] = img.config.variant;
  return doc.dump(4);
}

}  // namespace skiff::image
