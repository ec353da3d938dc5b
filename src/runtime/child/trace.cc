#include "runtime/child/trace.h"

#include <sched.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace skiff::runtime::child {

int g_trace_fd = -1;

namespace {

int64_t g_origin_ns = 0;

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no syscall
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Appends s to buf (length *len, capacity size), always NUL-terminated.
void Append(char* buf, unsigned size, unsigned* len, const char* s) {
  while (*s && *len + 1 < size) buf[(*len)++] = *s++;
  buf[*len] = '\0';
}

struct FlagName {
  unsigned long bit;
  const char* name;
};

const char* FlagsText(unsigned long flags, const FlagName* names, size_t n, char* buf,
                      unsigned size) {
  unsigned len = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n; ++i) {
    if (!(flags & names[i].bit)) continue;
    if (len) Append(buf, size, &len, "|");
    Append(buf, size, &len, names[i].name);
    flags &= ~names[i].bit;
  }
  if (flags) {
    char rest[24];
    snprintf(rest, sizeof rest, "%s0x%lx", len ? "|" : "", flags);
    Append(buf, size, &len, rest);
  }
  if (!len) Append(buf, size, &len, "0");
  return buf;
}

// capability.h's names without the CAP_ prefix, by number.
const char* const kCapNames[] = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
};
constexpr int kCapNameCount = sizeof kCapNames / sizeof kCapNames[0];

}  // namespace

void TraceInit(int fd, int64_t origin_ns) {
  g_trace_fd = fd;
  g_origin_ns = origin_ns;
}

void Trace(const char* what, const char* fmt, ...) {
  if (g_trace_fd < 0) return;
  char buf[4000];  // under PIPE_BUF: one write is never interleaved or split
  int64_t t = NowNs() - g_origin_ns;
  int n = snprintf(buf, sizeof buf, "%lld %s ", static_cast<long long>(t), what);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
  va_end(ap);
  unsigned len = n + (m < 0 ? 0 : std::min<unsigned>(m, sizeof buf - n - 2));
  for (unsigned i = n; i < len; ++i)
    if (buf[i] == '\n') buf[i] = ' ';
  buf[len++] = '\n';
  // Non-blocking: a full pipe loses the line; nothing to do about a failure here.
  (void)!::write(g_trace_fd, buf, len);
}

const char* MountFlagsText(unsigned long flags, char* buf, unsigned size) {
  static const FlagName kNames[] = {
      {MS_RDONLY, "MS_RDONLY"},
      {MS_NOSUID, "MS_NOSUID"},
      {MS_NODEV, "MS_NODEV"},
      {MS_NOEXEC, "MS_NOEXEC"},
      {MS_SYNCHRONOUS, "MS_SYNCHRONOUS"},
      {MS_REMOUNT, "MS_REMOUNT"},
      {MS_MANDLOCK, "MS_MANDLOCK"},
      {MS_DIRSYNC, "MS_DIRSYNC"},
      {MS_NOSYMFOLLOW, "MS_NOSYMFOLLOW"},
      {MS_NOATIME, "MS_NOATIME"},
      {MS_NODIRATIME, "MS_NODIRATIME"},
      {MS_BIND, "MS_BIND"},
      {MS_MOVE, "MS_MOVE"},
      {MS_REC, "MS_REC"},
      {MS_SILENT, "MS_SILENT"},
      {MS_UNBINDABLE, "MS_UNBINDABLE"},
      {MS_PRIVATE, "MS_PRIVATE"},
      {MS_SLAVE, "MS_SLAVE"},
      {MS_SHARED, "MS_SHARED"},
      {MS_RELATIME, "MS_RELATIME"},
      {MS_STRICTATIME, "MS_STRICTATIME"},
      {MS_LAZYTIME, "MS_LAZYTIME"},
  };
  return FlagsText(flags, kNames, sizeof kNames / sizeof kNames[0], buf, size);
}

const char* CloneFlagsText(uint64_t flags, char* buf, unsigned size) {
  static const FlagName kNames[] = {
      {CLONE_NEWUSER, "CLONE_NEWUSER"},     {CLONE_NEWNS, "CLONE_NEWNS"},
      {CLONE_NEWPID, "CLONE_NEWPID"},       {CLONE_NEWUTS, "CLONE_NEWUTS"},
      {CLONE_NEWIPC, "CLONE_NEWIPC"},       {CLONE_NEWNET, "CLONE_NEWNET"},
      {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"}, {0x80, "CLONE_NEWTIME"},
      {0x200000000UL, "CLONE_INTO_CGROUP"},
  };
  return FlagsText(static_cast<unsigned long>(flags), kNames, sizeof kNames / sizeof kNames[0], buf,
                   size);
}

const char* CapsText(uint64_t mask, int last_cap, char* buf, unsigned size) {
  unsigned len = 0;
  buf[0] = '\0';
  int count = 0, known = 0;
  for (int cap = 0; cap <= last_cap && cap < 64; ++cap) {
    ++known;
    if ((mask >> cap) & 1) ++count;
  }
  char head[32];
  if (count == 0) {
    Append(buf, size, &len, "none");
    return buf;
  }
  if (count == known) {
    snprintf(head, sizeof head, "all %d", count);
    Append(buf, size, &len, head);
    return buf;
  }
  snprintf(head, sizeof head, "%d: ", count);
  Append(buf, size, &len, head);
  bool first = true;
  for (int cap = 0; cap <= last_cap && cap < 64; ++cap) {
    if (!((mask >> cap) & 1)) continue;
    if (!first) Append(buf, size, &len, ",");
    first = false;
    if (cap < kCapNameCount) {
      Append(buf, size, &len, kCapNames[cap]);
    } else {
      char num[16];
      snprintf(num, sizeof num, "%d", cap);
      Append(buf, size, &len, num);
    }
  }
  return buf;
}

const char* ArgvText(const std::vector<std::string>& args, char* buf, unsigned size) {
  unsigned len = 0;
  buf[0] = '\0';
  Append(buf, size, &len, "[");
  for (size_t i = 0; i < args.size(); ++i) {
    if (i) Append(buf, size, &len, ",");
    Append(buf, size, &len, "\"");
    for (char c : args[i]) {
      char esc[3] = {c, '\0', '\0'};
      if (c == '"' || c == '\\') esc[0] = '\\', esc[1] = c;
      if (c == '\n') esc[0] = '\\', esc[1] = 'n';
      Append(buf, size, &len, esc);
    }
    Append(buf, size, &len, "\"");
  }
  Append(buf, size, &len, "]");
  return buf;
}

}  // namespace skiff::runtime::child
