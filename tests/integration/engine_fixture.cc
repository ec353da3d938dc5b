#include "engine_fixture.h"

#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <thread>

namespace skiff::itest {

using json = nlohmann::json;

namespace {

constexpr const char* kApplets[] = {"sh",   "sleep", "cat", "echo", "true", "false", "head",
                                    "tail", "tr",    "seq", "ps",   "grep", "wc",    "ls",
                                    "id",   "test",  "kill", "yes", "nc",   "ln",    "pwd"};

}  // namespace

void EngineFixture::SetUp() {
  std::string tmpl_s = "/tmp/skiff-" + tag_ + "-XXXXXX";
  std::vector<char> tmpl(tmpl_s.begin(), tmpl_s.end());
  tmpl.push_back('\0');
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  work_ = tmpl.data();
  root_ = work_ + "/root";
  std::string tree = work_ + "/tree";
  for (const char* d : {"", "/bin", "/etc", "/tmp", "/proc", "/sys", "/dev"})
    ASSERT_EQ(::mkdir((tree + d).c_str(), 0755), 0) << d;
  ASSERT_TRUE(CopyFile("/bin/busybox", tree + "/bin/busybox", 0755));
  for (const char* a : kApplets) ASSERT_EQ(::symlink("busybox", (tree + "/bin/" + a).c_str()), 0);
  ASSERT_TRUE(WriteText(tree + "/etc/passwd",
                        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n"));
  ASSERT_TRUE(WriteText(tree + "/etc/group", "root:x:0:\nnogroup:x:65534:\n"));
  ASSERT_TRUE(WriteText(tree + "/etc/notexec", "just text\n"));
  ExtendTree(tree);
  if (HasFatalFailure()) return;
  CmdResult imp = Skiff({"import", tree, "bb:latest", "--change", "CMD [\"sh\"]"});
  ASSERT_EQ(imp.code, 0) << imp.err;
}

void EngineFixture::TearDown() {
  if (work_.empty()) return;
  CmdResult ids = Skiff({"ps", "-aq", "--no-trunc"});
  for (const auto& id : Lines(ids.out)) {
    (void)Skiff({"unpause", id});
    CmdResult rm = Skiff({"rm", "-f", id});
    EXPECT_EQ(rm.code, 0) << rm.err;
  }
  // A monitor may still be on its way out right after rm returns: a leak stays.
  for (const auto& id : ids_) ExpectNothingLeft(id, 5000);
  // Whatever a failed test left: mounts first, so that the removal can't descend into one.
  std::istringstream mi(ReadText("/proc/self/mountinfo"));
  std::vector<std::string> left;
  for (std::string line; std::getline(mi, line);) {
    std::istringstream f(line);
    std::string a, b, c, d, mnt;
    f >> a >> b >> c >> d >> mnt;
    if (mnt.rfind(work_, 0) == 0) left.push_back(mnt);
  }
  for (auto it = left.rbegin(); it != left.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
  EXPECT_TRUE(left.empty()) << "mount left: " << (left.empty() ? "" : left[0]);
  RemoveTree(work_);
}

CmdResult EngineFixture::Skiff(std::vector<std::string> args, int timeout_ms) {
  return SkiffIn(work_, std::move(args), timeout_ms);
}

CmdResult EngineFixture::SkiffIn(const std::string& dir, std::vector<std::string> args,
                                 int timeout_ms) {
  args.insert(args.begin(), {SKIFF_BIN, "--root", root_});
  CmdOptions o;
  o.timeout_ms = timeout_ms;
  return RunCommand(args, dir, o);
}

CmdResult EngineFixture::Shell(const std::string& script) {
  std::string skiff = std::string(SKIFF_BIN) + " --root " + root_;
  return RunCommand({"/bin/sh", "-c", "SKIFF='" + skiff + "'; " + script}, work_);
}

std::string EngineFixture::RunDetached(std::vector<std::string> args) {
  args.insert(args.begin(), {"run", "-d"});
  CmdResult r = Skiff(args);
  EXPECT_EQ(r.code, 0) << r.err;
  std::string id = Trim(r.out);
  EXPECT_EQ(id.size(), 64u) << r.out;
  ids_.push_back(id);
  return id;
}

json EngineFixture::Inspect(const std::string& ref) {
  CmdResult r = Skiff({"inspect", ref});
  if (r.code != 0) return json();
  auto doc = json::parse(r.out, nullptr, false);
  return doc.is_array() && doc.size() == 1 ? doc[0] : json();
}

bool EngineFixture::WaitStatus(const std::string& ref, const std::string& want, int timeout_ms) {
  for (int t = 0; t < timeout_ms; t += 50) {
    json d = Inspect(ref);
    if (!d.is_null() && d["State"]["Status"] == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

json EngineFixture::Record(const std::string& id) {
  return json::parse(ReadText(root_ + "/containers/" + id + "/record.json"), nullptr, false);
}

void EngineFixture::ExpectNothingLeft(const std::string& id, int wait_ms) {
  if (id.size() != 64) return;
  EXPECT_EQ(ReadText("/proc/self/mountinfo").find(id), std::string::npos) << "mount of " << id;
  EXPECT_FALSE(Exists(root_ + "/containers/" + id)) << id;
  EXPECT_FALSE(Exists(std::string("/run/skiff/runtime/") + id)) << id;
  for (const auto& m : CgroupMounts())
    EXPECT_FALSE(Exists(m + "/skiff/" + id)) << m << "/skiff/" << id;
  for (int t = 0; t < wait_ms && FindProcess(id) != 0; t += 50)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  pid_t left = FindProcess(id);
  EXPECT_EQ(left, 0) << "a process of " << id << ": "
                     << ReadText("/proc/" + std::to_string(left) + "/cmdline");
}

}  // namespace skiff::itest
