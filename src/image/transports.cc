#include "image/transports.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "image/images.h"
#include "image/reference.h"

namespace skiff::image {

using nlohmann::json;

namespace {

constexpr size_t kMaxDocSize = 4 << 20;  // manifest.json, index.json: small documents

std::string BaseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The name an image from outside gets: its own reference when it is one, else
// localhost/<file or dir name>:<tag>, as podman names images it can't name otherwise.
Result<std::string> NameFor(const std::string& inner, const TransportRef& src,
                            const std::string& name) {
  if (!name.empty()) return name;
  if (!inner.empty()) {
    auto r = ParseReference(inner);
    if (r.ok() && inner.find_first_of("/:") != std::string::npos) return r->String();
  }
  std::string base = BaseName(src.path);
  for (const char* ext : {".tar.gz", ".tgz", ".tar"}) {
    size_t n = std::strlen(ext);
    if (base.size() > n && base.compare(base.size() - n, n, ext) == 0) base.resize(base.size() - n);
  }
  for (char& c : base) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) c = '-';
  }
  std::string tag = inner.empty() || inner.find_first_of("/:") != std::string::npos ? "latest"
                                                                                      : inner;
  Reference r = TRY(ParseReference("localhost/" + base + ":" + tag).Wrap(src.path));
  return r.String();
}

Result<json> ParseDoc(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return MakeError(0, "%s: invalid JSON: %s", what.c_str(), e.what());
  }
}

// Copies one blob file into the store, verified against its digest.
Status CopyBlobFile(Store& store, const std::string& file, const std::string& digest) {
  TRY(ValidateSha256Digest(digest));
  if (store.HasBlob(digest)) return Ok();
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Errno("open %s", file.c_str());
  BlobWriter w = TRY(store.NewBlob());
  char buf[128 * 1024];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("read %s", file.c_str());
    if (n == 0) break;
    TRY(w.Write(buf, static_cast<size_t>(n)));
  }
  TRY(w.Commit(digest));
  return Ok();
}

// Copies what a manifest needs (config, layers, the manifest itself) from a blob source.
// An index is resolved to this host's platform: the store keeps what it can run.
template <typename CopyFn, typename ReadFn>
Result<Descriptor> CopyImage(Store& store, Descriptor desc, CopyFn copy, ReadFn read) {
  std::string text = TRY(read(desc.digest));
  oci::ManifestDoc doc = TRY(oci::ParseManifestDoc(text, desc.media_type));
  if (doc.is_index) {
    desc = TRY(oci::SelectPlatform(doc.index, oci::HostPlatform()));
    text = TRY(read(desc.digest));
    doc = TRY(oci::ParseManifestDoc(text, desc.media_type));
    if (doc.is_index) return MakeError(0, "manifest %s: nested index", desc.digest.c_str());
  }
  if (Sha256Digest(text) != desc.digest)
    return MakeError(0, "manifest %s: digest mismatch", desc.digest.c_str());
  TRY(copy(doc.manifest.config.digest));
  std::string cfg = TRY(store.ReadBlob(doc.manifest.config.digest));
  oci::ImageConfig config = TRY(oci::ParseImageConfig(cfg));
  if (config.diff_ids.size() != doc.manifest.layers.size())
    return MakeError(0, "manifest %s: %zu layers but the config lists %zu diff_ids",
                     desc.digest.c_str(), doc.manifest.layers.size(), config.diff_ids.size());
  for (const auto& l : doc.manifest.layers) {
    TRY(oci::LayerMediaCompression(l.media_type));
    TRY(copy(l.digest));
  }
  TRY(store.PutBlob(text, desc.digest));
  desc.media_type = doc.manifest.media_type;
  desc.size = static_cast<int64_t>(text.size());
  desc.platform.reset();
  desc.annotations.clear();
  return desc;
}

