// skiff save: the store's images as one tar, both an OCI layout and a docker-archive.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "image/images.h"
#include "image/reference.h"
#include "image/transports.h"

namespace skiff::image {

namespace {

using nlohmann::json;

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_free(a); }
};

class TarOut {
 public:
  explicit TarOut(int fd) : a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_.get());
    ok_ = archive_write_open_fd(a_.get(), fd) == ARCHIVE_OK;
  }
  Status Add(const std::string& name, const std::string& data) {
    TRY(Header(name, static_cast<int64_t>(data.size())));
    if (archive_write_data(a_.get(), data.data(), data.size()) < 0) return Fail(name);
    return Ok();
  }
  Status AddFile(const std::string& name, const std::string& path, int64_t size) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Errno("open %s", path.c_str());
    TRY(Header(name, size));
    char buf[128 * 1024];
    int64_t left = size;
    while (left > 0) {
      ssize_t n = ::read(fd.get(), buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("read %s", path.c_str());
      if (n == 0) return MakeError(0, "%s: shorter than its descriptor says", path.c_str());
      if (archive_write_data(a_.get(), buf, static_cast<size_t>(n)) < 0) return Fail(name);
      left -= n;
    }
    return Ok();
  }
  Status Dir(const std::string& name) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFDIR);
    archive_entry_set_perm(e.get(), 0755);
    if (archive_write_header(a_.get(), e.get()) < ARCHIVE_WARN) return Fail(name);
    return Ok();
  }
  Status Close() {
    if (!ok_ || archive_write_close(a_.get()) != ARCHIVE_OK) return Fail("end of archive");
    return Ok();
  }

 private:
  Status Header(const std::string& name, int64_t size) {
    if (!ok_) return Fail(name);
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), size);
    if (archive_write_header(a_.get(), e.get()) < ARCHIVE_WARN) return Fail(name);
    return Ok();
  }
  Error Fail(const std::string& what) {
    const char* msg = archive_error_string(a_.get());
    return MakeError(archive_errno(a_.get()) > 0 ? archive_errno(a_.get()) : 0, "write %s: %s",
                     what.c_str(), msg ? msg : "archive error");
  }
  std::unique_ptr<struct archive, ArchiveFree> a_;
  bool ok_ = false;
};

std::string BlobName(const std::string& digest) { return "blobs/sha256/" + digest.substr(7); }

}  // namespace

Status SaveArchive(const Store& store, const std::vector<std::string>& names,
                   const std::string& out_path) {
  std::vector<Image> images;
  for (const auto& n : names) {
    Image img = TRY(FindImage(store, n));
    if (img.refs.empty()) img.refs.push_back("");  // saved by ID: no name inside
    images.push_back(std::move(img));
  }
  std::string tmp = out_path + ".tmp-XXXXXX";
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) return Errno("create %s", tmp.c_str());
  ScopeGuard unlink_tmp([&] { ::unlink(tmp.c_str()); });
  TarOut tar(fd.get());
  TRY(tar.Add("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  TRY(tar.Dir("blobs"));
  TRY(tar.Dir("blobs/sha256"));
  std::set<std::string> written;
  json index = {{"schemaVersion", 2}, {"mediaType", oci::kMediaOciIndex},
                {"manifests", json::array()}};
  json docker = json::array();
  for (const auto& img : images) {
    std::vector<std::pair<std::string, int64_t>> blobs = {
        {img.manifest_desc.digest, img.manifest_desc.size},
        {img.config_digest, img.manifest.config.size}};
    for (const auto& l : img.manifest.layers) blobs.emplace_back(l.digest, l.size);
    for (const auto& [digest, size] : blobs) {
      if (!written.insert(digest).second) continue;
      TRY(tar.AddFile(BlobName(digest), store.BlobPath(digest), size));
    }
    json tags = json::array();
    for (const auto& r : img.refs) {
      json d = {{"mediaType", img.manifest_desc.media_type},
                {"digest", img.manifest_desc.digest},
                {"size", img.manifest_desc.size}};
      if (!r.empty()) {
        auto ref = ParseReference(r);
        d["annotations"] = {{kRefAnnotation, r}, {"io.containerd.image.name", r}};
        if (ref.ok() && !ref->tag.empty()) tags.push_back(ref->Familiar());
      }
      index["manifests"].push_back(d);
    }
    json layers = json::array();
    for (const auto& l : img.manifest.layers) layers.push_back(BlobName(l.digest));
    docker.push_back(
        {{"Config", BlobName(img.config_digest)}, {"RepoTags", tags}, {"Layers", layers}});
  }
  TRY(tar.Add("index.json", index.dump()));
  TRY(tar.Add("manifest.json", docker.dump()));
  TRY(tar.Close());
  if (::fsync(fd.get()) < 0) return Errno("fsync %s", tmp.c_str());
  if (::rename(tmp.c_str(), out_path.c_str()) < 0) return Errno("rename to %s", out_path.c_str());
  unlink_tmp.Dismiss();
  return Ok();
}

}  // namespace skiff::image
