#include "image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/digest.h"
#include "base/fd.h"
#include "base/syscalls.h"
#include "image/gunzip.h"
#include "image/whiteout.h"

namespace skiff::image {
namespace {

constexpr size_t kBufSize = 1 << 20;
// overlayfs' own metadata (redirect, metacopy, opaque...) from a tar would let a layer
// rewire the overlay stack: only the unpacker writes trusted.overlay.*, from whiteouts.
constexpr std::string_view kOverlayXattrPrefix = "trusted.overlay.";

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

// A name from the tar as an error shows it: a hostile 8 MiB name makes no 8 MiB message.
std::string Shown(const char* name) {
  constexpr size_t kMax = 200;
  std::string_view s(name ? name : "?");
  return s.size() <= kMax ? std::string(s) : std::string(s.substr(0, kMax)) + "...";
}

Error ArchiveError(archive* a, const char* what) {
  const char* s = archive_error_string(a);
  return MakeError(0, "%s: %s", what, s ? s : "unknown libarchive error");
}

// Opens a directory inside root: symlinks on the way are followed as if root were "/".
int OpenInRoot(int root, const std::string& path, uint64_t flags) {
  sys::OpenHow how;
  how.flags = flags | O_CLOEXEC;
  how.resolve = sys::kResolveInRoot | sys::kResolveNoMagiclinks;
  return sys::Openat2(root, path.empty() ? "." : path.c_str(), how);
}

// unlinkat of name under dirfd, a directory with all it holds; never follows a symlink.
Status RemoveAt(int dirfd, const char* name) {
  if (::unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return Ok();
  if (errno != EISDIR && errno != EPERM) return Errno("remove %s", name);
  int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Errno("open %s", name);
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return Errno("opendir %s", name);
  }
  Status st;
  while (struct dirent* de = ::readdir(dir)) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    st = RemoveAt(::dirfd(dir), de->d_name);
    if (!st.ok()) break;
  }
  ::closedir(dir);
  TRY(std::move(st));
  if (::unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) return Errno("rmdir %s", name);
  return Ok();
}

struct Times {
  struct timespec ts[2];
};

Times EntryTimes(archive_entry* e) {
  Times t;
  t.ts[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
  // OCI layers rarely carry atime; use mtime then, as Docker does.
  t.ts[0] = archive_entry_atime_is_set(e)
                ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)}
                : t.ts[1];
  return t;
}

// Writes the entries of one tar stream under root.
class Extractor {
 public:
  // input_done: the uncompressed stream has ended (set by the read callback).
  Extractor(int root, const UnpackOptions& opts, const bool* input_done)
      : root_(root), opts_(opts), input_done_(input_done) {}
  Status Entry(archive* a, archive_entry* e);
  Status Finish();  // directory times, after their contents
  // The stream ended right after an entry's data, without tar's padding and end blocks.
  bool ended_without_trailer() const { return ended_without_trailer_; }

 private:
  Result<int> ParentDir(std::string_view parent);
  Result<UniqueFd> MakeParents(const std::string& parent);
  // Makes room for a new entry name under dirfd: true when a directory is there and
  // keep_dir (it is then reused); otherwise what is there is removed.
  Result<bool> MakeRoom(int dirfd, const char* name, bool keep_dir);
  Status WhiteoutEntry(const std::string& path, const Whiteout& wo);
  Status ClearLower(const std::string& dir);
  Status Regular(archive* a, archive_entry* e, int dirfd, const char* name);
  Status Directory(archive_entry* e, const std::string& path, int dirfd, const char* name);
  Status Symlink(archive_entry* e, int dirfd, const char* name);
  Status Hardlink(const char* target, const std::string& path, int dirfd, const char* name);
  Status Special(archive_entry* e, int dirfd, const char* name);
  Status Owner(archive_entry* e, int fd, int dirfd, const char* name);
  Status Xattrs(archive_entry* e, int fd, int dirfd, const char* name);
  void Wrote(const std::string& path) {
    if (opts_.whiteouts == WhiteoutMode::kFlatten) written_.insert(path);
  }

