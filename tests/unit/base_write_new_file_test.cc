// WriteNewFile: the direct write for files of a directory no reader sees yet.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "base/file.h"

namespace skiff {
namespace {

class WriteNewFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-newfile.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)RemoveAll(dir_); }
  std::string dir_;
};

TEST_F(WriteNewFileTest, WritesDataWithTheModePastTheUmask) {
  mode_t old = ::umask(077);
  Status st = WriteNewFile(dir_ + "/hosts", "127.0.0.1\tlocalhost\n", 0644);
  ::umask(old);
  ASSERT_TRUE(st.ok()) << st.error().Message();
  auto text = ReadFile(dir_ + "/hosts");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "127.0.0.1\tlocalhost\n");
  struct stat sb{};
  ASSERT_EQ(::stat((dir_ + "/hosts").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 07777, 0644u);
}

TEST_F(WriteNewFileTest, RefusesAnExistingFileAndLeavesItAlone) {
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/config.json", "old").ok());
  Status st = WriteNewFile(dir_ + "/config.json", "new");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().Message().find("config.json"), std::string::npos) << st.error().Message();
  EXPECT_EQ(*ReadFile(dir_ + "/config.json"), "old");
}

TEST_F(WriteNewFileTest, FollowsNoSymlinkPlantedAtThePath) {
  ASSERT_EQ(::symlink((dir_ + "/target").c_str(), (dir_ + "/link").c_str()), 0);
  EXPECT_FALSE(WriteNewFile(dir_ + "/link", "x").ok());
  EXPECT_NE(::access((dir_ + "/target").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace skiff
