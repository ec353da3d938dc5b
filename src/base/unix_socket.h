// fds over unix sockets (SCM_RIGHTS): the console master to --console-socket.
#pragma once

#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace skiff {

Status SendFd(int sock, int fd, const std::string& name);
Result<UniqueFd> RecvFd(int sock);
// A SOCK_STREAM connection to a unix socket path of any length (through /proc/self/fd
// of its directory when the path does not fit sockaddr_un).
Result<UniqueFd> ConnectUnix(const std::string& path);

}  // namespace skiff
