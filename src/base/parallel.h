// A few threads taking items in turn: what pull (layers), push (blobs) and unpack (layers)
// all do. The first error stops the others before their next item; fn sees `stop` so that
// long work (a download) can give up early too.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/error.h"

namespace skiff {

// Calls fn(i, stop) for i in [0, count) from up to `parallel` threads (the caller's among
// them). Returns the first error, after every thread has finished.
inline Status ForEachParallel(size_t count, int parallel,
                              const std::function<Status(size_t, const std::atomic<bool>&)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::optional<Error> first;
  auto worker = [&] {
    for (size_t i = next++; i < count && !stop; i = next++) {
      Status s = fn(i, stop);
      if (s) continue;
      std::lock_guard<std::mutex> lock(mu);
      if (!stop.exchange(true)) first = std::move(s).error();
      return;
    }
  };
  size_t n = std::min<size_t>(static_cast<size_t>(std::max(parallel, 1)), count);
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n; t++) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first) return *first;
  return Ok();
}

}  // namespace skiff
