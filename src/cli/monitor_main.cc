// skiff-monitor: what a detached container's monitor runs while the container does (conmon's
// job). The monitor is a fork of skiff until the container's process runs; then it execs
// this small static program, so that what stays in memory for the container's lifetime is
// a few hundred KiB instead of skiff with its libraries. It copies the container's output
// into the json-file log, and when the container exits it execs skiff again (the command
// after "--", with "--exit-code N" added) to record the exit and clean up or restart.
//
//   skiff-monitor PID OUT_FD ERR_FD LOG_FD -- SKIFF ARGS...
//
// PID is our child (the container's process); OUT_FD and ERR_FD are its stdout and stderr
// pipes (-1 for none; with a tty OUT_FD is the pty master), LOG_FD the log opened O_APPEND.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/logs.h"

namespace {

using skiff::engine::EncodeLogLine;
using skiff::engine::LogSplitter;
using skiff::engine::LogTimeNow;

int g_log = -1;

void WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void Log(std::string_view line, const char* stream) {
  std::string rec = EncodeLogLine(line, stream, LogTimeNow());
  WriteAll(g_log, rec.data(), rec.size());
}

// false at EOF or error.
bool Copy(int fd, LogSplitter* split, const char* stream) {
  char buf[16384];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  split->Feed(std::string_view(buf, static_cast<size_t>(n)),
              [&](std::string_view l) { Log(l, stream); });
  return true;
}

void Drain(int fd, LogSplitter* split, const char* stream) {
  if (fd < 0) return;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 || !Copy(fd, split, stream)) break;
  }
  split->Flush([&](std::string_view l) { Log(l, stream); });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7 || std::strcmp(argv[5], "--") != 0) {
    const char* msg = "usage: skiff-monitor PID OUT_FD ERR_FD LOG_FD -- SKIFF ARGS...\n";
    WriteAll(2, msg, std::strlen(msg));
    return 2;
  }
  pid_t pid = static_cast<pid_t>(std::atoi(argv[1]));
  int out = std::atoi(argv[2]), err = std::atoi(argv[3]);
  g_log = std::atoi(argv[4]);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  LogSplitter out_split, err_split;
  bool out_open = out >= 0, err_open = err >= 0;
  while (pidfd >= 0) {
    struct pollfd p[3] = {{pidfd, POLLIN, 0},
                          {out_open ? out : -1, POLLIN, 0},
                          {err_open ? err : -1, POLLIN, 0}};
    int n = ::poll(p, 3, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (p[1].revents) out_open = Copy(out, &out_split, "stdout");
    if (p[2].revents) err_open = Copy(err, &err_split, "stderr");
    if (p[0].revents & POLLIN) break;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // Processes the container left behind with a shared pid namespace may hold the pipes:
  // only what is there now.
  Drain(out, &out_split, "stdout");
  Drain(err, &err_split, "stderr");
  int code = WIFEXITED(status) ? WEXITSTATUS(status)
             : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                   : 255;
  for (int fd : {out, err, g_log, pidfd})
    if (fd >= 0) ::close(fd);
  std::vector<char*> args(argv + 6, argv + argc);
  std::string code_text = std::to_string(code);
  args.push_back(const_cast<char*>("--exit-code"));
  args.push_back(code_text.data());
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  return 127;  // Refresh of the next skiff command records it as died and cleans up
}