// index.json of a layout -> the descriptor named ref (or the only one).
Result<std::pair<Descriptor, std::string>> PickFromIndex(const std::string& text,
                                                         const std::string& ref,
                                                         const std::string& where) {
  oci::ManifestDoc doc = TRY(oci::ParseManifestDoc(text, oci::kMediaOciIndex).Wrap(where));
  if (!doc.is_index) return MakeError(0, "%s: index.json is not an index", where.c_str());
  const auto& ms = doc.index.manifests;
  for (const auto& m : ms) {
    auto it = m.annotations.find(kRefAnnotation);
    std::string name = it == m.annotations.end() ? "" : it->second;
    if ((ref.empty() && ms.size() == 1) || (!ref.empty() && name == ref))
      return std::make_pair(m, name);
  }
  if (ref.empty())
    return MakeError(0, "%s: holds %zu images: name one (%s:REF)", where.c_str(), ms.size(),
                     where.c_str());
  return MakeError(0, "%s: no image named \"%s\"", where.c_str(), ref.c_str());
}

Result<std::string> FromLayout(Store& store, const TransportRef& src, const std::string& name) {
  std::string index = TRY(ReadFile(src.path + "/index.json"));
  auto [desc, inner] = TRY(PickFromIndex(index, src.ref, src.path));
  auto blob = [&](const std::string& d) { return src.path + "/blobs/sha256/" + d.substr(7); };
  auto copy = [&](const std::string& d) -> Status {
    TRY(ValidateSha256Digest(d));
    return CopyBlobFile(store, blob(d), d);
  };
  auto read = [&](const std::string& d) -> Result<std::string> {
    TRY(ValidateSha256Digest(d));
    return ReadFile(blob(d));
  };
  Descriptor stored = TRY(CopyImage(store, desc, copy, read));
  std::string target = TRY(NameFor(inner.empty() ? src.ref : inner, src, name));
  TRY(store.SetRef(target, stored));
  return target;
}

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_free(a); }
};

// What one pass over an archive leaves: every regular member stored as a blob (by its own
// digest), the small JSON documents kept in memory, symlinks remembered.
struct ArchiveScan {
  std::map<std::string, Descriptor> blobs;  // member name -> stored blob
  std::map<std::string, std::string> docs;  // "manifest.json", "index.json"
  std::map<std::string, std::string> links;
};

std::string Normal(std::string name) {
  while (name.rfind("./", 0) == 0) name = name.substr(2);
  return name;
}

std::string JoinLink(const std::string& member, const std::string& target) {
  if (!target.empty() && target[0] == '/') return Normal(target.substr(1));
  std::string dir = member.substr(0, member.rfind('/') + 1);
  std::string path = dir + target;
  // Collapse "a/../b": docker-archive links layers as "../<id>/layer.tar".
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string p = path.substr(start, slash == std::string::npos ? std::string::npos
                                                                  : slash - start);
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!p.empty() && p != ".") {
      parts.push_back(p);
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

Result<ArchiveScan> ScanArchive(Store& store, const std::string& file) {
  std::unique_ptr<struct archive, ArchiveFree> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), file.c_str(), 128 * 1024) != ARCHIVE_OK)
    return MakeError(archive_errno(a.get()), "open %s: %s", file.c_str(),
                     archive_error_string(a.get()));
  ArchiveScan scan;
  struct archive_entry* e;
  std::vector<char> buf(128 * 1024);
  while (true) {
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN)
      return MakeError(0, "read %s: %s", file.c_str(), archive_error_string(a.get()));
    std::string member = Normal(archive_entry_pathname(e));
    if (archive_entry_filetype(e) == AE_IFLNK) {
      scan.links[member] = JoinLink(member, archive_entry_symlink(e));
      continue;
    }
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    // docker save's legacy per-layer "json" and "VERSION" files: nothing reads them.
    std::string base = BaseName(member);
    if (base == "json" || base == "VERSION" || base == "oci-layout") continue;
    bool is_doc = member == "manifest.json" || member == "index.json" || member == "repositories";
    if (is_doc && archive_entry_size(e) > static_cast<la_int64_t>(kMaxDocSize))
      return MakeError(0, "%s: %s is too large", file.c_str(), member.c_str());
    std::string doc;
    BlobWriter w = TRY(store.NewBlob());
    while (true) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n < 0)
        return MakeError(0, "read %s: %s: %s", file.c_str(), member.c_str(),
                         archive_error_string(a.get()));
      if (n == 0) break;
      if (is_doc) doc.append(buf.data(), static_cast<size_t>(n));
      else TRY(w.Write(buf.data(), static_cast<size_t>(n)));
    }
    if (is_doc) {
      scan.docs[member] = std::move(doc);
      continue;
    }
    // A member named by its digest (OCI layouts, new docker save) must match it.
    std::string expected;
    if (member.rfind("blobs/sha256/", 0) == 0) expected = "sha256:" + member.substr(13);
    int64_t size = w.written();
    std::string digest = TRY(w.Commit(expected).Wrap(file));
    scan.blobs[member] = {.digest = digest, .size = size};
  }
  return scan;
}

