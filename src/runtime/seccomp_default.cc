// Docker's default seccomp profile (moby profiles/seccomp/default.json), written as code
// and resolved the way moby resolves it when it creates a container: the "includes" and
// "excludes" of each entry are decided here, against the container's capabilities and the
// architecture skiff was built for, so what comes out is a plain OCI linux.seccomp.
#include <algorithm>
#include <cerrno>

#include "runtime/seccomp.h"

namespace skiff::runtime {

namespace {

// Allowed for every container (default.json's first entry).
const char* const kAllowed[] = {
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
};

// Syscalls allowed only with a capability (default.json's "includes": {"caps": [...]}).
struct CapGated {
  const char* cap;
  std::vector<std::string> names;
};
const CapGated kCapGated[] = {
    {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
    {"CAP_SYS_ADMIN",
     {"bpf",           "clone",         "clone3",      "fanotify_init",   "fsconfig",
      "fsmount",       "fsopen",        "fspick",      "lookup_dcookie",  "mount",
      "mount_setattr", "move_mount",    "open_tree",   "perf_event_open", "quotactl",
      "quotactl_fd",   "setdomainname", "sethostname", "setns",           "syslog",
      "umount",        "umount2",       "unshare"}},
    {"CAP_SYS_BOOT", {"reboot"}},
    {"CAP_SYS_CHROOT", {"chroot"}},
    {"CAP_SYS_MODULE", {"delete_module", "init_module", "finit_module"}},
    {"CAP_SYS_PACCT", {"acct"}},
    {"CAP_SYS_PTRACE",
     {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"}},
    {"CAP_SYS_RAWIO", {"iopl", "ioperm"}},
    {"CAP_SYS_TIME", {"settimeofday", "stime", "clock_settime", "clock_settime64"}},
    {"CAP_SYS_TTY_CONFIG", {"vhangup"}},
    {"CAP_SYS_NICE", {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
    {"CAP_SYSLOG", {"syslog"}},
    {"CAP_BPF", {"bpf"}},
    {"CAP_PERFMON", {"perf_event_open"}},
};

// The namespace flags of clone(2): CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER |
// NEWPID | NEWNET. Without CAP_SYS_ADMIN clone is allowed only when none is set.
constexpr uint64_t kCloneNamespaceFlags = 0x7E020000;  // 2114060288

// The architectures and the per-architecture entries of default.json for the build
// target. moby matches "includes.arches" against Go's GOARCH names.
#if defined(__x86_64__)
const char* const kArches[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
const char* const kArchSyscalls[] = {"arch_prctl", "modify_ldt"};
#elif defined(__aarch64__)
const char* const kArches[] = {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
const char* const kArchSyscalls[] = {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2",
                                     "breakpoint",       "cacheflush",          "set_tls"};
#elif defined(__s390x__)
#define SKIFF_SECCOMP_S390 1
const char* const kArches[] = {"SCMP_ARCH_S390X", "SCMP_ARCH_S390"};
const char* const kArchSyscalls[] = {"s390_pci_mmio_read", "s390_pci_mmio_write",
                                     "s390_runtime_instr"};
#elif defined(__riscv) && __riscv_xlen == 64
const char* const kArches[] = {"SCMP_ARCH_RISCV64"};
const char* const kArchSyscalls[] = {"riscv_flush_icache"};
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
const char* const kArches[] = {"SCMP_ARCH_PPC64LE"};
const char* const kArchSyscalls[] = {"sync_file_range2", "swapcontext"};
#else
#error "DefaultSeccompProfile: no architecture map for this target"
#endif

oci::SeccompSyscall Allow(std::vector<std::string> names, std::vector<oci::SeccompArg> args = {}) {
  oci::SeccompSyscall s;
  s.names = std::move(names);
  s.action = "SCMP_ACT_ALLOW";
  s.args = std::move(args);
  return s;
}

oci::SeccompArg Arg(uint32_t index, uint64_t value, const char* op) {
  oci::SeccompArg a;
  a.index = index;
  a.value = value;
  a.op = op;
  return a;
}

}  // namespace

oci::Seccomp DefaultSeccompProfile(const std::vector<std::string>& capabilities) {
  auto has = [&](const char* cap) {
    return std::find(capabilities.begin(), capabilities.end(), cap) != capabilities.end();
  };
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ERRNO";
  s.default_errno_ret = EPERM;
  s.architectures.assign(std::begin(kArches), std::end(kArches));
  s.syscalls.push_back(Allow({std::begin(kAllowed), std::end(kAllowed)}));
  // default.json allows these from kernel 4.8 on, where ptrace can no longer be used to
  // bypass seccomp; skiff needs a newer kernel than that anyway (clone3, pidfd).
  s.syscalls.push_back(Allow({"process_vm_readv", "process_vm_writev", "ptrace"}));
  // AF_VSOCK (40) sockets reach the host's hypervisor services.
  s.syscalls.push_back(Allow({"socket"}, {Arg(0, 40, "SCMP_CMP_NE")}));
  // PER_LINUX, UNAME26, PER_LINUX32, PER_LINUX32|UNAME26, and 0xffffffff (query).
  for (uint64_t persona : {0ULL, 8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
    s.syscalls.push_back(Allow({"personality"}, {Arg(0, persona, "SCMP_CMP_EQ")}));
  }
  s.syscalls.push_back(Allow({std::begin(kArchSyscalls), std::end(kArchSyscalls)}));
  for (const CapGated& g : kCapGated) {
    if (has(g.cap)) s.syscalls.push_back(Allow(g.names));
  }
  if (!has("CAP_SYS_ADMIN")) {
#ifdef SKIFF_SECCOMP_S390
    constexpr uint32_t kCloneFlagsArg = 1;  // s390 passes clone's flags second
#else
    constexpr uint32_t kCloneFlagsArg = 0;
#endif
    // (flags & kCloneNamespaceFlags) == 0: valueTwo stays 0.
    s.syscalls.push_back(
        Allow({"clone"}, {Arg(kCloneFlagsArg, kCloneNamespaceFlags, "SCMP_CMP_MASKED_EQ")}));
    // clone3 passes its flags in memory, where seccomp can't look; ENOSYS makes glibc fall
    // back to clone, which the rule above filters.
    oci::SeccompSyscall clone3;
    clone3.names = {"clone3"};
    clone3.action = "SCMP_ACT_ERRNO";
    clone3.errno_ret = ENOSYS;
    s.syscalls.push_back(std::move(clone3));
  }
  return s;
}

}  // namespace skiff::runtime
