#include "engine/copy.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "base/fd.h"
#include "base/syscalls.h"
#include "image/whiteout.h"

namespace skiff::engine {
namespace {

// ---- paths ----

bool EndsWithDot(const std::string& p) {
  return p == "." || (p.size() >= 2 && p.compare(p.size() - 2, 2, "/.") == 0);
}

bool HasTrailingSlash(const std::string& p) { return !p.empty() && p.back() == '/'; }

// "a/b/" -> "a/b"; "/" stays "/".
std::string TrimSlashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::string Base(const std::string& in) {
  std::string p = TrimSlashes(in);
  if (p == "/") return "/";
  auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::string Parent(const std::string& in) {
  std::string p = TrimSlashes(in);
  auto s = p.rfind('/');
  if (s == std::string::npos) return ".";
  return s == 0 ? "/" : p.substr(0, s);
}

// In the container: resolved against rootfd, never leaving it.
int OpenInRoot(int rootfd, const std::string& path, uint64_t flags) {
  sys::OpenHow how;
  how.flags = flags | O_CLOEXEC;
  how.resolve = sys::kResolveInRoot | sys::kResolveNoMagiclinks;
  std::string p = path;
  while (!p.empty() && p[0] == '/') p.erase(0, 1);
  return sys::Openat2(rootfd, p.empty() ? "." : p.c_str(), how);
}

// Where a path lives: a container root (rootfd >= 0) or the host.
struct Side {
  int rootfd = -1;
  int Open(const std::string& path, int flags) const {
    if (rootfd >= 0) return OpenInRoot(rootfd, path, static_cast<uint64_t>(flags));
    return ::open(path.c_str(), flags | O_CLOEXEC);
  }
};

// ---- what is copied: an entry (an O_PATH fd of it) and its metadata ----

struct Entry {
  UniqueFd fd;  // O_PATH; of the link itself for a symlink
  struct stat st = {};
};

Result<Entry> EntryAt(int parent, const char* name) {
  Entry e;
  e.fd.reset(::openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!e.fd) return Errno("open %s", name);
  if (::fstatat(e.fd.get(), "", &e.st, AT_EMPTY_PATH) < 0) return Errno("stat %s", name);
  return e;
}

// A regular file's content: reopened through our own O_PATH fd, and checked to be the
// same file (not a fifo swapped in meanwhile: O_NONBLOCK keeps that from hanging us).
Result<UniqueFd> OpenContent(const Entry& e) {
  std::string p = StrFormat("/proc/self/fd/%d", e.fd.get());
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) return Errno("open for reading");
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return Errno("stat");
  if (st.st_ino != e.st.st_ino || st.st_dev != e.st.st_dev || !S_ISREG(st.st_mode))
    return MakeError(EAGAIN, "the file changed while it was copied");
  int fl = ::fcntl(fd.get(), F_GETFL);
  (void)::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

Result<std::string> LinkTarget(const Entry& e) {
  char buf[PATH_MAX];
  ssize_t n = ::readlinkat(e.fd.get(), "", buf, sizeof buf);
  if (n < 0) return Errno("readlink");
  return std::string(buf, static_cast<size_t>(n));
}

using ReadFn = std::function<Result<ssize_t>(char*, size_t)>;

// ---- where it goes: a directory tree (through fds) or a tar stream ----

class Writer {
 public:
  virtual ~Writer() = default;
  // rel: "name" or "name/child/..."; content for regular files, link for symlinks,
  // hardlink (a rel path written before) for tar hard links.
  virtual Status Put(const std::string& rel, const struct stat& st, const std::string& link,
                     const ReadFn& content, const std::string& hardlink) = 0;
  virtual Status EndDir(const std::string& rel, const struct stat& st) = 0;
};

Status CopyData(const ReadFn& read, int out, const std::string& rel) {
  char buf[128 * 1024];
  for (;;) {
    ssize_t n = TRY(read(buf, sizeof buf));
    if (n == 0) return Ok();
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf + off, n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Errno("write %s", rel.c_str());
      off += w;
    }
  }
}

// Writes below base, one component at a time with O_NOFOLLOW: a symlink where a directory
// should be is an error, never followed; an existing non-directory is replaced.
class DirWriter : public Writer {
 public:
  DirWriter(int base, bool keep_owner) : base_(base), keep_owner_(keep_owner) {}

