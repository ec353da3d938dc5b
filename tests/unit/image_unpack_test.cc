// The pure half of the unpacker: entry-name cleaning and whiteout names.
#include <gtest/gtest.h>

#include <string>

#include "image/whiteout.h"

namespace skiff::image {
namespace {

std::string Clean(const std::string& name) {
  auto r = CleanEntryPath(name);
  return r.ok() ? *r : "ERROR: " + r.error().msg;
}

TEST(CleanEntryPath, OrdinaryNames) {
  EXPECT_EQ(Clean("etc/passwd"), "etc/passwd");
  EXPECT_EQ(Clean("./etc/passwd"), "etc/passwd");
  EXPECT_EQ(Clean("usr/bin/"), "usr/bin");
  EXPECT_EQ(Clean("a//b/./c"), "a/b/c");
  EXPECT_EQ(Clean("./"), "");
  EXPECT_EQ(Clean("."), "");
  EXPECT_EQ(Clean(""), "");
  EXPECT_EQ(Clean("..foo/...bar"), "..foo/...bar");  // dots in names are names
}

TEST(CleanEntryPath, AbsoluteNamesAreContained) {
  EXPECT_EQ(Clean("/etc/passwd"), "etc/passwd");
  EXPECT_EQ(Clean("///abs"), "abs");
  EXPECT_EQ(Clean("/"), "");
}

TEST(CleanEntryPath, DotDotFoldsOrIsRefused) {
  EXPECT_EQ(Clean("a/../b"), "b");
  EXPECT_EQ(Clean("a/b/../../c"), "c");
  EXPECT_EQ(Clean("a/.."), "");
  EXPECT_EQ(Clean("../escape"), "ERROR: path escapes the layer root");
  EXPECT_EQ(Clean("a/../../x"), "ERROR: path escapes the layer root");
  EXPECT_EQ(Clean("/../x"), "ERROR: path escapes the layer root");
  EXPECT_EQ(Clean("./.."), "ERROR: path escapes the layer root");
  EXPECT_EQ(Clean(".."), "ERROR: path escapes the layer root");
}

TEST(CleanEntryPath, LongNamesAreRefused) {
  EXPECT_TRUE(CleanEntryPath(std::string(255, 'a')).ok());
  EXPECT_FALSE(CleanEntryPath(std::string(256, 'a')).ok());
  EXPECT_FALSE(CleanEntryPath(std::string(5000, 'a')).ok());
  std::string deep;
  for (int i = 0; i < 150; ++i) deep += std::string(30, 'd') + "/";
  EXPECT_FALSE(CleanEntryPath(deep).ok());  // over PATH_MAX
}

TEST(CleanEntryPath, ParentAndBase) {
  EXPECT_EQ(ParentOf("a/b/c"), "a/b");
  EXPECT_EQ(BaseOf("a/b/c"), "c");
  EXPECT_EQ(ParentOf("c"), "");
  EXPECT_EQ(BaseOf("c"), "c");
  EXPECT_EQ(ParentOf(""), "");
  EXPECT_EQ(BaseOf(""), "");
}

TEST(ParseWhiteout, Kinds) {
  EXPECT_EQ(ParseWhiteout("file").kind, WhiteoutKind::kNone);
  EXPECT_EQ(ParseWhiteout(".whx").kind, WhiteoutKind::kNone);
  EXPECT_EQ(ParseWhiteout(".wh").kind, WhiteoutKind::kNone);
  Whiteout w = ParseWhiteout(".wh.passwd");
  EXPECT_EQ(w.kind, WhiteoutKind::kWhiteout);
  EXPECT_EQ(w.target, "passwd");
  EXPECT_EQ(ParseWhiteout(".wh..hidden").target, ".hidden");
  EXPECT_EQ(ParseWhiteout(".wh..hidden").kind, WhiteoutKind::kWhiteout);
  EXPECT_EQ(ParseWhiteout(".wh..wh..opq").kind, WhiteoutKind::kOpaque);
  EXPECT_EQ(ParseWhiteout(".wh..wh.plnk").kind, WhiteoutKind::kMeta);
  EXPECT_EQ(ParseWhiteout(".wh..wh.aufs").kind, WhiteoutKind::kMeta);
}

TEST(ParseWhiteout, NamesThatAreNoFileAreInvalid) {
  EXPECT_EQ(ParseWhiteout(".wh.").kind, WhiteoutKind::kInvalid);
  EXPECT_EQ(ParseWhiteout(".wh..").kind, WhiteoutKind::kInvalid);
  EXPECT_EQ(ParseWhiteout(".wh...").kind, WhiteoutKind::kInvalid);
}

}  // namespace
}  // namespace skiff::image
