// Images from outside a registry, named as skopeo names them:
//   oci:DIR[:REF]           an OCI image layout directory (what `skopeo copy ... oci:` writes)
//   oci-archive:FILE[:REF]  a tar of such a layout
//   docker-archive:FILE     what `docker save` writes (manifest.json + config + layer tars)
// Every blob is copied into the store through the verifying BlobWriter: a tampered blob in
// the source is refused like one from a registry.
#pragma once

#include <string>
#include <vector>

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

namespace skiff::image {

// `skiff save`: a tar that is at once an OCI layout (oci-layout, index.json, blobs/) and a
// docker-archive (manifest.json naming the same blobs), as Docker 25 writes it, so that
// docker/podman load, skopeo's oci-archive: and docker-archive: all read it. Written to a
// temp file and renamed: an interrupted save leaves no partial archive under the name.
Status SaveArchive(const Store& store, const std::vector<std::string>& names,
                   const std::string& out_path);

// `skiff load`: every named image of an archive (OCI layout or docker-archive, as
// `skiff save`, `docker save` or skopeo wrote it). Returns the stored names.
Result<std::vector<std::string>> LoadArchive(Store& store, const std::string& path);

}  // namespace skiff::image