  Status Put(const std::string& rel, const struct stat& st, const std::string& link,
             const ReadFn& content, const std::string& hardlink) override {
    int parent = TRY(ParentFd(rel));
    std::string name = Base(rel);
    const char* n = name.c_str();
    mode_t perm = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd d = TRY(MakeDir(parent, n, rel));
      if (keep_owner_ && ::fchown(d.get(), st.st_uid, st.st_gid) < 0)
        return Errno("chown %s", rel.c_str());
      dirs_[rel] = std::move(d);
      return Ok();
    }
    TRY(RemoveExisting(parent, n, rel));
    if (!hardlink.empty()) {
      int from = TRY(ParentFd(hardlink));
      if (::linkat(from, Base(hardlink).c_str(), parent, n, 0) < 0)
        return Errno("link %s to %s", rel.c_str(), hardlink.c_str());
      return Ok();
    }
    if (S_ISREG(st.st_mode)) {
      UniqueFd f(::openat(parent, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!f) return Errno("create %s", rel.c_str());
      TRY(CopyData(content, f.get(), rel));
      if (keep_owner_ && ::fchown(f.get(), st.st_uid, st.st_gid) < 0)
        return Errno("chown %s", rel.c_str());
      if (::fchmod(f.get(), perm) < 0) return Errno("chmod %s", rel.c_str());
      struct timespec t[2] = {st.st_atim, st.st_mtim};
      (void)::futimens(f.get(), t);
      return Ok();
    }
    if (S_ISLNK(st.st_mode)) {
      if (::symlinkat(link.c_str(), parent, n) < 0) return Errno("symlink %s", rel.c_str());
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      // Under umask 0 (set by the caller) the node gets exactly its mode: no chmod, which
      // would follow a symlink swapped in meanwhile.
      if (::mknodat(parent, n, st.st_mode, st.st_rdev) < 0) return Errno("mknod %s", rel.c_str());
    } else {
      return Ok();  // sockets: not copied (as tar)
    }
    if (keep_owner_ && ::fchownat(parent, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
      return Errno("chown %s", rel.c_str());
    struct timespec t[2] = {st.st_atim, st.st_mtim};
    (void)::utimensat(parent, n, t, AT_SYMLINK_NOFOLLOW);
    return Ok();
  }

  // A directory's mode and times last: its entries were written first.
  Status EndDir(const std::string& rel, const struct stat& st) override {
    auto it = dirs_.find(rel);
    if (it == dirs_.end()) return Ok();
    if (::fchmod(it->second.get(), st.st_mode & 07777) < 0) return Errno("chmod %s", rel.c_str());
    struct timespec t[2] = {st.st_atim, st.st_mtim};
    (void)::futimens(it->second.get(), t);
    dirs_.erase(it);
    return Ok();
  }

 private:
  static Result<UniqueFd> MakeDir(int parent, const char* n, const std::string& rel) {
    if (::mkdirat(parent, n, 0700) < 0 && errno != EEXIST) return Errno("mkdir %s", rel.c_str());
    UniqueFd d(::openat(parent, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d && (errno == ENOTDIR || errno == ELOOP)) {
      // A file or a symlink where the directory goes: replaced, as tar does, never followed.
      if (::unlinkat(parent, n, 0) < 0) return Errno("replace %s", rel.c_str());
      if (::mkdirat(parent, n, 0700) < 0) return Errno("mkdir %s", rel.c_str());
      d.reset(::openat(parent, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!d) return Errno("open %s", rel.c_str());
    return d;
  }

  static Status RemoveExisting(int parent, const char* n, const std::string& rel) {
    struct stat old;
    if (::fstatat(parent, n, &old, AT_SYMLINK_NOFOLLOW) < 0) return Ok();
    if (S_ISDIR(old.st_mode))
      return MakeError(EISDIR, "cannot overwrite directory %s with a non-directory", rel.c_str());
    if (::unlinkat(parent, n, 0) < 0 && errno != ENOENT) return Errno("replace %s", rel.c_str());
    return Ok();
  }

  // The directory rel lives in: one written before, or walked to (made when missing) from
  // base without following anything.
  Result<int> ParentFd(const std::string& rel) {
    auto slash = rel.rfind('/');
    if (slash == std::string::npos) return base_;
    std::string dir = rel.substr(0, slash);
    auto it = dirs_.find(dir);
    if (it != dirs_.end()) return it->second.get();
    int parent = TRY(ParentFd(dir));
    UniqueFd d = TRY(MakeDir(parent, Base(dir).c_str(), dir));
    int fd = d.get();
    implicit_[dir] = std::move(d);
    return fd;
  }

  int base_;
  bool keep_owner_;
  std::map<std::string, UniqueFd> dirs_;      // directories being filled
  std::map<std::string, UniqueFd> implicit_;  // tar: parents made without an entry
};

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

class TarWriter : public Writer {
 public:
  explicit TarWriter(int fd) : a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_.get());
    ok_ = archive_write_open_fd(a_.get(), fd) == ARCHIVE_OK;
  }
  Status Start() {
    if (!ok_) return MakeError(0, "tar: %s", archive_error_string(a_.get()));
    return Ok();
  }
  Status Put(const std::string& rel, const struct stat& st, const std::string& link,
             const ReadFn& content, const std::string&) override {
    if (S_ISSOCK(st.st_mode)) return Ok();
    std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
    archive_entry_copy_stat(e.get(), &st);
    archive_entry_set_pathname(e.get(), rel.c_str());
    if (S_ISLNK(st.st_mode)) archive_entry_set_symlink(e.get(), link.c_str());
    if (!S_ISREG(st.st_mode)) archive_entry_set_size(e.get(), 0);
    if (archive_write_header(a_.get(), e.get()) < ARCHIVE_WARN) return Fail(rel);
    if (!S_ISREG(st.st_mode)) return Ok();
    char buf[128 * 1024];
    int64_t left = st.st_size;
    while (left > 0) {
      ssize_t n = TRY(content(buf, static_cast<size_t>(std::min<int64_t>(left, sizeof buf))));
      if (n == 0) break;
      if (archive_write_data(a_.get(), buf, static_cast<size_t>(n)) < 0) return Fail(rel);
      left -= n;
    }
    // A file that shrank meanwhile: the header promised st_size bytes; pad with zeros.
    std::vector<char> zeros(std::min<int64_t>(left, sizeof buf));
    while (left > 0) {
      size_t n = static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(zeros.size())));
      if (archive_write_data(a_.get(), zeros.data(), n) < 0) return Fail(rel);
      left -= static_cast<int64_t>(n);
    }
    return Ok();
  }
  Status EndDir(const std::string&, const struct stat&) override { return Ok(); }
  Status Finish() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return Fail("end of archive");
    return Ok();
  }

