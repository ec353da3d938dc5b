// The foreground side of a terminal container (`run` with process.terminal and no
// --console-socket): copy between our stdio and the pty master until the container exits,
// with our terminal in raw mode and its size passed on.
#pragma once

#include <sys/types.h>

namespace skiff::runtime {

// Returns when the process behind pidfd has exited and the master is drained.
void ProxyConsole(int master, int pidfd);

}  // namespace skiff::runtime
