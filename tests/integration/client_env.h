// What the containerd and podman tests share: the runtimes they compare (skiff-runtime, and
// runc and crun as references, so that a scenario failing only with skiff is skiff's fault), a
// busybox rootfs, a pty runner, and the teardown pieces that leave no process, mount, cgroup
// or host dir behind whatever the client did.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "bundle.h"

namespace skiff::itest {

struct ClientRuntime {
  std::string name;  // "skiff", "runc" or "crun": the test name's suffix
  std::string path;  // the binary
  // crun 1.8 refuses this host's hybrid cgroup layout ("cgroups in hybrid mode not
  // supported"): it is run through a wrapper that hides the cgroup2 mount from it.
  bool hide_cgroup2 = false;
  // The client gets a copy of the binary in the test's temp dir: a test that attacks the
  // binary must not be able to break the build tree or the host's runtime.
  bool copy = false;
};

// gtest prints a parameter in a failed test's name: the runtime's name, not its bytes.
inline void PrintTo(const ClientRuntime& r, std::ostream* os) { *os << r.name; }

// skiff-runtime, /usr/sbin/runc and /usr/bin/crun, in that order.
std::vector<ClientRuntime> ClientRuntimes();
std::string ClientRuntimeName(const ::testing::TestParamInfo<ClientRuntime>& info);

// skiff-runtime as a copy (ClientRuntime::copy), for the CVE-2019-5736 tests.
ClientRuntime SkiffRuntimeCopy();

// What a client is given as its runtime binary: r.path; for copy, a copy of it at
// dir/<r.name>/<basename>; for hide_cgroup2, a script there that runs r.path in a private
// mount namespace without /sys/fs/cgroup/unified. The script execs all the way down, so the
// client's pid, fds (console socket, --preserve-fds) and exit status reach the runtime
// unchanged. "" when the copy or the script can't be written.
std::string ClientRuntimeBinary(const ClientRuntime& r, const std::string& dir);

// CVE-2019-5736 as a client's container can try it. The container's init (the attacker, a
// busybox script) waits for a process of the runtime's binary to appear in the container,
// holds that binary through /proc/<pid>/exe, and tries to write it while the process runs
// and again once it has exited (when ETXTBSY no longer stands in the way).
//
// The runtime's process comes from the classic trick: the client execs /attack/evil, whose
// first line is `#!/proc/self/exe update`, so the kernel runs whatever binary the runtime's
// exec process is running, inside the container. The real exploit races that short-lived
// process; here it is stalled instead, deterministically: its arguments make it
// `update /attack/evil -r /attack/trap`, and skiff-runtime reads the --resources file, a
// fifo, before anything else, until the attacker writes to it. That stall is specific to
// skiff-runtime's command line; what the test checks (an fd of the runtime's binary from
// inside the container is not writable) is not.
class ExeAttack {
 public:
  static constexpr const char* kMountPoint = "/attack";  // where the container sees dir

  // Writes the attack's files into dir (made); fails the test when it can't.
  void Prepare(const std::string& dir);
  // The container's init, with dir bind-mounted at kMountPoint.
  std::vector<std::string> InitCmd() const { return {"/bin/sh", "/attack/attack"}; }
  // What the client is to exec in the container.
  std::vector<std::string> ExecCmd() const { return {"/attack/evil", "-r", "/attack/trap"}; }
  // The attacker's report ("pid", "exe-sha", "exe-ino", "alive-write", "alive-err",
  // "dead-write", "dead-err"), once it is complete; {} after timeout_ms.
  std::map<std::string, std::string> Report(int timeout_ms = 20000) const;
  // Checks the report: what the attacker held was binary itself (same bytes, same inode),
  // both writes failed with EROFS, and binary still hashes to sha_before.
  void ExpectFailed(const std::map<std::string, std::string>& report, const std::string& binary,
                    const std::string& sha_before) const;

 private:
  std::string dir_;
};

// sha256 of a file as hex (sha256sum's), "" when it can't be read.
std::string Sha256Of(const std::string& path);

// Fills dir (made if missing) with /bin/busybox, its applets, /bin/skiff-probe and the empty
// dirs a runtime mounts over. Fails the test (check HasFatalFailure) when it can't.
void MakeBusyboxRootfs(const std::string& dir);

// Runs argv with a new pty as its controlling terminal and stdio (forkpty): the output read
// from the pty's master, the exit code (128+signal; -1 when it timed out and was killed).
CmdResult RunInPty(const std::vector<std::string>& argv, int timeout_ms = 30000);

// The open fds of pid as the host sees them ("0 1 2"), "" when pid is gone.
std::string HostFds(pid_t pid);

// Host paths a client creates outside the dirs it is given (containerd's shim sockets under
// /run/containerd, podman's blob cache under /var/lib/containers): those missing when the
// guard is made are removed again by Restore.
class HostDirGuard {
 public:
  explicit HostDirGuard(std::vector<std::string> paths);
  void Restore();

 private:
  std::vector<std::string> missing_;
};

// The teardown, in order. Each one is safe to call when there is nothing to do.
// Every freezer cgroup at or below /sys/fs/cgroup/freezer/<rel> back to THAWED: a frozen
// process does not die of SIGKILL.
void ThawCgroups(const std::string& rel);
// SIGKILLs and reaps every child of this process (the test is their subreaper, so that is
// every daemon, shim, conmon and container it started) until none is left.
void KillChildren();
// Mount points at or below dir in this mount namespace, deepest first.
std::vector<std::string> MountsUnder(const std::string& dir);
// Detaches them all; returns how many there were.
int DetachMountsUnder(const std::string& dir);
// RemoveCgroupDir of <mount>/<rel> in every cgroup hierarchy; returns the dirs that existed.
std::vector<std::string> RemoveCgroups(const std::string& rel);
// Processes (other than this one) whose cmdline or cwd mentions text.
std::vector<pid_t> ProcessesMentioning(const std::string& text);

}  // namespace skiff::itest
