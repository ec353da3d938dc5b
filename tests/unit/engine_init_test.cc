// skiff-init (src/cli/init_main.cc), run as a plain child of the test: not PID 1, so it
// makes itself the subreaper, which gives it the same reaping duty.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Child {
  pid_t pid = -1;
  int out = -1;  // the child's stdout
};

Child Spawn(std::vector<std::string> args) {
  int p[2];
  EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Child c;
  c.pid = ::fork();
  if (c.pid == 0) {
    ::dup2(p[1], 1);
    std::vector<char*> argv;
    std::string bin = SKIFF_INIT_BIN;
    argv.push_back(bin.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(99);
  }
  ::close(p[1]);
  c.out = p[0];
  return c;
}

int Wait(const Child& c) {
  int status = 0;
  EXPECT_EQ(::waitpid(c.pid, &status, 0), c.pid);
  ::close(c.out);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  return WEXITSTATUS(status);
}

std::string ReadLine(int fd) {
  std::string line;
  char ch;
  while (::read(fd, &ch, 1) == 1 && ch != '\n') line += ch;
  return line;
}

// Zombies whose parent is pid, from /proc/*/stat.
int ZombieChildren(pid_t pid) {
  int n = 0;
  DIR* d = ::opendir("/proc");
  while (struct dirent* e = d ? ::readdir(d) : nullptr) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    size_t rp = stat.rfind(')');
    if (rp == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (sscanf(stat.c_str() + rp + 1, " %c %d", &state, &ppid) == 2 && ppid == pid && state == 'Z')
      ++n;
  }
  if (d) ::closedir(d);
  return n;
}

TEST(EngineInit, PassesTheExitCode) {
  EXPECT_EQ(Wait(Spawn({"--", "sh", "-c", "exit 3"})), 3);
  EXPECT_EQ(Wait(Spawn({"sh", "-c", "exit 0"})), 0);
  EXPECT_EQ(Wait(Spawn({"--", "sh", "-c", "kill -9 $$"})), 137);
  EXPECT_EQ(Wait(Spawn({"--", "/nonexistent/program"})), 127);
  EXPECT_EQ(Wait(Spawn({})), 2);
  EXPECT_EQ(Wait(Spawn({"-x", "sh"})), 2);
}

TEST(EngineInit, ForwardsSignals) {
  Child c =
      Spawn({"--", "sh", "-c", "trap 'exit 7' TERM; echo ready; while :; do sleep 0.02; done"});
  ASSERT_EQ(ReadLine(c.out), "ready");
  ASSERT_EQ(::kill(c.pid, SIGTERM), 0);
  EXPECT_EQ(Wait(c), 7);

  // A signal the child doesn't handle kills it, and init reports 128+N.
  c = Spawn({"-g", "--", "sh", "-c", "echo ready; while :; do sleep 0.02; done"});
  ASSERT_EQ(ReadLine(c.out), "ready");
  ASSERT_EQ(::kill(c.pid, SIGUSR1), 0);
  EXPECT_EQ(Wait(c), 128 + SIGUSR1);
}

TEST(EngineInit, ReapsOrphans) {
  // The subshell exits at once and leaves its sleep 0.1 orphaned: reparented to init, which
  // must reap it when it dies while the main child still runs.
  Child c = Spawn({"--", "sh", "-c", "(sleep 0.1 &); echo ready; sleep 0.6"});
  ASSERT_EQ(ReadLine(c.out), "ready");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(ZombieChildren(c.pid), 0);
  EXPECT_EQ(Wait(c), 0);
}

}  // namespace
