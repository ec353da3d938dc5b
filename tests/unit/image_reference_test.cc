#include "image/reference.h"

#include <gtest/gtest.h>

namespace skiff::image {
namespace {

struct Case {
  const char* in;
  const char* full;
  const char* familiar;
};

TEST(Reference, NormalisedAsDocker) {
  const std::string d64(64, 'a');
  const Case cases[] = {
      {"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
      {"library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"user/app", "docker.io/user/app:latest", "user/app:latest"},
      {"127.0.0.1:5000/x/y:1", "127.0.0.1:5000/x/y:1", "127.0.0.1:5000/x/y:1"},
      {"localhost/app", "localhost/app:latest", "localhost/app:latest"},
      {"localhost:5000/a_b.c-d__e/f---g", "localhost:5000/a_b.c-d__e/f---g:latest",
       "localhost:5000/a_b.c-d__e/f---g:latest"},
      {"quay.io/org/img:v1.2_3-rc", "quay.io/org/img:v1.2_3-rc", "quay.io/org/img:v1.2_3-rc"},
      {"[::1]:5000/img", "[::1]:5000/img:latest", "[::1]:5000/img:latest"},
  };
  for (const auto& c : cases) {
    auto r = ParseReference(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().Message();
    EXPECT_EQ(r->String(), c.full) << c.in;
    EXPECT_EQ(r->Familiar(), c.familiar) << c.in;
  }
}

TEST(Reference, Digests) {
  const std::string hex(64, 'b');
  auto r = ParseReference("busybox@sha256:" + hex);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->digest, "sha256:" + hex);
  EXPECT_EQ(r->String(), "docker.io/library/busybox@sha256:" + hex);
  auto both = ParseReference("127.0.0.1:5000/x:1@sha256:" + hex);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->tag, "1");
  EXPECT_EQ(both->domain, "127.0.0.1:5000");
}

TEST(Reference, MalformedOnesSayWhy) {
  const std::pair<std::string, const char*> bad[] = {
      {"", "empty"},
      {"Busybox", "repository name must be lowercase"},
      {"busybox:", "invalid tag"},
      {"busybox:-x", "invalid tag"},
      {"busybox@sha256:abc", "sha256 digest must be 64 hex digits"},
      {"busybox@md5:" + std::string(32, 'a'), "unsupported digest algorithm"},
      {"busybox@sha256:" + std::string(64, 'A'), "digest must be lowercase hex"},
      {"a//b", "invalid repository name"},
      {"-a", "invalid repository name"},
      {"a_", "invalid repository name"},
      {"a...b", "invalid repository name"},
      {"host:port/x", "invalid registry name"},
      {":tag", "missing repository name"},
      {"docker.io/" + std::string(250, 'a'), "repository name longer than 255 characters"},
  };
  for (const auto& [in, why] : bad) {
    auto r = ParseReference(in);
    ASSERT_FALSE(r.ok()) << in;
    EXPECT_EQ(r.error().msg, "invalid reference \"" + in + "\": " + why);
  }
}

}  // namespace
}  // namespace skiff::image
