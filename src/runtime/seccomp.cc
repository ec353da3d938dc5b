#include "runtime/seccomp.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <string_view>

#include "base/fd.h"

namespace skiff::runtime {

namespace {

struct CtxRelease {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using FilterCtx = std::unique_ptr<void, CtxRelease>;  // scmp_filter_ctx is a void*

constexpr uint32_t kDefaultErrno = EPERM;

// Errors in the spec itself carry code 0: there is no kernel reason to print. libseccomp
// returns -errno.
Error Lib(int rc, const char* what) { return MakeError(-rc, "libseccomp %s", what); }

Result<uint32_t> ParseAction(const std::string& name, std::optional<uint32_t> errno_ret,
                             const std::string& field) {
  uint32_t ret = errno_ret.value_or(kDefaultErrno);
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(ret);
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(ret);
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
  return MakeError(0, "%s: unknown action \"%s\"", field.c_str(), name.c_str());
}

Result<scmp_compare> ParseOp(const std::string& name, const std::string& field) {
  static const std::pair<const char*, scmp_compare> kOps[] = {
      {"SCMP_CMP_NE", SCMP_CMP_NE},
      {"SCMP_CMP_LT", SCMP_CMP_LT},
      {"SCMP_CMP_LE", SCMP_CMP_LE},
      {"SCMP_CMP_EQ", SCMP_CMP_EQ},
      {"SCMP_CMP_GE", SCMP_CMP_GE},
      {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
  };
  for (const auto& [n, op] : kOps) {
    if (name == n) return op;
  }
  return MakeError(0, "%s: unknown operator \"%s\"", field.c_str(), name.c_str());
}

// "SCMP_ARCH_X86_64" -> libseccomp's own name "x86_64", which it resolves to a token.
Result<uint32_t> ParseArch(const std::string& name, const std::string& field) {
  static constexpr std::string_view kPrefix = "SCMP_ARCH_";
  uint32_t token = 0;
  if (name.rfind(kPrefix, 0) == 0) {
    std::string lower = name.substr(kPrefix.size());
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    token = seccomp_arch_resolve_name(lower.c_str());
  }
  if (token == 0) {
    return MakeError(0, "%s: unknown architecture \"%s\"", field.c_str(), name.c_str());
  }
  return token;
}

Result<unsigned> ParseFlag(const std::string& name, const std::string& field) {
  if (name == "SECCOMP_FILTER_FLAG_TSYNC") return SECCOMP_FILTER_FLAG_TSYNC;
  if (name == "SECCOMP_FILTER_FLAG_LOG") return SECCOMP_FILTER_FLAG_LOG;
  if (name == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") return SECCOMP_FILTER_FLAG_SPEC_ALLOW;
#ifdef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
  if (name == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") {
    return SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  }
#endif
  return MakeError(0, "%s: unknown flag \"%s\"", field.c_str(), name.c_str());
}

Result<scmp_arg_cmp> ParseArg(const oci::SeccompArg& a, const std::string& field) {
  if (a.index >= 6) {
    return MakeError(0, "%s.index: %u is not an argument index (0-5)", field.c_str(), a.index);
  }
  scmp_compare op = TRY(ParseOp(a.op, field + ".op"));
  // For SCMP_CMP_MASKED_EQ the OCI "value" is the mask and "valueTwo" the value compared
  // with (arg & value) == valueTwo, which is libseccomp's datum_a / datum_b order too.
  return scmp_arg_cmp{a.index, op, a.value, a.value_two};
}

// Adds the rules of one syscalls[] entry: one rule per name, or, when two comparisons
// share an argument index, one rule per comparison. libseccomp can't AND two comparisons
// of one argument, and runc gives such entries OR semantics the same way.
Status AddSyscallRules(void* ctx, const oci::SeccompSyscall& sc, uint32_t action,
                       const std::string& field) {
  std::vector<scmp_arg_cmp> cmps;
  std::set<uint32_t> indexes;
  for (size_t i = 0; i < sc.args.size(); ++i) {
    cmps.push_back(TRY(ParseArg(sc.args[i], StrFormat("%s.args[%zu]", field.c_str(), i))));
    indexes.insert(sc.args[i].index);
  }
  bool split = indexes.size() < cmps.size();
  for (const std::string& name : sc.names) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    // Unknown to this libseccomp on every architecture: the profile is newer than us.
    if (nr == __NR_SCMP_ERROR) continue;
    int rc = 0;
    if (split) {
      for (const scmp_arg_cmp& c : cmps) {
        rc = seccomp_rule_add_array(ctx, action, nr, 1, &c);
        if (rc < 0) break;
      }
    } else {
      rc = seccomp_rule_add_array(ctx, action, nr, cmps.size(), cmps.data());
    }
    if (rc < 0) {
      return MakeError(-rc, "%s: add rule for \"%s\"", field.c_str(), name.c_str());
    }
  }
  return Ok();
}

// libseccomp 2.5.4 has no seccomp_export_bpf_mem (2.6 added it): export to a memfd and
// read the program back.
Result<std::vector<sock_filter>> ExportBpf(void* ctx) {
  UniqueFd fd(memfd_create("skiff-seccomp", MFD_CLOEXEC));
  if (!fd) return Errno("memfd_create for the seccomp program");
  int rc = seccomp_export_bpf(ctx, fd.get());
  if (rc < 0) return Lib(rc, "export_bpf");
  struct stat st {};
  if (fstat(fd.get(), &st) < 0) return Errno("fstat seccomp memfd");
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0 || size % sizeof(sock_filter) != 0) {
    return MakeError(EINVAL, "seccomp: exported program of %zu bytes", size);
  }
  std::vector<sock_filter> prog(size / sizeof(sock_filter));
  char* out = reinterpret_cast<char*>(prog.data());
  for (size_t done = 0; done < size;) {
    ssize_t n = pread(fd.get(), out + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("read seccomp memfd");
    if (n == 0) return MakeError(EIO, "seccomp memfd: short read");
    done += static_cast<size_t>(n);
  }
  // The kernel's limit (BPF_MAXINSNS); better said here than as EINVAL in the child.
  if (prog.size() > 4096) {
    return MakeError(E2BIG, "seccomp: program of %zu instructions (kernel limit 4096)",
                     prog.size());
  }
  return prog;
}

Result<FilterCtx> NewFilter(const oci::Seccomp& spec, uint32_t* default_action) {
  const std::string f = "linux.seccomp";
  if (spec.default_action == "SCMP_ACT_NOTIFY") {
    return MakeError(0, "%s.defaultAction: SCMP_ACT_NOTIFY can't be the default", f.c_str());
  }
  *default_action =
      TRY(ParseAction(spec.default_action, spec.default_errno_ret, f + ".defaultAction"));
  FilterCtx ctx(seccomp_init(*default_action));
  if (!ctx) {
    return MakeError(EINVAL, "libseccomp init (default action %s)", spec.default_action.c_str());
  }
  // The runtime sets no_new_privs itself, and only when process.noNewPrivileges says so.
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0) return Lib(rc, "set CTL_NNP");
  for (size_t i = 0; i < spec.architectures.size(); ++i) {
    uint32_t arch =
        TRY(ParseArch(spec.architectures[i], StrFormat("%s.architectures[%zu]", f.c_str(), i)));
    rc = seccomp_arch_add(ctx.get(), arch);
    // EEXIST: the native architecture, which seccomp_init already added.
    if (rc < 0 && rc != -EEXIST) {
      return MakeError(-rc, "%s.architectures[%zu]: add %s", f.c_str(), i,
                       spec.architectures[i].c_str());
    }
  }
  return ctx;
}

}  // namespace

Result<SeccompProgram> CompileSeccomp(const oci::Seccomp& spec) {
  SeccompProgram out;
  for (size_t i = 0; i < spec.flags.size(); ++i) {
    out.flags |= TRY(ParseFlag(spec.flags[i], StrFormat("linux.seccomp.flags[%zu]", i)));
  }
  uint32_t default_action = 0;
  FilterCtx ctx = TRY(NewFilter(spec, &default_action));
  for (size_t i = 0; i < spec.syscalls.size(); ++i) {
    const oci::SeccompSyscall& sc = spec.syscalls[i];
    std::string field = StrFormat("linux.seccomp.syscalls[%zu]", i);
    uint32_t action = TRY(ParseAction(sc.action, sc.errno_ret, field + ".action"));
    // libseccomp refuses a rule that repeats the default (EACCES); it would change nothing,
    // so runc and crun skip it too.
    if (action == default_action) continue;
    if (action == SCMP_ACT_NOTIFY) out.has_notify = true;
    TRY(AddSyscallRules(ctx.get(), sc, action, field));
  }
  out.filter = TRY(ExportBpf(ctx.get()));
  return out;
}

}  // namespace skiff::runtime
