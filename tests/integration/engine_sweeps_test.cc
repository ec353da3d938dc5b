// What commands SIGKILLed half-way leave behind, and the next `ps -a` that cleans it up:
// the anonymous volumes of a killed create, the .removing- directory of a killed rm.
// The real `skiff` binary (engine_fixture.h); the image has a /bulk tree large enough that
// copying it into a volume, or removing a copy of it, takes long enough to be killed in.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bundle.h"
#include "engine_fixture.h"

namespace skiff::itest {
namespace {

constexpr int kBulkDirs = 40, kBulkFiles = 100;

// A skiff command running in the background; SIGKILLed and reaped unless it was waited for.
class Background {
 public:
  Background(const std::string& root, std::vector<std::string> args) {
    args.insert(args.begin(), {SKIFF_BIN, "--root", root});
    pid_ = ::fork();
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Background() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
  }
  pid_t pid() const { return pid_; }
  bool Exited() {  // reaped, without waiting
    int st = 0;
    if (pid_ > 0 && ::waitpid(pid_, &st, WNOHANG) == pid_) {
      status_ = st;
      pid_ = -1;
    }
    return pid_ < 0;
  }
  int Wait() {  // the wait status
    if (pid_ > 0) {
      ::waitpid(pid_, &status_, 0);
      pid_ = -1;
    }
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') out.insert(e->d_name);
  ::closedir(d);
  return out;
}

class EngineSweepsTest : public EngineFixture {
 protected:
  EngineSweepsTest() : EngineFixture("sweeps") {}
  void ExtendTree(const std::string& tree) override {
    ASSERT_EQ(::symlink("busybox", (tree + "/bin/cp").c_str()), 0);
    ASSERT_EQ(::mkdir((tree + "/bulk").c_str(), 0755), 0);
    for (int d = 0; d < kBulkDirs; ++d) {
      std::string dir = tree + "/bulk/d" + std::to_string(d);
      ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
      for (int f = 0; f < kBulkFiles; ++f)
        ASSERT_TRUE(WriteText(dir + "/f" + std::to_string(f), "bulk\n"));
    }
  }
  std::string Volumes() { return root_ + "/volumes"; }
  std::string Containers() { return root_ + "/containers"; }
  // The markers create leaves in a container's directory while it is built.
  size_t Markers(const std::string& id) {
    size_t n = 0;
    for (const auto& e : Entries(Containers() + "/" + id)) n += e.rfind("anon-volume-", 0) == 0;
    return n;
  }
};

// A create killed while it copies the image's /bulk into its new anonymous volume: the next
// ps removes that volume with the half-built container, and keeps a named volume, another
// container's anonymous volume, and the anonymous volume rm (without -v) leaves.
TEST_F(EngineSweepsTest, KilledCreatesAnonymousVolumeGoesAtTheNextPs) {
  CmdResult named = Skiff({"create", "--name", "named", "-v", "keep:/k", "bb", "true"});
  ASSERT_EQ(named.code, 0) << named.err;
  Own(Trim(named.out));
  CmdResult other = Skiff({"create", "--name", "other", "-v", "/bulk", "bb", "true"});
  ASSERT_EQ(other.code, 0) << other.err;
  std::string other_id = Trim(other.out);
  Own(other_id);
  EXPECT_EQ(Markers(other_id), 0u) << "the record is written: no markers left";
  std::string other_vol = Inspect("other")["Mounts"][0]["Name"];
  CmdResult left = Skiff({"create", "--name", "left", "-v", "/bulk", "bb", "true"});
  ASSERT_EQ(left.code, 0) << left.err;
  std::string left_vol = Inspect("left")["Mounts"][0]["Name"];
  ASSERT_EQ(Skiff({"rm", "left"}).code, 0);  // no -v: its volume stays

  std::set<std::string> before = Entries(Volumes());
  std::set<std::string> dirs_before = Entries(Containers());
  std::string killed_vol;
  for (int round = 0; round < 8 && killed_vol.empty(); ++round) {
    Background create(root_, {"create", "-v", "/bulk", "bb", "true"});
    for (auto t0 = std::chrono::steady_clock::now();
         killed_vol.empty() && !create.Exited() &&
         std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20);) {
      for (const auto& v : Entries(Volumes()))
        if (!before.count(v)) killed_vol = v;
    }
    if (!killed_vol.empty()) {
      ::kill(create.pid(), SIGKILL);
      int st = create.Wait();
      if (WIFSIGNALED(st)) break;
    }
    // It finished first: that container is a whole one, removed with its volume.
    killed_vol.clear();
    CmdResult ids = Skiff({"ps", "-aq", "--no-trunc"});
    for (const auto& id : Lines(ids.out)) {
      if (dirs_before.count(id)) continue;
      EXPECT_EQ(Skiff({"rm", "-v", id}).code, 0);
    }
    before = Entries(Volumes());
  }
  ASSERT_FALSE(killed_vol.empty()) << "no create was killed while it made its volume";
  std::string orphan;
  for (const auto& d : Entries(Containers()))
    if (!dirs_before.count(d)) orphan = d;
  ASSERT_FALSE(orphan.empty());
  EXPECT_EQ(Markers(orphan), 1u);
  EXPECT_TRUE(Exists(Volumes() + "/" + killed_vol));

