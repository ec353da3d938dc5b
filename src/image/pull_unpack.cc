#include "image/pull_unpack.h"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "base/fd.h"
#include "image/images.h"
#include "image/unpack.h"

namespace skiff::image {
namespace {

// How far a download may run ahead of its unpacker: enough to ride out the unpacker's
// pauses (file creation on ext4 costs milliseconds, MACHINE.md) without holding a layer.
constexpr size_t kMaxQueued = 8u << 20;

// Bytes from the download thread to the unpacker thread. The writer blocks while the queue
// is full; the reader blocks while it is empty. Close (writer) ends the stream; Leave
// (reader) makes every later write a no-op, so a failed unpacker never stalls the download.
class ChunkQueue {
 public:
  void Write(const char* p, size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return gone_ || queued_ < kMaxQueued; });
    if (gone_ || closed_) return;
    q_.emplace_back(p, n);
    queued_ += n;
    cv_.notify_all();
  }
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  size_t Read(void* buf, size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !q_.empty() || closed_; });
    size_t got = 0;
    while (got < n && !q_.empty()) {
      std::string& front = q_.front();
      size_t take = std::min(n - got, front.size() - off_);
      std::memcpy(static_cast<char*>(buf) + got, front.data() + off_, take);
      got += take;
      off_ += take;
      if (off_ == front.size()) {
        queued_ -= front.size();
        q_.pop_front();
        off_ = 0;
      }
    }
    cv_.notify_all();
    return got;
  }
  void Leave() {
    std::lock_guard<std::mutex> l(mu_);
    gone_ = true;
    q_.clear();
    queued_ = 0;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> q_;
  size_t off_ = 0, queued_ = 0;
  bool closed_ = false, gone_ = false;
};

struct Streamed {
  ChunkQueue queue;
  std::thread thread;
  bool unpacked = false;  // set by the thread: its unpack ran and verified everything
};

// The writer's end: when the download drops its last copy of the sink (the layer's transfer
// is over, done or failed), the unpacker reads the end of the stream.
struct TeeEnd {
  explicit TeeEnd(Streamed* s) : s(s) {}
  ~TeeEnd() { s->queue.Close(); }
  Streamed* s;
};

void UnpackStream(Streamed* s, LayerStore* layers, const std::string& chain_id,
                  const std::string& diff_id, const Descriptor& blob) {
  auto done = layers->Ensure(
      chain_id,
      [&](int dest) -> Status {
        ByteSource src = [s](void* buf, size_t n) -> Result<size_t> {
          return s->queue.Read(buf, n);
        };
        UnpackResult r = TRY(UnpackLayer(src, dest, UnpackOptions{.expected_diff_id = diff_id}));
        // The download checks the blob it stores; this checks the bytes this unpacker read,
        // so a cut or altered stream can't become a layer even if they differ.
        if (r.digest != blob.digest)
          return MakeError(0, "blob %s: digest mismatch (unpacked %s)", blob.digest.c_str(),
                           r.digest.c_str());
        s->unpacked = true;
        return Ok();
      },
      /*wait=*/false);  // another process unpacks it: leave it to UnpackImage, which waits
  if (!done.ok()) s->unpacked = false;
  s->queue.Leave();
}

}  // namespace

Result<PullUnpackResult> PullAndUnpack(Store& store, LayerStore& layers, const std::string& ref,
                                       PullOptions opts) {
  std::mutex mu;
  std::vector<std::unique_ptr<Streamed>> streams;
  auto join_all = [&] {
    std::lock_guard<std::mutex> l(mu);
    for (auto& s : streams) {
      s->queue.Close();
      if (s->thread.joinable()) s->thread.join();
    }
  };
  ScopeGuard joiner(join_all);
  opts.layer_tee = [&](const Descriptor& d, size_t i, const oci::ImageConfig& cfg) -> http::Sink {
    auto chain = ChainIds(cfg.diff_ids);
    if (!chain.ok() || i >= chain->size() || layers.Has((*chain)[i])) return nullptr;
    std::lock_guard<std::mutex> l(mu);
    Streamed* s = streams.emplace_back(std::make_unique<Streamed>()).get();
    s->thread = std::thread(UnpackStream, s, &layers, (*chain)[i], cfg.diff_ids[i], d);
    auto end = std::make_shared<TeeEnd>(s);
    return [end](const char* p, size_t n) -> Status {
      end->s->queue.Write(p, n);
      return Ok();
    };
  };
  PullUnpackResult out;
  out.pull = TRY(Pull(store, ref, opts));
  join_all();
  for (const auto& s : streams) out.layers_streamed += s->unpacked;
  // Whatever did not stream (stored blobs, failed or skipped streams) unpacks from the store.
  Image img = TRY(FindImage(store, out.pull.ref));
  out.lower = TRY(UnpackImage(store, layers, img));
  return out;
}

}  // namespace skiff::image