Result<std::string> FromScannedOci(Store& store, const ArchiveScan& scan,
                                   const TransportRef& src, const std::string& name) {
  auto index = scan.docs.find("index.json");
  if (index == scan.docs.end())
    return MakeError(0, "%s: no index.json: not an OCI archive", src.path.c_str());
  auto [desc, inner] = TRY(PickFromIndex(index->second, src.ref, src.path));
  // Every blob is in the store already (verified): copying is only a check that it is.
  auto copy = [&](const std::string& d) -> Status {
    if (!store.HasBlob(d))
      return MakeError(0, "%s: blob %s is missing", src.path.c_str(), d.c_str());
    return Ok();
  };
  auto read = [&](const std::string& d) -> Result<std::string> {
    TRY(copy(d));
    return store.ReadBlob(d);
  };
  Descriptor stored = TRY(CopyImage(store, desc, copy, read));
  std::string target = TRY(NameFor(inner.empty() ? src.ref : inner, src, name));
  TRY(store.SetRef(target, stored));
  return target;
}

// docker save's manifest.json: [{"Config": "x.json", "RepoTags": [...], "Layers": [...]}].
Result<json> DockerManifestList(const ArchiveScan& scan, const std::string& path) {
  auto mj = scan.docs.find("manifest.json");
  if (mj == scan.docs.end())
    return MakeError(0, "%s: no manifest.json: not a docker archive", path.c_str());
  json doc = TRY(ParseDoc(mj->second, path + ": manifest.json"));
  if (!doc.is_array() || doc.empty())
    return MakeError(0, "%s: manifest.json: expected a list of images", path.c_str());
  return doc;
}

Result<std::string> FromScannedDocker(Store& store, const ArchiveScan& scan,
                                      const TransportRef& src, const std::string& name) {
  json doc = TRY(DockerManifestList(scan, src.path));
  const json* pick = nullptr;
  std::string inner;
  for (const auto& m : doc) {
    std::vector<std::string> tags;
    if (m.contains("RepoTags") && m["RepoTags"].is_array())
      for (const auto& t : m["RepoTags"])
        if (t.is_string()) tags.push_back(t.get<std::string>());
    for (const auto& t : tags)
      if (!src.ref.empty() && t == src.ref) pick = &m, inner = t;
    if (src.ref.empty() && doc.size() == 1) pick = &m, inner = tags.empty() ? "" : tags[0];
  }
  if (!pick)
    return MakeError(0, "%s: %s", src.path.c_str(),
                     src.ref.empty() ? "holds several images: name one (docker-archive:FILE:REF)"
                                     : ("no image tagged " + src.ref).c_str());
  auto member = [&](const json& v) -> Result<Descriptor> {
    if (!v.is_string()) return MakeError(0, "%s: manifest.json: bad file name", src.path.c_str());
    std::string n = Normal(v.get<std::string>());
    for (int hops = 0; hops < 8 && scan.links.count(n); hops++) n = scan.links.at(n);
    auto it = scan.blobs.find(n);
    if (it == scan.blobs.end())
      return MakeError(0, "%s: %s is missing from the archive", src.path.c_str(), n.c_str());
    return it->second;
  };
  oci::Manifest m;
  m.media_type = oci::kMediaOciManifest;
  Descriptor cfg = TRY(member(pick->value("Config", json())));
  std::string cfg_text = TRY(store.ReadBlob(cfg.digest));
  oci::ImageConfig config = TRY(oci::ParseImageConfig(cfg_text));
  m.config = {.media_type = oci::kMediaOciConfig, .digest = cfg.digest, .size = cfg.size};
  if (!pick->contains("Layers") || !(*pick)["Layers"].is_array())
    return MakeError(0, "%s: manifest.json: no Layers", src.path.c_str());
  for (const auto& l : (*pick)["Layers"]) {
    Descriptor d = TRY(member(l));
    // docker save writes plain tars; a gzip'd one (some tools) starts with 1f 8b.
    std::string head;
    UniqueFd fd(::open(store.BlobPath(d.digest).c_str(), O_RDONLY | O_CLOEXEC));
    char magic[2] = {};
    bool gz = fd && ::read(fd.get(), magic, 2) == 2 && magic[0] == '\x1f' && magic[1] == '\x8b';
    d.media_type = gz ? oci::kMediaOciLayerGzip : oci::kMediaOciLayer;
    m.layers.push_back(d);
  }
  if (config.diff_ids.size() != m.layers.size())
    return MakeError(0, "%s: %zu layers but the config lists %zu diff_ids", src.path.c_str(),
                     m.layers.size(), config.diff_ids.size());
  std::string text = oci::ManifestJson(m);
  std::string digest = TRY(store.PutBlob(text));
  std::string target = TRY(NameFor(inner, src, name));
  TRY(store.SetRef(target, {.media_type = oci::kMediaOciManifest,
                            .digest = digest,
                            .size = static_cast<int64_t>(text.size())}));
  return target;
}

}  // namespace

