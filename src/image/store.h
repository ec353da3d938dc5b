// The content store: an OCI image layout (image-layout.md) under <skiff root>/oci, so
// that skopeo and umoci read it as oci:PATH:REF. A blob becomes visible only under its
// verified digest, after a temp file is renamed; index.json changes under a lock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/digest.h"
#include "base/error.h"
#include "base/fd.h"
#include "oci/image_spec.h"

namespace skiff::image {

using Descriptor = oci::Descriptor;

inline constexpr const char* kRefAnnotation = "org.opencontainers.image.ref.name";
// On a reference pulled through a manifest list / OCI index: that index's digest, the one
// Docker shows in RepoDigests and `pull` prints. The index blob is in the store (kept by
// garbage collection while a reference names it, its other platforms' manifests not).
inline constexpr const char* kIndexAnnotation = "io.skiff.index.digest";

// The digest a reference was pulled by: its index's when it has one, else its own.
inline std::string PulledDigest(const oci::Descriptor& d) {
  auto it = d.annotations.find(kIndexAnnotation);
  return it == d.annotations.end() ? d.digest : it->second;
}

class Store;

// Streams one blob into the store: Write as data arrives (the digest is computed as it
// goes), then Commit checks it against the expected digest and renames the file into
// place. Dropped without Commit, or on a mismatch, it leaves nothing behind.
class BlobWriter {
 public:
  BlobWriter(BlobWriter&&) = default;
  ~BlobWriter();
  Status Write(const void* data, size_t n);
  // expected "" accepts whatever was written. Returns the digest.
  Result<std::string> Commit(const std::string& expected);
  int64_t written() const { return written_; }

 private:
  friend class Store;
  BlobWriter(std::string dir, std::string tmp, UniqueFd fd)
      : dir_(std::move(dir)), tmp_(std::move(tmp)), fd_(std::move(fd)) {}
  std::string dir_, tmp_;
  UniqueFd fd_;
  std::unique_ptr<Sha256> hash_ = std::make_unique<Sha256>();
  int64_t written_ = 0;
  bool done_ = false;
};

// flock(op) on the store's gc.lock: writers hold it shared, garbage collection and
// SweepTemps exclusive (images.h).
Result<UniqueFd> LockStoreDir(const std::string& dir, int op);

class Store {
 public:
  // Opens (creating when needed) the layout at dir: oci-layout, index.json, blobs/sha256.
  static Result<Store> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  std::string BlobPath(const std::string& digest) const;
  bool HasBlob(const std::string& digest) const;
  Result<std::string> ReadBlob(const std::string& digest) const;
  Result<BlobWriter> NewBlob();
  Result<std::string> PutBlob(std::string_view data, const std::string& expected = "");
  Status RemoveBlob(const std::string& digest);

  // References: index.json entries annotated with org.opencontainers.image.ref.name.
  Status SetRef(const std::string& name, const Descriptor& d);
  Result<std::optional<Descriptor>> GetRef(const std::string& name) const;
  Status RemoveRef(const std::string& name);
  Result<std::vector<std::pair<std::string, Descriptor>>> ListRefs() const;

 private:
  explicit Store(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace skiff::image
