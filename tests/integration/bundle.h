// The shared fixture of the skiff-runtime integration tests: a temp bundle whose rootfs holds
// busybox and skiff-probe, a config.json from `skiff-runtime spec`, a private --root, and a
// TearDown that removes every container, cgroup, host mount and temp dir the test made,
// even when the test failed half way.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace skiff::itest {

struct CmdResult {
  int code = -1;  // exit status, 128+signal when killed, -1 when it timed out
  bool timed_out = false;
  std::string out, err;
  std::string out_path;  // where stdout went: a container made by create keeps writing here
};

struct CmdOptions {
  int timeout_ms = 20000;
  // Placed at fds 3, 4, ... of the command without CLOEXEC; every other fd >= 3 of the test
  // process is closed at exec.
  std::vector<int> pass_fds;
  // Run as this user (groups dropped, then gid, then uid); -1 = as the test (root).
  int uid = -1, gid = -1;
  // The whole environment when set; else the test's own.
  std::optional<std::vector<std::string>> env;
};

// Runs argv (argv[0] a path) with stdin /dev/null, stdout and stderr into files of dir.
// A command still running at the timeout is killed with its process group.
CmdResult RunCommand(const std::vector<std::string>& argv, const std::string& dir,
                     const CmdOptions& opts = {});

std::string ReadText(const std::string& path);  // "" when unreadable
std::vector<std::string> Lines(const std::string& s);  // the non-empty lines of s
std::string Trim(std::string s);                     // without trailing newlines and spaces
bool WriteText(const std::string& path, const std::string& text);  // truncates; false on error
bool CopyFile(const std::string& from, const std::string& to, mode_t mode);
bool Exists(const std::string& path);
// Host cgroup dir of pid for a v1 controller ("memory") or "" for the unified hierarchy.
std::string HostCgroupDir(pid_t pid, const std::string& controller);
// Every cgroup mount point on the host: /sys/fs/cgroup/memory, .../unified, ...
std::vector<std::string> CgroupMounts();
// Inode of /proc/self/ns/<name> of the test process.
unsigned long HostNsInode(const std::string& name);
// rm -rf that stays on one filesystem: a mount left inside path keeps its contents.
void RemoveTree(const std::string& path);
// Kills what is left in a cgroup dir (children first) and removes it.
void RemoveCgroupDir(const std::string& dir);
// pid exists and is not a zombie.
bool Alive(pid_t pid);
// A process whose cmdline contains text (a container id), or 0.
pid_t FindProcess(const std::string& text);

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A unique container id: itest-<pid>-<n>-<tag>. TearDown deletes it whatever happened.
  std::string NewId(const std::string& tag = "c");
  // skiff-runtime --root <root_> args...
  CmdResult Runtime(const std::vector<std::string>& args, const CmdOptions& opts = {});
  // Writes spec_ to the bundle's config.json.
  void WriteConfig();
  // Sets process.args, writes the config and runs the container in the foreground.
  CmdResult RunArgs(const std::vector<std::string>& args,
                    const std::vector<std::string>& flags = {}, const CmdOptions& opts = {});
  // `skiff-probe ARGS` in a fresh container.
  CmdResult RunProbe(const std::vector<std::string>& args,
                     const std::vector<std::string>& flags = {}, const CmdOptions& opts = {});
  // `skiff-probe all` parsed; a failure to run or parse fails the test (check HasFatalFailure).
  nlohmann::json ProbeAll(const std::vector<std::string>& flags = {});
  // create + start of args; returns the container's host pid (0 on failure, test failed).
  pid_t CreateStarted(const std::string& id, const std::vector<std::string>& args,
                      CmdResult* create_result = nullptr);
  // state <id> as JSON (null when the command fails).
  nlohmann::json State(const std::string& id);
  // Polls state until status is want; false after timeout_ms.
  bool WaitStatus(const std::string& id, const std::string& want, int timeout_ms = 5000);
  // A process the test started (unshare(1) holding a namespace...): killed in TearDown.
  void OwnPid(pid_t pid) { pids_.push_back(pid); }
  // A mount the test made on the host: detached in TearDown before anything is removed.
  void OwnMount(const std::string& path) { host_mounts_.push_back(path); }
  // A cgroup parent a test asked for (cgroupsPath): removed in TearDown if empty.
  void OwnCgroupParent(const std::string& rel) { cgroup_parents_.push_back(rel); }
  // A new temp dir inside the test's work dir.
  std::string TempDir(const std::string& name);

  std::string work_;    // mkdtemp: holds bundle/, state/, tmp files
  std::string bundle_;  // work_/bundle
  std::string rootfs_;  // bundle_/rootfs
  std::string root_;    // --root
  nlohmann::json spec_;

 private:
  std::vector<std::string> ids_;
  std::vector<pid_t> pids_;
  std::vector<std::string> host_mounts_;
  std::vector<std::string> cgroup_parents_;
  int cmd_seq_ = 0;
};

}  // namespace skiff::itest
