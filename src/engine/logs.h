// Docker's json-file log driver format, one JSON object a line:
//   {"log":"hello\n","stream":"stdout","time":"2024-05-01T10:11:12.123456789Z"}
// written by the monitor into <id>-json.log and read back by `skiff logs`. A line longer
// than kMaxLogLine is split as Docker does (no "\n" at the end of the first parts).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace skiff::engine {

inline constexpr size_t kMaxLogLine = 16 * 1024;

// One log record; line includes its trailing "\n" when it had one. (log_line.cc: it
// depends on nothing but the standard library, so the small skiff-monitor links it alone.)
std::string EncodeLogLine(std::string_view line, std::string_view stream,
                          std::string_view time_rfc3339nano);
// Now, as Go's time.RFC3339Nano in UTC (trailing zeros of the fraction trimmed).
std::string LogTimeNow();

struct LogEntry {
  std::string log;     // the text, "\n" included
  std::string stream;  // "stdout" or "stderr"
  std::string time;    // RFC3339Nano
  int64_t time_ns = 0;
};
Result<LogEntry> DecodeLogLine(std::string_view json_line);

// Splits a chunk read from a pipe into log records: complete lines go out through emit,
// a partial last line waits in *pending (flushed when it grows past kMaxLogLine or at EOF
// with FlushPending).
class LogSplitter {
 public:
  template <typename Emit>
  void Feed(std::string_view chunk, Emit&& emit) {
    pending_.append(chunk);
    size_t start = 0;
    for (;;) {
      size_t nl = pending_.find('\n', start);
      if (nl == std::string::npos) break;
      emit(std::string_view(pending_).substr(start, nl + 1 - start));
      start = nl + 1;
    }
    pending_.erase(0, start);
    while (pending_.size() >= kMaxLogLine) {
      emit(std::string_view(pending_).substr(0, kMaxLogLine));
      pending_.erase(0, kMaxLogLine);
    }
  }
  template <typename Emit>
  void Flush(Emit&& emit) {
    if (!pending_.empty()) emit(std::string_view(pending_));
    pending_.clear();
  }

 private:
  std::string pending_;
};

// RFC3339 ("2024-05-01T10:11:12Z", fractions and offsets allowed), a Unix time ("1714558272"
// or with a fraction), or a duration before now ("10m", "1h30m", "45s") -> ns since the epoch.
Result<int64_t> ParseSince(std::string_view text, int64_t now_ns);
// RFC3339Nano time -> ns since the epoch.
Result<int64_t> ParseRfc3339Nano(std::string_view text);

struct LogsOptions {
  bool follow = false;      // -f: until the container stops
  bool timestamps = false;  // -t: "<time> " before each line
  int64_t tail = -1;        // --tail N; -1 = all
  int64_t since_ns = 0;     // --since; 0 = from the start
  int64_t until_ns = 0;     // --until; 0 = no end
};

// Writes the log of the container at path: stdout records to out_fd, stderr ones to err_fd.
// follow keeps reading until still_running() says false and the file is drained.
Status CopyLogs(const std::string& path, const LogsOptions& opts, int out_fd, int err_fd,
                const std::function<bool()>& still_running);

}  // namespace skiff::engine
