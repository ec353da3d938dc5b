// base/file: RemoveTreeParallel (RemoveAll's plain recursion is exercised throughout).
#include "base/file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace skiff {
namespace {

class BaseFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-file-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { (void)RemoveAll(root_); }
  std::string root_;
};

// The tree goes, nested directories (overlay's work/work/incompat/volatile) and all,
// without following a symlink out of it.
TEST_F(BaseFile, RemoveTreeParallel) {
  std::string outside = root_ + "/outside";
  ASSERT_TRUE(MkdirAll(outside).ok());
  ASSERT_TRUE(WriteFileAtomic(outside + "/keep", "x").ok());
  std::string t = root_ + "/tree";
  for (const char* d : {"/upper/etc", "/work/work/incompat/volatile", "/rootfs", "/a/b/c/d/e"})
    ASSERT_TRUE(MkdirAll(t + d).ok());
  // Names that a flattened directory could collide with.
  ASSERT_TRUE(MkdirAll(t + "/.flat0").ok());
  ASSERT_TRUE(WriteFileAtomic(t + "/.flat1", "file").ok());
  for (const char* f : {"/record.json", "/upper/etc/hosts", "/work/work/incompat/volatile/dirty",
                        "/a/b/c/d/e/f", "/a/b/g"})
    ASSERT_TRUE(WriteFileAtomic(t + f, "data").ok());
  ASSERT_EQ(::symlink(outside.c_str(), (t + "/a/link").c_str()), 0);
  ASSERT_EQ(::chmod((t + "/work/work").c_str(), 0), 0);  // as overlayfs leaves it
  Status st = RemoveTreeParallel(t);
  ASSERT_TRUE(st.ok()) << st.error().Message();
  EXPECT_FALSE(PathExists(t));
  EXPECT_TRUE(PathExists(outside + "/keep"));
  EXPECT_TRUE(RemoveTreeParallel(t).ok());  // missing: not an error
  // Deeper than the fd budget: still removed (the rest goes the plain way).
  std::string deep = root_ + "/deep";
  std::string p = deep;
  for (int i = 0; i < 300; ++i) p += "/d";
  ASSERT_TRUE(MkdirAll(p).ok());
  st = RemoveTreeParallel(deep);
  ASSERT_TRUE(st.ok()) << st.error().Message();
  EXPECT_FALSE(PathExists(deep));
}

// A tree big enough for the threads (a --rm container's handful of entries is removed on
// the caller's thread alone): every file and directory goes.
TEST_F(BaseFile, RemoveTreeParallelOfABigTree) {
  std::string t = root_ + "/big";
  for (int d = 0; d < 12; ++d) {
    std::string dir = t + "/d" + std::to_string(d) + "/sub";
    ASSERT_TRUE(MkdirAll(dir).ok());
    for (int f = 0; f < 10; ++f)
      ASSERT_TRUE(WriteFileAtomic(dir + "/f" + std::to_string(f), "x").ok());
  }
  Status st = RemoveTreeParallel(t);
  ASSERT_TRUE(st.ok()) << st.error().Message();
  EXPECT_FALSE(PathExists(t));
}

// A file at the path is removed as RemoveAll would; a symlink to a directory is removed, not
// followed.
TEST_F(BaseFile, RemoveTreeParallelOfAFileOrALink) {
  std::string dir = root_ + "/dir";
  ASSERT_TRUE(MkdirAll(dir).ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/keep", "x").ok());
  std::string link = root_ + "/link";
  ASSERT_EQ(::symlink(dir.c_str(), link.c_str()), 0);
  ASSERT_TRUE(RemoveTreeParallel(link).ok());
  EXPECT_FALSE(PathExists(link));
  EXPECT_TRUE(PathExists(dir + "/keep"));
  ASSERT_TRUE(RemoveTreeParallel(dir + "/keep").ok());
  EXPECT_FALSE(PathExists(dir + "/keep"));
}

}  // namespace
}  // namespace skiff
