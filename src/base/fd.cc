#include "base/fd.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>

namespace skiff {

void OwnedPid::reset() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace skiff
