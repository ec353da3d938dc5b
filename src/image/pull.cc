#include "image/pull.h"

#include <atomic>
#include <mutex>
#include <optional>
#include <vector>

#include "base/parallel.h"
#include "image/reference.h"

namespace skiff::image {

namespace {

// Fetches one blob into the store unless it is there. Returns whether it was fetched.
Result<bool> FetchIntoStore(Registry& reg, Store& store, const Descriptor& d,
                            const ProgressFn& progress, const http::Sink& tee) {
  if (store.HasBlob(d.digest)) {
    if (progress) progress(d.digest, d.size, d.size);
    return false;
  }
  BlobWriter w = TRY(store.NewBlob());
  TRY(reg.FetchBlob(d, &w, progress, tee));
  // Two pulls of one image may both get here: each renames its own verified temp file
  // over the same name, and either copy is the blob.
  TRY(w.Commit(d.digest));
  return true;
}

// The descriptor a reference is stored with: the manifest's, and the index it came through.
Descriptor Named(const PullResult& r) {
  Descriptor d = r.manifest;
  if (!r.index_digest.empty()) d.annotations[kIndexAnnotation] = r.index_digest;
  return d;
}

// A pull by digest from the store alone: nullopt when anything it needs is missing (or is
// not what it should be), and the registry is asked.
Result<std::optional<PullResult>> FromStore(Store& store, const Reference& ref,
                                            const PullOptions& opts) {
  const std::optional<PullResult> ask;
  if (!store.HasBlob(ref.digest)) return ask;
  PullResult out{.ref = ref.String(), .from_store = true};
  std::string digest = ref.digest;
  std::string bytes = TRY(store.ReadBlob(digest));
  auto doc = oci::ParseManifestDoc(bytes, "");
  if (!doc.ok()) return ask;
  if (doc->is_index) {
    auto want = oci::SelectPlatform(doc->index, opts.platform);
    if (!want.ok() || !store.HasBlob(want->digest)) return ask;
    out.index_digest = digest;
    digest = want->digest;
    bytes = TRY(store.ReadBlob(digest));
    doc = oci::ParseManifestDoc(bytes, "");
    if (!doc.ok() || doc->is_index) return ask;
  }
  const oci::Manifest& man = doc->manifest;
  if (!store.HasBlob(man.config.digest)) return ask;
  for (const auto& l : man.layers)
    if (!store.HasBlob(l.digest)) return ask;
  out.manifest = Descriptor{
      .media_type = man.media_type, .digest = digest, .size = static_cast<int64_t>(bytes.size())};
  out.config_digest = man.config.digest;
  for (size_t i = 0; i < man.layers.size(); ++i) {
    const Descriptor& l = man.layers[i];
    if (opts.progress) opts.progress(l.digest, l.size, l.size);
    if (opts.on_layer) TRY(opts.on_layer(l, i));
    ++out.layers_present;
  }
  TRY(store.SetRef(out.ref, Named(out)));
  return std::optional<PullResult>(std::move(out));
}

}  // namespace

Result<PullResult> Pull(Store& store, const std::string& text, const PullOptions& opts) {
  Reference ref = TRY(ParseReference(text));
  if (!ref.digest.empty()) {
    std::optional<PullResult> local = TRY(FromStore(store, ref, opts));
    if (local) return std::move(*local);
  }
  auto reg = TRY(Registry::Open(ref.domain, ref.path, opts.registry));
  PullResult out{.ref = ref.String()};

  FetchedManifest m = TRY(reg->GetManifest(ref.digest.empty() ? ref.tag : ref.digest));
  oci::ManifestDoc doc = TRY(oci::ParseManifestDoc(m.bytes, m.media_type));
  std::string index_bytes;
  if (doc.is_index) {
    out.index_digest = m.digest;
    index_bytes = std::move(m.bytes);
    Descriptor want = TRY(oci::SelectPlatform(doc.index, opts.platform));
    m = TRY(reg->GetManifest(want.digest));
    doc = TRY(oci::ParseManifestDoc(m.bytes, m.media_type));
    if (doc.is_index)
      return MakeError(0, "manifest %s: a manifest list inside a manifest list", m.digest.c_str());
  }
  const oci::Manifest& man = doc.manifest;
  out.manifest = Descriptor{.media_type = man.media_type,
                            .digest = m.digest,
                            .size = static_cast<int64_t>(m.bytes.size())};
  for (const auto& l : man.layers) {
    TRY(oci::LayerMediaCompression(l.media_type).Wrap("layer " + l.digest));
  }

  // The config first: small, and it says whether the layers are worth fetching.
  bool config_fetched = TRY(FetchIntoStore(*reg, store, man.config, nullptr, nullptr));
  (void)config_fetched;
  std::string cfg_text = TRY(store.ReadBlob(man.config.digest));
  oci::ImageConfig cfg = TRY(oci::ParseImageConfig(cfg_text).Wrap("config " + man.config.digest));
  if (cfg.diff_ids.size() != man.layers.size()) {
    return MakeError(0, "config %s: %zu diff_ids for %zu layers", man.config.digest.c_str(),
                     cfg.diff_ids.size(), man.layers.size());
  }
  out.config_digest = man.config.digest;

  // Layers, `parallel` at a time; the first error stops the others at their next byte.
  std::mutex mu;
  Status layers = ForEachParallel(
      man.layers.size(), opts.parallel, [&](size_t i, const std::atomic<bool>& stop) -> Status {
        const Descriptor& d = man.layers[i];
        http::Sink user_tee =
            opts.layer_tee && !store.HasBlob(d.digest) ? opts.layer_tee(d, i, cfg) : http::Sink();
        http::Sink tee = [&, user_tee](const char* p, size_t n) -> Status {
          if (stop) return MakeError(ECANCELED, "blob %s: another layer failed", d.digest.c_str());
          return user_tee ? user_tee(p, n) : Ok();
        };
        bool got = TRY(FetchIntoStore(*reg, store, d, opts.progress, tee));
        if (opts.on_layer) TRY(opts.on_layer(d, i));
        std::lock_guard<std::mutex> lock(mu);
        if (got) {
          ++out.layers_fetched;
          out.bytes_fetched += d.size;
        } else {
          ++out.layers_present;
        }
        return Ok();
      });
  out.retries = reg->stats().retries;
  out.resumes = reg->stats().resumes;
  TRY(std::move(layers));

  // The index first: a reference never names a blob that is not there.
  if (!out.index_digest.empty()) TRY(store.PutBlob(index_bytes, out.index_digest));
  TRY(store.PutBlob(m.bytes, m.digest));
  TRY(store.SetRef(out.ref, Named(out)));
  return out;
}

}  // namespace skiff::image
