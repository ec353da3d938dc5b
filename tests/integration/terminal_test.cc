// process.terminal: the pty master handed to --console-socket (SCM_RIGHTS), the container's
// view of its terminal (/dev/pts/N, /dev/console, consoleSize), the flag combinations that
// are refused, and a foreground run proxying its own terminal.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <regex>

#include "base/fd.h"
#include "bundle.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

// Reads fd until its text contains want, EOF/EIO, or timeout_ms; returns what it read.
std::string ReadUntil(int fd, const std::string& want, int timeout_ms = 5000) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (got.find(want) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EIO on a master once the last slave fd is closed
    got.append(buf, n);
  }
  return got;
}

class TerminalTest : public BundleTest {
 protected:
  void SetUp() override {
    BundleTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    for (const char* a : {"tty", "stty", "hostname"})
      ::symlink("busybox", (rootfs_ + "/bin/" + a).c_str());
    spec_["process"]["terminal"] = true;
  }
  // A listening SOCK_STREAM socket at work_/console.sock.
  skiff::UniqueFd Listen() {
    sock_path_ = work_ + "/console.sock";
    skiff::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(fd) << strerror(errno);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock_path_.c_str());
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
        << strerror(errno);
    EXPECT_EQ(::listen(fd.get(), 1), 0) << strerror(errno);
    return fd;
  }
  // Accepts one connection and receives one fd over it; the data sent with it into *name.
  static skiff::UniqueFd AcceptMaster(int listen_fd, std::string* name) {
    struct pollfd p = {listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return skiff::UniqueFd();
    skiff::UniqueFd conn(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return skiff::UniqueFd();
    char data[256] = {};
    struct iovec iov = {data, sizeof data - 1};
    char ctl[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl;
    msg.msg_controllen = sizeof ctl;
    ssize_t n = ::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return skiff::UniqueFd();
    *name = std::string(data, n);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return skiff::UniqueFd();
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return skiff::UniqueFd(fd);
  }
  // One line starting with prefix (the runtime may add the errno's text after it).
  static void ExpectOneLine(const std::string& err, const std::string& prefix) {
    EXPECT_EQ(err.rfind(prefix, 0), 0u) << err;
    EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
  }
  std::string sock_path_;
};

TEST_F(TerminalTest, ConsoleSocketGetsTheMaster) {
  skiff::UniqueFd lsock = Listen();
  ASSERT_FALSE(HasFailure());
  spec_["process"]["consoleSize"] = {{"height", 40}, {"width", 120}};
  spec_["process"]["args"] = {"/bin/sh", "-c",
                              "tty; stty size; test -c /dev/console && echo console-ok; "
                              "echo hi; read x; echo got:$x; exit 0"};
  WriteConfig();
  std::string id = NewId("tty");
  CmdResult c = Runtime({"create", "-b", bundle_, "--console-socket", sock_path_, id});
  ASSERT_EQ(c.code, 0) << c.err;
  std::string name;
  skiff::UniqueFd master = AcceptMaster(lsock.get(), &name);
  ASSERT_TRUE(master) << "no fd received on the console socket";
  EXPECT_TRUE(std::regex_match(name, std::regex("/dev/pts/[0-9]+"))) << name;
  // It is a pty master: it has a peer number.
  int ptn = -1;
  EXPECT_EQ(::ioctl(master.get(), TIOCGPTN, &ptn), 0) << strerror(errno);
  EXPECT_EQ(name, "/dev/pts/" + std::to_string(ptn));

  ASSERT_EQ(Runtime({"start", id}).code, 0);
  std::string out = ReadUntil(master.get(), "hi\r\n");
  // The pty turns \n into \r\n (onlcr): what a terminal shows.
  EXPECT_NE(out.find(name + "\r\n40 120\r\nconsole-ok\r\nhi\r\n"), std::string::npos) << out;
  ASSERT_EQ(::write(master.get(), "abc\n", 4), 4);
  out = ReadUntil(master.get(), "got:abc\r\n");
  // The line discipline echoes what we typed, then the shell answers.
  EXPECT_NE(out.find("abc\r\ngot:abc\r\n"), std::string::npos) << out;
  EXPECT_TRUE(WaitStatus(id, "stopped"));
  // Nothing of the container's went to create's stdout: it all went to the terminal.
  EXPECT_EQ(ReadText(c.out_path), "");
}

TEST_F(TerminalTest, ControllingTerminalAndSession) {
  // The shell is a session leader with the pty as its controlling terminal: ^C typed on the
  // master reaches the foreground process as SIGINT.
  skiff::UniqueFd lsock = Listen();
  ASSERT_FALSE(HasFailure());
  spec_["process"]["args"] = {"/bin/sh", "-c",
                              "trap 'echo caught-int; exit 0' INT; echo ready; "
                              "while true; do sleep 0.1; done"};
  WriteConfig();
  std::string id = NewId("tty");
  ASSERT_EQ(Runtime({"create", "-b", bundle_, "--console-socket", sock_path_, id}).code, 0);
  std::string name;
  skiff::UniqueFd master = AcceptMaster(lsock.get(), &name);
  ASSERT_TRUE(master);
  ASSERT_EQ(Runtime({"start", id}).code, 0);
  ASSERT_NE(ReadUntil(master.get(), "ready\r\n").find("ready"), std::string::npos);
  ASSERT_EQ(::write(master.get(), "\x03", 1), 1);
  EXPECT_NE(ReadUntil(master.get(), "caught-int").find("caught-int"), std::string::npos);
  EXPECT_TRUE(WaitStatus(id, "stopped"));
}

TEST_F(TerminalTest, TerminalWithoutConsoleSocketRefusedForCreate) {
  spec_["process"]["args"] = {"/bin/true"};
  WriteConfig();
  std::string id = NewId("tty");
  CmdResult c = Runtime({"create", "-b", bundle_, id});
  EXPECT_NE(c.code, 0);
  ExpectOneLine(c.err, "skiff-runtime: create " + id +
                           ": process.terminal needs --console-socket when detached");
  EXPECT_FALSE(Exists(root_ + "/" + id));
  CmdResult d = Runtime({"run", "-d", "-b", bundle_, id});
  EXPECT_NE(d.code, 0);
  EXPECT_NE(d.err.find("process.terminal needs --console-socket"), std::string::npos) << d.err;
  EXPECT_FALSE(Exists(root_ + "/" + id));
}

TEST_F(TerminalTest, ConsoleSocketWithoutTerminalRefused) {
  skiff::UniqueFd lsock = Listen();
  ASSERT_FALSE(HasFailure());
  spec_["process"]["terminal"] = false;
  spec_["process"]["args"] = {"/bin/true"};
  WriteConfig();
  std::string id = NewId("tty");
  CmdResult c = Runtime({"create", "-b", bundle_, "--console-socket", sock_path_, id});
  EXPECT_NE(c.code, 0);
  ExpectOneLine(c.err,
                "skiff-runtime: create " + id + ": --console-socket needs process.terminal: true");
  EXPECT_FALSE(Exists(root_ + "/" + id));
  struct pollfd p = {lsock.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "create connected to the console socket anyway";
}

TEST_F(TerminalTest, ForegroundRunProxiesItsTerminal) {
  spec_["process"]["args"] = {"/bin/sh", "-c",
                              "tty; stty size; echo ready; read x; echo got:$x; exit 7"};
  WriteConfig();
  std::string id = NewId("tty");
  std::string root = root_, bundle = bundle_;
  struct winsize ws = {};
  ws.ws_row = 33;
  ws.ws_col = 77;
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &ws);
  ASSERT_GE(pid, 0) << strerror(errno);
  if (pid == 0) {
    ::execl(SKIFF_RUNTIME_BIN, SKIFF_RUNTIME_BIN, "--root", root.c_str(), "run", "-b",
            bundle.c_str(), id.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  OwnPid(pid);  // killed in TearDown if it hangs
  skiff::UniqueFd m(master);
  // Our own end of run's terminal, to see the modes run leaves on it.
  skiff::UniqueFd slave(::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC));
  ASSERT_TRUE(slave) << strerror(errno);
  std::string out = ReadUntil(m.get(), "ready\r\n", 10000);
  // The container has a pty of its own (not ours), sized like ours.
  EXPECT_TRUE(std::regex_search(out, std::regex("^/dev/pts/[0-9]+\r\n33 77\r\nready\r\n"))) << out;
  ASSERT_EQ(::write(m.get(), "hello\r", 6), 6);
  out = ReadUntil(m.get(), "got:hello\r\n", 10000);
  EXPECT_NE(out.find("got:hello\r\n"), std::string::npos) << out;
  int status = 0;
  pid_t w = 0;
  for (int i = 0; i < 500 && (w = ::waitpid(pid, &status, WNOHANG)) == 0; ++i) {
    (void)ReadUntil(m.get(), "\n", 10);  // keep draining so it can never block on output
  }
  ASSERT_EQ(w, pid) << "run did not exit";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
  // run restored our terminal: still in canonical mode with echo, as forkpty made it.
  struct termios t;
  ASSERT_EQ(::tcgetattr(slave.get(), &t), 0);
  EXPECT_TRUE(t.c_lflag & ICANON);
  EXPECT_TRUE(t.c_lflag & ECHO);
  EXPECT_FALSE(Exists(root_ + "/" + id));
}

}  // namespace
}  // namespace skiff::itest
