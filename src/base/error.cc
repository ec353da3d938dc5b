#include "base/error.h"

#include <cstdio>
#include <cstring>

namespace skiff {

std::string VStrFormat(const char* fmt, va_list ap) {
  char buf[512];
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(buf, sizeof buf, fmt, copy);
  va_end(copy);
  if (n < 0) return fmt;
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, n);
  std::string out(n, '\0');
  vsnprintf(out.data(), n + 1, fmt, ap);
  return out;
}

std::string StrFormat(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = VStrFormat(fmt, ap);
  va_end(ap);
  return s;
}

Error Error::Wrap(std::string_view context) && {
  std::string m;
  m.reserve(context.size() + 2 + msg.size());
  m.append(context);
  if (!msg.empty()) m.append(": ").append(msg);
  msg = std::move(m);
  return std::move(*this);
}

Error Error::Wrapf(const char* fmt, ...) && {
  va_list ap;
  va_start(ap, fmt);
  std::string context = VStrFormat(fmt, ap);
  va_end(ap);
  return std::move(*this).Wrap(context);
}

std::string Error::Message() const {
  if (code == 0) return msg;
  return msg + ": " + strerror(code);
}

Error Errno(const char* fmt, ...) {
  int saved = errno;
  va_list ap;
  va_start(ap, fmt);
  std::string m = VStrFormat(fmt, ap);
  va_end(ap);
  return Error{saved, std::move(m)};
}

Error MakeError(int code, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string m = VStrFormat(fmt, ap);
  va_end(ap);
  return Error{code, std::move(m)};
}

}  // namespace skiff
