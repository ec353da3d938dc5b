// cgroup managers against the real kernel: root only; every test removes what it made, even
// when it fails (CgroupGuard). On this machine the layout is hybrid (MACHINE.md).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/file.h"
#include "base/syscalls.h"
#include "cgroup/manager.h"
#include "cgroup/util.h"

namespace skiff::cgroup {
namespace {

#define ASSERT_OK(expr)                                         \
  do {                                                          \
    auto&& r_ = (expr);                                         \
    ASSERT_TRUE(r_.ok()) << #expr ": " << r_.error().Message(); \
  } while (0)

std::string UniqueName() {
  static int n = 0;
  return "skiff-itest-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

std::string Slurp(const std::string& path) {
  auto r = ReadFile(path);
  if (r.ok()) return *r;
  std::string msg(1, '<');  // appends: GCC 12 warns (-Wrestrict, bogus) on "<" + string
  return msg.append(r.error().Message()).append(">");
}

// Destroys the manager's cgroups at scope exit, then removes any directory left over.
class CgroupGuard {
 public:
  CgroupGuard(Manager* m, const Hierarchies& h) : m_(m), h_(h) {}
  ~CgroupGuard() {
    if (!m_) return;
    (void)m_->Destroy();
    for (const auto& [c, rel] : m_->Paths()) {
      std::string mount = c.empty() ? h_.unified : h_.v1.count(c) ? h_.v1.at(c) : "";
      if (!mount.empty()) (void)RemoveCgroupTree(JoinPath(mount, rel));
    }
  }

 private:
  Manager* m_;
  Hierarchies h_;
};

// A child in the cgroups of plan: cloned into the cgroup2 one, writing "0" to each v1 tasks
// file itself, then counting in shared memory until killed. The counter shows whether it runs.
struct Child {
  pid_t pid = -1;
  std::atomic<uint64_t>* counter = nullptr;
};

Child SpawnJoined(JoinPlan& plan) {
  void* mem = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  auto* counter = new (mem) std::atomic<uint64_t>(0);
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) < 0) return {};
  sys::CloneArgs args;
  args.exit_signal = SIGCHLD;
  if (plan.clone_into) {
    args.flags |= sys::kCloneIntoCgroup;
    args.cgroup = static_cast<uint64_t>(plan.clone_into.get());
  }
  pid_t pid = sys::Clone3(&args);
  if (pid == 0) {
    for (size_t i = 0; i < plan.self_tasks.size(); i++) {
      if (write(plan.self_tasks[i].get(), "0", 1) != 1) _exit(20 + static_cast<int>(i));
    }
    (void)!write(ready[1], "x", 1);
    for (;;) {
      counter->fetch_add(1);
      usleep(1000);
    }
  }
  close(ready[1]);
  char c;
  if (pid < 0 || read(ready[0], &c, 1) != 1) {
    close(ready[0]);
    return {pid, nullptr};
  }
  close(ready[0]);
  return {pid, counter};
}

// Kills and reaps a test child at scope exit.
struct Reaper {
  pid_t pid;
  ~Reaper() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

bool Runs(const Child& c) {
  uint64_t a = c.counter->load();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  return c.counter->load() != a;
}

class CgroupIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    auto h = Detect();
    ASSERT_OK(h);
    h_ = *h;
  }
  // The cgroup directory of controller ("" = cgroup2) for manager m.
  std::string DirOf(const Manager& m, const std::string& controller) {
    auto paths = m.Paths();
    std::string mount = controller.empty() ? h_.unified : h_.v1[controller];
    return JoinPath(mount, paths[controller]);
  }
  Hierarchies h_;
};

