#include "runtime/explain.h"

#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdlib>

#include "base/error.h"

namespace skiff::runtime {

int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Explain::Explain(int out_fd) : out_fd_(out_fd), origin_ns_(MonotonicNs()) {}

void Explain::Step(const char* who, const char* what, std::string text) {
  StepAt(Now(), who, what, std::move(text));
}

int64_t Explain::Now() const { return MonotonicNs() - origin_ns_; }

void Explain::StepAt(int64_t at, const char* who, const char* what, std::string text) {
  pending_.push_back({at, who, what, std::move(text)});
}

void Explain::Stepf(const char* who, const char* what, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string text = VStrFormat(fmt, ap);
  va_end(ap);
  Step(who, what, std::move(text));
}

int Explain::ChildEnd() {
  if (write_) return write_.get();
  if (read_) return -1;  // already handed out and closed: one child per Explain
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
    Step("runtime", "explain", "no pipe for the child's steps: " + Errno("pipe2").Message());
    return -1;
  }
  read_.reset(p[0]);
  write_.reset(p[1]);
  // Room for a few hundred lines, so that the child never has to drop one (its writes
  // don't block: a full pipe loses lines instead of stalling the container).
  (void)::fcntl(p[1], F_SETPIPE_SZ, 256 * 1024);
  return write_.get();
}

void Explain::CloseChildEnd() { write_.reset(); }

void Explain::ReadChild(bool wait) {
  if (!read_) return;
  int64_t deadline = MonotonicNs() + 5'000'000'000LL;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(read_.get(), buf, sizeof buf);
    if (n > 0) {
      partial_.append(buf, n);
      continue;
    }
    if (n == 0) {  // EOF: the child exec'd or died
      read_.reset();
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN || !wait) break;
    int left_ms = static_cast<int>((deadline - MonotonicNs()) / 1000000);
    if (left_ms <= 0) break;
    struct pollfd p = {read_.get(), POLLIN, 0};
    if (::poll(&p, 1, left_ms) < 0 && errno != EINTR) break;
  }
  ParseChild(!read_);
}

// "<ns> <what> <text>\n" lines, as child/trace.cc writes them.
void Explain::ParseChild(bool final) {
  size_t start = 0;
  for (;;) {
    size_t nl = partial_.find('\n', start);
    if (nl == std::string::npos) break;
    std::string line = partial_.substr(start, nl - start);
    start = nl + 1;
    char* end = nullptr;
    long long ns = strtoll(line.c_str(), &end, 10);
    size_t pos = end - line.c_str();
    if (pos == 0 || pos >= line.size()) continue;
    size_t sp = line.find(' ', pos + 1);
    std::string what =
        line.substr(pos + 1, sp == std::string::npos ? std::string::npos : sp - pos - 1);
    std::string text = sp == std::string::npos ? "" : line.substr(sp + 1);
    pending_.push_back({ns, "child", std::move(what), std::move(text)});
  }
  partial_.erase(0, start);
  if (final) partial_.clear();
}

void Explain::Flush(bool wait) {
  ReadChild(wait);
  std::stable_sort(pending_.begin(), pending_.end(),
                   [](const Rec& a, const Rec& b) { return a.ns < b.ns; });
  std::string out;
  if (!header_done_) {
    std::string h =
        "explain: what the kernel was asked to do (ms since the start, +ms since the previous "
        "step)";
    printed_.push_back(h);
    out += h + "\n";
    header_done_ = true;
  }
  for (const Rec& r : pending_) {
    int64_t ns = std::max(r.ns, last_printed_ns_);
    std::string line =
        StrFormat("%9.3f %+8.3f  %-7s %-10s %s", r.ns / 1e6, (ns - last_printed_ns_) / 1e6,
                  r.who.c_str(), r.what.c_str(), r.text.c_str());
    last_printed_ns_ = ns;
    out += line + "\n";
    printed_.push_back(std::move(line));
  }
  pending_.clear();
  for (size_t off = 0; off < out.size();) {
    ssize_t n = ::write(out_fd_, out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += n;
  }
}

}  // namespace skiff::runtime