  int root_;
  const UnpackOptions& opts_;
  const bool* input_done_;
  bool ended_without_trailer_ = false;
  // The last parent directory opened: tars list a directory's entries together. Marked
  // stale on every removal, which could take the directory away (the fd stays open: the
  // entry being written may still use it).
  std::string cached_path_;
  UniqueFd cached_fd_;
  bool cache_valid_ = false;
  std::vector<std::pair<std::string, Times>> dir_times_;
  std::unordered_set<std::string> written_;  // flatten mode: paths this layer wrote
};

Result<UniqueFd> Extractor::MakeParents(const std::string& parent) {
  // Component by component, each prefix resolved inside root again, so that a symlink met
  // on the way is followed inside root and a missing directory is made where it resolves.
  UniqueFd cur(OpenInRoot(root_, "", O_PATH | O_DIRECTORY));
  if (!cur) return Errno("open layer root");
  size_t i = 0;
  while (i < parent.size()) {
    size_t j = parent.find('/', i);
    if (j == std::string::npos) j = parent.size();
    std::string prefix = parent.substr(0, j);
    std::string comp = parent.substr(i, j - i);
    i = j + 1;
    UniqueFd next(OpenInRoot(root_, prefix, O_PATH | O_DIRECTORY));
    if (!next && errno == ENOENT) {
      if (::mkdirat(cur.get(), comp.c_str(), 0755) < 0 && errno != EEXIST)
        return Errno("mkdir %s", prefix.c_str());
      next.reset(OpenInRoot(root_, prefix, O_PATH | O_DIRECTORY));
    }
    if (!next) return Errno("open parent %s", prefix.c_str());
    cur = std::move(next);
  }
  return cur;
}

Result<int> Extractor::ParentDir(std::string_view parent) {
  if (cache_valid_ && cached_path_ == parent) return cached_fd_.get();
  std::string p(parent);
  UniqueFd fd(OpenInRoot(root_, p, O_PATH | O_DIRECTORY));
  if (!fd && errno == ENOENT) fd = TRY(MakeParents(p));
  if (!fd) return Errno("open parent %s", p.c_str());
  cached_fd_ = std::move(fd);
  cached_path_ = std::move(p);
  cache_valid_ = true;
  return cached_fd_.get();
}

Result<bool> Extractor::MakeRoom(int dirfd, const char* name, bool keep_dir) {
  struct stat st;
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return false;
    return Errno("stat %s", name);
  }
  if (keep_dir && S_ISDIR(st.st_mode)) return true;
  cache_valid_ = false;
  TRY(RemoveAt(dirfd, name));
  return false;
}

Status Extractor::Owner(archive_entry* e, int fd, int dirfd, const char* name) {
  if (!opts_.preserve_owners) return Ok();
  int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
  if (uid < 0 || gid < 0 || uid >= UINT32_MAX || gid >= UINT32_MAX)
    return MakeError(0, "owner %lld:%lld out of range", (long long)uid, (long long)gid);
  int r = fd >= 0 ? ::fchown(fd, uid, gid) : ::fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
  if (r < 0) return Errno("chown %lld:%lld", (long long)uid, (long long)gid);
  return Ok();
}

Status Extractor::Xattrs(archive_entry* e, int fd, int dirfd, const char* name) {
  if (archive_entry_xattr_reset(e) == 0) return Ok();
  const char* key;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
    if (std::string_view(key).starts_with(kOverlayXattrPrefix)) continue;
    int r;
    if (fd >= 0) {
      r = ::fsetxattr(fd, key, value, size, 0);
    } else {
      // No fd for a symlink, device or fifo: name under the parent's fd, not followed.
      std::string at = StrFormat("/proc/self/fd/%d/%s", dirfd, name);
      r = ::lsetxattr(at.c_str(), key, value, size, 0);
    }
    if (r < 0) {
      // An SELinux label means nothing on a host without SELinux.
      if ((errno == ENOTSUP || errno == EOPNOTSUPP) && !strcmp(key, "security.selinux")) continue;
      return Errno("set xattr %s", key);
    }
  }
  return Ok();
}

