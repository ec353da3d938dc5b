#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <set>
#include <thread>

#include "base/file.h"
#include "engine/records.h"

namespace skiff::engine {
namespace {

class EngineRecords : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-records-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { (void)RemoveAll(root_); }
  RecordStore Store() {
    auto s = RecordStore::Open(root_);
    EXPECT_TRUE(s.ok()) << s.error().Message();
    return std::move(s).value();
  }
  ContainerRecord Make(const std::string& name = "") {
    ContainerRecord r;
    r.name = name;
    r.image = "busybox";
    r.image_id = "sha256:" + std::string(64, 'a');
    r.config.args = {"sh", "-c", "echo hi"};
    return r;
  }
  std::string root_;
};

TEST(EngineTime, Rfc3339Nano) {
  EXPECT_EQ(FormatRfc3339Nano(0, 0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(1714558272, 500000000), "2024-05-01T10:11:12.5Z");
  EXPECT_EQ(FormatRfc3339Nano(1714558272, 123456789), "2024-05-01T10:11:12.123456789Z");
  EXPECT_EQ(FormatRfc3339Nano(1714558272, 1000), "2024-05-01T10:11:12.000001Z");
}

TEST(EngineIds, IdsAndNames) {
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    std::string id = *NewContainerId();
    EXPECT_EQ(id.size(), 64u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(id.substr(0, 12).find_first_not_of("0123456789"), std::string::npos);
    ids.insert(id);
    std::string name = *GenerateName();
    EXPECT_TRUE(ValidateContainerName(name).ok()) << name;
    EXPECT_NE(name.find('_'), std::string::npos);
    EXPECT_NE(name, "boring_wozniak");
  }
  EXPECT_EQ(ids.size(), 50u);
}

TEST(EngineRecordJson, RoundTrip) {
  ContainerRecord r;
  r.id = std::string(64, 'b');
  r.name = "web";
  r.image = "nginx:1.27";
  r.image_id = "sha256:" + std::string(64, 'c');
  r.created = "2024-05-01T10:11:12.5Z";
  r.config.args = {"nginx", "-g", "daemon off;"};
  r.config.tty = true;
  r.config.restart = {RestartMode::kOnFailure, 3};
  r.config.network = NetworkMode::kHost;
  r.config.stop_signal = "SIGQUIT";
  r.status = ContainerStatus::kExited;
  r.pid = 0;
  r.exit_code = 137;
  r.oom_killed = true;
  r.started_at = "2024-05-01T10:11:13Z";
  r.finished_at = "2024-05-01T10:11:14Z";
  r.restart_count = 2;
  r.monitor_pid = 4242;
  std::string json = RecordJson(r);
  EXPECT_NE(json.find("\"Name\": \"/web\""), std::string::npos);
  EXPECT_NE(json.find("\"Status\": \"exited\""), std::string::npos);
  auto back = ParseRecord(json);
  ASSERT_TRUE(back.ok()) << back.error().Message();
  EXPECT_EQ(back->name, "web");
  EXPECT_EQ(back->config.args, r.config.args);
  EXPECT_EQ(back->config.restart.mode, RestartMode::kOnFailure);
  EXPECT_EQ(back->config.restart.max_retries, 3);
  EXPECT_EQ(back->config.network, NetworkMode::kHost);
  EXPECT_EQ(back->status, ContainerStatus::kExited);
  EXPECT_EQ(back->exit_code, 137);
  EXPECT_TRUE(back->oom_killed);
  EXPECT_EQ(back->restart_count, 2);
  EXPECT_EQ(back->monitor_pid, 4242);
  EXPECT_EQ(RecordJson(*back), json);
  EXPECT_FALSE(ParseRecord("{").ok());
  EXPECT_FALSE(ParseRecord("{\"Id\":\"x\"}").ok());
}

TEST(EngineRecordJson, RestartingRoundTrips) {
  ContainerRecord r;
  r.id = std::string(64, 'b');
  r.name = "web";
  r.status = ContainerStatus::kRestarting;
  std::string json = RecordJson(r);
  EXPECT_NE(json.find("\"Status\": \"restarting\""), std::string::npos) << json;
  auto back = ParseRecord(json);
  ASSERT_TRUE(back.ok()) << back.error().Message();
  EXPECT_EQ(back->status, ContainerStatus::kRestarting);
}

TEST(EngineRecordConfig, FromRequestAndSpec) {
  oci::ImageConfig image;
  image.config.user = "app";
  image.config.stop_signal = "SIGQUIT";
  RunOptions o;
  o.tty = true;
  o.auto_remove = true;
  o.network = NetworkMode::kNone;
  oci::Spec spec;
  spec.hostname = "h";
  spec.process.emplace();
  spec.process->args = {"nginx"};
  RecordConfig c = MakeRecordConfig(image, o, spec);
  EXPECT_EQ(c.args, (std::vector<std::string>{"nginx"}));
  EXPECT_EQ(c.hostname, "h");
  EXPECT_EQ(c.user, "app");
  EXPECT_EQ(c.stop_signal, "SIGQUIT");
  EXPECT_EQ(c.stop_timeout, 10);
  EXPECT_TRUE(c.tty);
  EXPECT_TRUE(c.auto_remove);
  EXPECT_EQ(c.network, NetworkMode::kNone);
  o.user = "0:0";
  o.stop_signal = "SIGINT";
  o.stop_timeout = 3;
  c = MakeRecordConfig(image, o, spec);
  EXPECT_EQ(c.user, "0:0");
  EXPECT_EQ(c.stop_signal, "SIGINT");
  EXPECT_EQ(c.stop_timeout, 3);
}

// inspect's Config.Entrypoint and Config.Cmd: where the args came from, as Docker keeps them.
TEST(EngineRecordConfig, EntrypointAndCmdAsDocker) {
  oci::ImageConfig image;
  image.config.entrypoint = {"/docker-entrypoint.sh"};
  image.config.cmd = {"nginx", "-g", "daemon off;"};
  oci::Spec spec;
  RunOptions o;
  RecordConfig c = MakeRecordConfig(image, o, spec);
  EXPECT_EQ(c.entrypoint, image.config.entrypoint);
  EXPECT_EQ(c.cmd, image.config.cmd);
  o.args = {"sh"};
  c = MakeRecordConfig(image, o, spec);
  EXPECT_EQ(c.entrypoint, image.config.entrypoint);
  EXPECT_EQ(c.cmd, (std::vector<std::string>{"sh"}));
  o.args.clear();
  o.entrypoint = "/bin/true";  // replaces the entrypoint and drops the image's Cmd
  c = MakeRecordConfig(image, o, spec);
  EXPECT_EQ(c.entrypoint, (std::vector<std::string>{"/bin/true"}));
  EXPECT_TRUE(c.cmd.empty());
  o.entrypoint = "";
  o.args = {"ls", "-l"};
  c = MakeRecordConfig(image, o, spec);
  EXPECT_TRUE(c.entrypoint.empty());
  EXPECT_EQ(c.cmd, o.args);
  // And they survive the record file.
  ContainerRecord r;
  r.id = std::string(64, 'a');
  r.name = "x1";
  r.config = c;
  auto back = ParseRecord(RecordJson(r));
  ASSERT_TRUE(back.ok()) << back.error().Message();
  EXPECT_TRUE(back->config.entrypoint.empty());
  EXPECT_EQ(back->config.cmd, o.args);
}

TEST_F(EngineRecords, CreateAndLookup) {
  RecordStore s = Store();
  auto a = s.Create(Make("web"));
  ASSERT_TRUE(a.ok()) << a.error().Message();
  EXPECT_EQ(a->name, "web");
  EXPECT_EQ(a->id.size(), 64u);
  EXPECT_EQ(a->status, ContainerStatus::kCreated);
  EXPECT_EQ(a->started_at, kZeroTime);
  EXPECT_FALSE(a->created.empty());
  EXPECT_TRUE(PathExists(s.Dir(a->id) + "/record.json"));
  auto b = s.Create(Make());
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->name.empty());

  EXPECT_EQ(s.Lookup(a->id)->name, "web");
  EXPECT_EQ(s.Lookup("web")->id, a->id);
  EXPECT_EQ(s.Lookup("/web")->id, a->id);
  EXPECT_EQ(s.Lookup(a->id.substr(0, 12))->id, a->id);
  EXPECT_EQ(s.Lookup(b->name)->id, b->id);
  auto none = s.Lookup("nothing");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().Message(), "No such container: nothing");

