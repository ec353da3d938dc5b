// Links, by netlink (libmnl): what `ip link set dev X up` does, without running ip.
#pragma once

#include <string>

#include "base/error.h"

namespace skiff::net {

// Sets the link named ifname up in the network namespace netns_fd refers to (an fd of
// /proc/<pid>/ns/net). The netlink socket is opened inside that namespace (setns of the
// calling thread there and back), so nothing else of the caller changes. Docker's
// --network none containers get their loopback up this way: a new network namespace
// starts with lo down, and 127.0.0.1 unreachable.
Status SetLinkUp(int netns_fd, const std::string& ifname);

}  // namespace skiff::net
