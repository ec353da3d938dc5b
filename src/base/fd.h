// UniqueFd and OwnedPid: RAII for kernel objects (STYLE.md rule 5).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <utility>

namespace skiff {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() { return std::exchange(fd_, -1); }
  // close() is never retried on EINTR: on Linux the fd is gone either way.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A child process that is killed (SIGKILL) and reaped unless released: the rollback of a
// failed create (crun's cleanup_pid).
class OwnedPid {
 public:
  OwnedPid() = default;
  explicit OwnedPid(pid_t pid) : pid_(pid) {}
  OwnedPid(OwnedPid&& o) noexcept : pid_(o.release()) {}
  OwnedPid& operator=(OwnedPid&& o) noexcept {
    if (this != &o) {
      reset();
      pid_ = o.release();
    }
    return *this;
  }
  OwnedPid(const OwnedPid&) = delete;
  OwnedPid& operator=(const OwnedPid&) = delete;
  ~OwnedPid() { reset(); }

  pid_t get() const { return pid_; }
  pid_t release() { return std::exchange(pid_, -1); }
  void reset();

 private:
  pid_t pid_ = -1;
};

// Runs a function at scope exit unless dismissed: rollback for multi-step setup.
template <typename F>
class ScopeGuard {
 public:
  explicit ScopeGuard(F f) : f_(std::move(f)) {}
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;
  ~ScopeGuard() {
    if (active_) f_();
  }
  void Dismiss() { active_ = false; }

 private:
  F f_;
  bool active_ = true;
};

}  // namespace skiff
