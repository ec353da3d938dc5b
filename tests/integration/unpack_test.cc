// The layer unpacker as root: what it writes (contents, modes, owners, links, devices,
// xattrs, sparse files, times), whiteouts in both modes (overlay mode checked through a real
// overlayfs mount), streaming from a pipe, and a corpus of hostile tars, generated here so
// that each one can be read, each of which must be refused or contained: nothing may appear
// outside dest (a sentinel dir beside it stays untouched, as do host paths it aims at).
#include "image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "base/digest.h"
#include "bundle.h"

namespace skiff::itest {
namespace {

using image::UnpackOptions;
using image::UnpackResult;
using image::WhiteoutMode;

constexpr time_t kMtime = 1600000000;

struct E {  // one tar entry to write
  std::string path;
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  std::string data;
  std::string symlink, hardlink;
  int64_t uid = 0, gid = 0;
  time_t mtime = kMtime;
  long mtime_nsec = 0;
  unsigned major = 0, minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

E Dir(std::string p, mode_t perm = 0755) { return E{.path = p, .type = AE_IFDIR, .perm = perm}; }
E File(std::string p, std::string data, mode_t perm = 0644) {
  return E{.path = p, .perm = perm, .data = data};
}
E Link(std::string p, std::string target) {
  return E{.path = p, .type = AE_IFLNK, .perm = 0777, .symlink = target};
}
E Hard(std::string p, std::string target) { return E{.path = p, .hardlink = target}; }

la_ssize_t AppendToString(archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// A tar (pax) of entries, through filter (ARCHIVE_FILTER_NONE, _GZIP, _ZSTD).
std::string MakeTar(const std::vector<E>& entries, int filter = ARCHIVE_FILTER_NONE) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax(a);  // full pax: nanosecond times
  if (filter != ARCHIVE_FILTER_NONE) archive_write_add_filter(a, filter);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(a, &out, nullptr, AppendToString, nullptr);
  for (const E& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_filetype(ae, e.type);
    archive_entry_set_perm(ae, e.perm);
    archive_entry_set_uid(ae, e.uid);
    archive_entry_set_gid(ae, e.gid);
    archive_entry_set_mtime(ae, e.mtime, e.mtime_nsec);
    if (!e.symlink.empty()) archive_entry_set_symlink(ae, e.symlink.c_str());
    if (!e.hardlink.empty()) archive_entry_set_hardlink(ae, e.hardlink.c_str());
    if (e.type == AE_IFCHR || e.type == AE_IFBLK)
      archive_entry_set_rdev(ae, makedev(e.major, e.minor));
    for (const auto& [k, v] : e.xattrs)
      archive_entry_xattr_add_entry(ae, k.c_str(), v.data(), v.size());
    archive_entry_set_size(ae, e.type == AE_IFREG && e.hardlink.empty() ? e.data.size() : 0);
    EXPECT_EQ(archive_write_header(a, ae), ARCHIVE_OK) << archive_error_string(a);
    if (!e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// A ustar header block written by hand, for what libarchive's writer would not produce.
std::string UstarHeader(const std::string& name, char type, uint64_t size) {
  std::string h(512, '\0');
  memcpy(&h[0], name.data(), std::min<size_t>(name.size(), 100));
  memcpy(&h[100], "0000644", 7);
  memcpy(&h[108], "0000000", 7);
  memcpy(&h[116], "0000000", 7);
  snprintf(&h[124], 12, "%011llo", static_cast<unsigned long long>(size));
  memcpy(&h[136], "13520770000", 11);
  h[156] = type;
  memcpy(&h[257],
         "ustar\0"
         "00",
         8);
  memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  snprintf(&h[148], 8, "%06o", sum);
  return h;
}

class UnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    char tmpl[] = "/tmp/skiff-unpack-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    tag_ = std::filesystem::path(base_).filename();
    ASSERT_TRUE(Mkdir(base_ + "/outside"));
    ASSERT_TRUE(WriteText(base_ + "/outside/sentinel", "untouched"));
    dest_ = NewDest("dest");
  }
  void TearDown() override {
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
    for (const auto& p : host_paths_) std::filesystem::remove_all(p);
    if (!base_.empty()) RemoveTree(base_);
  }
  static bool Mkdir(const std::string& p) { return ::mkdir(p.c_str(), 0755) == 0; }
  std::string NewDest(const std::string& name) {
    std::string d = base_ + "/" + name;
    EXPECT_TRUE(Mkdir(d));
    return d;
  }
  // Unpacks data into dir, fed in small chunks (libarchive must cope with short reads).
  Result<UnpackResult> Unpack(const std::string& data, const std::string& dir,
                              UnpackOptions opts = {}) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    size_t off = 0;
    image::ByteSource src = [&](void* buf, size_t n) -> Result<size_t> {
      n = std::min({n, data.size() - off, size_t{7919}});
      memcpy(buf, data.data() + off, n);
      off += n;
      return n;
    };
    auto r = image::UnpackLayer(src, fd, opts);
    ::close(fd);
    return r;
  }
  std::string Err(const std::string& data, UnpackOptions opts = {}) {
    auto r = Unpack(data, dest_, opts);
    return r.ok() ? "OK" : r.error().Message();
  }
  // Nothing beside dest changed: outside/ holds its sentinel only, base holds what SetUp made.
  void ExpectOutsideUntouched() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(base_ + "/outside"))
      names.push_back(e.path().filename());
    EXPECT_EQ(names, std::vector<std::string>{"sentinel"});
    EXPECT_EQ(ReadText(base_ + "/outside/sentinel"), "untouched");
    std::vector<std::string> top;
    for (const auto& e : std::filesystem::directory_iterator(base_))
      top.push_back(e.path().filename());
    std::sort(top.begin(), top.end());
    EXPECT_EQ(top, (std::vector<std::string>{"dest", "outside"}));
  }
  // A host path a hostile tar aims at; removed in TearDown should the test fail.
  std::string HostPath(const std::string& p) {
    host_paths_.push_back(p);
    return p;
  }
  struct stat Lstat(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p << ": " << strerror(errno);
    return st;
  }
  std::string Xattr(const std::string& p, const char* name) {
    char buf[256];
    ssize_t n = ::lgetxattr(p.c_str(), name, buf, sizeof buf);
    return n < 0 ? "" : std::string(buf, n);
  }