Status Extractor::Regular(archive* a, archive_entry* e, int dirfd, const char* name) {
  // O_EXCL after MakeRoom: an existing file (maybe a hardlink of another) is replaced, never
  // truncated and written through.
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd fd(::openat(dirfd, name, kFlags, 0600));
  if (!fd && errno == EEXIST) {
    (void)TRY(MakeRoom(dirfd, name, false));
    fd.reset(::openat(dirfd, name, kFlags, 0600));
  }
  if (!fd) return Errno("create");
  int64_t end = 0;
  for (;;) {
    const void* buf;
    size_t size;
    la_int64_t off;
    int r = archive_read_data_block(a, &buf, &size, &off);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      // umoci 0.4.7 (Debian's) ends its layers right after the last file's data, without
      // the padding and the two zero blocks; Go's archive/tar, hence umoci, podman and
      // containerd, reads such layers. Take it only when every byte of the entry arrived
      // and the input is over: nothing is made up, and no later entry can exist.
      if (*input_done_ && end == archive_entry_size(e)) {
        ended_without_trailer_ = true;
        break;
      }
      return ArchiveError(a, "read data");
    }
    // Offsets jump over the holes of a sparse file; pwrite leaves them unallocated.
    const char* p = static_cast<const char*>(buf);
    while (size > 0) {
      ssize_t w = ::pwrite(fd.get(), p, size, off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Errno("write");
      p += w;
      off += w;
      size -= static_cast<size_t>(w);
    }
    end = std::max<int64_t>(end, off);
  }
  if (archive_entry_size_is_set(e) && archive_entry_size(e) > end &&
      ::ftruncate(fd.get(), archive_entry_size(e)) < 0)
    return Errno("truncate");
  // chown clears setuid/setgid and file capabilities: mode and xattrs come after it.
  TRY(Owner(e, fd.get(), -1, nullptr));
  if (::fchmod(fd.get(), archive_entry_perm(e) & 07777) < 0) return Errno("chmod");
  TRY(Xattrs(e, fd.get(), -1, nullptr));
  Times t = EntryTimes(e);
  if (::futimens(fd.get(), t.ts) < 0) return Errno("set times");
  return Ok();
}

