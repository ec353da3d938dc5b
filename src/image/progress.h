// Progress of a pull or push as a user sees it. On a terminal: one line per blob, redrawn in
// place (ANSI cursor-up and erase-line) at most every 100 ms. Otherwise (a log, a pipe):
// one plain line per blob when it is done, "sha256:ab12cd34ef56: done (1.2 MB)".
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "image/registry.h"

namespace skiff::image {

// "sha256:ab12cd34ef56" (12 hex digits, as Docker shows IDs).
std::string ShortDigest(const std::string& digest);
// 999 B, 1.2 kB, 34.5 MB (decimal units, as Docker prints them).
std::string HumanBytes(int64_t n);
// "sha256:ab12cd34ef56: [=====>      ]  1.2 MB/4.5 MB" or "...: done (4.5 MB)".
std::string ProgressLine(const std::string& digest, int64_t done, int64_t total);

class ProgressRenderer {
 public:
  // tty: draw in place; otherwise plain lines.
  ProgressRenderer(FILE* out, bool tty) : out_(out), tty_(tty) {}
  // tty when out is a terminal (isatty).
  explicit ProgressRenderer(FILE* out = stderr);

  // Thread-safe; what PullOptions::progress should call.
  void Update(const std::string& digest, int64_t done, int64_t total);
  // The final redraw on a terminal.
  void Finish();
  ProgressFn Callback() {
    return [this](const std::string& d, int64_t done, int64_t total) { Update(d, done, total); };
  }

 private:
  struct Row {
    std::string digest;
    int64_t done = 0, total = 0;
    bool reported = false;
  };
  void Redraw();

  FILE* out_;
  bool tty_;
  std::mutex mu_;
  std::vector<Row> rows_;
  int drawn_ = 0;  // lines drawn last time, to move the cursor back over
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace skiff::image
