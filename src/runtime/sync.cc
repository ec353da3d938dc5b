#include "runtime/sync.h"

#include <sys/socket.h>

#include <cerrno>

namespace skiff::runtime {

Status SendSync(int fd, const SyncMsg& m) {
  for (;;) {
    ssize_t n = ::send(fd, &m, sizeof m, MSG_NOSIGNAL);
    if (n == sizeof m) return Ok();
    if (n < 0 && errno == EINTR) continue;
    return Errno("sync send");
  }
}

Result<bool> RecvSync(int fd, SyncMsg* m) {
  for (;;) {
    ssize_t n = ::recv(fd, m, sizeof *m, 0);
    if (n == sizeof *m) {
      m->msg[sizeof m->msg - 1] = '\0';
      return true;
    }
    if (n == 0) return false;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ECONNRESET) return false;
    if (n < 0) return Errno("sync receive");
    return MakeError(EPROTO, "sync receive: short message (%zd bytes)", n);
  }
}

}  // namespace skiff::runtime
