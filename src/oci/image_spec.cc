// Image-spec documents <-> types. Reading uses json_read.h's path-tracking readers, so a
// broken manifest says which field is wrong; unknown fields are ignored (image-spec).
#include "oci/image_spec.h"

#include <sys/utsname.h>

#include <cstring>

#include "base/digest.h"
#include "oci/json_read.h"

namespace skiff::oci {

std::string Platform::String() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

Result<Platform> ParsePlatform(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = text.find('/', start);
    parts.push_back(text.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  for (const auto& p : parts) {
    if (p.empty()) return MakeError(0, "invalid platform \"%s\": empty part", text.c_str());
  }
  Platform p;
  if (parts.size() == 1) {
    p.os = "linux";
    p.architecture = parts[0];
  } else if (parts.size() <= 3) {
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
  } else {
    return MakeError(0, "invalid platform \"%s\": expected os/arch[/variant]", text.c_str());
  }
  return p;
}

Platform HostPlatform() {
  Platform p{.os = "linux"};
#if defined(__x86_64__)
  p.architecture = "amd64";
#elif defined(__aarch64__)
  p.architecture = "arm64";
  p.variant = "v8";
#elif defined(__arm__)
  p.architecture = "arm";
  p.variant = "v7";
#elif defined(__i386__)
  p.architecture = "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  p.architecture = "ppc64le";
#elif defined(__s390x__)
  p.architecture = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  p.architecture = "riscv64";
#else
  struct utsname u{};
  ::uname(&u);
  p.architecture = u.machine;
#endif
  return p;
}

static std::string NormalVariant(const Platform& p) {
  if (p.architecture == "arm64" && p.variant == "v8") return "";
  return p.variant;
}

bool PlatformMatches(const Platform& have, const Platform& want) {
  if (have.os != want.os || have.architecture != want.architecture) return false;
  if (want.variant.empty()) return true;
  return NormalVariant(have) == NormalVariant(want);
}

Result<LayerCompression> LayerMediaCompression(const std::string& media_type) {
  static const struct {
    const char* type;
    LayerCompression c;
  } kTypes[] = {
      {kMediaOciLayer, LayerCompression::kNone},
      {kMediaOciLayerGzip, LayerCompression::kGzip},
      {kMediaOciLayerZstd, LayerCompression::kZstd},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar", LayerCompression::kNone},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LayerCompression::kGzip},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LayerCompression::kZstd},
      {kMediaDockerLayerGzip, LayerCompression::kGzip},
      {kMediaDockerForeignLayer, LayerCompression::kGzip},
      {"application/vnd.docker.image.rootfs.diff.tar", LayerCompression::kNone},
      {"application/vnd.docker.image.rootfs.diff.tar.zstd", LayerCompression::kZstd},
  };
  for (const auto& t : kTypes) {
    if (media_type == t.type) return t.c;
  }
  return MakeError(0, "unsupported layer media type \"%s\"", media_type.c_str());
}

// --- reading ---

static Status Read(const Json& j, const std::string& path, Platform* out) {
  TRY(ExpectObject(j, path));
  TRY(Required(j, path, "os", &out->os));
  TRY(Required(j, path, "architecture", &out->architecture));
  TRY(Field(j, path, "variant", &out->variant));
  TRY(Field(j, path, "os.version", &out->os_version));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Descriptor* out) {
  TRY(ExpectObject(j, path));
  TRY(Required(j, path, "mediaType", &out->media_type));
  TRY(Required(j, path, "digest", &out->digest));
  TRY(Required(j, path, "size", &out->size));
  TRY(Field(j, path, "platform", &out->platform));
  TRY(Field(j, path, "annotations", &out->annotations));
  TRY(Field(j, path, "urls", &out->urls));
  // Digests become file names in the store: only sha256 in its canonical form passes.
  if (Status s = ValidateSha256Digest(out->digest); !s) {
    return std::move(s).error().Wrap(JsonMember(path, "digest"));
  }
  if (out->size < 0) return MakeError(0, "%s: negative size", JsonMember(path, "size").c_str());
  return Ok();
}

static Status Read(const Json& j, const std::string& path, HistoryEntry* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "created", &out->created));
  TRY(Field(j, path, "created_by", &out->created_by));
  TRY(Field(j, path, "comment", &out->comment));
  TRY(Field(j, path, "empty_layer", &out->empty_layer));
  return Ok();
}

