// Explain mode (`skiff-runtime --explain run`, `skiff run --explain`): what the kernel was
// asked to do, step by step, with the time of each step since the start.
//
// Whoever wants it makes one Explain and passes it down (runtime::CreateOptions::explain;
// the engine adds its own steps before the runtime's). The parent's steps are recorded as
// they happen; the child's, between clone and execve, arrive as lines on a pipe
// (runtime/child/trace.h) and are merged by time when Flush prints. Off means no Explain
// at all: each call site tests a null pointer and formats nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/fd.h"

namespace skiff::runtime {

class Explain {
 public:
  // Prints to out_fd (stderr by default); the clock starts now (CLOCK_MONOTONIC).
  explicit Explain(int out_fd = 2);
  Explain(const Explain&) = delete;
  Explain& operator=(const Explain&) = delete;

  int64_t origin_ns() const { return origin_ns_; }
  // who: "engine", "runtime", "child"; what: one word ("cgroup", "clone3", "mount"...).
  void Step(const char* who, const char* what, std::string text);
  void Stepf(const char* who, const char* what, const char* fmt, ...)
      __attribute__((format(printf, 4, 5)));
  // A step that happened at `at` (from Now()) but is only known later: clone3's, whose pid
  // comes back after the child may already have recorded steps of its own.
  int64_t Now() const;
  void StepAt(int64_t at, const char* who, const char* what, std::string text);

  // The write end for the child (non-blocking, CLOEXEC), made on the first call; -1 if no
  // pipe could be made (the child's steps are then missing, and a step says so).
  int ChildEnd();
  // After clone: the parent's copy of the write end goes, so the read end sees EOF once the
  // child has exec'd or died.
  void CloseChildEnd();
  // Prints every step recorded so far in time order, after reading the child's lines:
  // until EOF (or a few seconds) when wait, else what is there now.
  void Flush(bool wait);

  // Where Flush prints from now on (a detached run's monitor: the pipe to `run -d`).
  void set_out_fd(int fd) { out_fd_ = fd; }

  // Lines printed so far (for tests and for callers that print elsewhere).
  const std::vector<std::string>& printed() const { return printed_; }

 private:
  struct Rec {
    int64_t ns;
    std::string who, what, text;
  };
  void ReadChild(bool wait);
  void ParseChild(bool final);

  int out_fd_;
  int64_t origin_ns_;
  int64_t last_printed_ns_ = 0;
  bool header_done_ = false;
  UniqueFd read_, write_;
  std::string partial_;  // child bytes not yet ended by a newline
  std::vector<Rec> pending_;
  std::vector<std::string> printed_;
};

// Explain's monotonic clock, in ns (the child computes its times against origin_ns()).
int64_t MonotonicNs();

}  // namespace skiff::runtime