  auto dup = s.Create(Make("web"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().msg,
            "Conflict. The container name \"/web\" is already in use by container \"" + a->id +
                "\". You have to remove (or rename) that container to be able to reuse that name.");
  EXPECT_FALSE(s.Create(Make("bad name")).ok());
  EXPECT_EQ(s.List()->size(), 2u);
}

TEST_F(EngineRecords, AmbiguousPrefixAndNameBeforePrefix) {
  RecordStore s = Store();
  // Plant records whose ids share a prefix (Create would make random ones).
  std::string id1 = "abc" + std::string(61, '1'), id2 = "abc" + std::string(61, '2');
  for (const auto& [id, name] :
       {std::pair{id1, std::string("one")}, std::pair{id2, std::string("abc")}}) {
    ContainerRecord r = Make(name);
    r.id = id;
    r.created = NowRfc3339Nano();
    ASSERT_TRUE(MkdirAll(s.Dir(id)).ok());
    ASSERT_TRUE(WriteFileAtomic(s.Dir(id) + "/record.json", RecordJson(r)).ok());
  }
  auto r = s.Lookup("ab");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().Message(), "multiple IDs found with provided prefix: ab");
  EXPECT_EQ(s.Lookup("abc")->id, id2);  // a name wins over an id prefix, as in Docker
  EXPECT_EQ(s.Lookup("abc1")->id, id1);
}