  CmdResult ps = Skiff({"ps", "-a"});
  ASSERT_EQ(ps.code, 0) << ps.err;
  EXPECT_FALSE(Exists(Volumes() + "/" + killed_vol)) << "the killed create's volume stayed";
  EXPECT_FALSE(Exists(Containers() + "/" + orphan));
  EXPECT_FALSE(Exists(Containers() + "/.removing-" + orphan));
  EXPECT_EQ(ReadText("/proc/self/mountinfo").find(orphan), std::string::npos);
  EXPECT_TRUE(Exists(Volumes() + "/keep/_data"));
  EXPECT_TRUE(Exists(Volumes() + "/" + other_vol + "/_data/d0/f0"));
  EXPECT_TRUE(Exists(Volumes() + "/" + left_vol + "/_data/d0/f0"));
}

// An rm stopped between its rename and the end of the removal holds the directory's lock:
// ps leaves the .removing- directory alone. Killed, it leaves it for ever, but for the
// next ps, which removes it.
TEST_F(EngineSweepsTest, KilledRmsDirectoryGoesAtTheNextPs) {
  std::string removing;
  for (int round = 0; round < 8 && removing.empty(); ++round) {
    CmdResult run = Skiff({"run", "--name", "big", "bb", "cp", "-a", "/bulk", "/copy"});
    ASSERT_EQ(run.code, 0) << run.err;
    std::string id = Inspect("big")["Id"];
    Own(id);
    std::string path = Containers() + "/.removing-" + id;
    Background rm(root_, {"rm", "big"});
    while (!rm.Exited() && !Exists(path)) {
    }
    if (!rm.Exited()) ::kill(rm.pid(), SIGSTOP);
    if (rm.Exited() || !Exists(path)) continue;  // it was done first: again
    removing = path;
    CmdResult ps = Skiff({"ps", "-a"});
    EXPECT_EQ(ps.code, 0) << ps.err;
    EXPECT_TRUE(Exists(removing)) << "a live remover's directory was taken";
    ::kill(rm.pid(), SIGKILL);
    EXPECT_TRUE(WIFSIGNALED(rm.Wait()));
  }
  ASSERT_FALSE(removing.empty()) << "no rm was stopped while it removed the directory";
  ASSERT_TRUE(Exists(removing));
  CmdResult ps = Skiff({"ps", "-a"});
  ASSERT_EQ(ps.code, 0) << ps.err;
  EXPECT_FALSE(Exists(removing)) << "the killed rm's directory stayed";
}

}  // namespace
}  // namespace skiff::itest
