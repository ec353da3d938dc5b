#include "runtime/console.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

#include "base/unix_socket.h"

namespace skiff::runtime {
namespace {

volatile sig_atomic_t g_winch = 0;
void OnWinch(int) { g_winch = 1; }

void CopySize(int from, int to) {
  struct winsize ws;
  if (::ioctl(from, TIOCGWINSZ, &ws) == 0) (void)::ioctl(to, TIOCSWINSZ, &ws);
}

// false at EOF or error.
bool Pump(int from, int to) {
  char buf[8192];
  ssize_t n = ::read(from, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = ::write(to, buf + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    off += w;
  }
  return true;
}

}  // namespace

void ProxyConsole(int master, int pidfd) {
  struct termios saved;
  bool raw = ::isatty(0) && ::tcgetattr(0, &saved) == 0;
  if (raw) {
    struct termios t = saved;
    ::cfmakeraw(&t);
    ::tcsetattr(0, TCSANOW, &t);
    CopySize(0, master);
    struct sigaction sa = {};
    sa.sa_handler = OnWinch;
    ::sigaction(SIGWINCH, &sa, nullptr);
  }
  bool in_open = true;
  for (;;) {
    struct pollfd p[3] = {{master, POLLIN, 0}, {pidfd, POLLIN, 0}, {0, POLLIN, 0}};
    int n = ::poll(p, in_open ? 3 : 2, -1);
    if (g_winch) {
      g_winch = 0;
      CopySize(0, master);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!Pump(master, 1)) break;
    }
    if (in_open && (p[2].revents & (POLLIN | POLLHUP))) {
      if (!Pump(0, master)) in_open = false;
    }
    if (p[1].revents & POLLIN) {
      // Exited: what it wrote last is still in the master.
      int fl = ::fcntl(master, F_GETFL);
      ::fcntl(master, F_SETFL, fl | O_NONBLOCK);
      char buf[8192];
      ssize_t r;
      while ((r = ::read(master, buf, sizeof buf)) > 0) (void)!::write(1, buf, r);
      break;
    }
  }
  if (raw) ::tcsetattr(0, TCSANOW, &saved);
}

Status OpenConsoleSockets(const std::string& console_socket, bool proxy, UniqueFd* child,
                          UniqueFd* parent) {
  if (!console_socket.empty()) {
    *child = TRY(ConnectUnix(console_socket).Wrap("console socket"));
  } else if (proxy) {
    int cs[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cs) < 0) return Errno("socketpair");
    *parent = UniqueFd(cs[0]);
    *child = UniqueFd(cs[1]);
  }
  return Ok();
}

}  // namespace skiff::runtime