Result<std::vector<std::string>> LoadArchive(Store& store, const std::string& path) {
  StoreLock lock = TRY(StoreLock::Shared(store));
  ArchiveScan scan = TRY(ScanArchive(store, path));
  std::vector<std::string> names;
  TransportRef src{"docker-archive", path, ""};
  if (auto index = scan.docs.find("index.json"); index != scan.docs.end()) {
    oci::ManifestDoc doc = TRY(oci::ParseManifestDoc(index->second, oci::kMediaOciIndex)
                                   .Wrap(path + ": index.json"));
    for (const auto& m : doc.index.manifests) {
      auto it = m.annotations.find(kRefAnnotation);
      if (it == m.annotations.end()) continue;
      src.transport = "oci-archive";
      src.ref = it->second;
      names.push_back(TRY(FromScannedOci(store, scan, src, "").Wrap(path)));
    }
    if (!names.empty()) return names;
  }
  json doc = TRY(DockerManifestList(scan, path));
  for (const auto& m : doc) {
    if (!m.contains("RepoTags") || !m["RepoTags"].is_array()) continue;
    for (const auto& t : m["RepoTags"]) {
      if (!t.is_string()) continue;
      src.ref = t.get<std::string>();
      names.push_back(TRY(FromScannedDocker(store, scan, src, "")));
    }
  }
  if (names.empty()) return MakeError(0, "%s: no named image in the archive", path.c_str());
  return names;
}

TransportRef ParseTransport(const std::string& text) {
  for (const char* t : {"oci-archive", "docker-archive", "oci"}) {
    std::string prefix = std::string(t) + ":";
    if (text.rfind(prefix, 0) != 0) continue;
    std::string rest = text.substr(prefix.size());
    // The path can't hold ':' here (skopeo's rule too): the first ':' starts the ref.
    size_t colon = rest.find(':');
    return {t, rest.substr(0, colon), colon == std::string::npos ? "" : rest.substr(colon + 1)};
  }
  return {"", "", text};
}

Result<std::string> PullFromTransport(Store& store, const TransportRef& src,
                                      const std::string& name) {
  StoreLock lock = TRY(StoreLock::Shared(store));
  if (src.transport == "oci") return FromLayout(store, src, name);
  if (src.transport == "oci-archive")
    return FromScannedOci(store, TRY(ScanArchive(store, src.path)), src, name);
  if (src.transport == "docker-archive")
    return FromScannedDocker(store, TRY(ScanArchive(store, src.path)), src, name);
  return MakeError(0, "unknown transport \"%s\"", src.transport.c_str());
}

}  // namespace skiff::image
