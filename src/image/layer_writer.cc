// Directory -> tar -> (diff_id hash) -> gzip -> (digest hash) -> blob, in one pass.
// libarchive walks the tree (symlinks not followed, xattrs kept, no NSS name lookups:
// numeric owners only, as image layers carry them) and writes pax tar; zlib compresses.
#include "image/layer_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <zlib.h>

#include <cstring>
#include <memory>

namespace skiff::image {

namespace {

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveFree>;

// The write end: tar bytes in, hashed, deflated, written to the blob.
class GzipSink {
 public:
  GzipSink(BlobWriter* blob, int level) : blob_(blob) {
    ok_ = deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~GzipSink() { deflateEnd(&z_); }

  bool Write(const void* data, size_t n, int flush) {
    if (!ok_) return false;
    tar_hash_.Update(data, n);
    z_.next_in = static_cast<Bytef*>(const_cast<void*>(data));
    z_.avail_in = static_cast<uInt>(n);
    do {
      z_.next_out = out_;
      z_.avail_out = sizeof(out_);
      int rc = deflate(&z_, flush);
      if (rc == Z_STREAM_ERROR) return ok_ = false;
      size_t have = sizeof(out_) - z_.avail_out;
      if (have > 0) {
        Status st = blob_->Write(out_, have);
        if (!st) {
          error_ = std::move(st).error();
          return ok_ = false;
        }
      }
    } while (z_.avail_out == 0);
    return true;
  }
  std::string DiffId() { return tar_hash_.Digest(); }
  const std::optional<Error>& error() const { return error_; }

 private:
  BlobWriter* blob_;
  z_stream z_{};
  bool ok_ = false;
  Sha256 tar_hash_;
  unsigned char out_[64 * 1024];
  std::optional<Error> error_;
};

la_ssize_t WriteCallback(struct archive*, void* sink, const void* buf, size_t n) {
  return static_cast<GzipSink*>(sink)->Write(buf, n, Z_NO_FLUSH) ? static_cast<la_ssize_t>(n)
                                                                  : -1;
}

Error ArchiveError(struct archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  return MakeError(archive_errno(a) > 0 ? archive_errno(a) : 0, "%s: %s", what.c_str(),
                   msg ? msg : "archive error");
}

// Turns overlayfs upper-dir markers into image-spec whiteouts. Returns the extra opaque
// marker entry to write after a dir, or nullptr.
struct archive_entry* ConvertWhiteouts(struct archive_entry* e) {
  const char* path = archive_entry_pathname(e);
  if (archive_entry_filetype(e) == AE_IFCHR && archive_entry_rdev(e) == 0) {
    std::string p = path;
    size_t slash = p.rfind('/');
    std::string wh = slash == std::string::npos
                         ? ".wh." + p
                         : p.substr(0, slash + 1) + ".wh." + p.substr(slash + 1);
    archive_entry_set_pathname(e, wh.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0);
    archive_entry_set_size(e, 0);
    return nullptr;
  }
  if (archive_entry_filetype(e) != AE_IFDIR) return nullptr;
  bool opaque = false;
  archive_entry_xattr_reset(e);
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (std::strcmp(name, "trusted.overlay.opaque") == 0 && size == 1 &&
        *static_cast<const char*>(value) == 'y')
      opaque = true;
  }
  if (!opaque) return nullptr;
  struct archive_entry* marker = archive_entry_new();
  archive_entry_set_pathname(marker, (std::string(path) + "/.wh..wh..opq").c_str());
  archive_entry_set_filetype(marker, AE_IFREG);
  archive_entry_set_perm(marker, 0);
  archive_entry_set_size(marker, 0);
  archive_entry_set_mtime(marker, archive_entry_mtime(e), 0);
  return marker;
}

// Drops overlayfs's own bookkeeping xattrs: they mean nothing in a layer.
void DropOverlayXattrs(struct archive_entry* e) {
  std::vector<std::tuple<std::string, std::string>> keep;
  bool dropped = false;
  archive_entry_xattr_reset(e);
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (std::strncmp(name, "trusted.overlay.", 16) == 0) {
      dropped = true;
      continue;
    }
    keep.emplace_back(name, std::string(static_cast<const char*>(value), size));
  }
  if (!dropped) return;
  archive_entry_xattr_clear(e);
  for (const auto& [n, v] : keep) archive_entry_xattr_add_entry(e, n.c_str(), v.data(), v.size());
}

Status WriteData(struct archive* disk, struct archive* out, const std::string& path) {
  char buf[64 * 1024];
  while (true) {
    la_ssize_t n = archive_read_data(disk, buf, sizeof(buf));
    if (n < 0) return ArchiveError(disk, "read " + path);
    if (n == 0) return Ok();
    if (archive_write_data(out, buf, static_cast<size_t>(n)) < 0)
      return ArchiveError(out, "write " + path);
  }
}

}  // namespace

