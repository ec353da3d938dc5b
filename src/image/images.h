// Images as a user names them: by reference (busybox, 127.0.0.1:5000/x:1) or by ID (the
// config digest, as Docker: a unique hex prefix will do). The operations behind
// `skiff images`, `tag`, `rmi`, `image inspect`, `import`, `image prune`.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "image/snapshot.h"
#include "image/store.h"
#include "oci/image_spec.h"

namespace skiff::image {

struct Image {
  std::vector<std::string> refs;            // full names: docker.io/library/busybox:latest
  std::vector<std::string> pulled_digests;  // per ref: PulledDigest of its descriptor
  Descriptor manifest_desc;
  oci::Manifest manifest;
  std::string config_digest;  // the image ID
  oci::ImageConfig config;
  int64_t size = 0;  // config + layers as stored (compressed)
};

// The full name a reference is stored under: "busybox" -> "docker.io/library/busybox:latest".
Result<std::string> StoredName(const std::string& ref);

// By reference, "sha256:<id>", or a unique prefix of an ID (at least 4 hex digits).
// "no such image: X" when nothing matches.
Result<Image> FindImage(const Store& store, const std::string& name_or_id);
// Every image once, with all its references, newest first. with_dangling: the dangling
// images too (DanglingImages below), refs empty, once per ID and none whose ID a reference
// still names: the <none> rows of `skiff images`.
Result<std::vector<Image>> ListImages(const Store& store, bool with_dangling = false);

Status TagImage(Store& store, const std::string& source, const std::string& target);

// rmi: by reference removes that reference (the image goes when none is left); by ID
// removes the image, refused when several references name it unless force. Returns the
// lines Docker prints ("Untagged: ...", "Deleted: sha256:..."). before_delete, when set, runs
// before anything is changed if the image itself is to go (not when only one of its names
// does); its error stops the removal (e.g. the image is mounted).
Result<std::vector<std::string>> RemoveImage(
    Store& store, const std::string& name_or_id, bool force,
    const std::function<Status(const Image&)>& before_delete = nullptr);

// Deletes blobs that no reference reaches (nor a manifest of keep: a dangling image a
// container still uses). Returns the deleted digests.
Result<std::vector<std::string>> CollectGarbage(Store& store,
                                                const std::vector<std::string>& keep = {});

// Docker's dangling images: image manifests in the store that no reference reaches any more
// (their tag moved to another image, by a pull or an import), until garbage collection.
struct DanglingImage {
  std::string manifest_digest;
  std::string config_digest;  // the image ID
};
Result<std::vector<DanglingImage>> DanglingImages(const Store& store);

// A store-wide lock: pulls and imports hold it shared while they write blobs that no
// reference reaches yet; garbage collection holds it exclusive.
class StoreLock {
 public:
  static Result<StoreLock> Shared(const Store& store);
  static Result<StoreLock> Exclusive(const Store& store);
  StoreLock(StoreLock&&) = default;

 private:
  explicit StoreLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Removes the temp files (blobs/sha256/.tmp-*, index.json.tmp.*) that a killed pull or import
// left, when no other pull or import is running: it takes the store's lock exclusive without
// waiting and does nothing when that fails. Layer temp dirs are LayerStore::Ensure's to sweep.
Status SweepTemps(const Store& store);

struct ImportOptions {
  std::vector<std::string> changes;  // Dockerfile-like: CMD, ENTRYPOINT, ENV, WORKDIR, USER ...
  std::string message;
};

// An image of one layer made from a directory tree. Returns the image ID.
Result<std::string> ImportDir(Store& store, const std::string& dir, const std::string& ref,
                              const ImportOptions& opts);

// Makes sure every layer of the image is unpacked under layers/<chain-id> (overlay-mode
// whiteouts, each layer's diff_id checked against the config), several layers at once.
// Returns the lower dirs, top first, for overlayfs.
Result<std::vector<std::string>> UnpackImage(const Store& store, LayerStore& layers,
                                             const Image& img, int parallel = 3);

// Removes unpacked layers no image of the store uses (under the store's exclusive lock), nor
// a chain ID of keep (the layers of containers whose image is gone).
Result<std::vector<std::string>> PruneLayers(const Store& store, LayerStore& layers,
                                             const std::set<std::string>& keep = {});

// The document `skiff image inspect` prints, shaped like Docker's.
std::string InspectJson(const Image& img);

}  // namespace skiff::image