  std::string base_, dest_, tag_;
  std::vector<std::string> mounts_, host_paths_;
};

TEST_F(UnpackTest, WritesEveryKindOfEntry) {
  E setuid = File("bin/su", "#!su", 04755);
  setuid.uid = 1000;  // chown would clear setuid: it must be applied after
  setuid.gid = 1001;
  E caps = File("bin/ping", "ping");
  caps.xattrs = {{"security.capability",
                  std::string("\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                              "\x00\x00\x00\x00",
                              20)},
                 {"user.note", "hello"}};
  E lnk = Link("bin/sh", "/bin/busybox");
  lnk.uid = 7;
  lnk.gid = 8;
  E dev = E{.path = "dev/null", .type = AE_IFCHR, .perm = 0666, .major = 1, .minor = 3};
  E fifo = E{.path = "run/fifo", .type = AE_IFIFO, .perm = 0620};
  E secret = Dir("secret", 0700);
  secret.mtime = kMtime - 1000;
  secret.mtime_nsec = 123456789;
  secret.uid = 5;
  E file = File("secret/f", "contents\n", 0600);
  file.mtime = kMtime - 2000;
  std::string tar = MakeTar({Dir("./"), Dir("bin"), setuid, caps, lnk, Hard("bin/su2", "bin/su"),
                             dev, fifo, secret, file, File("etc/implicit/parents", "p")});
  std::string gz = MakeTar({Dir("bin")}, ARCHIVE_FILTER_GZIP);  // for the digest check below
  auto r = Unpack(tar, dest_);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->entries, 11);
  EXPECT_EQ(r->diff_id, Sha256Digest(tar));
  EXPECT_EQ(r->digest, Sha256Digest(tar));  // uncompressed: both digests are the same
  EXPECT_EQ(r->uncompressed_bytes, static_cast<int64_t>(tar.size()));

  struct stat st = Lstat(dest_ + "/bin/su");
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(Lstat(dest_ + "/bin/su2").st_ino, st.st_ino);
  EXPECT_EQ(ReadText(dest_ + "/bin/su"), "#!su");
  EXPECT_EQ(Xattr(dest_ + "/bin/ping", "user.note"), "hello");
  EXPECT_EQ(Xattr(dest_ + "/bin/ping", "security.capability").size(), 20u);
  char target[64] = {};
  ASSERT_GT(::readlink((dest_ + "/bin/sh").c_str(), target, sizeof target), 0);
  EXPECT_STREQ(target, "/bin/busybox");
  st = Lstat(dest_ + "/bin/sh");
  EXPECT_EQ(st.st_uid, 7u);
  EXPECT_EQ(st.st_gid, 8u);
  st = Lstat(dest_ + "/dev/null");
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  st = Lstat(dest_ + "/run/fifo");
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0620u);
  st = Lstat(dest_ + "/secret");
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_uid, 5u);
  // Set after secret/f was written into it.
  EXPECT_EQ(st.st_mtim.tv_sec, kMtime - 1000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  st = Lstat(dest_ + "/secret/f");
  EXPECT_EQ(st.st_mtim.tv_sec, kMtime - 2000);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(Lstat(dest_ + "/bin/sh").st_mtim.tv_sec, kMtime);
  EXPECT_EQ(Lstat(dest_).st_mode & 07777, 0755u);
  EXPECT_TRUE(S_ISDIR(Lstat(dest_ + "/etc/implicit").st_mode));
  EXPECT_EQ(ReadText(dest_ + "/etc/implicit/parents"), "p");
}