Status Extractor::Directory(archive_entry* e, const std::string& path, int dirfd,
                            const char* name) {
  UniqueFd fd;
  if (path.empty()) {
    fd.reset(OpenInRoot(root_, "", O_RDONLY | O_DIRECTORY));
  } else {
    if (::mkdirat(dirfd, name, 0700) < 0) {
      if (errno != EEXIST) return Errno("mkdir");
      if (!TRY(MakeRoom(dirfd, name, true)) && ::mkdirat(dirfd, name, 0700) < 0)
        return Errno("mkdir");
    }
    fd.reset(::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  }
  if (!fd) return Errno("open directory");
  TRY(Owner(e, fd.get(), -1, nullptr));
  if (::fchmod(fd.get(), archive_entry_perm(e) & 07777) < 0) return Errno("chmod");
  TRY(Xattrs(e, fd.get(), -1, nullptr));
  // Creating the entries inside would change the times again: set them at the end.
  dir_times_.emplace_back(path, EntryTimes(e));
  return Ok();
}

Status Extractor::Symlink(archive_entry* e, int dirfd, const char* name) {
  const char* target = archive_entry_symlink(e);
  if (!target || !*target) return MakeError(0, "symlink without a target");
  if (::symlinkat(target, dirfd, name) < 0) {
    if (errno != EEXIST) return Errno("symlink");
    (void)TRY(MakeRoom(dirfd, name, false));
    if (::symlinkat(target, dirfd, name) < 0) return Errno("symlink");
  }
  TRY(Owner(e, -1, dirfd, name));
  TRY(Xattrs(e, -1, dirfd, name));
  Times t = EntryTimes(e);
  if (::utimensat(dirfd, name, t.ts, AT_SYMLINK_NOFOLLOW) < 0) return Errno("set times");
  return Ok();
}

Status Extractor::Hardlink(const char* target, const std::string& path, int dirfd,
                           const char* name) {
  auto clean = CleanEntryPath(target);
  std::string shown = Shown(target);
  if (!clean) return std::move(clean).error().Wrapf("hardlink target \"%s\"", shown.c_str());
  if (clean->empty()) return MakeError(0, "hardlink to the layer root");
  if (*clean == path) return Ok();  // a link to itself: nothing to do
  // The target's directory is resolved inside root; its last component is not followed
  // (linkat without AT_SYMLINK_FOLLOW links a symlink itself), so the link stays inside.
  UniqueFd tdir(OpenInRoot(root_, std::string(ParentOf(*clean)), O_PATH | O_DIRECTORY));
  std::string tname(BaseOf(*clean));
  if (!tdir || ::linkat(tdir.get(), tname.c_str(), dirfd, name, 0) < 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return MakeError(0, "hardlink target \"%s\" is not in the layer", shown.c_str());
    if (!tdir) return Errno("hardlink target \"%s\"", shown.c_str());
    if (errno != EEXIST) return Errno("hardlink to \"%s\"", shown.c_str());
    (void)TRY(MakeRoom(dirfd, name, false));
    if (::linkat(tdir.get(), tname.c_str(), dirfd, name, 0) < 0)
      return Errno("hardlink to \"%s\"", shown.c_str());
  }
  return Ok();
}

Status Extractor::Special(archive_entry* e, int dirfd, const char* name) {
  mode_t type = archive_entry_filetype(e);
  dev_t dev = 0;
  if (type == AE_IFCHR || type == AE_IFBLK) {
    if (!opts_.allow_devices) return MakeError(0, "device nodes are not allowed in this layer");
    dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
  }
  if (::mknodat(dirfd, name, type | 0600, dev) < 0) {
    if (errno != EEXIST) return Errno("mknod");
    (void)TRY(MakeRoom(dirfd, name, false));
    if (::mknodat(dirfd, name, type | 0600, dev) < 0) return Errno("mknod");
  }
  TRY(Owner(e, -1, dirfd, name));
  if (::fchmodat(dirfd, name, archive_entry_perm(e) & 07777, 0) < 0) return Errno("chmod");
  TRY(Xattrs(e, -1, dirfd, name));
  Times t = EntryTimes(e);
  if (::utimensat(dirfd, name, t.ts, AT_SYMLINK_NOFOLLOW) < 0) return Errno("set times");
  return Ok();
}

Status Extractor::ClearLower(const std::string& dir) {
  UniqueFd fd(OpenInRoot(root_, dir, O_RDONLY | O_DIRECTORY));
  if (!fd) return errno == ENOENT ? Ok() : Errno("open %s", dir.c_str());
  std::vector<std::pair<std::string, bool>> names;  // name, is a directory
  DIR* d = ::fdopendir(::dup(fd.get()));
  if (!d) return Errno("opendir %s", dir.c_str());
  while (struct dirent* de = ::readdir(d)) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    names.emplace_back(de->d_name, de->d_type == DT_DIR);
  }
  ::closedir(d);
  for (const auto& [name, is_dir] : names) {
    std::string child = dir.empty() ? name : dir + "/" + name;
    if (written_.count(child)) {
      // Written by this layer: it stays, but a directory's lower contents still go.
      if (is_dir) TRY(ClearLower(child));
      continue;
    }
    cache_valid_ = false;
    TRY(RemoveAt(fd.get(), name.c_str()));
  }
  return Ok();
}

