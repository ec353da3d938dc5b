#include "base/digest.h"

#include <gtest/gtest.h>

namespace skiff {
namespace {

TEST(Digest, KnownVectors) {
  EXPECT_EQ(Sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Digest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, StreamingEqualsOneShot) {
  std::string data(100000, 'x');
  Sha256 h;
  for (size_t i = 0; i < data.size(); i += 777) h.Update(data.substr(i, 777));
  EXPECT_EQ(h.Digest(), Sha256Digest(data));
}

TEST(Digest, Validation) {
  EXPECT_TRUE(ValidateSha256Digest(Sha256Digest("a")).ok());
  EXPECT_FALSE(ValidateSha256Digest("sha256:abc").ok());
  EXPECT_FALSE(ValidateSha256Digest("sha512:" + std::string(64, 'a')).ok());
  EXPECT_FALSE(ValidateSha256Digest("sha256:" + std::string(63, 'a') + "/").ok());
  EXPECT_FALSE(ValidateSha256Digest("sha256:" + std::string(64, 'A')).ok());
}

}  // namespace
}  // namespace skiff