Result<LayerBlob> WriteLayerFromDir(Store& store, const std::string& dir,
                                    const LayerWriteOptions& opts) {
  BlobWriter blob = TRY(store.NewBlob());
  GzipSink sink(&blob, opts.gzip_level);

  ArchivePtr out(archive_write_new());
  archive_write_set_format_pax_restricted(out.get());
  archive_write_set_bytes_in_last_block(out.get(), 1);  // no padding to 10 KiB
  if (archive_write_open2(out.get(), &sink, nullptr, WriteCallback, nullptr, nullptr) !=
      ARCHIVE_OK)
    return ArchiveError(out.get(), "start layer of " + dir);

  ArchivePtr disk(archive_read_disk_new());
  archive_read_disk_set_symlink_physical(disk.get());
  archive_read_disk_set_behavior(disk.get(), ARCHIVE_READDISK_NO_FFLAGS);
  if (archive_read_disk_open(disk.get(), dir.c_str()) != ARCHIVE_OK)
    return ArchiveError(disk.get(), "open " + dir);

  std::unique_ptr<struct archive_entry_linkresolver, void (*)(archive_entry_linkresolver*)>
      links(archive_entry_linkresolver_new(), archive_entry_linkresolver_free);
  archive_entry_linkresolver_set_strategy(links.get(), archive_format(out.get()));

  std::string prefix = dir;
  while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  prefix += "/";
  std::unique_ptr<struct archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(),
                                                                        archive_entry_free);
  while (true) {
    archive_entry_clear(entry.get());
    int rc = archive_read_next_header2(disk.get(), entry.get());
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) return ArchiveError(disk.get(), "walk " + dir);
    std::string path = archive_entry_pathname(entry.get());
    archive_read_disk_descend(disk.get());
    if (path.compare(0, prefix.size(), prefix) != 0) continue;  // the top dir itself
    std::string rel = path.substr(prefix.size());
    archive_entry_set_pathname(entry.get(), rel.c_str());
    archive_entry_set_uname(entry.get(), nullptr);
    archive_entry_set_gname(entry.get(), nullptr);

    struct archive_entry* marker = nullptr;
    if (opts.overlay_whiteouts) marker = ConvertWhiteouts(entry.get());
    DropOverlayXattrs(entry.get());

    struct archive_entry* e = entry.get();
    struct archive_entry* spare = nullptr;
    archive_entry_linkify(links.get(), &e, &spare);  // tar: never defers, may mark a hardlink
    if (archive_write_header(out.get(), e) < ARCHIVE_WARN) {
      if (marker) archive_entry_free(marker);
      return ArchiveError(out.get(), "write " + rel);
    }
    if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0 &&
        archive_entry_hardlink(e) == nullptr)
      TRY(WriteData(disk.get(), out.get(), rel));
    if (marker) {
      int wrc = archive_write_header(out.get(), marker);
      archive_entry_free(marker);
      if (wrc < ARCHIVE_WARN) return ArchiveError(out.get(), "write " + rel + "/.wh..wh..opq");
    }
    if (sink.error()) return Error(*sink.error()).Wrap("write layer of " + dir);
  }
  if (archive_write_close(out.get()) != ARCHIVE_OK) {
    if (sink.error()) return Error(*sink.error()).Wrap("write layer of " + dir);
    return ArchiveError(out.get(), "finish layer of " + dir);
  }
  if (!sink.Write(nullptr, 0, Z_FINISH)) return MakeError(0, "compress layer of %s", dir.c_str());
  LayerBlob result;
  result.diff_id = sink.DiffId();
  result.desc.size = blob.written();
  result.desc.digest = TRY(blob.Commit(""));
  result.desc.media_type = oci::kMediaOciLayerGzip;
  return result;
}

}  // namespace skiff::image
