// `skiff pull` from a registry in one pass: each layer's bytes go to the unpacker while they
// download and are digest-checked, so a layer is on disk, unpacked, when its download ends.
//
// Per layer that is neither in the blob store nor unpacked, a thread runs LayerStore::Ensure
// on the bytes the download tees to it through a bounded in-memory queue (the download waits
// when the unpacker is behind). The blob still lands in the store, verified by the download as
// before. The unpacker verifies on its own what it saw: the digest of the compressed bytes
// (so a cut or tampered stream fails) and the diff_id of the tar; only then does Ensure rename
// the dir into layers/<chain-id>. A layer whose streaming unpack failed, gave up (another
// process holds its lock) or never started (blob already stored) is unpacked afterwards from
// the stored blob by UnpackImage, which also gives the final error if that fails too.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "image/pull.h"
#include "image/snapshot.h"
#include "image/store.h"

namespace skiff::image {

struct PullUnpackResult {
  PullResult pull;
  std::vector<std::string> lower;  // the image's layer dirs, top first (UnpackImage's result)
  int layers_streamed = 0;         // unpacked while downloading
};

// Pull (opts.layer_tee is taken) and UnpackImage of what it stored, as one pass.
Result<PullUnpackResult> PullAndUnpack(Store& store, LayerStore& layers, const std::string& ref,
                                       PullOptions opts);

}  // namespace skiff::image
