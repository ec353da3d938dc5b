#include "engine/logs.h"

#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>

#include "base/fd.h"

namespace skiff::engine {
namespace {

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

bool WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t w = ::write(fd, s.data(), s.size());
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    s.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

}  // namespace

Result<LogEntry> DecodeLogLine(std::string_view json_line) {
  try {
    auto j = nlohmann::json::parse(json_line, nullptr, true, false);
    LogEntry e;
    e.log = j.value("log", "");
    e.stream = j.value("stream", "stdout");
    e.time = j.value("time", "");
    e.time_ns = TRY(ParseRfc3339Nano(e.time));
    return e;
  } catch (const std::exception& ex) {
    return MakeError(0, "log line: %s", ex.what());
  }
}

Result<int64_t> ParseRfc3339Nano(std::string_view text) {
  std::string t(text);
  struct tm tm = {};
  const char* p = ::strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) return MakeError(0, "invalid time \"%s\"", t.c_str());
  int64_t secs = static_cast<int64_t>(::timegm(&tm));
  int64_t nanos = 0;
  if (*p == '.') {
    ++p;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (*p - '0');
        digits++;
      }
      ++p;
    }
    while (digits++ < 9) nanos *= 10;
  }
  if (*p == 'Z' || *p == 'z') {
    ++p;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '+' ? 1 : -1;
    int hh = 0, mm = 0;
    if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
      return MakeError(0, "invalid time \"%s\"", t.c_str());
    secs -= sign * (hh * 3600 + mm * 60);
    p += 6;
  } else if (*p) {
    return MakeError(0, "invalid time \"%s\"", t.c_str());
  }
  if (*p) return MakeError(0, "invalid time \"%s\"", t.c_str());
  return secs * 1000000000LL + nanos;
}

Result<int64_t> ParseSince(std::string_view text, int64_t now_ns) {
  if (text.empty()) return 0;
  std::string t(text);
  // A duration: Go's time.ParseDuration units h, m, s, ms.
  if (t.find_first_of("hms") != std::string::npos && t.find('T') == std::string::npos &&
      t.find('-') == std::string::npos) {
    int64_t total_ns = 0;
    size_t i = 0;
    while (i < t.size()) {
      size_t j = i;
      while (j < t.size() && ((t[j] >= '0' && t[j] <= '9') || t[j] == '.')) j++;
      if (j == i) return MakeError(0, "invalid duration \"%s\"", t.c_str());
      double v = atof(t.substr(i, j - i).c_str());
      size_t k = j;
      while (k < t.size() && !((t[k] >= '0' && t[k] <= '9') || t[k] == '.')) k++;
      std::string unit = t.substr(j, k - j);
      double mult = unit == "h" ? 3600e9 : unit == "m" ? 60e9 : unit == "s" ? 1e9
                    : unit == "ms" ? 1e6 : 0;
      if (mult == 0) return MakeError(0, "invalid duration \"%s\"", t.c_str());
      total_ns += static_cast<int64_t>(v * mult);
      i = k;
    }
    return now_ns - total_ns;
  }
  // A Unix time, "1714558272" or "1714558272.5".
  size_t dot = t.find('.');
  int64_t secs = 0, frac = 0;
  if (ParseInt(std::string_view(t).substr(0, dot), &secs) &&
      (dot == std::string::npos || ParseInt(std::string_view(t).substr(dot + 1), &frac))) {
    int64_t nanos = 0;
    if (dot != std::string::npos) {
      std::string f = t.substr(dot + 1, 9);
      while (f.size() < 9) f += '0';
      ParseInt(f, &nanos);
    }
    return secs * 1000000000LL + nanos;
  }
  // RFC3339, or a date alone.
  if (t.size() == 10) t += "T00:00:00Z";
  auto v = ParseRfc3339Nano(t);
  if (!v.ok())
    return MakeError(0, "invalid value for \"since\": failed to parse \"%s\"", std::string(text).c_str());
  return v;
}

Status CopyLogs(const std::string& path, const LogsOptions& opts, int out_fd, int err_fd,
                const std::function<bool()>& still_running) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno != ENOENT) return Errno("open %s", path.c_str());
    if (!opts.follow) return Ok();  // never started: no log yet
  }
  auto emit = [&](std::string_view raw) -> bool {
    auto e = DecodeLogLine(raw);
    if (!e.ok()) return true;  // a torn last line of a monitor killed mid-write
    if (opts.since_ns && e->time_ns < opts.since_ns) return true;
    if (opts.until_ns && e->time_ns > opts.until_ns) return true;
    std::string text = opts.timestamps ? e->time + " " + e->log : e->log;
    return WriteAll(e->stream == "stderr" ? err_fd : out_fd, text);
  };
  std::string pending;
  // --tail: the last N records of what is there now; following goes on from there.
  std::deque<std::string> tail;
  bool first_pass = true;
  char buf[65536];
  for (;;) {
    if (!fd) {
      fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    }
    bool got = false;
    while (fd) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("read %s", path.c_str());
      if (n == 0) break;
      got = true;
      pending.append(buf, static_cast<size_t>(n));
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(pending.data() + start, nl - start);
        if (first_pass && opts.tail >= 0) {
          tail.emplace_back(line);
          if (static_cast<int64_t>(tail.size()) > opts.tail) tail.pop_front();
        } else if (!emit(line)) {
          return Ok();  // our reader went away
        }
      }
      pending.erase(0, start);
    }
    if (first_pass) {
      for (const auto& l : tail)
        if (!emit(l)) return Ok();
      tail.clear();
      first_pass = false;
    }
    if (!opts.follow) return Ok();
    if (!got) {
      bool running = still_running();
      if (!running) {
        // One last read: what the monitor wrote before it recorded the exit.
        if (fd) {
          ssize_t n;
          while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) pending.append(buf, n);
          size_t start = 0;
          for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
            emit(std::string_view(pending.data() + start, nl - start));
        }
        return Ok();
      }
      struct timespec ts = {0, 50 * 1000000};
      ::nanosleep(&ts, nullptr);
    }
  }
}

}  // namespace skiff::engine
