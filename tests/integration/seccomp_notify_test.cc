// SCMP_ACT_NOTIFY: the listener fd goes to the agent at listenerPath with the seccomp
// state, and the agent decides the notified syscalls.
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "base/unix_socket.h"
#include "bundle.h"

namespace skiff::itest {
namespace {

using nlohmann::json;

class SeccompNotifyTest : public BundleTest {};

// Answers every notification with -ENOSPC until the listener closes.
void Agent(int listen_fd, std::string* message, std::atomic<int>* answered) {
  int conn = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn < 0) return;
  char data[4096] = {};
  char ctrl[CMSG_SPACE(sizeof(int))] = {};
  struct iovec iov = {data, sizeof data - 1};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctrl;
  msg.msg_controllen = sizeof ctrl;
  ssize_t n = ::recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  ::close(conn);
  if (n <= 0) return;
  *message = std::string(data, n);
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c) return;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  for (;;) {
    struct seccomp_notif req = {};
    if (::ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) break;
    struct seccomp_notif_resp resp = {};
    resp.id = req.id;
    resp.error = -ENOSPC;
    if (::ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0) ++*answered;
  }
  ::close(fd);
}

TEST_F(SeccompNotifyTest, AgentGetsTheFdAndAnswers) {
  std::string path = work_ + "/agent.sock";
  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lfd, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  memcpy(addr.sun_path, path.c_str(), path.size());
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 1), 0);
  std::string message;
  std::atomic<int> answered{0};
  std::thread agent(Agent, lfd, &message, &answered);

  spec_["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"listenerPath", path},
      {"listenerMetadata", "meta-1"},
      {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
  std::string id = NewId("notify");
  spec_["process"]["args"] = {"/bin/skiff-probe", "syscall", "mkdir"};
  WriteConfig();
  CmdResult r = Runtime({"run", "-b", bundle_, id});
  ::shutdown(lfd, SHUT_RDWR);
  agent.join();
  ::close(lfd);
  // skiff-probe exits 1 when the syscall fails, which is what the agent made it do.
  ASSERT_EQ(r.code, 1) << r.err << r.out;
  EXPECT_EQ(r.err.find("skiff-runtime"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("ENOSPC"), std::string::npos) << r.out;
  EXPECT_GE(answered.load(), 1);
  json m = json::parse(message, nullptr, false);
  ASSERT_TRUE(m.is_object()) << message;
  EXPECT_EQ(m["fds"], json::array({"seccompFd"}));
  EXPECT_EQ(m["metadata"], "meta-1");
  EXPECT_EQ(m["state"]["id"], id);
  EXPECT_GT(m["pid"].get<int>(), 0);
  EXPECT_EQ(m["pid"], m["state"]["pid"]);
}

TEST_F(SeccompNotifyTest, NoAgentIsAClearError) {
  spec_["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"listenerPath", work_ + "/nobody.sock"},
      {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
  CmdResult r = RunArgs({"/bin/true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("linux.seccomp.listenerPath"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace skiff::itest
