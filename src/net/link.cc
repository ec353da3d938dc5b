#include "net/link.h"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <unistd.h>

#include <ctime>
#include <memory>
#include <vector>

#include "base/fd.h"

namespace skiff::net {
namespace {

struct SocketClose {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using Socket = std::unique_ptr<mnl_socket, SocketClose>;

// A NETLINK_ROUTE socket of the namespace netns_fd names. A socket belongs to the
// namespace it was made in for its whole life, so the thread goes back at once.
Result<Socket> OpenIn(int netns_fd) {
  UniqueFd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!self) return Errno("open /proc/thread-self/ns/net");
  if (::setns(netns_fd, CLONE_NEWNET) < 0) return Errno("setns into the network namespace");
  Socket s(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC));
  int open_errno = errno;
  if (::setns(self.get(), CLONE_NEWNET) < 0) {
    // This thread is now in the wrong namespace, and anything it opens would go there.
    return Errno("setns back to our own network namespace");
  }
  if (!s) {
    errno = open_errno;
    return Errno("netlink socket");
  }
  if (mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0) return Errno("bind netlink socket");
  return s;
}

}  // namespace

Status SetLinkUp(int netns_fd, const std::string& ifname) {
  auto run = [&]() -> Status {
    Socket s = TRY(OpenIn(netns_fd));
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = RTM_NEWLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    uint32_t seq = static_cast<uint32_t>(time(nullptr));
    nlh->nlmsg_seq = seq;
    auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_change = IFF_UP;
    ifm->ifi_flags = IFF_UP;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname.c_str());
    if (mnl_socket_sendto(s.get(), nlh, nlh->nlmsg_len) < 0) return Errno("netlink send");
    uint32_t portid = mnl_socket_get_portid(s.get());
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(s.get(), buf.data(), buf.size());
      if (n < 0) return Errno("netlink receive");
      int rc = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, nullptr, nullptr);
      if (rc == MNL_CB_ERROR) return Errno("RTM_NEWLINK");
      if (rc == MNL_CB_STOP) return Ok();
    }
  };
  return run().Wrap("set " + ifname + " up");
}

}  // namespace skiff::net
