// Thin wrappers for the syscalls glibc 2.36 does not wrap, with their uapi structs.
// Each returns what the kernel returns (-1 and errno on failure), as libc does.
#pragma once

#include <linux/types.h>
#include <sys/types.h>

#include <cstdint>

namespace skiff::sys {

struct CloneArgs {  // struct clone_args (linux/sched.h), version 2
  uint64_t flags = 0;
  uint64_t pidfd = 0;
  uint64_t child_tid = 0;
  uint64_t parent_tid = 0;
  uint64_t exit_signal = 0;
  uint64_t stack = 0;
  uint64_t stack_size = 0;
  uint64_t tls = 0;
  uint64_t set_tid = 0;
  uint64_t set_tid_size = 0;
  uint64_t cgroup = 0;
};

constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;
constexpr uint64_t kCloneNewTime = 0x00000080ULL;

// clone3 with fork semantics (no CLONE_VM): returns 0 in the child, the pid in the parent.
pid_t Clone3(CloneArgs* args);

struct OpenHow {  // struct open_how (linux/openat2.h)
  uint64_t flags = 0;
  uint64_t mode = 0;
  uint64_t resolve = 0;
};
constexpr uint64_t kResolveNoXdev = 0x01;
constexpr uint64_t kResolveNoMagiclinks = 0x02;
constexpr uint64_t kResolveNoSymlinks = 0x04;
constexpr uint64_t kResolveBeneath = 0x08;
constexpr uint64_t kResolveInRoot = 0x10;

int Openat2(int dirfd, const char* path, const OpenHow& how);
int CloseRange(unsigned first, unsigned last, unsigned flags);
int PidfdOpen(pid_t pid, unsigned flags);
int PidfdSendSignal(int pidfd, int sig, unsigned flags);
int PivotRoot(const char* new_root, const char* put_old);

// The new mount API (fsopen, fsconfig, fsmount, move_mount, open_tree, mount_setattr).
int Fsopen(const char* fsname, unsigned flags);
int Fsconfig(int fd, unsigned cmd, const char* key, const void* value, int aux);
int Fsmount(int fd, unsigned flags, unsigned attr_flags);
int MoveMount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
              unsigned flags);
int OpenTree(int dirfd, const char* path, unsigned flags);

}  // namespace skiff::sys