TEST_F(UnpackTest, GzipAndZstdDigestsAndDiffIds) {
  std::vector<E> entries = {Dir("d"), File("d/big", std::string(3 << 20, 'z')), File("x", "x")};
  std::string plain = MakeTar(entries);
  for (int filter : {ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_ZSTD}) {
    std::string blob = MakeTar(entries, filter);
    ASSERT_LT(blob.size(), plain.size() / 10);
    std::string dir = NewDest(filter == ARCHIVE_FILTER_GZIP ? "gz" : "zst");
    UnpackOptions opts;
    opts.expected_diff_id = Sha256Digest(plain);
    auto r = Unpack(blob, dir, opts);
    ASSERT_TRUE(r.ok()) << r.error().Message();
    EXPECT_EQ(r->diff_id, Sha256Digest(plain));
    EXPECT_EQ(r->digest, Sha256Digest(blob));
    EXPECT_EQ(r->compressed_bytes, static_cast<int64_t>(blob.size()));
    EXPECT_EQ(r->uncompressed_bytes, static_cast<int64_t>(plain.size()));
    EXPECT_EQ(ReadText(dir + "/d/big"), std::string(3 << 20, 'z'));
    RemoveTree(dir);
  }
  UnpackOptions wrong;
  wrong.expected_diff_id = "sha256:" + std::string(64, '0');
  EXPECT_NE(Err(MakeTar(entries, ARCHIVE_FILTER_GZIP), wrong).find("diff_id mismatch"),
            std::string::npos);
}

// One gzip member of data, as gzip(1) writes it.
std::string GzipMember(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// gzip goes through ISA-L (image/gunzip.cc) where it loads: a tar split over two gzip
// members, fed 1 byte, 7919 bytes or 1 MiB at a time (member ends and headers across reads),
// unpacks whole; a bad CRC or a cut member is refused.
TEST_F(UnpackTest, GzipMembersAcrossReadsAndBadChecksums) {
  std::vector<E> entries = {Dir("d"), File("d/big", std::string(1 << 20, 'z')), File("x", "x")};
  for (int i = 0; i < 200; ++i) entries.push_back(File(StrFormat("d/f%d", i), std::string(i, 'q')));
  std::string plain = MakeTar(entries);
  size_t cut = plain.size() / 3 + 5;
  std::string blob = GzipMember(plain.substr(0, cut)) + GzipMember(plain.substr(cut));
  for (size_t chunk : {size_t{1}, size_t{7919}, size_t{1} << 20}) {
    std::string dir = NewDest(StrFormat("gz%zu", chunk));
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    size_t off = 0;
    image::ByteSource src = [&](void* buf, size_t n) -> Result<size_t> {
      n = std::min({n, blob.size() - off, chunk});
      memcpy(buf, blob.data() + off, n);
      off += n;
      return n;
    };
    UnpackOptions opts;
    opts.expected_diff_id = Sha256Digest(plain);
    auto r = image::UnpackLayer(src, fd, opts);
    ::close(fd);
    ASSERT_TRUE(r.ok()) << "chunk " << chunk << ": " << r.error().Message();
    EXPECT_EQ(r->digest, Sha256Digest(blob));
    EXPECT_EQ(r->uncompressed_bytes, static_cast<int64_t>(plain.size()));
    EXPECT_EQ(ReadText(dir + "/d/big"), std::string(1 << 20, 'z'));
    EXPECT_EQ(ReadText(dir + "/d/f199"), std::string(199, 'q'));
    RemoveTree(dir);
  }
  std::string bad_crc = GzipMember(plain);
  bad_crc[bad_crc.size() - 8] ^= 0x55;  // the trailer: CRC-32, then the length
  EXPECT_NE(Err(bad_crc), "OK");
  std::string one = GzipMember(plain);
  std::string err = Err(one.substr(0, one.size() - 4));  // the length missing
  EXPECT_NE(err.find("runcated"), std::string::npos) << err;
}

TEST_F(UnpackTest, StreamsFromAPipe) {
  std::string blob =
      MakeTar({File("a", std::string(5 << 20, 'a')), File("b", "b")}, ARCHIVE_FILTER_GZIP);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  std::thread writer([&] {  // a download writing as it receives
    for (size_t off = 0; off < blob.size(); off += 4096) {
      size_t n = std::min<size_t>(4096, blob.size() - off);
      if (::write(p[1], blob.data() + off, n) != static_cast<ssize_t>(n)) break;
    }
    ::close(p[1]);
  });
  int dfd = ::open(dest_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  auto r = image::UnpackLayerFd(p[0], dfd, {});
  writer.join();
  ::close(p[0]);
  ::close(dfd);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->digest, Sha256Digest(blob));
  EXPECT_EQ(Lstat(dest_ + "/a").st_size, 5 << 20);
  EXPECT_EQ(ReadText(dest_ + "/b"), "b");
}

// Decompression runs on a thread of its own, a few buffers ahead of the extractor: a source
// that fails midway fails the unpack with its own error, and an entry that fails stops the
// reading at once (the rest of a 64 MiB layer is not read, and nothing hangs).
TEST_F(UnpackTest, DecompressionThreadPassesErrorsBothWays) {
  std::string blob = MakeTar({File("a", std::string(64 << 20, 'a'))}, ARCHIVE_FILTER_GZIP);
  int fd = ::open(dest_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  size_t off = 0;
  image::ByteSource failing = [&](void* buf, size_t n) -> Result<size_t> {
    if (off > blob.size() / 2) return MakeError(ECONNRESET, "connection reset by the test");
    n = std::min(n, blob.size() - off);
    memcpy(buf, blob.data() + off, n);
    off += n;
    return n;
  };
  auto r = image::UnpackLayer(failing, fd, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().Message().find("connection reset by the test"), std::string::npos)
      << r.error().Message();

  std::string hostile = MakeTar({File("../escape", "x"), File("big", std::string(64 << 20, 'b'))});
  off = 0;
  image::ByteSource counted = [&](void* buf, size_t n) -> Result<size_t> {
    n = std::min(n, hostile.size() - off);
    memcpy(buf, hostile.data() + off, n);
    off += n;
    return n;
  };
  r = image::UnpackLayer(counted, fd, {});
  ::close(fd);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().Message(), "entry \"../escape\": path escapes the layer root");
  EXPECT_LT(off, hostile.size() / 4) << "the source was read on after the unpack failed";
  ExpectOutsideUntouched();
}

TEST_F(UnpackTest, SparseFileFromGnuTar) {
  std::string src = base_ + "/src";
  ASSERT_TRUE(Mkdir(src));
  std::string f = src + "/sparse";
  int fd = ::open(f.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "head", 4, 0), 4);
  ASSERT_EQ(::pwrite(fd, "tail", 4, (64 << 20) - 4), 4);  // 64 MiB, 8 bytes of data
  ::close(fd);
  CmdResult t = RunCommand({"/usr/bin/tar", "--sparse", "--format=pax", "-C", src, "-cf",
                            base_ + "/sparse.tar", "sparse"},
                           base_);
  ASSERT_EQ(t.code, 0) << t.err;
  std::string tar = ReadText(base_ + "/sparse.tar");
  ASSERT_LT(tar.size(), 1u << 20);
  ::unlink((base_ + "/sparse.tar").c_str());
  RemoveTree(src);
  auto r = Unpack(tar, dest_);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  struct stat st = Lstat(dest_ + "/sparse");
  EXPECT_EQ(st.st_size, 64 << 20);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);  // the holes stayed holes
  std::string data = ReadText(dest_ + "/sparse");
  EXPECT_EQ(data.substr(0, 4), "head");
  EXPECT_EQ(data.substr(data.size() - 4), "tail");
  EXPECT_EQ(data[1 << 20], '\0');
}