Status Extractor::WhiteoutEntry(const std::string& path, const Whiteout& wo) {
  std::string parent(ParentOf(path));
  bool flatten = opts_.whiteouts == WhiteoutMode::kFlatten;
  switch (wo.kind) {
    case WhiteoutKind::kNone:
    case WhiteoutKind::kMeta:
      return Ok();
    case WhiteoutKind::kInvalid:
      return MakeError(0, "whiteout of \"%s\": path escapes the layer root", wo.target.c_str());
    case WhiteoutKind::kOpaque: {
      if (flatten) return ClearLower(parent);
      int dirfd = TRY(ParentDir(parent));
      std::string at = StrFormat("/proc/self/fd/%d", dirfd);
      if (::setxattr(at.c_str(), "trusted.overlay.opaque", "y", 1, 0) < 0)
        return Errno("set trusted.overlay.opaque");
      return Ok();
    }
    case WhiteoutKind::kWhiteout:
      break;
  }
  std::string target = parent.empty() ? wo.target : parent + "/" + wo.target;
  // A whiteout hides the lower layers only; an entry of this layer with the same name wins
  // (image-spec layer.md).
  if (flatten) {
    if (written_.count(target)) return Ok();
    UniqueFd fd(OpenInRoot(root_, parent, O_PATH | O_DIRECTORY));
    if (!fd) return errno == ENOENT ? Ok() : Errno("open %s", parent.c_str());
    cache_valid_ = false;
    return RemoveAt(fd.get(), wo.target.c_str());
  }
  int dirfd = TRY(ParentDir(parent));
  if (::mknodat(dirfd, wo.target.c_str(), S_IFCHR, makedev(0, 0)) < 0 && errno != EEXIST)
    return Errno("mknod whiteout");
  return Ok();
}

Status Extractor::Entry(archive* a, archive_entry* e) {
  const char* raw = archive_entry_pathname(e);
  if (!raw) raw = archive_entry_pathname_utf8(e);
  if (!raw) return MakeError(0, "entry without a name");
  std::string path = TRY(CleanEntryPath(raw));
  Whiteout wo = ParseWhiteout(BaseOf(path));
  if (wo.kind != WhiteoutKind::kNone) return WhiteoutEntry(path, wo);
  std::string name(BaseOf(path));
  int dirfd = TRY(ParentDir(ParentOf(path)));
  if (const char* link = archive_entry_hardlink(e)) {
    if (path.empty()) return MakeError(0, "the layer root can't be a hardlink");
    TRY(Hardlink(link, path, dirfd, name.c_str()));
    Wrote(path);
    return Ok();
  }
  mode_t type = archive_entry_filetype(e);
  if (path.empty() && type != AE_IFDIR) return MakeError(0, "the layer root must be a directory");
  switch (type) {
    case AE_IFREG:
      TRY(Regular(a, e, dirfd, name.c_str()));
      break;
    case AE_IFDIR:
      TRY(Directory(e, path, dirfd, name.c_str()));
      break;
    case AE_IFLNK:
      TRY(Symlink(e, dirfd, name.c_str()));
      break;
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      TRY(Special(e, dirfd, name.c_str()));
      break;
    case AE_IFSOCK:
      return Ok();  // a socket in a tar means nothing once its process is gone
    default:
      return MakeError(0, "unsupported entry type 0%o", type);
  }
  Wrote(path);
  return Ok();
}

