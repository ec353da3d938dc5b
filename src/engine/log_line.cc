// The json-file record encoder, alone in its file: skiff-monitor links only this.
#include <time.h>

#include <cstdio>

#include "engine/logs.h"

namespace skiff::engine {
namespace {

void AppendJsonString(std::string* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        // Go's encoding/json escapes <, > and & too (HTML-safe), and so Docker's files do.
        if (c < 0x20 || c == '<' || c == '>' || c == '&') {
          *out += "\\u00";
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

}  // namespace

std::string EncodeLogLine(std::string_view line, std::string_view stream,
                          std::string_view time_rfc3339nano) {
  std::string out = "{\"log\":";
  AppendJsonString(&out, line);
  out += ",\"stream\":";
  AppendJsonString(&out, stream);
  out += ",\"time\":";
  AppendJsonString(&out, time_rfc3339nano);
  out += "}\n";
  return out;
}

std::string LogTimeNow() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  size_t n = ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (ts.tv_nsec > 0) {
    n += static_cast<size_t>(snprintf(buf + n, sizeof buf - n, ".%09ld", ts.tv_nsec));
    while (buf[n - 1] == '0') --n;
  }
  buf[n++] = 'Z';
  return std::string(buf, n);
}

}  // namespace skiff::engine