TEST_F(EngineRecords, RenameUpdateRemove) {
  RecordStore s = Store();
  auto a = *s.Create(Make("first"));
  auto b = *s.Create(Make("second"));
  ASSERT_TRUE(s.Rename("first", "renamed").ok());
  EXPECT_EQ(s.Lookup("renamed")->id, a.id);
  EXPECT_FALSE(s.Lookup("first").ok());
  // The old name is free again.
  EXPECT_TRUE(s.Create(Make("first")).ok());
  Status st = s.Rename("renamed", "second");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().msg.find("Conflict. The container name \"/second\""), std::string::npos);
  EXPECT_FALSE(s.Rename("renamed", "renamed").ok());
  EXPECT_FALSE(s.Rename("renamed", "-bad").ok());
  EXPECT_FALSE(s.Rename("nothing", "new").ok());

  auto u = s.Update(b.id, [](ContainerRecord* r) {
    r->status = ContainerStatus::kRunning;
    r->pid = 1234;
    r->started_at = NowRfc3339Nano();
  });
  ASSERT_TRUE(u.ok()) << u.error().Message();
  auto again = *s.Lookup(b.id);
  EXPECT_EQ(again.status, ContainerStatus::kRunning);
  EXPECT_EQ(again.pid, 1234);
  EXPECT_FALSE(s.Update(b.id, [](ContainerRecord* r) { r->name = "sneaky"; }).ok());

  ASSERT_TRUE(s.Remove(b.id).ok());
  EXPECT_FALSE(PathExists(s.Dir(b.id)));
  EXPECT_FALSE(s.Lookup("second").ok());
  EXPECT_FALSE(s.Remove(b.id).ok());
  EXPECT_EQ(s.List()->size(), 2u);
}