TEST_F(UnpackTest, LaterEntriesReplaceEarlierOnesWithoutWritingThrough) {
  // "f" is a symlink out of the layer, then a file: the file replaces the link. "h" is a
  // hardlink of "a", then a file: "a" keeps its contents.
  std::string tar =
      MakeTar({Link("f", "../outside/sentinel"), File("f", "replaced"), File("a", "old"),
               Hard("h", "a"), File("h", "new"), Dir("d"), File("d/x", "x"),
               File("d", "a file now"), File("e", "file"), Dir("e")});
  auto r = Unpack(tar, dest_);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_TRUE(S_ISREG(Lstat(dest_ + "/f").st_mode));
  EXPECT_EQ(ReadText(dest_ + "/f"), "replaced");
  EXPECT_EQ(ReadText(dest_ + "/a"), "old");
  EXPECT_EQ(ReadText(dest_ + "/h"), "new");
  EXPECT_EQ(ReadText(dest_ + "/d"), "a file now");
  EXPECT_TRUE(S_ISDIR(Lstat(dest_ + "/e").st_mode));
  ExpectOutsideUntouched();
}

// --- whiteouts -------------------------------------------------------------------------

std::vector<E> LowerLayer() {
  return {Dir("d"), File("d/a", "a"), File("d/b", "b"), File("gone", "gone"),
          Dir("o"), File("o/x", "x"), Dir("o/sub"),     File("o/sub/y", "y")};
}
std::vector<E> UpperLayer() {
  return {File(".wh.gone", ""),         Dir("d"),
          File("d/.wh.a", ""),          Dir("o"),
          File("o/.wh..wh..opq", ""),   File("o/z", "z"),
          File("new/.wh..wh..opq", ""), File("new/n", "n")};
}