 private:
  Status Fail(const std::string& what) {
    return MakeError(archive_errno(a_.get()), "tar %s: %s", what.c_str(),
                     archive_error_string(a_.get()));
  }
  std::unique_ptr<struct archive, ArchiveFree> a_;
  bool ok_ = false;
};

// ---- the walk: through fds, symlinks never followed below the top ----

Status Walk(const Entry& e, const std::string& rel, Writer* w, bool contents_only = false) {
  const struct stat& st = e.st;
  if (S_ISDIR(st.st_mode)) {
    if (!contents_only) TRY(w->Put(rel, st, "", nullptr, ""));
    UniqueFd dfd(::openat(e.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) return Errno("open directory %s", rel.c_str());
    DIR* dir = ::fdopendir(::dup(dfd.get()));
    if (!dir) return Errno("read directory %s", rel.c_str());
    std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, ::closedir);
    std::vector<std::string> names;
    while (struct dirent* d = ::readdir(dir)) {
      if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) continue;
      names.push_back(d->d_name);
    }
    for (const std::string& n : names) {
      auto child = EntryAt(dfd.get(), n.c_str());
      if (!child.ok() && child.error().code == ENOENT) continue;  // gone meanwhile
      if (!child.ok()) return std::move(child).error().Wrap(rel);
      TRY(Walk(*child, contents_only ? n : rel + "/" + n, w));
    }
    if (!contents_only) TRY(w->EndDir(rel, st));
    return Ok();
  }
  if (S_ISREG(st.st_mode)) {
    UniqueFd in = TRY(OpenContent(e).Wrap(rel));
    int fd = in.get();
    ReadFn read = [fd, &rel](char* buf, size_t n) -> Result<ssize_t> {
      for (;;) {
        ssize_t r = ::read(fd, buf, n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return Errno("read %s", rel.c_str());
        return r;
      }
    };
    return w->Put(rel, st, "", read, "");
  }
  if (S_ISLNK(st.st_mode)) {
    std::string target = TRY(LinkTarget(e).Wrap(rel));
    return w->Put(rel, st, target, nullptr, "");
  }
  return w->Put(rel, st, "", nullptr, "");
}

// The source: the entry SRC names; its last component followed only with follow.
Result<Entry> OpenSource(const Side& side, const std::string& src, bool follow) {
  std::string p = TrimSlashes(src);
  UniqueFd parent(side.Open(Parent(p), O_PATH | O_DIRECTORY));
  auto missing = [&]() -> Error {
    if (side.rootfd >= 0)
      return MakeError(ENOENT, "could not find the file %s in the container", src.c_str());
    return Errno("lstat %s", src.c_str());
  };
  if (!parent) return missing();
  std::string base = Base(p);
  Entry e;
  if (base == "/" || base == "." || follow) {
    e.fd.reset(follow ? side.Open(p, O_PATH) : side.Open(p, O_PATH | O_NOFOLLOW));
  } else {
    e.fd.reset(::openat(parent.get(), base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  }
  if (!e.fd) return missing();
  if (::fstatat(e.fd.get(), "", &e.st, AT_EMPTY_PATH) < 0) return Errno("stat %s", src.c_str());
  // "SRC/" names a directory (a symlink to one is followed, as the kernel does).
  if (HasTrailingSlash(src) && !S_ISDIR(e.st.st_mode)) {
    if (S_ISLNK(e.st.st_mode)) return OpenSource(side, TrimSlashes(src), true);
    return MakeError(ENOTDIR, "%s: not a directory", src.c_str());
  }
  return e;
}

// docker cp's destination rules, once SRC and DEST have been looked at.
struct Target {
  UniqueFd dir;      // the existing directory entries are written into
  std::string name;  // the top entry's name in it; "" = SRC's contents go straight in
};

Result<Target> ResolveDest(const Side& side, const std::string& dest, bool src_is_dir,
                           bool contents_only, const std::string& src_base) {
  Target t;
  UniqueFd d(side.Open(dest, O_RDONLY | O_DIRECTORY));
  if (d) {
    t.dir = std::move(d);
    t.name = (src_is_dir && contents_only) ? "" : src_base;
    return t;
  }
  struct stat st;
  UniqueFd any(side.Open(dest, O_PATH));
  bool exists = any && ::fstat(any.get(), &st) == 0;
  if (exists && src_is_dir)
    return MakeError(ENOTDIR, "cannot copy a directory to a file: %s", dest.c_str());
  if (!exists && HasTrailingSlash(dest))
    return MakeError(ENOENT, "destination directory %s does not exist", dest.c_str());
  t.dir.reset(side.Open(Parent(dest), O_RDONLY | O_DIRECTORY));
  if (!t.dir) return Errno("destination %s: its directory %s", dest.c_str(), Parent(dest).c_str());
  t.name = Base(dest);
  if (exists && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
    return MakeError(EEXIST, "destination %s exists and is not a regular file", dest.c_str());
  return t;
}

// Writes the source (or the tar on in_fd) into target; umask 0 so that nodes get their
// exact modes (DirWriter sets every mode explicitly anyway).
Status CopyTree(const Entry& src, Target& t, bool keep_owner) {
  mode_t old = ::umask(0);
  DirWriter w(t.dir.get(), keep_owner);
  Status st = t.name.empty() ? Walk(src, "", &w, true) : Walk(src, t.name, &w);
  ::umask(old);
  return st;
}

// A tar stream into an existing directory: names cleaned of "/" and "./", ".." refused.
Status ExtractTar(int in_fd, int dirfd, bool keep_owner) {
  std::unique_ptr<struct archive, ArchiveFree> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_filter_all(a.get());
  if (archive_read_open_fd(a.get(), in_fd, 64 * 1024) != ARCHIVE_OK)
    return MakeError(0, "tar: %s", archive_error_string(a.get()));
  mode_t old = ::umask(0);
  DirWriter w(dirfd, keep_owner);
  std::vector<std::pair<std::string, struct stat>> dirs;
  Status result = Ok();
  for (;;) {
    archive_entry* e;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      result = MakeError(0, "tar: %s", archive_error_string(a.get()));
      break;
    }
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    // The unpacker's rule: "/" and "." dropped, ".." only while it stays inside.
    auto cleaned = image::CleanEntryPath(name);
    if (!cleaned.ok()) {
      result = std::move(cleaned).error().Wrap("tar: entry " + name);
      break;
    }
    std::string clean = std::move(cleaned.value());
    if (clean.empty()) continue;  // "./": the destination itself
    struct stat st = *archive_entry_stat(e);
    std::string link = archive_entry_symlink(e) ? archive_entry_symlink(e) : "";
    std::string hard;
    if (const char* h = archive_entry_hardlink(e)) {
      auto target = image::CleanEntryPath(h);
      if (!target.ok() || target->empty()) {
        result =
            MakeError(EINVAL, "tar: hard link %s -> %s leaves the destination", name.c_str(), h);
        break;
      }
      hard = std::move(target.value());
    }
    struct archive* ar = a.get();
    ReadFn read = [ar](char* buf, size_t n) -> Result<ssize_t> {
      la_ssize_t r = archive_read_data(ar, buf, n);
      if (r < 0) return MakeError(0, "tar: %s", archive_error_string(ar));
      return static_cast<ssize_t>(r);
    };
    result = w.Put(clean, st, link, read, hard);
    if (!result.ok()) break;
    if (S_ISDIR(st.st_mode)) dirs.emplace_back(clean, st);
  }
  // Directory modes last, deepest first (a read-only directory would refuse its entries).
  for (auto it = dirs.rbegin(); result.ok() && it != dirs.rend(); ++it)
    result = w.EndDir(it->first, it->second);
  ::umask(old);
  return result;
}

}  // namespace

std::pair<std::string, std::string> SplitCopyArg(const std::string& arg) {
  if (arg.empty() || arg[0] == '/' || arg[0] == '.') return {"", arg};
  auto colon = arg.find(':');
  auto slash = arg.find('/');
  if (colon == std::string::npos || (slash != std::string::npos && slash < colon)) return {"", arg};
  return {arg.substr(0, colon), arg.substr(colon + 1)};
}

Status CopyOut(const std::string& rootfs, const std::string& src, const std::string& dest,
               const CopyOptions& o, int stdout_fd) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Errno("container root %s", rootfs.c_str());
  Side in{root.get()};
  Entry e = TRY(OpenSource(in, src, o.follow_link));
  bool contents = EndsWithDot(src) && S_ISDIR(e.st.st_mode);
  std::string base = Base(src);
  if (base == "/" || base == ".") base = ".";
  if (dest == "-") {
    TarWriter w(stdout_fd);
    TRY(w.Start());
    TRY(contents || base == "." ? Walk(e, "", &w, true) : Walk(e, base, &w));
    return w.Finish();
  }
  Side host;
  Target t = TRY(ResolveDest(host, dest, S_ISDIR(e.st.st_mode), contents || base == ".", base));
  // Out of the container the files belong to the caller, unless -a (Docker's NoLchown).
  return CopyTree(e, t, o.archive);
}

Status CopyIn(const std::string& rootfs, const std::string& src, const std::string& dest,
              const CopyOptions& o, int stdin_fd) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Errno("container root %s", rootfs.c_str());
  Side ctr{root.get()};
  if (src == "-") {
    UniqueFd d(ctr.Open(dest, O_RDONLY | O_DIRECTORY));
    if (!d) {
      if (errno == ENOTDIR)
        return MakeError(ENOTDIR, "destination %s must be a directory", dest.c_str());
      return MakeError(ENOENT, "could not find the file %s in the container", dest.c_str());
    }
    return ExtractTar(stdin_fd, d.get(), o.archive);
  }
  Side host;
  Entry e = TRY(OpenSource(host, src, o.follow_link));
  bool contents = EndsWithDot(src) && S_ISDIR(e.st.st_mode);
  std::string base = Base(src);
  if (base == "/" || base == ".") contents = S_ISDIR(e.st.st_mode);
  Target t = TRY(ResolveDest(ctr, dest, S_ISDIR(e.st.st_mode), contents, base));
  // Into the container the files belong to its root unless -a: created by us (root), they
  // are 0:0 already.
  return CopyTree(e, t, o.archive);
}

}  // namespace skiff::engine