Status Extractor::Finish() {
  cached_fd_.reset();
  for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
    UniqueFd fd(OpenInRoot(root_, it->first, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    if (!fd) continue;  // replaced or whited out by a later entry
    if (::futimens(fd.get(), it->second.ts) < 0) return Errno("set times of %s", it->first.c_str());
  }
  return Ok();
}

// Two libarchive readers in one pass: `raw` (every filter we take, format raw) turns the
// blob into the uncompressed tar stream, which is hashed into the diff_id and handed to `tar`
// (format tar, no filter) through a read callback. libarchive has no hook for the
// decompressed bytes of a single reader, and a temp file would cost a second pass.
//
// `raw` runs on a thread of its own (the Inflater): reading the source, the blob's SHA-256,
// gunzip and the tar's SHA-256 go on while the extractor waits for the filesystem (creating
// a file on ext4 here costs 0.3-2 ms, MACHINE.md). On one thread they were all serial with
// the extraction: for a one-layer Debian pull, about 1 s of CPU in line with the syscalls.
class Inflater {
 public:
  explicit Inflater(const ByteSource& src) : src_(src) {}
  ~Inflater() { Stop(); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Sets up `raw` and reads the blob's first bytes (the filter is detected), on this thread.
  Status Open();
  void Start() { thread_ = std::thread(&Inflater::Run, this); }
  // The consumer's side: the next piece of the tar stream (valid until the next call); 0 at
  // its end, -1 when reading or decompressing failed (error() says why).
  la_ssize_t Next(const void** buf);
  // Reads the stream to its end (diff_id and digest cover all of it) and stops the thread.
  Status Finish();
  void Stop();

  // After Next returned -1: what failed, and whether it was the source (not the data).
  Error error() const {
    std::lock_guard<std::mutex> l(mu_);
    return error_ ? *error_ : MakeError(0, "no error");
  }
  bool source_failed() const {
    std::lock_guard<std::mutex> l(mu_);
    return source_failed_;
  }

  Sha256 blob_hash, tar_hash;  // complete after Finish
  int64_t blob_bytes = 0, tar_bytes = 0;

 private:
  // A few buffers go around: filled by Run, read by the extractor, then free again. Enough
  // to ride out a slow file creation without holding much of the layer in memory.
  static constexpr int kBuffers = 4;
  struct Chunk {
    std::vector<char> data = std::vector<char>(kBufSize);
    size_t size = 0;
  };
  static la_ssize_t ReadBlob(archive* a, void* p, const void** buf);
  Status OpenArchive();
  // The next piece of the tar stream into buf (0 at its end), by ISA-L or by libarchive.
  Result<size_t> Inflate(void* buf, size_t n);
  void Run();
  void Fail(Error e, bool source);

  const ByteSource& src_;
  std::unique_ptr<Gunzip> gz_;  // gzip blobs where ISA-L loads; raw_ for the rest
  ArchivePtr raw_;
  std::vector<char> in_buf_ = std::vector<char>(kBufSize);
  std::string first_;               // read by Open to tell gzip, given to raw_ before the rest
  std::optional<Error> src_error_;  // Run's, from ReadBlob
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Chunk>> full_, free_;
  std::unique_ptr<Chunk> current_;  // the extractor's
  bool done_ = false, stop_ = false, source_failed_ = false;
  std::optional<Error> error_;
};

la_ssize_t Inflater::ReadBlob(archive* a, void* p, const void** buf) {
  auto* in = static_cast<Inflater*>(p);
  if (!in->first_.empty()) {  // hashed by Open
    in->in_buf_.assign(in->first_.begin(), in->first_.end());
    in->in_buf_.resize(std::max(kBufSize, in->first_.size()));
    size_t n = in->first_.size();
    in->first_.clear();
    *buf = in->in_buf_.data();
    return static_cast<la_ssize_t>(n);
  }
  Result<size_t> n = in->src_(in->in_buf_.data(), in->in_buf_.size());
  if (!n.ok()) {
    in->src_error_ = n.error();
    archive_set_error(a, EIO, "%s", n.error().Message().c_str());
    return -1;
  }
  in->blob_hash.Update(in->in_buf_.data(), *n);
  in->blob_bytes += static_cast<int64_t>(*n);
  *buf = in->in_buf_.data();
  return static_cast<la_ssize_t>(*n);
}

Status Inflater::Open() {
  // The first bytes say gzip or not (1f 8b); a source may give them one at a time.
  while (first_.size() < 2) {
    Result<size_t> n = src_(in_buf_.data(), in_buf_.size());
    if (!n.ok()) return std::move(n).error().Wrap("read layer");
    if (*n == 0) break;
    blob_hash.Update(in_buf_.data(), *n);
    blob_bytes += static_cast<int64_t>(*n);
    first_.append(in_buf_.data(), *n);
  }
  if (first_.empty()) return MakeError(0, "read layer: empty blob");
  for (int i = 0; i < kBuffers; ++i) free_.push_back(std::make_unique<Chunk>());
  if (first_.size() >= 2 && static_cast<uint8_t>(first_[0]) == 0x1f &&
      static_cast<uint8_t>(first_[1]) == 0x8b) {
    ByteSource hashed = [this](void* buf, size_t n) -> Result<size_t> {
      size_t got = TRY(src_(buf, n));
      blob_hash.Update(buf, got);
      blob_bytes += static_cast<int64_t>(got);
      return got;
    };
    gz_ = Gunzip::New(std::move(first_), std::move(hashed));
    first_.clear();
    if (gz_) return Ok();
  }
  return OpenArchive();
}

Status Inflater::OpenArchive() {
  raw_.reset(archive_read_new());
  if (!raw_) return MakeError(ENOMEM, "archive_read_new");
  // Only the media types of image-spec (tar, tar+gzip, tar+zstd), each through its library:
  // filter_all would also run external programs (lrzip, lzop) on untrusted input.
  if (archive_read_support_filter_gzip(raw_.get()) != ARCHIVE_OK ||
      archive_read_support_filter_zstd(raw_.get()) != ARCHIVE_OK ||
      archive_read_support_format_raw(raw_.get()) != ARCHIVE_OK)
    return ArchiveError(raw_.get(), "set up decompression");
  archive_entry* e;
  int r = archive_read_open(raw_.get(), this, nullptr, ReadBlob, nullptr);
  if (r == ARCHIVE_OK) r = archive_read_next_header(raw_.get(), &e);
  if (r != ARCHIVE_OK && src_error_) return std::move(*src_error_).Wrap("read layer");
  if ((r != ARCHIVE_OK && blob_bytes == 0) || r == ARCHIVE_EOF)
    return MakeError(0, "read layer: empty blob");
  if (r < ARCHIVE_WARN) return ArchiveError(raw_.get(), "read layer");
  return Ok();
}

Result<size_t> Inflater::Inflate(void* buf, size_t n) {
  if (gz_) {
    auto r = gz_->Read(buf, n);
    if (!r.ok() && gz_->source_failed()) src_error_ = r.error();
    return r;
  }
  la_ssize_t got = archive_read_data(raw_.get(), buf, n);
  if (got >= 0) return static_cast<size_t>(got);
  if (src_error_) return *src_error_;
  const char* s = archive_error_string(raw_.get());
  return MakeError(0, "%s", s ? s : "decompression failed");
}

void Inflater::Fail(Error e, bool source) {
  std::lock_guard<std::mutex> l(mu_);
  error_ = std::move(e);
  source_failed_ = source;
  done_ = true;
  cv_.notify_all();
}

void Inflater::Run() {
  for (;;) {
    std::unique_ptr<Chunk> c;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || !free_.empty(); });
      if (stop_) return;
      c = std::move(free_.front());
      free_.pop_front();
    }
    Result<size_t> n = Inflate(c->data.data(), c->data.size());
    if (!n.ok()) return Fail(std::move(n).error(), src_error_.has_value());
    if (*n == 0) break;
    tar_hash.Update(c->data.data(), *n);
    tar_bytes += static_cast<int64_t>(*n);
    c->size = *n;
    std::lock_guard<std::mutex> l(mu_);
    full_.push_back(std::move(c));
    cv_.notify_all();
  }
  // Whatever follows the compressed stream still belongs to the blob's digest.
  for (;;) {
    if (std::lock_guard<std::mutex> l(mu_); stop_) return;
    Result<size_t> n = src_(in_buf_.data(), in_buf_.size());
    if (!n.ok()) return Fail(std::move(n).error(), true);
    if (*n == 0) break;
    blob_hash.Update(in_buf_.data(), *n);
    blob_bytes += static_cast<int64_t>(*n);
  }
  std::lock_guard<std::mutex> l(mu_);
  done_ = true;
  cv_.notify_all();
}