// A container is built in a directory from NewDir and appears only when Create writes its
// record, once; a name conflict leaves the directory to the caller.
TEST_F(EngineRecords, NewDirIsInvisibleUntilCreate) {
  RecordStore s = Store();
  auto building = s.NewDir();
  ASSERT_TRUE(building.ok()) << building.error().Message();
  auto id = std::optional<std::string>(building->id);
  EXPECT_TRUE(PathExists(s.Dir(*id)));
  EXPECT_FALSE(PathExists(s.Dir(*id) + "/record.json"));
  EXPECT_TRUE(s.List()->empty());
  EXPECT_FALSE(s.Lookup(*id).ok());
  ContainerRecord r = Make("built");
  r.id = *id;
  r.config.hostname = "h1";
  auto made = s.Create(r);
  ASSERT_TRUE(made.ok()) << made.error().Message();
  EXPECT_EQ(made->id, *id);
  EXPECT_EQ(s.Lookup("built")->config.hostname, "h1");
  EXPECT_FALSE(s.Create(r).ok());  // it has its record already

  auto other_dir = s.NewDir();
  ASSERT_TRUE(other_dir.ok());
  std::string other = other_dir->id;
  ContainerRecord dup = Make("built");
  dup.id = other;
  auto conflict = s.Create(dup);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().msg.rfind("Conflict. The container name \"/built\"", 0), 0u);
  EXPECT_TRUE(PathExists(s.Dir(other)));
  ContainerRecord bad = Make("x");
  bad.id = std::string(64, 'f');  // not from NewDir
  EXPECT_FALSE(s.Create(bad).ok());
  EXPECT_EQ(s.List()->size(), 1u);
}

// A create that died between NewDir and Create left a directory no one can name; the next
// TakeOrphans (ps) takes it, but never one still being built or one with a record.
TEST_F(EngineRecords, OrphanedBuildDirIsTakenLiveOneIsNot) {
  RecordStore s = Store();
  auto live = s.NewDir();
  ASSERT_TRUE(live.ok());
  auto dead = s.NewDir();
  ASSERT_TRUE(dead.ok());
  std::string dead_id = dead->id;
  ASSERT_TRUE(WriteFileAtomic(s.Dir(dead_id) + "/config.json", "{}").ok());
  dead->lock.reset();  // its creator is gone
  auto done = s.NewDir();
  ASSERT_TRUE(done.ok());
  ContainerRecord r = Make("done");
  r.id = done->id;
  ASSERT_TRUE(s.Create(r).ok());
  done->lock.reset();
  // Another process's view (flock is per open file: the test's own locks count as theirs).
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto store = RecordStore::Open(root_);
    auto taken = store->TakeOrphans();
    bool ok = taken.ok() && taken->size() == 1 &&
              (*taken)[0].path == root_ + "/containers/.removing-" + dead_id;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(PathExists(s.Dir(dead_id)));
  EXPECT_TRUE(PathExists(root_ + "/containers/.removing-" + dead_id + "/config.json"));
  EXPECT_TRUE(PathExists(s.Dir(live->id)));
  EXPECT_TRUE(s.Lookup("done").ok());
  // The live one is locked by this process's own fd; the child, which took the dead one,
  // is gone without removing it: its .removing- directory is taken again.
  auto again = s.TakeOrphans();
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].path, root_ + "/containers/.removing-" + dead_id);
}

