// Packs a directory tree into a layer blob (a gzip'd tar) in the store, in one pass: the tar
// stream is hashed for the diff_id as it is made, compressed, and the compressed bytes
// hashed for the blob digest as they are written. Used to make images from a directory
// (`skiff import`) and, later, to commit a container's upper dir.
#pragma once

#include <string>

#include "base/error.h"
#include "image/store.h"

namespace skiff::image {

struct LayerBlob {
  Descriptor desc;      // the compressed blob as stored
  std::string diff_id;  // sha256 of the uncompressed tar
};

struct LayerWriteOptions {
  // Overlayfs upper dir semantics: a 0/0 character device becomes a `.wh.NAME` entry and a
  // dir with trusted.overlay.opaque=y gets a `.wh..wh..opq` entry (image-spec layer.md).
  bool overlay_whiteouts = false;
  int gzip_level = 1;  // speed over size: the layer is local first; registries take any level
};

Result<LayerBlob> WriteLayerFromDir(Store& store, const std::string& dir,
                                    const LayerWriteOptions& opts = {});

}  // namespace skiff::image
