#include "image/push.h"

#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#include "base/parallel.h"
#include "image/reference.h"

namespace skiff::image {

namespace {

Result<Descriptor> FindLocal(const Store& store, const std::string& local) {
  auto d = TRY(store.GetRef(local));
  if (!d) {
    Reference r = TRY(ParseReference(local));
    d = TRY(store.GetRef(r.String()));
  }
  if (!d) return MakeError(ENOENT, "no image %s in the store", local.c_str());
  return *d;
}

// Blob digest -> a repository of `domain` whose local image has it: a mount source.
std::map<std::string, std::string> MountSources(const Store& store, const Reference& dest) {
  std::map<std::string, std::string> out;
  auto refs = store.ListRefs();
  if (!refs) return out;
  for (const auto& [name, desc] : *refs) {
    auto r = ParseReference(name);
    if (!r || r->domain != dest.domain || r->path == dest.path) continue;
    auto text = store.ReadBlob(desc.digest);
    if (!text) continue;
    auto doc = oci::ParseManifestDoc(*text, desc.media_type);
    if (!doc || doc->is_index) continue;
    out.emplace(doc->manifest.config.digest, r->path);
    for (const auto& l : doc->manifest.layers) out.emplace(l.digest, r->path);
  }
  return out;
}

}  // namespace

Result<PushResult> Push(Store& store, const std::string& local, const std::string& remote,
                        const PushOptions& opts) {
  Descriptor md = TRY(FindLocal(store, local));
  std::string bytes = TRY(store.ReadBlob(md.digest));
  oci::ManifestDoc doc = TRY(oci::ParseManifestDoc(bytes, md.media_type));
  if (doc.is_index) {
    return MakeError(0, "%s is a manifest list: pushing one is not supported yet", local.c_str());
  }
  Reference dest = TRY(ParseReference(remote));
  auto reg = TRY(Registry::Open(dest.domain, dest.path, opts.registry, /*push=*/true));
  auto sources = MountSources(store, dest);

  std::vector<Descriptor> blobs = doc.manifest.layers;
  blobs.push_back(doc.manifest.config);
  PushResult out;
  std::mutex mu;
  TRY(ForEachParallel(blobs.size(), opts.parallel,
                      [&](size_t i, const std::atomic<bool>&) -> Status {
    const Descriptor& d = blobs[i];
    auto push_one = [&]() -> Result<int> {  // 0 present, 1 uploaded, 2 mounted
      if (!store.HasBlob(d.digest)) {
        return MakeError(ENOENT, "blob %s: not in the store", d.digest.c_str());
      }
      if (TRY(reg->HasBlob(d.digest))) {
        if (opts.progress) opts.progress(d.digest, d.size, d.size);
        return 0;
      }
      auto src = sources.find(d.digest);
      std::string from = src == sources.end() ? "" : src->second;
      int mounts_before = reg->stats().mounts;
      TRY(reg->UploadBlob(store, d, from, opts.progress));
      return reg->stats().mounts > mounts_before && !from.empty() ? 2 : 1;
    };
    int r = TRY(push_one());
    std::lock_guard<std::mutex> lock(mu);
    (r == 0 ? out.present : r == 1 ? out.uploaded : out.mounted)++;
    return Ok();
  }));

  std::string tag = dest.digest.empty() ? dest.tag : dest.digest;
  out.digest = TRY(reg->PutManifest(tag, bytes, doc.manifest.media_type));
  return out;
}

}  // namespace skiff::image