TEST_F(UnpackTest, OverlayModeWhiteoutsWorkUnderOverlayfs) {
  std::string lower = NewDest("lower"), upper = NewDest("upper"), mnt = NewDest("mnt");
  ASSERT_TRUE(Unpack(MakeTar(LowerLayer()), lower).ok());
  auto r = Unpack(MakeTar(UpperLayer()), upper);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  struct stat st = Lstat(upper + "/gone");
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_FALSE(Exists(upper + "/.wh.gone"));
  EXPECT_TRUE(S_ISCHR(Lstat(upper + "/d/a").st_mode));
  EXPECT_EQ(Xattr(upper + "/o", "trusted.overlay.opaque"), "y");
  EXPECT_FALSE(Exists(upper + "/o/.wh..wh..opq"));

  std::string opts = "lowerdir=" + upper + ":" + lower;
  ASSERT_EQ(::mount("overlay", mnt.c_str(), "overlay", MS_RDONLY, opts.c_str()), 0)
      << strerror(errno);
  mounts_.push_back(mnt);
  EXPECT_FALSE(Exists(mnt + "/gone"));
  EXPECT_FALSE(Exists(mnt + "/d/a"));
  EXPECT_EQ(ReadText(mnt + "/d/b"), "b");
  EXPECT_FALSE(Exists(mnt + "/o/x"));
  EXPECT_FALSE(Exists(mnt + "/o/sub"));
  EXPECT_EQ(ReadText(mnt + "/o/z"), "z");
  EXPECT_EQ(ReadText(mnt + "/new/n"), "n");
  ASSERT_EQ(::umount2(mnt.c_str(), 0), 0) << strerror(errno);
  mounts_.clear();
}

TEST_F(UnpackTest, FlattenModeDeletesFromLowerLayers) {
  UnpackOptions flat;
  flat.whiteouts = WhiteoutMode::kFlatten;
  ASSERT_TRUE(Unpack(MakeTar(LowerLayer()), dest_, flat).ok());
  auto r = Unpack(MakeTar(UpperLayer()), dest_, flat);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_FALSE(Exists(dest_ + "/gone"));
  EXPECT_FALSE(Exists(dest_ + "/d/a"));
  EXPECT_EQ(ReadText(dest_ + "/d/b"), "b");
  EXPECT_FALSE(Exists(dest_ + "/o/x"));
  EXPECT_FALSE(Exists(dest_ + "/o/sub"));
  EXPECT_EQ(ReadText(dest_ + "/o/z"), "z");
  EXPECT_EQ(ReadText(dest_ + "/new/n"), "n");
  EXPECT_FALSE(Exists(dest_ + "/.wh.gone"));
}

TEST_F(UnpackTest, FlattenWhiteoutsSpareWhatTheSameLayerWrote) {
  // image-spec: a whiteout applies to lower layers only, whatever the order in the tar.
  UnpackOptions flat;
  flat.whiteouts = WhiteoutMode::kFlatten;
  ASSERT_TRUE(Unpack(MakeTar(LowerLayer()), dest_, flat).ok());
  auto r = Unpack(MakeTar({Dir("o/sub"), File("o/sub/w", "w"), File("o/keep", "k"),
                           File("o/.wh..wh..opq", ""), File("d/a", "mine"), File("d/.wh.a", "")}),
                  dest_, flat);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(ReadText(dest_ + "/o/keep"), "k");
  EXPECT_EQ(ReadText(dest_ + "/o/sub/w"), "w");
  EXPECT_FALSE(Exists(dest_ + "/o/sub/y"));  // the lower contents of a rewritten dir go
  EXPECT_FALSE(Exists(dest_ + "/o/x"));
  EXPECT_EQ(ReadText(dest_ + "/d/a"), "mine");
}

// --- the hostile corpus ------------------------------------------------------------------

TEST_F(UnpackTest, HostileDotDotIsRefused) {
  EXPECT_EQ(Err(MakeTar({File("../escape", "x")})),
            "entry \"../escape\": path escapes the layer root");
  EXPECT_EQ(Err(MakeTar({File("a/../../x", "x")})),
            "entry \"a/../../x\": path escapes the layer root");
  EXPECT_EQ(Err(MakeTar({File("../outside/sentinel", "x")})),
            "entry \"../outside/sentinel\": path escapes the layer root");
  EXPECT_EQ(Err(MakeTar({Dir("a"), Dir("a/../../../.."), File("x", "x")})),
            "entry \"a/../../../../\": path escapes the layer root");
  ExpectOutsideUntouched();
}

TEST_F(UnpackTest, HostileAbsoluteNamesAreContained) {
  std::string host = HostPath("/tmp/" + tag_ + "-abs");
  // libarchive reads a regular file named "/" as a directory (old tar convention); a fifo
  // named "/" is no directory.
  EXPECT_EQ(Err(UstarHeader("/", '6', 0) + std::string(1024, '\0')),
            "entry \"/\": the layer root must be a directory");
  ASSERT_EQ(Err(MakeTar({File(host, "x")})), "OK");
  EXPECT_FALSE(Exists(host));
  EXPECT_EQ(ReadText(dest_ + host), "x");
  ExpectOutsideUntouched();
}