// A removal that died between its rename and the end of the tree's removal left a
// .removing- directory: TakeOrphans takes it (locked), but never one whose remover still
// holds its lock.
TEST_F(EngineRecords, RemovingDirOfADeadRemoverIsTakenLiveOneIsNot) {
  RecordStore s = Store();
  std::string dead = root_ + "/containers/.removing-" + *NewContainerId();
  std::string live = root_ + "/containers/.removing-" + *NewContainerId();
  ASSERT_TRUE(MkdirAll(dead + "/upper/etc").ok());
  ASSERT_TRUE(MkdirAll(live + "/upper").ok());
  ASSERT_TRUE(MkdirAll(root_ + "/containers/.removing-not-an-id").ok());
  UniqueFd remover(::open(live.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(remover);
  ASSERT_EQ(::flock(remover.get(), LOCK_EX), 0);
  auto taken = s.TakeOrphans();
  ASSERT_TRUE(taken.ok()) << taken.error().Message();
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].path, dead);
  // Returned locked: another sweep can't take it meanwhile.
  UniqueFd other(::open(dead.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(other);
  EXPECT_NE(::flock(other.get(), LOCK_EX | LOCK_NB), 0);
  auto again = s.TakeOrphans();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  EXPECT_TRUE(PathExists(live));
}

// Remove flocks the directory before it renames it, and holds that until the tree is gone:
// while another holds the lock (a sweep looking at it), Remove waits.
TEST_F(EngineRecords, RemoveLocksTheDirectoryBeforeItsRename) {
  RecordStore s = Store();
  auto b = s.NewDir();
  ASSERT_TRUE(b.ok());
  ContainerRecord r = Make("locked");
  r.id = b->id;
  ASSERT_TRUE(s.Create(r).ok());
  std::atomic<bool> done{false};
  Status st = Ok();
  std::thread rm([&] {
    st = s.Remove(r.id);
    done = true;
  });
  ::usleep(200 * 1000);
  bool waited = !done;
  bool in_place = PathExists(s.Dir(r.id) + "/record.json");
  b->lock.reset();
  rm.join();
  EXPECT_TRUE(waited);
  EXPECT_TRUE(in_place);
  EXPECT_TRUE(st.ok()) << st.error().Message();
  EXPECT_FALSE(PathExists(s.Dir(r.id)));
  EXPECT_FALSE(PathExists(root_ + "/containers/.removing-" + r.id));
}

ino_t Inode(const std::string& path) {
  struct stat st = {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Each rewrite is a new inode and a freed block on ext4: an Update that changes nothing
// writes nothing.
TEST_F(EngineRecords, UpdateThatChangesNothingDoesNotWrite) {
  RecordStore s = Store();
  auto a = *s.Create(Make("same"));
  std::string path = s.Dir(a.id) + "/record.json";
  ino_t before = Inode(path);
  ASSERT_NE(before, 0u);
  auto u = s.Update(a.id, [](ContainerRecord* r) { r->error.clear(); });
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(Inode(path), before);
  u = s.Update(a.id, [](ContainerRecord* r) { r->pid = 42; });
  ASSERT_TRUE(u.ok());
  EXPECT_NE(Inode(path), before);
  EXPECT_EQ(s.Lookup(a.id)->pid, 42);
}

// Many processes, each with threads, creating at once: every record lands, ids and names
// are unique, and exactly one of the racers gets the contested name.
TEST_F(EngineRecords, ConcurrentCreatesAcrossProcesses) {
  constexpr int kProcs = 6, kThreads = 3, kEach = 5;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto store = RecordStore::Open(root_);
      if (!store.ok()) ::_exit(2);
      int failures = 0;
      std::vector<std::thread> threads;
      std::atomic<int> bad{0};
      for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&] {
          for (int i = 0; i < kEach; ++i)
            if (!store->Create(Make()).ok()) ++bad;
        });
      for (auto& t : threads) t.join();
      failures += bad;
      (void)store->Create(Make("contested"));  // most of these fail, by design
      ::_exit(failures == 0 ? 0 : 1);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  auto all = Store().List();
  ASSERT_TRUE(all.ok()) << all.error().Message();
  EXPECT_EQ(all->size(), static_cast<size_t>(kProcs * kThreads * kEach + 1));
  std::set<std::string> ids, names;
  int contested = 0;
  for (const auto& r : *all) {
    ids.insert(r.id);
    names.insert(r.name);
    contested += r.name == "contested";
  }
  EXPECT_EQ(ids.size(), all->size());
  EXPECT_EQ(names.size(), all->size());
  EXPECT_EQ(contested, 1);
}

}  // namespace
}  // namespace skiff::engine
