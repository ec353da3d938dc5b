// The foreground side of a terminal container (`run` with process.terminal and no
// --console-socket): copy between our stdio and the pty master until the container exits,
// with our terminal in raw mode and its size passed on.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace skiff::runtime {

// Returns when the process behind pidfd has exited and the master is drained.
void ProxyConsole(int master, int pidfd);

// Where the child sends its pty master: a connection to --console-socket, or (proxy) one end
// of a socketpair whose other end, *parent, we read it from. Neither: both stay invalid.
Status OpenConsoleSockets(const std::string& console_socket, bool proxy, UniqueFd* child,
                          UniqueFd* parent);

}  // namespace skiff::runtime