TEST_F(UnpackTest, HostileWritesThroughPlantedSymlinksAreContained) {
  std::string host = HostPath("/tmp/" + tag_ + "-via-link");
  std::string name = std::filesystem::path(host).filename();
  auto r =
      Unpack(MakeTar({Dir("etc"), Link("l", "/"), File("l/tmp/" + name, "x"),
                      Link("up", "../../.."), File("up/x", "x"), Link("out", "../outside"),
                      Dir("abs"), Link("abs/etc", "/etc"), File("abs/etc/shadow-" + tag_, "x")}),
             dest_);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_FALSE(Exists(host));
  EXPECT_EQ(ReadText(dest_ + "/tmp/" + name), "x");  // "l/" is "/" inside the root
  EXPECT_EQ(ReadText(dest_ + "/x"), "x");            // "../../.." stops at the root
  EXPECT_FALSE(Exists("/etc/shadow-" + tag_));
  EXPECT_EQ(ReadText(dest_ + "/etc/shadow-" + tag_), "x");
  char target[64] = {};
  ASSERT_GT(::readlink((dest_ + "/l").c_str(), target, sizeof target), 0);
  EXPECT_STREQ(target, "/");  // a symlink's target is a value, kept as it is
  // "out" -> ../outside: dangling inside the root, so nothing can be written through it.
  std::string err = Err(MakeTar({Link("out", "../outside"), File("out/sentinel", "evil")}));
  EXPECT_NE(err, "OK");
  EXPECT_NE(err.find("entry \"out/sentinel\""), std::string::npos) << err;
  ExpectOutsideUntouched();
}

TEST_F(UnpackTest, HostileSymlinkPlantedByALowerLayerIsContained) {
  UnpackOptions flat;
  flat.whiteouts = WhiteoutMode::kFlatten;
  // The lower layer makes <dest>/<base>/outside and l pointing at its absolute name; the
  // upper layers write and delete through l: all of it inside dest.
  ASSERT_TRUE(
      Unpack(MakeTar({Dir(base_ + "/outside"), Link("l", base_ + "/outside")}), dest_, flat).ok());
  auto r = Unpack(MakeTar({File("l/sentinel", "evil")}), dest_, flat);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(ReadText(dest_ + base_ + "/outside/sentinel"), "evil");
  ExpectOutsideUntouched();
  r = Unpack(MakeTar({File("l/.wh.sentinel", "")}), dest_, flat);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_FALSE(Exists(dest_ + base_ + "/outside/sentinel"));
  ExpectOutsideUntouched();
  // A parent that is a symlink leading nowhere inside the root: refused, not followed out.
  std::string err = Err(MakeTar({Link("m", "../outside"), File("m/new", "x")}));
  EXPECT_EQ(err, "entry \"m/new\": open parent m: No such file or directory");
  ExpectOutsideUntouched();
}

TEST_F(UnpackTest, HostileHardlinksAreRefused) {
  EXPECT_EQ(Err(MakeTar({Hard("passwd", "/etc/passwd")})),
            "entry \"passwd\": hardlink target \"/etc/passwd\" is not in the layer");
  EXPECT_EQ(Err(MakeTar({Hard("s", "../outside/sentinel")})),
            "entry \"s\": hardlink target \"../outside/sentinel\": path escapes the layer root");
  // Through a planted symlink: resolved inside the root, where there is no sentinel.
  EXPECT_NE(Err(MakeTar({Link("l", base_ + "/outside"), Hard("s", "l/sentinel")})), "OK");
  EXPECT_NE(Err(MakeTar({Link("l", "../outside"), Hard("s", "l/sentinel")})), "OK");
  // A link to a symlink links the symlink, not what it points at.
  ASSERT_EQ(Err(MakeTar({Link("p", "/etc/passwd"), Hard("q", "p")})), "OK");
  EXPECT_TRUE(S_ISLNK(Lstat(dest_ + "/q").st_mode));
  EXPECT_EQ(Err(MakeTar({Dir("d"), Hard("e", "d")})).find("entry \"e\": hardlink to \"d\""), 0u);
  ExpectOutsideUntouched();
}