oci::Resources SampleResources() {
  oci::Resources r;
  r.memory.emplace();
  r.memory->limit = 64 << 20;
  r.memory->reservation = 32 << 20;
  r.memory->swap = 128 << 20;  // memory+swap, v1's memsw
  r.cpu.emplace();
  r.cpu->shares = 512;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->cpus = "0";
  r.cpu->mems = "0";
  r.pids = oci::Pids{64};
  r.block_io.emplace();
  r.block_io->weight = 300;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"},
               {true, "c", 1, 3, "rwm"},
               {true, "c", 1, 5, "rwm"}};
  return r;
}

TEST_F(CgroupIntegration, ApplyJoinFreezeStatsSignalDestroy) {
  if (h_.layout == Layout::kV2) GTEST_SKIP() << "v1/hybrid test; this host is pure v2";
  auto m = New(h_, UniqueName(), "c");  // relative: under this process's own cgroups
  ASSERT_OK(m);
  CgroupGuard guard(m->get(), h_);
  Manager& mgr = **m;
  auto plan = mgr.Create();
  ASSERT_OK(plan);
  ASSERT_OK(mgr.Apply(SampleResources()));

  EXPECT_EQ(Slurp(DirOf(mgr, "memory") + "/memory.limit_in_bytes"), "67108864\n");
  EXPECT_EQ(Slurp(DirOf(mgr, "memory") + "/memory.soft_limit_in_bytes"), "33554432\n");
  if (PathExists(DirOf(mgr, "memory") + "/memory.memsw.limit_in_bytes")) {
    EXPECT_EQ(Slurp(DirOf(mgr, "memory") + "/memory.memsw.limit_in_bytes"), "134217728\n");
  }
  EXPECT_EQ(Slurp(DirOf(mgr, "cpu") + "/cpu.shares"), "512\n");
  EXPECT_EQ(Slurp(DirOf(mgr, "cpu") + "/cpu.cfs_quota_us"), "50000\n");
  EXPECT_EQ(Slurp(DirOf(mgr, "cpuset") + "/cpuset.cpus"), "0\n");
  EXPECT_EQ(Slurp(DirOf(mgr, "pids") + "/pids.max"), "64\n");
  EXPECT_NE(Slurp(DirOf(mgr, "blkio") + "/blkio.bfq.weight").find("300"), std::string::npos);
  EXPECT_EQ(Slurp(DirOf(mgr, "devices") + "/devices.list"), "c 1:3 rwm\nc 1:5 rwm\n");

  Child child = SpawnJoined(*plan);
  Reaper reaper{child.pid};
  ASSERT_NE(child.counter, nullptr) << "child failed to join";
  std::string own = Slurp("/proc/" + std::to_string(child.pid) + "/cgroup");
  std::string rel = mgr.Paths()["memory"];
  EXPECT_NE(own.find(":memory:" + rel + "\n"), std::string::npos) << own;
  EXPECT_NE(own.find(":freezer:" + mgr.Paths()["freezer"] + "\n"), std::string::npos) << own;
  if (h_.layout == Layout::kHybrid) {
    EXPECT_NE(own.find("0::" + mgr.Paths()[""] + "\n"), std::string::npos) << own;
  }
  auto pids = mgr.GetPids();
  ASSERT_OK(pids);
  EXPECT_EQ(*pids, std::vector<pid_t>{child.pid});

  ASSERT_OK(mgr.Freeze());
  EXPECT_EQ(mgr.GetFreezerState().value(), FreezerState::kFrozen);
  EXPECT_EQ(Slurp(DirOf(mgr, "freezer") + "/freezer.state"), "FROZEN\n");
  EXPECT_FALSE(Runs(child));
  ASSERT_OK(mgr.Thaw());
  EXPECT_EQ(mgr.GetFreezerState().value(), FreezerState::kThawed);
  EXPECT_TRUE(Runs(child));

  auto st = mgr.GetStats();
  ASSERT_OK(st);
  EXPECT_EQ(st->pids_current, 1u);
  EXPECT_EQ(st->pids_limit, 64u);
  EXPECT_EQ(st->memory_limit, 64u << 20);
  EXPECT_GT(st->memory_usage, 0u);
  EXPECT_GT(st->cpu_usage_ns, 0u);
  EXPECT_EQ(mgr.OomKillCount().value(), 0u);

  ASSERT_OK(mgr.Signal(SIGTERM));
  int status = 0;
  ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
  reaper.pid = -1;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;

  ASSERT_OK(mgr.Destroy());
  for (const auto& [c, p] : mgr.Paths()) {
    EXPECT_FALSE(PathExists(DirOf(mgr, c))) << DirOf(mgr, c);
  }
}

