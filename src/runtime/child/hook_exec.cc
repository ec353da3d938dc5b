#include "runtime/child/hook_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>

#include "base/fd.h"
#include "base/syscalls.h"

namespace skiff::runtime {
namespace {

[[noreturn]] void ExecHook(const HookSpec& h, int stdin_fd) {
  ::dup2(stdin_fd, 0);
  std::vector<char*> argv, envp;
  if (h.args.empty()) argv.push_back(const_cast<char*>(h.path.c_str()));
  for (const auto& a : h.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : h.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ::execve(h.path.c_str(), argv.data(), envp.data());
  _exit(127);
}

}  // namespace

Status RunHook(const HookSpec& h, const std::string& state_json, const char* phase) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return Errno("%s hook %s: pipe", phase, h.path.c_str());
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t pid = ::fork();
  if (pid < 0) return Errno("%s hook %s: fork", phase, h.path.c_str());
  if (pid == 0) ExecHook(h, rd.get());
  OwnedPid owned(pid);
  rd.reset();
  // A hook that does not read its stdin must not block us: the state is small enough for
  // the pipe buffer, and EPIPE is ignored. Only for this write: the container's init runs
  // createContainer and startContainer hooks, and an ignored SIGPIPE would survive its
  // execve into the container's process.
  struct sigaction ign = {}, old = {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old);
  (void)!::write(wr.get(), state_json.data(), state_json.size());
  ::sigaction(SIGPIPE, &old, nullptr);
  wr.reset();

  UniqueFd pidfd(sys::PidfdOpen(pid, 0));
  if (pidfd && h.timeout_s > 0) {
    struct pollfd pfd = {pidfd.get(), POLLIN, 0};
    int n;
    do {
      n = ::poll(&pfd, 1, h.timeout_s * 1000);
    } while (n < 0 && errno == EINTR);
    // Code 0: the message says it all, strerror(ETIMEDOUT) would add "Connection timed out".
    if (n == 0)  // OwnedPid kills and reaps it
      return MakeError(0, "%s hook %s: timed out after %d s", phase, h.path.c_str(), h.timeout_s);
  }
  int status = 0;
  while (::waitpid(owned.get(), &status, 0) < 0) {
    if (errno != EINTR) return Errno("%s hook %s: wait", phase, h.path.c_str());
  }
  (void)owned.release();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Ok();
  if (WIFEXITED(status))
    return MakeError(0, "%s hook %s: exited with status %d", phase, h.path.c_str(),
                     WEXITSTATUS(status));
  return MakeError(0, "%s hook %s: killed by signal %d", phase, h.path.c_str(), WTERMSIG(status));
}

Status RunHooks(const std::vector<HookSpec>& hooks, const std::string& state_json,
                const char* phase) {
  for (const auto& h : hooks) TRY(RunHook(h, state_json, phase));
  return Ok();
}

}  // namespace skiff::runtime
