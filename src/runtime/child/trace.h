// Explain mode, the child's half: each step the child asks of the kernel is written as one
// preformatted line to the trace pipe the parent made (runtime/explain.h reads, merges and
// prints them). Off, the only cost is one test of a global: call sites check TraceOn()
// before formatting anything, so no argument is built and no syscall made.
//
// A line is "<ns since the parent's origin> <what> <text>\n", written with one write(2)
// from a stack buffer (no allocation), at most PIPE_BUF bytes so that it is never split.
// The pipe is non-blocking: a full pipe drops lines rather than stall the container.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace skiff::runtime::child {

extern int g_trace_fd;  // -1 when explain is off

// Set once at the child's entry, from the plan.
void TraceInit(int fd, int64_t origin_ns);
inline bool TraceOn() { return g_trace_fd >= 0; }

// One line: what is one word ("mount", "setns", "execve"...), the rest printf.
void Trace(const char* what, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Helpers that append to a caller's buffer (no allocation); each returns buf.
// "MS_NOSUID|MS_NODEV|MS_BIND" (or "0").
const char* MountFlagsText(unsigned long flags, char* buf, unsigned size);
// "CLONE_NEWNS|CLONE_NEWPID".
const char* CloneFlagsText(uint64_t flags, char* buf, unsigned size);
// "14: CHOWN,DAC_OVERRIDE,..." ("none", or "all 41" when every known capability is set).
const char* CapsText(uint64_t mask, int last_cap, char* buf, unsigned size);
// ["sh","-c","echo hi"] with quotes and backslashes escaped, newlines as \n.
const char* ArgvText(const std::vector<std::string>& args, char* buf, unsigned size);

}  // namespace skiff::runtime::child
