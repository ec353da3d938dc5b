// OCI image-spec types (and Docker's v2 schema 2 equivalents): descriptors, manifests,
// indexes / manifest lists, the image config. Parsing names the offending field, as the
// runtime-spec parser does. Blobs keep their original bytes in the store; these types are
// read from them and, for images skiff makes itself, serialised back.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace skiff::oci {

inline constexpr const char* kMediaOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kMediaOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kMediaOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kMediaOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* kMediaOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kMediaOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr const char* kMediaDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kMediaDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kMediaDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kMediaDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr const char* kMediaDockerForeignLayer =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64"
  std::string variant;       // "v8" for arm64, "" mostly
  std::string os_version;

  // "linux/amd64", "linux/arm64/v8".
  std::string String() const;
};

// "linux/arm64/v8" -> Platform; "arm64" alone means linux/arm64.
Result<Platform> ParsePlatform(const std::string& text);
// The platform this binary runs on, in GOARCH terms (amd64, arm64, arm/v7 ...).
Platform HostPlatform();
// Whether an image for `have` runs where `want` was asked: os and architecture equal, and
// the variant equal when `want` names one (arm64's "v8" and "" are the same).
bool PlatformMatches(const Platform& have, const Platform& want);

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> urls;
};

enum class LayerCompression { kNone, kGzip, kZstd };

// What a layer media type says about its bytes; an error for anything that is not a layer
// tar (OCI or Docker, gzip, zstd or none; the "nondistributable" variants too).
Result<LayerCompression> LayerMediaCompression(const std::string& media_type);

struct Manifest {
  int schema_version = 2;
  std::string media_type;  // as written in the manifest, or as the registry said
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
};

struct Index {
  int schema_version = 2;
  std::string media_type;
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
};

// A parsed manifest or index document.
struct ManifestDoc {
  bool is_index = false;
  Manifest manifest;  // when !is_index
  Index index;        // when is_index
};

// Parses a manifest or index. content_type (the registry's Content-Type, may be "") is used
// when the document has no mediaType field. Unknown media types (schema 1 included) are
// refused: "unsupported manifest media type \"...\"".
Result<ManifestDoc> ParseManifestDoc(const std::string& text, const std::string& content_type);

// The manifest descriptor in an index for the platform; an error listing what the index
// offers when none matches.
Result<Descriptor> SelectPlatform(const Index& index, const Platform& want);

struct HistoryEntry {
  std::string created;
  std::string created_by;
  std::string comment;
  bool empty_layer = false;
};

struct ContainerConfig {
  std::string user;
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  bool entrypoint_set = false;  // present (even empty) in the config
  bool cmd_set = false;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::vector<std::string> exposed_ports;  // "80/tcp"
  std::vector<std::string> volumes;        // "/data"
};

struct ImageConfig {
  std::string created;
  std::string author;
  std::string architecture;
  std::string os;
  std::string variant;
  ContainerConfig config;
  std::string rootfs_type = "layers";
  std::vector<std::string> diff_ids;
  std::vector<HistoryEntry> history;
};

Result<ImageConfig> ParseImageConfig(const std::string& text);

// Canonical JSON (keys sorted, no spaces) for images skiff writes: the bytes that get
// digested, so the same image always gets the same ID.
std::string ImageConfigJson(const ImageConfig& c);
std::string ManifestJson(const Manifest& m);
std::string IndexJson(const Index& i);

}  // namespace skiff::oci
