// The layer unpacker: one pass over a layer blob (gzip, zstd or plain tar, detected by
// libarchive) that decompresses, computes the diff_id (SHA-256 of the uncompressed tar) and
// the digest of the input, and extracts into a directory.
//
// Streaming: the bytes come from a pull callback (ByteSource), so a pull can unpack while it
// downloads: hand UnpackLayerFd the read end of a pipe that the download thread writes into
// (it blocks while the download is behind), or wrap the HTTP body reader as a ByteSource.
// Nothing is buffered to disk.
//
// Safety (STYLE.md rule 11): every entry is created relative to a parent directory fd that
// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) resolved inside dest, and the final
// component is never followed (O_EXCL / O_NOFOLLOW / *at without follow). So ".." names
// are refused, absolute names are contained (leading "/" stripped), a symlink planted by an
// earlier entry ("l -> /", then "l/etc/x") is followed as if dest were "/" and cannot lead
// out, hardlink targets resolve inside dest, and an existing entry is replaced (unlinked),
// never written through. A symlink's own target is stored as it is: it is a value, resolved
// later inside the container's root.
//
// On failure dest is left half written: the caller removes it (LayerStore does).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/error.h"

namespace skiff::image {

enum class WhiteoutMode {
  // For an overlayfs lower dir: ".wh.NAME" becomes a 0/0 character device NAME, an opaque
  // marker sets trusted.overlay.opaque=y on its directory.
  kOverlay,
  // For layers applied one over another in one dir (export, flattened rootfs): ".wh.NAME"
  // deletes NAME, an opaque marker deletes the directory's contents that earlier layers left
  // (not the ones this layer wrote).
  kFlatten,
};

struct UnpackOptions {
  WhiteoutMode whiteouts = WhiteoutMode::kOverlay;
  bool allow_devices = true;     // false: a block or character device entry is an error
  bool preserve_owners = true;   // chown to the entry's uid/gid (needs CAP_CHOWN)
  std::string expected_diff_id;  // "sha256:..." from the image config; "" skips the check
};

struct UnpackResult {
  std::string diff_id;  // "sha256:..." of the uncompressed tar stream
  std::string digest;   // "sha256:..." of the input bytes as read (the blob digest)
  int64_t compressed_bytes = 0;
  int64_t uncompressed_bytes = 0;
  int64_t entries = 0;  // tar entries, whiteouts included
  // The tar ended right after its last entry's data, without padding and end-of-archive
  // blocks, as umoci 0.4.7 writes layers. Accepted (Go's archive/tar reads them too); a
  // stream cut inside an entry's data is an error.
  bool missing_trailer = false;
};

// Fills up to n bytes of buf; returns how many, 0 at the end of the blob.
using ByteSource = std::function<Result<size_t>(void* buf, size_t n)>;

// Unpacks the whole stream from src into the directory dest_dirfd. The stream is read to its
// end, so diff_id and digest cover all of it.
Result<UnpackResult> UnpackLayer(const ByteSource& src, int dest_dirfd, const UnpackOptions& opts);
// The same, reading src_fd (a file or a pipe) to EOF.
Result<UnpackResult> UnpackLayerFd(int src_fd, int dest_dirfd, const UnpackOptions& opts);

}  // namespace skiff::image
