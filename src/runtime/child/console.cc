// process.terminal: a pty made inside the container (from its own devpts, so the slave's
// path means something there), the master sent to the console socket, the slave made the
// controlling terminal and stdio. As runc does.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "base/unix_socket.h"
#include "runtime/child/child.h"

namespace skiff::runtime::child {

Status SetupConsole(const ChildPlan& plan) {
  if (plan.console_socket_fd < 0) return Ok();
  UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return Errno("open /dev/ptmx");
  int unlock = 0, n = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) < 0) return Errno("unlock pty");
  if (::ioctl(master.get(), TIOCGPTN, &n) < 0) return Errno("pty number");
  std::string slave_path = StrFormat("/dev/pts/%d", n);
  UniqueFd slave(::open(slave_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return Errno("open %s", slave_path.c_str());
  if (plan.console_height || plan.console_width) {
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>(plan.console_height);
    ws.ws_col = static_cast<unsigned short>(plan.console_width);
    (void)::ioctl(slave.get(), TIOCSWINSZ, &ws);
  }
  // /dev/console is the container's terminal (runtime-linux.md). Not for exec: its mount
  // namespace is the container's, so the bind would replace the container's console with
  // this process's pty, and the next exec -t would find a dead pty there (ENOENT).
  if (!plan.exec) {
    int cfd = ::open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (cfd >= 0) ::close(cfd);
    if (::mount(slave_path.c_str(), "/dev/console", nullptr, MS_BIND, nullptr) < 0)
      return Errno("bind %s on /dev/console", slave_path.c_str());
  }
  TRY(SendFd(plan.console_socket_fd, master.get(), slave_path));
  ::close(plan.console_socket_fd);
  if (::setsid() < 0) return Errno("setsid");
  if (::ioctl(slave.get(), TIOCSCTTY, 0) < 0) return Errno("set the controlling terminal");
  for (int fd = 0; fd < 3; ++fd)
    if (::dup2(slave.get(), fd) < 0) return Errno("dup2 the terminal onto %d", fd);
  return Ok();
}

}  // namespace skiff::runtime::child