TEST_F(UnpackTest, HostileWhiteoutsAreRefusedOrContained) {
  for (WhiteoutMode mode : {WhiteoutMode::kOverlay, WhiteoutMode::kFlatten}) {
    UnpackOptions o;
    o.whiteouts = mode;
    EXPECT_EQ(Err(MakeTar({File(".wh..", "")}), o),
              "entry \".wh..\": whiteout of \".\": path escapes the layer root");
    EXPECT_EQ(Err(MakeTar({File("a/.wh...", "")}), o),
              "entry \"a/.wh...\": whiteout of \"..\": path escapes the layer root");
    EXPECT_EQ(Err(MakeTar({File("../outside/.wh.sentinel", "")}), o),
              "entry \"../outside/.wh.sentinel\": path escapes the layer root");
    EXPECT_EQ(Err(MakeTar({File("../outside/.wh..wh..opq", "")}), o),
              "entry \"../outside/.wh..wh..opq\": path escapes the layer root");
    // Whiteouts through a symlink to outside are resolved inside the root, where the
    // symlink leads nowhere: nothing to delete (flatten), no parent to write in (overlay).
    EXPECT_EQ(Err(MakeTar({Link("l", base_ + "/outside"), File("l/.wh.sentinel", ""),
                           File("l/.wh..wh..opq", "")}),
                  o),
              mode == WhiteoutMode::kFlatten
                  ? "OK"
                  : "entry \"l/.wh.sentinel\": open parent l: No such file or directory");
    ExpectOutsideUntouched();
  }
}

TEST_F(UnpackTest, HostileDevicesRefusedWhenAsked) {
  UnpackOptions o;
  o.allow_devices = false;
  E dev = E{.path = "dev/sda", .type = AE_IFBLK, .perm = 0660, .major = 8, .minor = 0};
  EXPECT_EQ(Err(MakeTar({dev}), o),
            "entry \"dev/sda\": device nodes are not allowed in this layer");
  EXPECT_FALSE(Exists(dest_ + "/dev/sda"));
  // Whiteouts are still written as 0/0 devices: they are the unpacker's, not the layer's.
  EXPECT_EQ(Err(MakeTar({File(".wh.x", "")}), o), "OK");
  EXPECT_TRUE(S_ISCHR(Lstat(dest_ + "/x").st_mode));
}

TEST_F(UnpackTest, HostileMalformedStreamsGiveClearErrors) {
  std::string good =
      MakeTar({File("a", std::string(100000, 'a')), File("b", "b")}, ARCHIVE_FILTER_GZIP);
  std::string err = Err(good.substr(0, good.size() / 2));
  EXPECT_NE(err.find("runcated"), std::string::npos) << err;
  std::string plain = MakeTar({File("a", std::string(100000, 'a'))});
  err = Err(plain.substr(0, 20000));
  EXPECT_NE(err.find("entry \"a\": read data"), std::string::npos) << err;
  // Cut right after the last file's data, without padding and end blocks (umoci 0.4.7's
  // layers): taken, and said so. One byte less is a truncated file.
  std::string small = UstarHeader("f", '0', 3) + "abc";
  auto cut = Unpack(small, dest_);
  ASSERT_TRUE(cut.ok()) << cut.error().Message();
  EXPECT_TRUE(cut->missing_trailer);
  EXPECT_EQ(ReadText(dest_ + "/f"), "abc");
  err = Err(small.substr(0, small.size() - 1));
  EXPECT_NE(err.find("entry \"f\": read data"), std::string::npos) << err;
  std::string garbage;
  for (int i = 0; i < 5000; ++i) garbage.push_back(static_cast<char>(i * 7919 % 251));
  EXPECT_EQ(Err(garbage), "read tar: Unrecognized archive format");
  EXPECT_EQ(Err(""), "read layer: empty blob");
  // A pax header that says it is 8 GiB long, then ends.
  err = Err(UstarHeader("PaxHeaders/x", 'x', 077777777777ULL) + std::string(1024, 'p'));
  EXPECT_NE(err, "OK");
  EXPECT_EQ(err.find('\n'), std::string::npos);
  // A pax path of 8 MiB: one clear line, no 8 MiB error message.
  err = Err(MakeTar({File(std::string(8 << 20, 'p'), "x")}));
  EXPECT_NE(err, "OK");
  EXPECT_LT(err.size(), 400u) << err.substr(0, 400);
  // A header with a bad checksum.
  std::string bad = UstarHeader("file", '0', 0);
  bad[148] = '9';
  err = Err(bad + std::string(1024, '\0'));
  EXPECT_NE(err, "OK");
  ExpectOutsideUntouched();
}

// --- against umoci ----------------------------------------------------------------------

// Everything about a tree that an unpack decides, by path; nothing is followed.
std::map<std::string, std::string> Describe(const std::string& root) {
  std::map<std::string, std::string> out;
  for (auto it = std::filesystem::recursive_directory_iterator(root);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    std::string p = it->path().string();
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) continue;
    std::string d = StrFormat("mode=%o uid=%u gid=%u nlink=%lu rdev=%lx mtime=%ld", st.st_mode,
                              st.st_uid, st.st_gid, S_ISDIR(st.st_mode) ? 0ul : st.st_nlink,
                              st.st_rdev, S_ISDIR(st.st_mode) ? 0l : st.st_mtim.tv_sec);
    if (S_ISLNK(st.st_mode)) {
      char t[4096];
      ssize_t n = ::readlink(p.c_str(), t, sizeof t);
      d += " -> " + std::string(t, n > 0 ? n : 0);
    } else if (S_ISREG(st.st_mode)) {
      d += " " + Sha256Digest(ReadText(p));
    }
    char x[256];
    if (::lgetxattr(p.c_str(), "user.tag", x, sizeof x) > 0) d += " user.tag";
    out[p.substr(root.size())] = d;
  }
  return out;
}

