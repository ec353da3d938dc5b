// skiff-init: the PID 1 of `skiff run --init` (bind-mounted at /sbin/skiff-init), like tini
// and Docker's docker-init. A program that isn't written to be PID 1 gets no default signal
// actions from the kernel (SIGTERM to PID 1 does nothing unless handled) and never reaps
// the orphans reparented to it, which then pile up as zombies. This init does both jobs:
// it forwards every signal it can catch to its child and reaps every zombie, then exits
// with the child's status (128+N when a signal killed it).
//
// Usage: skiff-init [-g] [--] PROGRAM [ARGS...]   (-g: signal the child's process group)
//
// Static, no C++ runtime beyond what the compiler needs, no allocation after start: it
// lives in every container that asks for it and must not depend on the image's libc.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace {

void Die(const char* what, int err) {
  fprintf(stderr, "skiff-init: %s: %s\n", what, strerror(err));
  _exit(127);
}

// Signals left unblocked: the synchronous ones (a fault in init must kill it, not be
// queued) and the terminal stop signals, which tini leaves alone too.
bool Synchronous(int sig) {
  switch (sig) {
    case SIGFPE:
    case SIGILL:
    case SIGSEGV:
    case SIGBUS:
    case SIGABRT:
    case SIGTRAP:
    case SIGSYS:
    case SIGTTIN:
    case SIGTTOU:
      return true;
    default:
      return false;
  }
}

[[noreturn]] void RunChild(char** argv, const sigset_t* parent_mask) {
  // The child gets its own process group and, on a terminal, the foreground, so that a
  // shell in it can do job control and ^C reaches it.
  if (setpgid(0, 0) != 0) Die("setpgid", errno);
  if (isatty(STDIN_FILENO)) {
    // tcsetpgrp from a background group raises SIGTTOU: ignore it for the call.
    signal(SIGTTOU, SIG_IGN);
    if (tcsetpgrp(STDIN_FILENO, getpgrp()) != 0 && errno != ENOTTY && errno != ENXIO)
      Die("tcsetpgrp", errno);
    signal(SIGTTOU, SIG_DFL);
  }
  sigprocmask(SIG_SETMASK, parent_mask, nullptr);
  execvp(argv[0], argv);
  int err = errno;
  fprintf(stderr, "skiff-init: exec %s: %s\n", argv[0], strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

int StatusCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool group = false;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    if (strcmp(argv[i], "--") == 0) {
      ++i;
      break;
    }
    if (strcmp(argv[i], "-g") == 0) {
      group = true;
      continue;
    }
    fprintf(stderr,
            "skiff-init: unknown option %s\nusage: skiff-init [-g] [--] PROGRAM [ARGS...]\n",
            argv[i]);
    return 2;
  }
  if (i >= argc) {
    fprintf(stderr, "usage: skiff-init [-g] [--] PROGRAM [ARGS...]\n");
    return 2;
  }

  sigset_t all, old;
  sigfillset(&all);
  for (int sig = 1; sig < NSIG; ++sig)
    if (Synchronous(sig)) sigdelset(&all, sig);
  if (sigprocmask(SIG_SETMASK, &all, &old) != 0) Die("sigprocmask", errno);

  // Not PID 1 (run by hand, or in a shared pid namespace): become the subreaper, so that
  // orphans below us are still ours to reap.
  if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) Die("PR_SET_CHILD_SUBREAPER", errno);

  pid_t child = fork();
  if (child < 0) Die("fork", errno);
  if (child == 0) RunChild(argv + i, &old);

  int exit_code = -1;
  while (exit_code < 0) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      Die("sigwaitinfo", errno);
    }
    if (sig != SIGCHLD) {
      // The child may already be gone (ESRCH): the SIGCHLD is on its way.
      kill(group ? -child : child, sig);
      continue;
    }
    // SIGCHLD coalesces: reap everything that is ready.
    while (true) {
      int status;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid == child) exit_code = StatusCode(status);
    }
  }
  // Reap what is already dead; what still runs is the kernel's to kill when PID 1 exits.
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  return exit_code;
}
