// The parent/child sync protocol, in one place (as runc's sync.go). A SOCK_SEQPACKET
// socketpair carries fixed-size typed messages; each message is one datagram.
//
//   child                                   parent
//   ------                                  ------
//   (cloned; waits)                  <----  kGo          after uid/gid maps are written
//   kChildPid {pid}                  ---->               only after an extra fork (pid join)
//   kCreated {pid}                   ---->               setup done
//   ...                              <----  kGo          create only: the state is saved
//                                                        (EOF instead: the child leaves)
//   ...                              <----  kStart       (run only; create uses start.sock)
//   on any failure: kError {errno, msg}, then _exit(127)
//
// A socket that reads EOF means the child exec'd (the fd is CLOEXEC) or died.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "base/error.h"

namespace skiff::runtime {

enum class SyncType : uint32_t {
  kGo = 1,
  kCreated = 2,
  kStart = 3,
  kError = 4,
  kHookRequest = 5,  // child is at a hook point (createContainer), parent acks with kGo
  kChildPid = 6,     // joined pid namespace: the intermediate reports the real child's pid
};

struct SyncMsg {
  SyncType type;
  int32_t err;   // errno for kError
  int32_t pid;   // kCreated: the container process (host pid)
  char msg[500];  // kError: context chain, NUL-terminated
};

// Both ends: one datagram each way; EINTR retried.
Status SendSync(int fd, const SyncMsg& m);
// Returns false at EOF (peer closed: child exec'd or died).
Result<bool> RecvSync(int fd, SyncMsg* m);

}  // namespace skiff::runtime
