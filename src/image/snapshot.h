// Layer snapshots: <skiff root>/layers/<chain-id hex>/, one unpacked tree per chain ID
// (image-spec config.md "Layer ChainID"), shared by every image whose layer stack starts
// the same way, used as overlayfs lower dirs.
//
// A layer is unpacked into layers/.tmp-<hex>-XXXXXX and renamed into place, so a crash
// never leaves a half layer under its real name; such leftovers are removed on the next
// use. Each chain ID has a lock file (layers/.locks/<hex>): of two processes that unpack
// the same layer at once, one unpacks and the other waits and then finds it done.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"

namespace skiff::image {

// ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
// Returns one chain ID per diff_id, bottom layer first. Each diff_id must be sha256:<hex>.
Result<std::vector<std::string>> ChainIds(const std::vector<std::string>& diff_ids);

class LayerStore {
 public:
  // Unpacks a layer into the empty directory dest_dirfd (UnpackLayer into it).
  using UnpackFn = std::function<Status(int dest_dirfd)>;

  // Opens (creating when needed) the layers directory, e.g. /var/lib/skiff/layers.
  static Result<LayerStore> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  // layers/<hex> for a "sha256:<hex>" chain ID (no check that it exists).
  std::string Path(const std::string& chain_id) const;
  bool Has(const std::string& chain_id) const;

  // Makes sure the layer exists: runs unpack into a temp dir under the chain ID's lock when
  // it does not and renames the result into place. Returns the layer's path. A failed unpack
  // leaves nothing behind; its error names the chain ID. With wait false, returns "" at once
  // (unpack not run) when another process holds the chain ID's lock.
  Result<std::string> Ensure(const std::string& chain_id, const UnpackFn& unpack,
                             bool wait = true);

  // The overlayfs lowerdir list of an image whose layers have these chain IDs (bottom
  // first, as ChainIds returns them): paths top first. Every layer must exist.
  Result<std::vector<std::string>> LowerDirs(const std::vector<std::string>& chain_ids) const;

  // Removes every layer whose chain ID is not in in_use, and temp dirs nobody is unpacking.
  // The caller computes in_use from the image store and keeps images from being added
  // meanwhile (it holds the store's lock). Returns the chain IDs removed.
  Result<std::vector<std::string>> RemoveUnused(const std::set<std::string>& in_use);

 private:
  explicit LayerStore(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace skiff::image
