// Error and Result: the one error type of skiff (STYLE.md rule 3).
//
// An Error carries the errno that caused it (0 when there is none) and a message made of
// context, outermost first: "create c1: mount proc on /proc". Message() adds the kernel's
// reason, so the user reads one line: what failed, on what, and why.
#pragma once

#include <cerrno>
#include <cstdarg>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace skiff {

std::string StrFormat(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string VStrFormat(const char* fmt, va_list ap);

struct [[nodiscard]] Error {
  int code = 0;     // errno, or 0 for a logic error
  std::string msg;  // context chain, outermost first

  // Prefixes context: Error{EPERM, "mount proc"}.Wrap("create c1") -> "create c1: mount proc".
  Error Wrap(std::string_view context) &&;
  Error Wrapf(const char* fmt, ...) && __attribute__((format(printf, 2, 3)));
  // The full line: msg plus strerror(code) when code is set.
  std::string Message() const;
};

// An Error with errno captured at the call site; call it right after the failing syscall.
Error Errno(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// An Error with an explicit code (0 for "not a kernel error").
Error MakeError(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T value() && { return std::move(std::get<0>(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(std::get<0>(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error error() && { return std::move(std::get<1>(v_)); }

  Result Wrap(std::string_view context) && {
    if (ok()) return std::move(*this);
    return std::move(std::get<1>(v_)).Wrap(context);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT: implicit

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const {}
  const Error& error() const& { return err_; }
  Error error() && { return std::move(err_); }

  Result Wrap(std::string_view context) && {
    if (ok_) return {};
    return std::move(err_).Wrap(context);
  }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status Ok() { return {}; }

}  // namespace skiff

// TRY(expr): evaluates a Result; on error returns it from the enclosing function, otherwise
// yields the value. A GNU statement expression, as in the kernel and in crun.
#define TRY(expr)                                               \
  ({                                                            \
    auto&& try_result_ = (expr);                                \
    if (!try_result_.ok()) return std::move(try_result_).error(); \
    std::move(try_result_).value();                             \
  })
