// A cache of compiled seccomp programs. Compiling Docker's default profile with libseccomp
// is the largest piece of user-space work in a container start (a third of `skiff run`'s
// CPU samples under perf), and every container an engine starts asks for the same profile,
// so the program is kept by the digest of everything that determines it.
#include <seccomp.h>
#include <sys/stat.h>

#include <cstring>

#include "base/digest.h"
#include "base/file.h"
#include "runtime/seccomp.h"

namespace skiff::runtime {
namespace {

constexpr char kMagic[8] = {'S', 'K', 'S', 'E', 'C', 'C', '1', '\n'};

struct Header {
  char magic[8];
  uint32_t flags;
  uint32_t has_notify;
  uint32_t count;
  uint32_t pad;
};

void Field(Sha256* h, std::string_view s) {
  uint64_t n = s.size();
  h->Update(&n, sizeof n);
  h->Update(s);
}

void Field(Sha256* h, uint64_t v) { h->Update(&v, sizeof v); }

void Field(Sha256* h, const std::optional<uint32_t>& v) {
  Field(h, static_cast<uint64_t>(v.has_value()));
  Field(h, static_cast<uint64_t>(v.value_or(0)));
}

void Fields(Sha256* h, const std::vector<std::string>& v) {
  Field(h, static_cast<uint64_t>(v.size()));
  for (const auto& s : v) Field(h, s);
}

Result<SeccompProgram> Load(const std::string& path) {
  std::string data = TRY(ReadFile(path));
  Header hd;
  if (data.size() < sizeof hd) return MakeError(EINVAL, "short");
  std::memcpy(&hd, data.data(), sizeof hd);
  if (std::memcmp(hd.magic, kMagic, sizeof kMagic) != 0 || hd.count == 0 || hd.count > 4096 ||
      data.size() != sizeof hd + hd.count * sizeof(sock_filter))
    return MakeError(EINVAL, "not a cached program");
  SeccompProgram p;
  p.flags = hd.flags;
  p.has_notify = hd.has_notify != 0;
  p.filter.resize(hd.count);
  std::memcpy(p.filter.data(), data.data() + sizeof hd, hd.count * sizeof(sock_filter));
  return p;
}

}  // namespace

std::string SeccompCacheKey(const oci::Seccomp& s) {
  Sha256 h;
  // What else decides the program: this libseccomp, its API level, the native arch.
  const scmp_version* v = seccomp_version();
  Field(&h, StrFormat("libseccomp %u.%u.%u api %u arch %u", v->major, v->minor, v->micro,
                      seccomp_api_get(), seccomp_arch_native()));
  Field(&h, s.default_action);
  Field(&h, s.default_errno_ret);
  Fields(&h, s.architectures);
  Fields(&h, s.flags);
  Field(&h, static_cast<uint64_t>(s.syscalls.size()));
  for (const auto& sc : s.syscalls) {
    Fields(&h, sc.names);
    Field(&h, sc.action);
    Field(&h, sc.errno_ret);
    Field(&h, static_cast<uint64_t>(sc.args.size()));
    for (const auto& a : sc.args) {
      Field(&h, static_cast<uint64_t>(a.index));
      Field(&h, a.value);
      Field(&h, a.value_two);
      Field(&h, a.op);
    }
  }
  return h.HexDigest();
}

Result<SeccompProgram> CompileSeccompCached(const oci::Seccomp& spec, const std::string& dir) {
  if (dir.empty()) return CompileSeccomp(spec);
  std::string path = dir + "/" + SeccompCacheKey(spec) + ".bpf";
  auto cached = Load(path);
  if (cached.ok()) return cached;
  SeccompProgram p = TRY(CompileSeccomp(spec));
  // Best effort: a cache that can't be written only costs the next start the compile.
  if (MkdirAll(dir, 0700).ok()) {
    Header hd{};
    std::memcpy(hd.magic, kMagic, sizeof kMagic);
    hd.flags = p.flags;
    hd.has_notify = p.has_notify ? 1 : 0;
    hd.count = static_cast<uint32_t>(p.filter.size());
    std::string data(reinterpret_cast<const char*>(&hd), sizeof hd);
    data.append(reinterpret_cast<const char*>(p.filter.data()),
                p.filter.size() * sizeof(sock_filter));
    (void)WriteFileAtomic(path, data, 0600);
  }
  return p;
}

}  // namespace skiff::runtime