// ExposedPorts and Volumes are objects whose values are empty objects: keep the keys.
static Status ReadKeys(const Json& obj, const std::string& path, const char* key,
                       std::vector<std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Ok();
  if (!it->is_object()) return JsonTypeError(JsonMember(path, key), "an object");
  for (const auto& [k, v] : it->items()) out->push_back(k);
  return Ok();
}

static Status Read(const Json& j, const std::string& path, ContainerConfig* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "User", &out->user));
  TRY(Field(j, path, "Env", &out->env));
  out->entrypoint_set = j.contains("Entrypoint") && !j["Entrypoint"].is_null();
  out->cmd_set = j.contains("Cmd") && !j["Cmd"].is_null();
  TRY(Field(j, path, "Entrypoint", &out->entrypoint));
  TRY(Field(j, path, "Cmd", &out->cmd));
  TRY(Field(j, path, "WorkingDir", &out->working_dir));
  TRY(Field(j, path, "Labels", &out->labels));
  TRY(Field(j, path, "StopSignal", &out->stop_signal));
  TRY(ReadKeys(j, path, "ExposedPorts", &out->exposed_ports));
  TRY(ReadKeys(j, path, "Volumes", &out->volumes));
  return Ok();
}

static Result<Json> ParseJson(const std::string& text, const char* what) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    return MakeError(0, "%s: invalid JSON: %s", what, e.what());
  }
}

static Status ReadManifest(const Json& j, Manifest* m) {
  TRY(Required(j, "", "schemaVersion", &m->schema_version));
  TRY(Required(j, "", "config", &m->config));
  TRY(Required(j, "", "layers", &m->layers));
  TRY(Field(j, "", "annotations", &m->annotations));
  return Ok();
}

static Status ReadIndex(const Json& j, Index* i) {
  TRY(Required(j, "", "schemaVersion", &i->schema_version));
  TRY(Required(j, "", "manifests", &i->manifests));
  TRY(Field(j, "", "annotations", &i->annotations));
  return Ok();
}