la_ssize_t Inflater::Next(const void** buf) {
  std::unique_lock<std::mutex> l(mu_);
  if (current_) {
    free_.push_back(std::move(current_));
    cv_.notify_all();
  }
  cv_.wait(l, [&] { return done_ || !full_.empty(); });
  if (!full_.empty()) {
    current_ = std::move(full_.front());
    full_.pop_front();
    *buf = current_->data.data();
    return static_cast<la_ssize_t>(current_->size);
  }
  return error_ ? -1 : 0;
}

Status Inflater::Finish() {
  const void* buf;
  for (;;) {
    la_ssize_t n = Next(&buf);
    if (n < 0) return error().Wrap("read layer");
    if (n == 0) break;
  }
  Stop();
  return Ok();
}

void Inflater::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

struct TarInput {
  Inflater* in;
  bool eof = false;  // the uncompressed stream has ended
};

la_ssize_t ReadTar(archive* a, void* p, const void** buf) {
  auto* t = static_cast<TarInput*>(p);
  if (t->eof) return 0;
  la_ssize_t n = t->in->Next(buf);
  if (n < 0) {
    archive_set_error(a, EIO, "%s", t->in->error().Message().c_str());
    return -1;
  }
  if (n == 0) t->eof = true;
  return n;
}

}  // namespace

