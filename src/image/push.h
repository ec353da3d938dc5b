// `skiff push`: a local image (a reference in the store) to a registry. Each blob is
// checked with HEAD first and uploaded only when missing (mounted from another repository
// of the same registry when a local image of that repository has it); the manifest goes
// last, so that the registry never names a blob it does not have.
#pragma once

#include <string>

#include "base/error.h"
#include "image/registry.h"
#include "image/store.h"

namespace skiff::image {

struct PushOptions {
  RegistryOptions registry;
  ProgressFn progress;
  int parallel = 3;
};

struct PushResult {
  std::string digest;  // the manifest's
  int uploaded = 0, mounted = 0, present = 0;
};

// local: a reference stored by pull or build ("busybox", "127.0.0.1:5000/x:1"); remote: where
// it goes (tag or digest). The CLI prefixes errors with "skiff: push REF: ".
Result<PushResult> Push(Store& store, const std::string& local, const std::string& remote,
                        const PushOptions& opts = {});

}  // namespace skiff::image
