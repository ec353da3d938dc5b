#include "image/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/file.h"

namespace skiff::image {

using nlohmann::json;

namespace {

Result<json> LoadIndex(const std::string& dir) {
  std::string text = TRY(ReadFile(dir + "/index.json"));
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return MakeError(0, "%s/index.json: %s", dir.c_str(), e.what());
  }
}

Status SaveIndex(const std::string& dir, const json& index) {
  return WriteFileAtomic(dir + "/index.json", index.dump(), 0644, true);
}

json ToJson(const std::string& name, const Descriptor& d) {
  json ann = json::object();
  for (const auto& [k, v] : d.annotations) ann[k] = v;
  ann[kRefAnnotation] = name;
  return {
      {"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}, {"annotations", ann}};
}

// An index.json entry as a Descriptor, with its annotations but the name.
Descriptor FromJson(const json& m) {
  Descriptor d{m.value("mediaType", ""), m.value("digest", ""), m.value("size", 0)};
  if (m.contains("annotations") && m["annotations"].is_object()) {
    for (const auto& [k, v] : m["annotations"].items())
      if (k != kRefAnnotation && v.is_string()) d.annotations[k] = v.get<std::string>();
  }
  return d;
}

std::string RefOf(const json& m) {
  if (!m.contains("annotations") || !m["annotations"].is_object()) return "";
  return m["annotations"].value(kRefAnnotation, "");
}

}  // namespace

BlobWriter::~BlobWriter() {
  if (!done_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

Status BlobWriter::Write(const void* data, size_t n) {
  hash_->Update(data, n);
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_.get(), p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Errno("write blob");
    p += w;
    n -= static_cast<size_t>(w);
    written_ += w;
  }
  return Ok();
}

Result<std::string> BlobWriter::Commit(const std::string& expected) {
  std::string got = hash_->Digest();
  if (!expected.empty() && got != expected)
    return MakeError(0, "blob %s: digest mismatch (got %s)", expected.c_str(), got.c_str());
  if (::fsync(fd_.get()) < 0) return Errno("fsync blob");
  std::string final_path = dir_ + "/" + got.substr(7);
  if (::rename(tmp_.c_str(), final_path.c_str()) < 0) return Errno("store blob %s", got.c_str());
  done_ = true;
  return got;
}

Result<UniqueFd> LockStoreDir(const std::string& dir, int op) {
  std::string path = dir + "/gc.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return Errno("open %s", path.c_str());
  if (::flock(fd.get(), op) < 0) return Errno("lock %s", path.c_str());
  return fd;
}

Result<Store> Store::Open(const std::string& dir) {
  TRY(MkdirAll(dir + "/blobs/sha256", 0755));
  bool layout = PathExists(dir + "/oci-layout"), index = PathExists(dir + "/index.json");
  if (!layout || !index) {
    // As a writer: a SweepTemps of a store whose first Open was killed midway removes the
    // temp files left, and must not remove those of an Open running now.
    UniqueFd lock = TRY(LockStoreDir(dir, LOCK_SH));
    if (!layout)
      TRY(WriteFileAtomic(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})", 0644));
    if (!index) TRY(SaveIndex(dir, json{{"schemaVersion", 2}, {"manifests", json::array()}}));
  }
  return Store(dir);
}

std::string Store::BlobPath(const std::string& digest) const {
  return dir_ + "/blobs/sha256/" + digest.substr(7);
}

bool Store::HasBlob(const std::string& digest) const {
  return ValidateSha256Digest(digest).ok() && PathExists(BlobPath(digest));
}

Result<std::string> Store::ReadBlob(const std::string& digest) const {
  TRY(ValidateSha256Digest(digest));
  return ReadFile(BlobPath(digest));
}

Result<BlobWriter> Store::NewBlob() {
  std::string dir = dir_ + "/blobs/sha256";
  std::string tmp = dir + "/.tmp-XXXXXX";
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) return Errno("create a temp blob in %s", dir.c_str());
  ::fchmod(fd.get(), 0644);
  return BlobWriter(dir, tmp, std::move(fd));
}

Result<std::string> Store::PutBlob(std::string_view data, const std::string& expected) {
  if (!expected.empty()) {
    TRY(ValidateSha256Digest(expected));
    if (HasBlob(expected)) return expected;
  }
  BlobWriter w = TRY(NewBlob());
  TRY(w.Write(data.data(), data.size()));
  return w.Commit(expected);
}

Status Store::RemoveBlob(const std::string& digest) {
  TRY(ValidateSha256Digest(digest));
  if (::unlink(BlobPath(digest).c_str()) < 0 && errno != ENOENT)
    return Errno("remove blob %s", digest.c_str());
  return Ok();
}

Status Store::SetRef(const std::string& name, const Descriptor& d) {
  FileLock lock = TRY(FileLock::Acquire(dir_ + "/index.lock"));
  json index = TRY(LoadIndex(dir_));
  json out = json::array();
  for (const auto& m : index["manifests"])
    if (RefOf(m) != name) out.push_back(m);
  out.push_back(ToJson(name, d));
  index["manifests"] = out;
  return SaveIndex(dir_, index);
}

Result<std::optional<Descriptor>> Store::GetRef(const std::string& name) const {
  json index = TRY(LoadIndex(dir_));
  for (const auto& m : index["manifests"]) {
    if (RefOf(m) != name) continue;
    return std::optional<Descriptor>(FromJson(m));
  }
  return std::optional<Descriptor>();
}

Status Store::RemoveRef(const std::string& name) {
  FileLock lock = TRY(FileLock::Acquire(dir_ + "/index.lock"));
  json index = TRY(LoadIndex(dir_));
  json out = json::array();
  bool found = false;
  for (const auto& m : index["manifests"]) {
    if (RefOf(m) == name) {
      found = true;
      continue;
    }
    out.push_back(m);
  }
  if (!found) return MakeError(ENOENT, "no image %s", name.c_str());
  index["manifests"] = out;
  return SaveIndex(dir_, index);
}

Result<std::vector<std::pair<std::string, Descriptor>>> Store::ListRefs() const {
  json index = TRY(LoadIndex(dir_));
  std::vector<std::pair<std::string, Descriptor>> out;
  for (const auto& m : index["manifests"]) {
    out.emplace_back(RefOf(m), FromJson(m));
  }
  return out;
}

}  // namespace skiff::image