Result<UnpackResult> UnpackLayer(const ByteSource& src, int dest_dirfd, const UnpackOptions& opts) {
  Inflater in(src);
  TRY(in.Open());
  in.Start();
  TarInput input{.in = &in};
  ArchivePtr tar(archive_read_new());
  if (!tar) return MakeError(ENOMEM, "archive_read_new");
  if (archive_read_support_format_tar(tar.get()) != ARCHIVE_OK)
    return ArchiveError(tar.get(), "set up tar reader");
  if (archive_read_open(tar.get(), &input, nullptr, ReadTar, nullptr) != ARCHIVE_OK)
    return ArchiveError(tar.get(), "read tar");
  Extractor ex(dest_dirfd, opts, &input.eof);
  UnpackResult res;
  while (!ex.ended_without_trailer()) {
    archive_entry* e;
    int r = archive_read_next_header(tar.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (in.source_failed()) return in.error().Wrap("read layer");
      return ArchiveError(tar.get(), res.entries ? "read tar" : "read tar header");
    }
    ++res.entries;
    Status st = ex.Entry(tar.get(), e);
    if (!st.ok()) {
      std::string name = Shown(archive_entry_pathname(e));
      return std::move(st).error().Wrapf("entry \"%s\"", name.c_str());
    }
  }
  TRY(ex.Finish());
  TRY(in.Finish());
  res.diff_id = in.tar_hash.Digest();
  res.digest = in.blob_hash.Digest();
  res.compressed_bytes = in.blob_bytes;
  res.uncompressed_bytes = in.tar_bytes;
  res.missing_trailer = ex.ended_without_trailer();
  if (!opts.expected_diff_id.empty() && res.diff_id != opts.expected_diff_id)
    return MakeError(0, "diff_id mismatch: the config says %s, the layer is %s",
                     opts.expected_diff_id.c_str(), res.diff_id.c_str());
  return res;
}

Result<UnpackResult> UnpackLayerFd(int src_fd, int dest_dirfd, const UnpackOptions& opts) {
  ByteSource src = [src_fd](void* buf, size_t n) -> Result<size_t> {
    for (;;) {
      ssize_t r = ::read(src_fd, buf, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno != EINTR) return Errno("read layer");
    }
  };
  return UnpackLayer(src, dest_dirfd, opts);
}

}  // namespace skiff::image
