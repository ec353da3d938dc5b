#include "image/store.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>

#include "base/file.h"

namespace skiff::image {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)RemoveAll(dir_); }
  int Entries(const std::string& d) {
    int n = 0;
    DIR* dp = ::opendir(d.c_str());
    while (dp && ::readdir(dp)) ++n;
    if (dp) ::closedir(dp);
    return n - 2;
  }
  std::string dir_;
};

TEST_F(StoreTest, LayoutFilesAsTheSpecSays) {
  auto s = Store::Open(dir_);
  ASSERT_TRUE(s.ok()) << s.error().Message();
  auto layout = nlohmann::json::parse(ReadFile(dir_ + "/oci-layout").value());
  EXPECT_EQ(layout["imageLayoutVersion"], "1.0.0");
  auto index = nlohmann::json::parse(ReadFile(dir_ + "/index.json").value());
  EXPECT_EQ(index["schemaVersion"], 2);
  EXPECT_TRUE(index["manifests"].is_array());
  EXPECT_TRUE(PathExists(dir_ + "/blobs/sha256"));
}

TEST_F(StoreTest, BlobsAreStoredUnderTheirVerifiedDigest) {
  Store s = Store::Open(dir_).value();
  std::string d = s.PutBlob("hello").value();
  EXPECT_EQ(d, Sha256Digest("hello"));
  EXPECT_TRUE(s.HasBlob(d));
  EXPECT_EQ(s.ReadBlob(d).value(), "hello");
  EXPECT_EQ(s.PutBlob("hello", d).value(), d);  // already there: nothing rewritten
}

TEST_F(StoreTest, MismatchLeavesNothingBehind) {
  Store s = Store::Open(dir_).value();
  std::string wrong = Sha256Digest("something else");
  auto r = s.PutBlob("tampered", wrong);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().msg.find("digest mismatch"), std::string::npos);
  EXPECT_FALSE(s.HasBlob(wrong));
  EXPECT_EQ(Entries(dir_ + "/blobs/sha256"), 0);  // no temp file either
}

TEST_F(StoreTest, AbandonedWriterLeavesNothing) {
  Store s = Store::Open(dir_).value();
  {
    BlobWriter w = s.NewBlob().value();
    ASSERT_TRUE(w.Write("part", 4).ok());
  }
  EXPECT_EQ(Entries(dir_ + "/blobs/sha256"), 0);
}

TEST_F(StoreTest, StreamedBlob) {
  Store s = Store::Open(dir_).value();
  BlobWriter w = s.NewBlob().value();
  std::string all;
  for (int i = 0; i < 100; ++i) {
    std::string chunk(1000, static_cast<char>('a' + i % 26));
    all += chunk;
    ASSERT_TRUE(w.Write(chunk.data(), chunk.size()).ok());
  }
  EXPECT_EQ(w.written(), 100000);
  EXPECT_EQ(w.Commit(Sha256Digest(all)).value(), Sha256Digest(all));
  EXPECT_EQ(s.ReadBlob(Sha256Digest(all)).value(), all);
}

TEST_F(StoreTest, RefsInIndexJson) {
  Store s = Store::Open(dir_).value();
  Descriptor d{"application/vnd.oci.image.manifest.v1+json", Sha256Digest("m1"), 2};
  ASSERT_TRUE(s.SetRef("docker.io/library/busybox:latest", d).ok());
  Descriptor d2 = d;
  d2.digest = Sha256Digest("m2");
  ASSERT_TRUE(s.SetRef("docker.io/library/busybox:latest", d2).ok());  // replaces
  ASSERT_TRUE(s.SetRef("127.0.0.1:5000/x:1", d).ok());
  auto got = s.GetRef("docker.io/library/busybox:latest").value();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->digest, d2.digest);
  EXPECT_EQ(s.ListRefs().value().size(), 2u);
  auto index = nlohmann::json::parse(ReadFile(dir_ + "/index.json").value());
  EXPECT_EQ(index["manifests"][0]["annotations"][kRefAnnotation], "docker.io/library/busybox:latest");
  ASSERT_TRUE(s.RemoveRef("127.0.0.1:5000/x:1").ok());
  EXPECT_FALSE(s.GetRef("127.0.0.1:5000/x:1").value());
  EXPECT_FALSE(s.RemoveRef("127.0.0.1:5000/x:1").ok());
}

TEST_F(StoreTest, DigestsThatAreNotFileNamesAreRefused) {
  Store s = Store::Open(dir_).value();
  EXPECT_FALSE(s.ReadBlob("sha256:../../etc/passwd").ok());
  EXPECT_FALSE(s.HasBlob("sha256:" + std::string(64, '.')));
}

}  // namespace
}  // namespace skiff::image
