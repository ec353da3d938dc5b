// `skiff pull`: reference -> manifest (an index resolved to the platform's manifest) ->
// config -> layers, several at once, each verified while it streams into the store; the
// manifest blob and then the reference are written last, so that a failed pull leaves no
// reference and no unverified byte behind. Blobs already in the store are not fetched; a
// pull by digest whose manifest (or index, and the platform's manifest), config and layers
// are all in the store makes no request at all. A manifest list's blob is stored too, and
// the reference records its digest (kIndexAnnotation), as Docker keeps it in RepoDigests.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/error.h"
#include "image/registry.h"
#include "image/store.h"
#include "oci/image_spec.h"

namespace skiff::image {

struct PullOptions {
  oci::Platform platform = oci::HostPlatform();
  RegistryOptions registry;
  ProgressFn progress;  // (digest, done, total), called from the download threads
  int parallel = 3;     // layers downloaded at once
  // Called for each layer (index in the manifest) once its blob is in the store, fetched or
  // found there, from the download threads in completion order: where an unpacker plugs in.
  std::function<Status(const Descriptor& layer, size_t index)> on_layer;
  // When set, gives a sink per layer that sees the layer's compressed bytes while they
  // download, once and in order (resumes included): for unpacking during the download
  // (PullAndUnpack). The config is the image's, already verified. Not called for a layer
  // already in the store. The sink's copies are destroyed when the layer's download ends,
  // done or failed; an error from the sink fails the download.
  std::function<http::Sink(const Descriptor& layer, size_t index, const oci::ImageConfig& config)>
      layer_tee;
};

struct PullResult {
  std::string ref;           // the name stored in index.json: reference.String()
  Descriptor manifest;       // the platform's image manifest
  std::string index_digest;  // the manifest list's digest, "" when there was none
  std::string config_digest;
  int layers_fetched = 0, layers_present = 0;
  int64_t bytes_fetched = 0;
  int retries = 0, resumes = 0;  // what the network cost: 5xx/429/connection retries, Range resumes
  bool from_store = false;       // by digest, all found in the store: no registry asked

  // The digest the user pulled, as Docker prints it: the index's, else the manifest's.
  const std::string& digest() const {
    return index_digest.empty() ? manifest.digest : index_digest;
  }
};

// Errors read as one line: "blob sha256:ab12...: digest mismatch (got ...)",
// "authentication required: ...", "manifest 127.0.0.1:5000/x:1: not found"; the CLI
// prefixes "skiff: pull REF: ".
Result<PullResult> Pull(Store& store, const std::string& reference, const PullOptions& opts = {});

}  // namespace skiff::image