// "application/vnd.oci.image.manifest.v1+json; charset=utf-8" -> the type alone.
static std::string BareType(const std::string& t) {
  std::string s = t.substr(0, t.find(';'));
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

Result<ManifestDoc> ParseManifestDoc(const std::string& text, const std::string& content_type) {
  Json j = TRY(ParseJson(text, "manifest"));
  if (!j.is_object()) return MakeError(0, "manifest: expected a JSON object");
  std::string type;
  TRY(Field(j, "", "mediaType", &type).Wrap("manifest"));
  if (type.empty()) type = BareType(content_type);
  if (type.empty() || type == "application/json") {
    // OCI allows mediaType to be absent: tell the two kinds apart by their members.
    if (j.contains("manifests")) type = kMediaOciIndex;
    else if (j.contains("config")) type = kMediaOciManifest;
  }
  ManifestDoc doc;
  if (type == kMediaOciManifest || type == kMediaDockerManifest) {
    doc.manifest.media_type = type;
    TRY(ReadManifest(j, &doc.manifest).Wrap("manifest"));
  } else if (type == kMediaOciIndex || type == kMediaDockerList) {
    doc.is_index = true;
    doc.index.media_type = type;
    TRY(ReadIndex(j, &doc.index).Wrap("manifest list"));
  } else if (j.value("schemaVersion", 0) == 1) {
    return MakeError(0, "unsupported manifest: Docker schema 1 (deprecated, no content digests)");
  } else {
    return MakeError(0, "unsupported manifest media type \"%s\"", type.c_str());
  }
  return doc;
}

Result<Descriptor> SelectPlatform(const Index& index, const Platform& want) {
  std::string offered;
  for (const auto& d : index.manifests) {
    if (!d.platform) continue;
    if (PlatformMatches(*d.platform, want)) return d;
    if (d.platform->os == "unknown") continue;  // BuildKit's attestation manifests
    offered += (offered.empty() ? "" : ", ") + d.platform->String();
  }
  return MakeError(0, "no image for platform %s in the manifest list (it has: %s)",
                   want.String().c_str(), offered.empty() ? "none" : offered.c_str());
}

Result<ImageConfig> ParseImageConfig(const std::string& text) {
  Json j = TRY(ParseJson(text, "image config"));
  ImageConfig c;
  auto read = [&]() -> Status {
    TRY(ExpectObject(j, ""));
    TRY(Field(j, "", "created", &c.created));
    TRY(Field(j, "", "author", &c.author));
    TRY(Field(j, "", "architecture", &c.architecture));
    TRY(Field(j, "", "os", &c.os));
    TRY(Field(j, "", "variant", &c.variant));
    TRY(Field(j, "", "config", &c.config));
    TRY(Field(j, "", "history", &c.history));
    auto rootfs = j.find("rootfs");
    if (rootfs == j.end() || !rootfs->is_object()) {
      return MakeError(0, "rootfs: required field is missing");
    }
    TRY(Field(*rootfs, "rootfs", "type", &c.rootfs_type));
    TRY(Required(*rootfs, "rootfs", "diff_ids", &c.diff_ids));
    for (size_t i = 0; i < c.diff_ids.size(); i++) {
      if (Status s = ValidateSha256Digest(c.diff_ids[i]); !s) {
        return std::move(s).error().Wrap(JsonIndex("rootfs.diff_ids", i));
      }
    }
    return Ok();
  };
  TRY(read().Wrap("image config"));
  return c;
}

// --- writing ---

static Json ToJson(const Platform& p) {
  Json j = {{"os", p.os}, {"architecture", p.architecture}};
  if (!p.variant.empty()) j["variant"] = p.variant;
  if (!p.os_version.empty()) j["os.version"] = p.os_version;
  return j;
}

static Json ToJson(const Descriptor& d) {
  Json j = {{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
  if (d.platform) j["platform"] = ToJson(*d.platform);
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (!d.urls.empty()) j["urls"] = d.urls;
  return j;
}

static Json KeySet(const std::vector<std::string>& keys) {
  Json j = Json::object();
  for (const auto& k : keys) j[k] = Json::object();
  return j;
}

std::string ImageConfigJson(const ImageConfig& c) {
  Json cfg = Json::object();
  const ContainerConfig& cc = c.config;
  if (!cc.user.empty()) cfg["User"] = cc.user;
  if (!cc.env.empty()) cfg["Env"] = cc.env;
  if (cc.entrypoint_set || !cc.entrypoint.empty()) cfg["Entrypoint"] = cc.entrypoint;
  if (cc.cmd_set || !cc.cmd.empty()) cfg["Cmd"] = cc.cmd;
  if (!cc.working_dir.empty()) cfg["WorkingDir"] = cc.working_dir;
  if (!cc.labels.empty()) cfg["Labels"] = cc.labels;
  if (!cc.stop_signal.empty()) cfg["StopSignal"] = cc.stop_signal;
  if (!cc.exposed_ports.empty()) cfg["ExposedPorts"] = KeySet(cc.exposed_ports);
  if (!cc.volumes.empty()) cfg["Volumes"] = KeySet(cc.volumes);
  Json j = {{"architecture", c.architecture},
            {"os", c.os},
            {"config", cfg},
            {"rootfs", {{"type", c.rootfs_type}, {"diff_ids", c.diff_ids}}}};
  if (!c.created.empty()) j["created"] = c.created;
  if (!c.author.empty()) j["author"] = c.author;
  if (!c.variant.empty()) j["variant"] = c.variant;
  if (!c.history.empty()) {
    Json h = Json::array();
    for (const auto& e : c.history) {
      Json x = Json::object();
      if (!e.created.empty()) x["created"] = e.created;
      if (!e.created_by.empty()) x["created_by"] = e.created_by;
      if (!e.comment.empty()) x["comment"] = e.comment;
      if (e.empty_layer) x["empty_layer"] = true;
      h.push_back(x);
    }
    j["history"] = h;
  }
  return j.dump();  // nlohmann's object is a std::map: keys come out sorted
}

std::string ManifestJson(const Manifest& m) {
  Json layers = Json::array();
  for (const auto& l : m.layers) layers.push_back(ToJson(l));
  Json j = {{"schemaVersion", m.schema_version},
            {"mediaType", m.media_type.empty() ? kMediaOciManifest : m.media_type},
            {"config", ToJson(m.config)},
            {"layers", layers}};
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  return j.dump();
}

std::string IndexJson(const Index& i) {
  Json ms = Json::array();
  for (const auto& d : i.manifests) ms.push_back(ToJson(d));
  Json j = {{"schemaVersion", i.schema_version},
            {"mediaType", i.media_type.empty() ? kMediaOciIndex : i.media_type},
            {"manifests", ms}};
  if (!i.annotations.empty()) j["annotations"] = i.annotations;
  return j.dump();
}

}  // namespace skiff::oci
