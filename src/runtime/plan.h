// ChildPlan: everything the container's first process does between clone and execve,
// decided in the parent (STYLE.md rule 6). The child walks it and makes syscalls only.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "oci/spec.h"
#include "runtime/child/caps.h"
#include "runtime/child/hook_exec.h"
#include "runtime/child/seccomp_load.h"
#include "runtime/mount_options.h"

namespace skiff::runtime {

enum class MountKind {
  kFs,       // a filesystem mount: proc, tmpfs, devpts, overlay...
  kBind,     // bind or rbind of a host path
  kCgroupV2,  // cgroup2 at the destination
  kCgroupV1,  // tmpfs at the destination plus each v1 hierarchy (and unified in hybrid)
};

struct MountStep {
  MountKind kind = MountKind::kFs;
  std::string source;       // absolute host path for binds; fs source otherwise
  std::string destination;  // absolute, inside the container root
  std::string type;
  MountOptions opts;
  // kCgroupV1: subdirectory name -> controller option ("cpu,cpuacct" -> "cpu,cpuacct"),
  // plus symlinks for co-mounted controllers.
  std::vector<std::pair<std::string, std::string>> cgroup_v1;
  std::vector<std::pair<std::string, std::string>> cgroup_links;
  bool cgroup_unified = false;  // hybrid: also cgroup2 at <dest>/unified
  // Without a cgroup namespace: host dirs bound in place of each fresh mount (same index as
  // cgroup_v1; "" = mount fresh), and the unified one.
  std::vector<std::string> cgroup_v1_bind;
  std::string cgroup_unified_bind;
  // An idmapped bind mount (mount uidMappings/gidMappings): a user namespace fd carrying
  // the mapping, made by the parent; -1 for none.
  int idmap_userns_fd = -1;
};

struct DeviceNode {
  std::string path;  // absolute, inside the container
  mode_t mode = 0;   // S_IFCHR/S_IFBLK/S_IFIFO | permissions
  dev_t dev = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct NsJoin {
  int nstype = 0;  // CLONE_NEW*
  std::string path;
  UniqueFd fd;
};

struct RlimitStep {
  int resource = 0;
  struct rlimit value = {};
};

struct ChildPlan {
  // Namespaces: created by clone3, joined by setns, or unshared late.
  uint64_t clone_flags = 0;  // CLONE_NEW* created at clone (never NEWCGROUP/NEWTIME)
  std::vector<NsJoin> joins;  // user first, then the rest
  uint64_t unshare_flags = 0;  // new namespaces owned by a joined user ns: after setns
  bool unshare_cgroup = false;  // after joining the cgroup, so its root is the container's
  bool unshare_time = false;
  std::string timens_offsets;  // written to /proc/self/timens_offsets before execve
  bool new_userns = false;
  bool fork_into_pidns = false;  // joined pid namespace: an extra fork to enter it

  // exec: the namespaces are all joined (the root comes with the mount namespace: no
  // rootfs to build), and the parent entered the container's pid namespace for us.
  bool exec = false;
  bool in_foreign_pidns = false;

  // cgroup v1 join: `tasks` fds the child writes "0" to.
  std::vector<int> cgroup_tasks_fds;

  // Root filesystem.
  bool mount_ns = false;
  std::string rootfs;  // absolute host path
  bool readonly_root = false;
  unsigned long rootfs_propagation = 0;
  bool no_pivot = false;
  std::vector<MountStep> mounts;
  std::vector<UniqueFd> idmap_userns;  // owns the fds the idmapped mounts name
  std::vector<DeviceNode> devices;
  bool bind_devices = false;  // in a user namespace mknod is refused: bind the host's nodes
  bool dev_is_tmpfs = false;  // /dev mounted by the spec: add default symlinks and ptmx
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::vector<std::pair<std::string, std::string>> sysctls;  // "net/ipv4/ip_forward", "1"

  // Identity and limits.
  bool loopback_up = false;  // a new network namespace's lo brought up (the engine asks)
  std::optional<std::string> hostname;
  std::optional<std::string> domainname;
  std::vector<RlimitStep> rlimits;
  std::optional<int> oom_score_adj;
  std::optional<unsigned long> personality;
  struct Sched {  // sched_setattr(2)
    uint32_t policy = 0;
    uint64_t flags = 0;
    int32_t nice = 0;
    uint32_t priority = 0;
    uint64_t runtime = 0, deadline = 0, period = 0;
  };
  std::optional<Sched> sched;
  std::optional<int> ioprio;  // ioprio_set(2) value: class << 13 | level

  // The process.
  std::string cwd;
  std::vector<std::string> args;
  std::vector<std::string> env;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  bool set_groups = false;
  std::optional<mode_t> umask;
  bool no_new_privs = false;
  CapSets caps;  // absent in the spec = none at all (as crun)
  std::optional<SeccompProgram> seccomp;
  // SCMP_ACT_NOTIFY: the connection to linux.seccomp.listenerPath (opened by the parent) and
  // the seccomp state message around the pid, which only the child knows (parts joined
  // with its host pid: part0 PID part1 PID part2).
  int seccomp_listener_sock = -1;
  std::string seccomp_msg[3];
  int preserve_fds = 0;  // fds 3 .. 3+N-1 are passed on

  // Hooks. The parent runs prestart/createRuntime when the child asks (before pivot_root);
  // the child runs createContainer (before pivot_root) and startContainer (before execve).
  bool hook_request = false;
  std::vector<HookSpec> create_container_hooks;
  std::vector<HookSpec> start_container_hooks;
  std::string state_json_rest;  // the state object without "pid" and without its '{'

  // process.terminal: the socket the pty master goes to, and the initial size.
  int console_socket_fd = -1;
  uint32_t console_height = 0;
  uint32_t console_width = 0;

  // Wiring.
  int sync_fd = -1;          // child's end of the sync socketpair
  // Closed first thing in the child: the parent's sync end (the child must see EOF if the
  // parent dies) and the state directory's lock (flock is shared with the child otherwise).
  std::vector<int> close_in_child;
  int start_listen_fd = -1;  // create: the start.sock listener (start connects)
  pid_t parent_pid = 0;      // checked with getppid() while the parent matters

  // Explain mode: the trace pipe's write end (-1: off) and the parent's clock origin that
  // the child's timestamps are relative to (runtime/child/trace.h).
  int trace_fd = -1;
  int64_t trace_origin_ns = 0;
};

}  // namespace skiff::runtime
