#include "image/progress.h"

#include <unistd.h>

#include <algorithm>

namespace skiff::image {

std::string ShortDigest(const std::string& digest) {
  size_t colon = digest.find(':');
  std::string algo = colon == std::string::npos ? "" : digest.substr(0, colon + 1);
  std::string hex = colon == std::string::npos ? digest : digest.substr(colon + 1);
  return algo + hex.substr(0, 12);
}

std::string HumanBytes(int64_t n) {
  if (n < 1000) return StrFormat("%lld B", static_cast<long long>(n));
  const char* units[] = {"kB", "MB", "GB", "TB"};
  double v = static_cast<double>(n) / 1000;
  int u = 0;
  while (v >= 1000 && u < 3) {
    v /= 1000;
    ++u;
  }
  return StrFormat("%.1f %s", v, units[u]);
}

std::string ProgressLine(const std::string& digest, int64_t done, int64_t total) {
  std::string id = ShortDigest(digest);
  if (total > 0 && done >= total) return id + ": done (" + HumanBytes(total) + ")";
  constexpr int kWidth = 30;
  int fill = total > 0 ? static_cast<int>(kWidth * std::min<double>(1.0, double(done) / total)) : 0;
  std::string bar(kWidth, ' ');
  for (int i = 0; i < fill; ++i) bar[i] = '=';
  if (fill < kWidth) bar[fill] = '>';
  return id + ": [" + bar + "] " + HumanBytes(done) + "/" +
         (total > 0 ? HumanBytes(total) : std::string("?"));
}

ProgressRenderer::ProgressRenderer(FILE* out) : out_(out), tty_(::isatty(fileno(out)) == 1) {}

void ProgressRenderer::Update(const std::string& digest, int64_t done, int64_t total) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it =
      std::find_if(rows_.begin(), rows_.end(), [&](const Row& r) { return r.digest == digest; });
  if (it == rows_.end()) {
    rows_.push_back(Row{.digest = digest});
    it = rows_.end() - 1;
  }
  it->done = done;
  it->total = total;
  bool complete = total > 0 && done >= total;
  if (!tty_) {
    if (complete && !it->reported) {
      it->reported = true;
      std::fprintf(out_, "%s\n", ProgressLine(digest, done, total).c_str());
      std::fflush(out_);
    }
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (!complete && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  Redraw();
}

void ProgressRenderer::Redraw() {
  std::string s;
  if (drawn_ > 0) s += StrFormat("\x1b[%dA", drawn_);  // back to the first row
  for (const auto& r : rows_) s += "\r\x1b[2K" + ProgressLine(r.digest, r.done, r.total) + "\n";
  drawn_ = static_cast<int>(rows_.size());
  std::fputs(s.c_str(), out_);
  std::fflush(out_);
}

void ProgressRenderer::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (tty_ && !rows_.empty()) Redraw();
}

}  // namespace skiff::image
