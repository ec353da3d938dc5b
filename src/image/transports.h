// Images from outside a registry, named as skopeo names them:
//   oci:DIR[:REF]           an OCI image layout directory (what `skopeo copy ... oci:` writes)
//   oci-archive:FILE[:REF]  a tar of such a layout
//   docker-archive:FILE     what `docker save` writes (manifest.json + config + layer tars)
// Every blob is copied into the store through the verifying BlobWriter: a tampered blob in
// the source is refused like one from a registry.
#pragma once

#include <string>

#include "base/error.h"
#include "image/store.h"

namespace skiff::image {

struct TransportRef {
  std::string transport;  // "oci", "oci-archive", "docker-archive"; "" for a registry ref
  std::string path;
  std::string ref;  // the image inside (oci: ref.name; docker-archive: a RepoTag); may be ""
};

// "oci:/x/y:tag" -> {oci, /x/y, tag}; "busybox" -> {"", "", "busybox"}.
TransportRef ParseTransport(const std::string& text);

// Copies the image into the store and names it `name` (a full stored name) when the source
// gives none. Returns the stored name.
Result<std::string> PullFromTransport(Store& store, const TransportRef& src,
                                      const std::string& name);

}  // namespace skiff::image
