// docker cp against a hostile container root: symlinks to "/", to ../../etc and to a host
// file planted where SRC or DEST go. Nothing outside the root may be read or written; the
// host side stands in a temp dir whose neighbours are the "host files" an escape would hit.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "base/file.h"
#include "engine/copy.h"

namespace skiff::engine {
namespace {

std::string Slurp(const std::string& p) {
  auto r = ReadFile(p);
  if (r.ok()) return *r;
  // Built in steps: GCC 12's -Wrestrict misfires on "<" + std::string when inlined here.
  std::string m(1, '<');
  m.append(r.error().Message());
  m.push_back('>');
  return m;
}

void Put(const std::string& p, const std::string& text, mode_t mode = 0644) {
  std::ofstream(p) << text;
  ::chmod(p.c_str(), mode);
}

bool IsLink(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

class CopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-cp-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    // top/host-secret          a host file the container must not reach
    // top/hostdir/             where copies out go
    // top/ctr/ (the root)      etc/passwd, data/{a.txt, sub/b.txt}, and the traps:
    //   ctr/escape -> /            ctr/up -> ../../..       ctr/data/secret -> ../../host-secret
    //   ctr/etcup -> ../../etc
    root_ = top_ + "/ctr";
    host_ = top_ + "/hostdir";
    for (const char* d : {"/ctr", "/ctr/etc", "/ctr/data", "/ctr/data/sub", "/hostdir"})
      ASSERT_EQ(::mkdir((top_ + d).c_str(), 0755), 0) << d;
    Put(top_ + "/host-secret", "HOST SECRET\n", 0600);
    Put(root_ + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    Put(root_ + "/data/a.txt", "alpha\n", 0640);
    Put(root_ + "/data/sub/b.txt", "beta\n", 0600);
    ASSERT_EQ(::symlink("/", (root_ + "/escape").c_str()), 0);
    ASSERT_EQ(::symlink("../../..", (root_ + "/up").c_str()), 0);
    ASSERT_EQ(::symlink("../../etc", (root_ + "/etcup").c_str()), 0);
    ASSERT_EQ(::symlink("../../host-secret", (root_ + "/data/secret").c_str()), 0);
  }
  void TearDown() override { (void)RemoveAll(top_); }

  // What escaped: any change to the host secret, or to top_ beside ctr/ and hostdir/.
  void ExpectHostUntouched() {
    EXPECT_EQ(Slurp(top_ + "/host-secret"), "HOST SECRET\n");
    for (const char* p : {"/x", "/planted", "/etc", "/hostdir-escape"})
      EXPECT_FALSE(PathExists(top_ + p)) << p;
  }

  std::string top_, root_, host_;
};

TEST_F(CopyTest, FileOut) {
  ASSERT_TRUE(CopyOut(root_, "/data/a.txt", host_ + "/a.txt", {}).ok());
  EXPECT_EQ(Slurp(host_ + "/a.txt"), "alpha\n");
  struct stat st;
  ASSERT_EQ(::stat((host_ + "/a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  // Into an existing directory: its basename.
  ASSERT_TRUE(CopyOut(root_, "/etc/passwd", host_, {}).ok());
  EXPECT_EQ(Slurp(host_ + "/passwd"), "root:x:0:0::/root:/bin/sh\n");
  // Over an existing file.
  Put(host_ + "/over", "old");
  ASSERT_TRUE(CopyOut(root_, "/data/a.txt", host_ + "/over", {}).ok());
  EXPECT_EQ(Slurp(host_ + "/over"), "alpha\n");
  // "DEST/" must be an existing directory.
  auto st2 = CopyOut(root_, "/data/a.txt", host_ + "/nodir/", {});
  EXPECT_FALSE(st2.ok());
  EXPECT_FALSE(CopyOut(root_, "/nope", host_ + "/n", {}).ok());
}

TEST_F(CopyTest, DirOutAndContents) {
  ASSERT_TRUE(CopyOut(root_, "/data", host_ + "/new", {}).ok());  // missing: made
  EXPECT_EQ(Slurp(host_ + "/new/sub/b.txt"), "beta\n");
  ASSERT_TRUE(CopyOut(root_, "/data", host_, {}).ok());  // existing dir: into it
  EXPECT_EQ(Slurp(host_ + "/data/a.txt"), "alpha\n");
  ASSERT_EQ(::mkdir((host_ + "/flat").c_str(), 0755), 0);
  ASSERT_TRUE(CopyOut(root_, "/data/.", host_ + "/flat", {}).ok());  // contents only
  EXPECT_EQ(Slurp(host_ + "/flat/a.txt"), "alpha\n");
  EXPECT_FALSE(PathExists(host_ + "/flat/data"));
  Put(host_ + "/afile", "x");
  EXPECT_FALSE(CopyOut(root_, "/data", host_ + "/afile", {}).ok());  // dir onto a file
  // A symlink inside is copied as a link, with its target as it is, never followed.
  EXPECT_TRUE(IsLink(host_ + "/new/secret"));
  ExpectHostUntouched();
}

TEST_F(CopyTest, SymlinksResolveInsideTheRoot) {
  // "/escape/etc/passwd" is the container's /etc/passwd, not the host's.
  ASSERT_TRUE(CopyOut(root_, "/escape/etc/passwd", host_ + "/p1", {}).ok());
  EXPECT_EQ(Slurp(host_ + "/p1"), "root:x:0:0::/root:/bin/sh\n");
  ASSERT_TRUE(CopyOut(root_, "/etcup/passwd", host_ + "/p2", {}).ok());
  EXPECT_EQ(Slurp(host_ + "/p2"), "root:x:0:0::/root:/bin/sh\n");
  ASSERT_TRUE(CopyOut(root_, "/up/up/etc/passwd", host_ + "/p3", {}).ok());
  EXPECT_EQ(Slurp(host_ + "/p3"), "root:x:0:0::/root:/bin/sh\n");
  // ../../host-secret from /data is /host-secret of the container: not there.
  CopyOptions follow;
  follow.follow_link = true;
  EXPECT_FALSE(CopyOut(root_, "/data/secret", host_ + "/s", follow).ok());
  EXPECT_FALSE(PathExists(host_ + "/s"));
  // Without -L the link itself comes out.
  ASSERT_TRUE(CopyOut(root_, "/data/secret", host_ + "/s", {}).ok());
  EXPECT_TRUE(IsLink(host_ + "/s"));
  ExpectHostUntouched();
}

TEST_F(CopyTest, CopyInStaysInside) {
  Put(top_ + "/src.txt", "payload\n", 0751);
  // Through symlinks to "/" and "../..": they land in the container's root.
  ASSERT_TRUE(CopyIn(root_, top_ + "/src.txt", "/escape/x", {}).ok());
  EXPECT_EQ(Slurp(root_ + "/x"), "payload\n");
  ASSERT_TRUE(CopyIn(root_, top_ + "/src.txt", "/up/planted", {}).ok());
  EXPECT_EQ(Slurp(root_ + "/planted"), "payload\n");
  ASSERT_TRUE(CopyIn(root_, top_ + "/src.txt", "/etcup/", {}).ok());
  EXPECT_EQ(Slurp(root_ + "/etc/src.txt"), "payload\n");
  struct stat st;
  ASSERT_EQ(::stat((root_ + "/etc/src.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0751u);
  // Over a symlink that points out: the link is replaced, its target untouched.
  ASSERT_TRUE(CopyIn(root_, top_ + "/src.txt", "/data/secret", {}).ok());
  EXPECT_FALSE(IsLink(root_ + "/data/secret"));
  EXPECT_EQ(Slurp(root_ + "/data/secret"), "payload\n");
  ExpectHostUntouched();
}

TEST_F(CopyTest, DirInThroughPlantedLinks) {
  // The source tree holds a link named like a directory of the destination's: the
  // destination's symlinks are never followed below DEST.
  std::string src = top_ + "/srcdir";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((src + "/escape").c_str(), 0700), 0);
  Put(src + "/escape/inside", "in\n");
  ASSERT_TRUE(CopyIn(root_, src + "/.", "/", {}).ok());
  // The container's /escape symlink was replaced by the directory, not followed to "/".
  EXPECT_FALSE(IsLink(root_ + "/escape"));
  EXPECT_EQ(Slurp(root_ + "/escape/inside"), "in\n");
  EXPECT_FALSE(PathExists("/inside"));
  struct stat st;
  ASSERT_EQ(::stat((root_ + "/escape").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ExpectHostUntouched();
}

TEST_F(CopyTest, OwnerKeptWithArchive) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown needs root";
  Put(top_ + "/owned", "o\n");
  ASSERT_EQ(::chown((top_ + "/owned").c_str(), 1234, 5678), 0);
  ASSERT_TRUE(CopyIn(root_, top_ + "/owned", "/o1", {}).ok());
  CopyOptions a;
  a.archive = true;
  ASSERT_TRUE(CopyIn(root_, top_ + "/owned", "/o2", a).ok());
  struct stat s1, s2;
  ASSERT_EQ(::stat((root_ + "/o1").c_str(), &s1), 0);
  ASSERT_EQ(::stat((root_ + "/o2").c_str(), &s2), 0);
  EXPECT_EQ(s1.st_uid, 0u);  // Docker: the container's root without -a
  EXPECT_EQ(s2.st_uid, 1234u);
  EXPECT_EQ(s2.st_gid, 5678u);
}

// A tar with hostile names piped into a container directory.
std::string MakeTar(const std::vector<std::pair<std::string, std::string>>& files,
                    const std::string& symlink_name = "", const std::string& symlink_to = "") {
  char path[] = "/tmp/skiff-cp-tar-XXXXXX";
  int fd = ::mkstemp(path);
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open_fd(a, fd);
  auto add = [&](const std::string& name, const std::string& data, int type,
                 const std::string& link) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, type == AE_IFREG ? data.size() : 0);
    if (!link.empty()) archive_entry_set_symlink(e, link.c_str());
    archive_write_header(a, e);
    if (type == AE_IFREG) archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  };
  if (!symlink_name.empty()) add(symlink_name, "", AE_IFLNK, symlink_to);
  for (const auto& [n, d] : files) add(n, d, AE_IFREG, "");
  archive_write_close(a);
  archive_write_free(a);
  ::close(fd);
  return path;
}

TEST_F(CopyTest, TarInRefusesEscapes) {
  std::string ok = MakeTar({{"./t/one.txt", "1\n"}, {"/abs.txt", "2\n"}});
  UniqueFd in(::open(ok.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(CopyIn(root_, "-", "/data", {}, in.get()).ok());
  EXPECT_EQ(Slurp(root_ + "/data/t/one.txt"), "1\n");
  EXPECT_EQ(Slurp(root_ + "/data/abs.txt"), "2\n");  // "/" stripped: inside DEST
  ::unlink(ok.c_str());

  // a/../b is b (inside); ../../x leaves DEST and is refused.
  std::string inside = MakeTar({{"t/../back.txt", "3\n"}});
  in.reset(::open(inside.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(CopyIn(root_, "-", "/data", {}, in.get()).ok());
  EXPECT_EQ(Slurp(root_ + "/data/back.txt"), "3\n");
  ::unlink(inside.c_str());
  std::string dotdot = MakeTar({{"../../x", "evil\n"}});
  in.reset(::open(dotdot.c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_FALSE(CopyIn(root_, "-", "/data", {}, in.get()).ok());
  ::unlink(dotdot.c_str());

  // A symlink entry to the host, then a file written "through" it: the second entry must
  // not follow the link the first planted.
  std::string planted = MakeTar({{"link/x", "evil\n"}}, "link", top_);
  in.reset(::open(planted.c_str(), O_RDONLY | O_CLOEXEC));
  Status st = CopyIn(root_, "-", "/data", {}, in.get());
  ::unlink(planted.c_str());
  EXPECT_FALSE(PathExists(top_ + "/x"));
  // The link is replaced by a directory (as tar does), never followed.
  EXPECT_TRUE(st.ok()) << st.error().Message();
  EXPECT_FALSE(IsLink(root_ + "/data/link"));
  EXPECT_EQ(Slurp(root_ + "/data/link/x"), "evil\n");
  ExpectHostUntouched();
}

TEST_F(CopyTest, TarOut) {
  char path[] = "/tmp/skiff-cp-out-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(CopyOut(root_, "/data", "-", {}, fd).ok());
  ::close(fd);
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
  std::set<std::string> names;
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) names.insert(archive_entry_pathname(e));
  archive_read_free(a);
  ::unlink(path);
  EXPECT_TRUE(names.count("data/")) << *names.begin();  // directories end in "/"
  EXPECT_TRUE(names.count("data/a.txt"));
  EXPECT_TRUE(names.count("data/sub/b.txt"));
  EXPECT_TRUE(names.count("data/secret"));  // the link, not the host file
}

TEST(CopyArgs, Split) {
  EXPECT_EQ(SplitCopyArg("web:/etc/passwd"),
            std::make_pair(std::string("web"), std::string("/etc/passwd")));
  EXPECT_EQ(SplitCopyArg("/tmp/a:b"), std::make_pair(std::string(""), std::string("/tmp/a:b")));
  EXPECT_EQ(SplitCopyArg("./web:x"), std::make_pair(std::string(""), std::string("./web:x")));
  EXPECT_EQ(SplitCopyArg("dir/web:x"), std::make_pair(std::string(""), std::string("dir/web:x")));
  EXPECT_EQ(SplitCopyArg("-"), std::make_pair(std::string(""), std::string("-")));
}

}  // namespace
}  // namespace skiff::engine