TEST_F(CgroupIntegration, DestroyKillsWhatIsLeft) {
  auto m = New(h_, UniqueName(), "c");
  ASSERT_OK(m);
  CgroupGuard guard(m->get(), h_);
  auto plan = (*m)->Create();
  ASSERT_OK(plan);
  Child child = SpawnJoined(*plan);
  Reaper reaper{child.pid};
  ASSERT_NE(child.counter, nullptr);
  ASSERT_OK((*m)->Destroy());  // the child is not reaped yet: a zombie must not block rmdir
  for (const auto& [c, p] : (*m)->Paths()) EXPECT_FALSE(PathExists(DirOf(**m, c)));
  int status = 0;
  ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
  reaper.pid = -1;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

// A cgroup the container made below its own (systemd inside, a nested runtime) goes too:
// the first rmdir fails with EBUSY and the children are removed first.
TEST_F(CgroupIntegration, DestroyRemovesNestedCgroups) {
  auto m = New(h_, UniqueName(), "c");
  ASSERT_OK(m);
  CgroupGuard guard(m->get(), h_);
  ASSERT_OK((*m)->Create());
  for (const auto& [c, p] : (*m)->Paths())
    ASSERT_EQ(::mkdir((DirOf(**m, c) + "/inner").c_str(), 0755), 0) << DirOf(**m, c);
  ASSERT_OK((*m)->Destroy());
  for (const auto& [c, p] : (*m)->Paths()) EXPECT_FALSE(PathExists(DirOf(**m, c)));
}

TEST_F(CgroupIntegration, AddProcessAndErrorMessage) {
  auto m = New(h_, UniqueName(), "c");
  ASSERT_OK(m);
  CgroupGuard guard(m->get(), h_);
  ASSERT_OK((*m)->Create());
  pid_t pid = fork();
  if (pid == 0) {
    pause();
    _exit(0);
  }
  Reaper reaper{pid};
  ASSERT_OK((*m)->AddProcess(pid));
  auto pids = (*m)->GetPids();
  ASSERT_OK(pids);
  EXPECT_EQ(*pids, std::vector<pid_t>{pid});
  // A CPU this machine doesn't have: one line naming file, value, directory and reason.
  oci::Resources r;
  r.cpu.emplace();
  r.cpu->cpus = "97";
  Status st = (*m)->Apply(r);
  ASSERT_FALSE(st.ok());
  std::string dir = h_.layout == Layout::kV2 ? DirOf(**m, "") : DirOf(**m, "cpuset");
  // (The kernel's reason here is ERANGE; only the shape of the line is ours.)
  EXPECT_EQ(st.error().Message(),
            "write cpuset.cpus=97 in " + dir + ": " + strerror(st.error().code));
  EXPECT_NE(st.error().code, 0);
}

// The eBPF device filter, for real, on a cgroup2 hierarchy (the hybrid one here: device
// programs need no controller).
TEST_F(CgroupIntegration, DeviceFilterOnCgroup2) {
  if (h_.unified.empty()) GTEST_SKIP() << "no cgroup2 hierarchy";
  Hierarchies v2 = h_;
  v2.layout = Layout::kV2;
  v2.v1.clear();
  v2.unified_controllers.clear();  // leave the host's subtree_control alone
  auto m = New(v2, "/" + UniqueName(), "c");
  ASSERT_OK(m);
  CgroupGuard guard(m->get(), v2);
  auto plan = (*m)->Create();
  ASSERT_OK(plan);
  oci::Resources r;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}, {true, "c", 1, 3, "rw"}};
  ASSERT_OK((*m)->Apply(r));
  // Child exit code: bit 0 = /dev/null opened rw, bit 1 = /dev/zero opened r.
  auto probe = [&](JoinPlan& p) {
    sys::CloneArgs args;
    args.exit_signal = SIGCHLD;
    args.flags = sys::kCloneIntoCgroup;
    args.cgroup = static_cast<uint64_t>(p.clone_into.get());
    pid_t pid = sys::Clone3(&args);
    if (pid == 0) {
      int code = 0;
      if (open("/dev/null", O_RDWR) >= 0) code |= 1;
      if (open("/dev/zero", O_RDONLY) >= 0) code |= 2;
      _exit(code);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(probe(*plan), 1);
  // An update replaces the program (the old one is detached, not stacked).
  r.devices.push_back({true, "c", 1, 5, "r"});
  ASSERT_OK((*m)->Apply(r));
  EXPECT_EQ(probe(*plan), 3);
  r.devices = {{true, "a", std::nullopt, std::nullopt, "rwm"}, {false, "c", 1, 5, ""}};
  ASSERT_OK((*m)->Apply(r));
  EXPECT_EQ(probe(*plan), 1);
  ASSERT_OK((*m)->Destroy());
  EXPECT_FALSE(PathExists(DirOf(**m, "")));
}

// The v2 manager on a cgroup2 hierarchy (the hybrid one here, which has no controllers
// but the core files): clone into it, cgroup.freeze, stats, SIGTERM via freeze + kill,
// SIGKILL via cgroup.kill.
TEST_F(CgroupIntegration, V2ManagerCoreFiles) {
  if (h_.unified.empty()) GTEST_SKIP() << "no cgroup2 hierarchy";
  Hierarchies v2 = h_;
  v2.layout = Layout::kV2;
  v2.v1.clear();
  if (h_.layout != Layout::kV2) v2.unified_controllers.clear();  // host's subtree_control
  std::string name = UniqueName();
  std::string top = JoinPath(v2.unified, "/" + name);
  ScopeGuard parent([&] { (void)RemoveCgroupTree(top); });  // runs after guard below
  auto m = New(v2, "/" + name + "/nested", "c");
  ASSERT_OK(m);
  CgroupGuard guard(m->get(), v2);
  auto plan = (*m)->Create();
  ASSERT_OK(plan);
  EXPECT_TRUE(plan->self_tasks.empty());
  Child a = SpawnJoined(*plan), b = SpawnJoined(*plan);
  Reaper ra{a.pid}, rb{b.pid};
  ASSERT_TRUE(a.counter && b.counter);
  std::string own = Slurp("/proc/" + std::to_string(a.pid) + "/cgroup");
  EXPECT_NE(own.find("0::" + (*m)->Paths()[""] + "\n"), std::string::npos) << own;
  auto pids = (*m)->GetPids();
  ASSERT_OK(pids);
  EXPECT_EQ(pids->size(), 2u);

  ASSERT_OK((*m)->Freeze());
  EXPECT_EQ((*m)->GetFreezerState().value(), FreezerState::kFrozen);
  EXPECT_FALSE(Runs(a));
  ASSERT_OK((*m)->Thaw());
  EXPECT_TRUE(Runs(a));
  auto st = (*m)->GetStats();
  ASSERT_OK(st);
  EXPECT_GT(st->cpu_usage_ns, 0u);

  ASSERT_OK((*m)->Signal(SIGTERM));
  int status = 0;
  ASSERT_EQ(waitpid(a.pid, &status, 0), a.pid);
  ra.pid = -1;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  ASSERT_EQ(waitpid(b.pid, &status, 0), b.pid);  // every process of the cgroup got it
  rb.pid = -1;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  Child c = SpawnJoined(*plan);
  Reaper rc{c.pid};
  ASSERT_TRUE(c.counter);
  ASSERT_OK((*m)->Signal(SIGKILL));  // cgroup.kill
  ASSERT_EQ(waitpid(c.pid, &status, 0), c.pid);
  rc.pid = -1;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_OK((*m)->Destroy());
  EXPECT_FALSE(PathExists(DirOf(**m, "")));
  EXPECT_EQ(::rmdir(top.c_str()), 0);  // the parent is the caller's (shared by containers)
}

// The hybrid host seen as pure v1 (cgroup2 ignored): no clone_into, the child joins by
// its tasks writes alone.
TEST_F(CgroupIntegration, PureV1View) {
  if (h_.v1.empty()) GTEST_SKIP() << "no v1 hierarchies";
  Hierarchies v1 = h_;
  v1.layout = Layout::kV1;
  v1.unified.clear();
  v1.unified_controllers.clear();
  auto m = New(v1, UniqueName(), "c");
  ASSERT_OK(m);
  CgroupGuard guard(m->get(), v1);
  EXPECT_EQ((*m)->layout(), Layout::kV1);
  EXPECT_EQ((*m)->Paths().count(""), 0u);
  auto plan = (*m)->Create();
  ASSERT_OK(plan);
  EXPECT_FALSE(plan->clone_into.valid());
  Child child = SpawnJoined(*plan);
  Reaper reaper{child.pid};
  ASSERT_TRUE(child.counter);
  std::string own = Slurp("/proc/" + std::to_string(child.pid) + "/cgroup");
  EXPECT_NE(own.find(":pids:" + (*m)->Paths()["pids"] + "\n"), std::string::npos) << own;
  oci::Resources r;
  r.pids = oci::Pids{-1};
  ASSERT_OK((*m)->Apply(r));
  EXPECT_EQ(Slurp(DirOf(**m, "pids") + "/pids.max"), "max\n");
  ASSERT_OK((*m)->Destroy());
  for (const auto& [c, p] : (*m)->Paths()) EXPECT_FALSE(PathExists(DirOf(**m, c)));
}

// Hybrid: hugetlb lives on the cgroup2 side here, and cgroup.freeze works there too.
TEST_F(CgroupIntegration, HybridHugetlbOnCgroup2) {
  if (h_.layout != Layout::kHybrid || h_.v1.count("hugetlb") ||
      std::find(h_.unified_controllers.begin(), h_.unified_controllers.end(), "hugetlb") ==
          h_.unified_controllers.end()) {
    GTEST_SKIP() << "needs hugetlb on the cgroup2 side of a hybrid layout";
  }
  std::string root_ctl = h_.unified + "/cgroup.subtree_control";
  bool was_on = Slurp(root_ctl).find("hugetlb") != std::string::npos;
  ScopeGuard restore([&] {
    if (!was_on) (void)WriteFile(root_ctl, "-hugetlb");
  });
  auto m = New(h_, UniqueName(), "c");
  ASSERT_OK(m);
  auto plan = (*m)->Create();
  {
    CgroupGuard guard(m->get(), h_);
    ASSERT_OK(plan);
    oci::Resources r;
    r.hugepage_limits = {{"2MB", 4 << 20}};
    r.unified = {{"cgroup.max.descendants", "5"}};
    ASSERT_OK((*m)->Apply(r));
    EXPECT_EQ(Slurp(DirOf(**m, "") + "/hugetlb.2MB.max"), "4194304\n");
    EXPECT_EQ(Slurp(DirOf(**m, "") + "/cgroup.max.descendants"), "5\n");
    oci::Resources bad;
    bad.unified = {{"memory.max", "1"}};
    Status st = (*m)->Apply(bad);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().Message().find("unified key \"memory.max\""), std::string::npos);
  }
}

}  // namespace
}  // namespace skiff::cgroup
