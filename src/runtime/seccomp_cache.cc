// A cache of compiled seccomp programs. Compiling Docker's default profile with libseccomp
// is the largest piece of user-space work in a container start (a third of `skiff run`'s
// CPU samples under perf), and every container an engine starts asks for the same profile,
// so the program is kept under a hash of everything that determines it, beside that text.
#include <dirent.h>
#include <fcntl.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "base/file.h"
#include "runtime/seccomp.h"

namespace skiff::runtime {
namespace {

// v2: the key's full text is stored in the file and compared when it is read, so that the
// file name is only an index: a cheap hash (FNV-1a) serves, and a collision, made or by
// chance, costs a compile, never another profile's program. v1 named files by SHA-256,
// whose OpenSSL initialisation alone was 1.2 ms of each run's 20 ms CPU.
constexpr char kMagic[8] = {'S', 'K', 'S', 'E', 'C', 'C', '2', '\n'};

struct Header {
  char magic[8];
  uint32_t flags;
  uint32_t has_notify;
  uint32_t count;
  uint32_t key_size;
};

void Field(std::string* k, std::string_view s) {
  uint64_t n = s.size();
  k->append(reinterpret_cast<const char*>(&n), sizeof n);
  k->append(s);
}

void Field(std::string* k, uint64_t v) { k->append(reinterpret_cast<const char*>(&v), sizeof v); }

void Field(std::string* k, const std::optional<uint32_t>& v) {
  Field(k, static_cast<uint64_t>(v.has_value()));
  Field(k, static_cast<uint64_t>(v.value_or(0)));
}

void Fields(std::string* k, const std::vector<std::string>& v) {
  Field(k, static_cast<uint64_t>(v.size()));
  for (const auto& s : v) Field(k, s);
}

// Everything that decides the program, as one string.
std::string KeyText(const oci::Seccomp& s) {
  std::string k;
  // What else decides the program: this libseccomp, its API level, the native arch.
  const scmp_version* v = seccomp_version();
  Field(&k, StrFormat("libseccomp %u.%u.%u api %u arch %u", v->major, v->minor, v->micro,
                      seccomp_api_get(), seccomp_arch_native()));
  Field(&k, s.default_action);
  Field(&k, s.default_errno_ret);
  Fields(&k, s.architectures);
  Fields(&k, s.flags);
  Field(&k, static_cast<uint64_t>(s.syscalls.size()));
  for (const auto& sc : s.syscalls) {
    Fields(&k, sc.names);
    Field(&k, sc.action);
    Field(&k, sc.errno_ret);
    Field(&k, static_cast<uint64_t>(sc.args.size()));
    for (const auto& a : sc.args) {
      Field(&k, static_cast<uint64_t>(a.index));
      Field(&k, a.value);
      Field(&k, a.value_two);
      Field(&k, a.op);
    }
  }
  return k;
}

std::string FileKey(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return StrFormat("%016llx-%zu", static_cast<unsigned long long>(h), text.size());
}

// Whether name is one FileKey gives, with ".bpf": 16 hex digits, '-', the key's size.
bool IsCurrentName(std::string_view name) {
  constexpr std::string_view kExt = ".bpf";
  if (name.size() < 16 + 1 + 1 + kExt.size() || name.substr(name.size() - kExt.size()) != kExt ||
      name[16] != '-')
    return false;
  std::string_view hash = name.substr(0, 16), size = name.substr(17, name.size() - 17 - 4);
  return hash.find_first_not_of("0123456789abcdef") == std::string_view::npos &&
         size.find_first_not_of("0123456789") == std::string_view::npos;
}

// A temp file WriteFileAtomic left (<name>.bpf.tmp.XXXXXX) younger than this may be another
// start's write in progress, which takes microseconds; an older one is a killed write's.
constexpr time_t kTempFileAge = 60;

// Files this version never reads again: those of older versions (v1 named them by the
// key's SHA-256, "<64 hex>.bpf") and old temp files of writes that were killed. Nothing
// else sweeps the cache dir, so without this they would stay for ever. Run after a miss
// only: a hit, the common start, pays nothing for it.
void RemoveStaleFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  time_t now = ::time(nullptr);
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == ".." || e->d_type == DT_DIR || IsCurrentName(name)) continue;
    size_t tmp = name.find(".bpf.tmp.");
    if (tmp != std::string_view::npos && IsCurrentName(name.substr(0, tmp + 4))) {
      struct stat st;
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
          now - st.st_mtime < kTempFileAge)
        continue;
    }
    (void)::unlinkat(::dirfd(d), e->d_name, 0);  // a directory (DT_UNKNOWN) fails: kept
  }
  ::closedir(d);
}

Result<SeccompProgram> Load(const std::string& path, const std::string& key) {
  std::string data = TRY(ReadFile(path));
  Header hd;
  if (data.size() < sizeof hd) return MakeError(EINVAL, "short");
  std::memcpy(&hd, data.data(), sizeof hd);
  if (std::memcmp(hd.magic, kMagic, sizeof kMagic) != 0 || hd.count == 0 || hd.count > 4096 ||
      hd.key_size != key.size() ||
      data.size() != sizeof hd + key.size() + hd.count * sizeof(sock_filter))
    return MakeError(EINVAL, "not a cached program");
  if (data.compare(sizeof hd, key.size(), key) != 0)
    return MakeError(EINVAL, "cached for another profile");
  SeccompProgram p;
  p.flags = hd.flags;
  p.has_notify = hd.has_notify != 0;
  p.filter.resize(hd.count);
  std::memcpy(p.filter.data(), data.data() + sizeof hd + key.size(),
              hd.count * sizeof(sock_filter));
  return p;
}

}  // namespace

std::string SeccompCacheKey(const oci::Seccomp& s) { return FileKey(KeyText(s)); }

Result<SeccompProgram> CompileSeccompCached(const oci::Seccomp& spec, const std::string& dir) {
  if (dir.empty()) return CompileSeccomp(spec);
  std::string key = KeyText(spec);
  std::string path = dir + "/" + FileKey(key) + ".bpf";
  auto cached = Load(path, key);
  if (cached.ok()) return cached;
  SeccompProgram p = TRY(CompileSeccomp(spec));
  // Best effort: a cache that can't be written only costs the next start the compile.
  if (MkdirAll(dir, 0700).ok()) {
    Header hd{};
    std::memcpy(hd.magic, kMagic, sizeof kMagic);
    hd.flags = p.flags;
    hd.has_notify = p.has_notify ? 1 : 0;
    hd.count = static_cast<uint32_t>(p.filter.size());
    hd.key_size = static_cast<uint32_t>(key.size());
    std::string data(reinterpret_cast<const char*>(&hd), sizeof hd);
    data += key;
    data.append(reinterpret_cast<const char*>(p.filter.data()),
                p.filter.size() * sizeof(sock_filter));
    (void)WriteFileAtomic(path, data, 0600);
    RemoveStaleFiles(dir);
  }
  return p;
}

}  // namespace skiff::runtime
