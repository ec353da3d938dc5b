#include "base/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace skiff {

Status SendFd(int sock, int fd, const std::string& name) {
  struct msghdr msg = {};
  struct iovec iov = {const_cast<char*>(name.data()), name.size() ? name.size() : 1};
  char buf[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = buf;
  msg.msg_controllen = sizeof buf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  while (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) return Errno("send %s fd", name.c_str());
  }
  return Ok();
}

Result<UniqueFd> RecvFd(int sock) {
  struct msghdr msg = {};
  char data[256];
  struct iovec iov = {data, sizeof data};
  char buf[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = buf;
  msg.msg_controllen = sizeof buf;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Errno("receive fd");
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return MakeError(EPROTO, "receive fd: no fd in the message");
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return UniqueFd(fd);
}

Result<UniqueFd> ConnectUnix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Errno("socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  UniqueFd dir;
  if (path.size() < sizeof addr.sun_path) {
    memcpy(addr.sun_path, path.c_str(), path.size());
  } else {
    auto slash = path.find_last_of('/');
    std::string d = path.substr(0, slash);
    dir = UniqueFd(::open(d.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return Errno("open %s", d.c_str());
    snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dir.get(),
             path.c_str() + slash + 1);
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return Errno("connect %s", path.c_str());
  return fd;
}

}  // namespace skiff