TEST_F(UnpackTest, SameTreeAsUmociUnpack) {
  if (!Exists("/usr/bin/umoci")) GTEST_SKIP() << "umoci is not installed";
  // Four layers made by umoci insert: a tree with every kind of file, one under /opt, a
  // whiteout and an opaque directory.
  std::string s1 = base_ + "/s1", s2 = base_ + "/s2", s3 = base_ + "/s3";
  for (const auto& d : {s1, s2, s3, s1 + "/etc", s1 + "/var", s1 + "/var/old", s1 + "/bin"})
    ASSERT_TRUE(Mkdir(d));
  ASSERT_TRUE(WriteText(s1 + "/etc/gone", "gone"));
  ASSERT_TRUE(WriteText(s1 + "/etc/kept", "kept"));
  ASSERT_TRUE(WriteText(s1 + "/var/old/x", "x"));
  ASSERT_TRUE(WriteText(s1 + "/bin/su", "su"));
  ASSERT_EQ(::chown((s1 + "/bin/su").c_str(), 1000, 1000), 0);
  ASSERT_EQ(::chmod((s1 + "/bin/su").c_str(), 04755), 0);
  ASSERT_EQ(::link((s1 + "/bin/su").c_str(), (s1 + "/bin/su2").c_str()), 0);
  ASSERT_EQ(::symlink("su", (s1 + "/bin/sh").c_str()), 0);
  ASSERT_EQ(::symlink("/nowhere", (s1 + "/bin/dangling").c_str()), 0);
  ASSERT_EQ(::mkfifo((s1 + "/var/fifo").c_str(), 0640), 0);
  ASSERT_EQ(::mknod((s1 + "/etc/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(::setxattr((s1 + "/etc/kept").c_str(), "user.tag", "t", 1, 0), 0);
  ASSERT_TRUE(WriteText(s2 + "/tool", "tool"));
  ASSERT_TRUE(WriteText(s3 + "/new", "new"));
  std::string layout = base_ + "/oci", img = layout + ":t";
  std::vector<std::vector<std::string>> cmds = {
      {"init", "--layout", layout},
      {"new", "--image", img},
      {"insert", "--image", img, s1, "/"},
      {"insert", "--image", img, s2, "/opt"},
      {"insert", "--image", img, "--whiteout", "/etc/gone"},
      {"insert", "--image", img, "--opaque", s3, "/var"},
      {"unpack", "--image", img, base_ + "/bundle"},
  };
  for (auto args : cmds) {
    args.insert(args.begin(), "/usr/bin/umoci");
    CmdResult r = RunCommand(args, base_);
    ASSERT_EQ(r.code, 0) << args[1] << ": " << r.err;
  }
  // The layers as the manifest lists them, flattened into dest, each diff_id checked.
  auto blob = [&](const std::string& digest) {
    return layout + "/blobs/sha256/" + digest.substr(7);
  };
  auto index = nlohmann::json::parse(ReadText(layout + "/index.json"));
  auto manifest = nlohmann::json::parse(ReadText(blob(index["manifests"][0]["digest"])));
  auto config = nlohmann::json::parse(ReadText(blob(manifest["config"]["digest"])));
  ASSERT_EQ(manifest["layers"].size(), 4u);
  int dfd = ::open(dest_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dfd, 0);
  for (size_t i = 0; i < manifest["layers"].size(); ++i) {
    std::string digest = manifest["layers"][i]["digest"];
    UnpackOptions opts;
    opts.whiteouts = WhiteoutMode::kFlatten;
    opts.expected_diff_id = config["rootfs"]["diff_ids"][i];
    int fd = ::open(blob(digest).c_str(), O_RDONLY | O_CLOEXEC);
    auto r = image::UnpackLayerFd(fd, dfd, opts);
    ::close(fd);
    ASSERT_TRUE(r.ok()) << "layer " << i << ": " << r.error().Message();
    EXPECT_EQ(r->digest, digest);
  }
  ::close(dfd);
  auto mine = Describe(dest_), theirs = Describe(base_ + "/bundle/rootfs");
  EXPECT_FALSE(theirs.count("/etc/gone"));
  EXPECT_FALSE(theirs.count("/var/old"));
  EXPECT_TRUE(theirs.count("/opt/tool"));
  EXPECT_EQ(theirs.size(), 12u);  // /var/fifo and /var/old are behind the opaque /var
  for (const auto& [path, d] : theirs) EXPECT_EQ(mine[path], d) << path;
  for (const auto& [path, d] : mine) EXPECT_TRUE(theirs.count(path)) << path << " is extra";
}

}  // namespace
}  // namespace skiff::itest
