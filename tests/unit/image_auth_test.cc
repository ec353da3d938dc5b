#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/file.h"
#include "image/auth.h"

namespace skiff::image {
namespace {

TEST(WwwAuthenticate, BearerWithQuotedCommas) {
  auto c = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
      R"(scope="repository:library/busybox:pull,push")");
  ASSERT_TRUE(c.ok()) << c.error().Message();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].scheme, "bearer");
  EXPECT_EQ((*c)[0].Param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ((*c)[0].Param("service"), "registry.docker.io");
  EXPECT_EQ((*c)[0].Param("scope"), "repository:library/busybox:pull,push");
}

TEST(WwwAuthenticate, BasicAndSeveralChallenges) {
  auto c =
      ParseWwwAuthenticate("Basic realm=\"Registry Realm\"\nBearer realm=x, Service = \"a\\\"b\"");
  ASSERT_TRUE(c.ok()) << c.error().Message();
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].scheme, "basic");
  EXPECT_EQ((*c)[0].Param("realm"), "Registry Realm");
  EXPECT_EQ((*c)[1].scheme, "bearer");
  EXPECT_EQ((*c)[1].Param("realm"), "x");
  EXPECT_EQ((*c)[1].Param("service"), "a\"b");
}

TEST(WwwAuthenticate, Broken) {
  EXPECT_FALSE(ParseWwwAuthenticate("").ok());
  EXPECT_FALSE(ParseWwwAuthenticate("realm=x").ok());
  EXPECT_FALSE(ParseWwwAuthenticate("Bearer realm=\"x").ok());
}

TEST(Base64, RoundTrip) {
  for (std::string s : {"", "a", "ab", "abc", "user:pass", "\xff\x00\x10"}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(Base64Encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_FALSE(Base64Decode("a*b").ok());
}

TEST(Credentials, KeyForms) {
  std::string cfg = R"({"auths": {
      "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
      "127.0.0.1:5001": {"auth": "dXNlcjpwYXNz"},
      "https://reg.example.com": {"auth": "YTpiOmM="},
      "stub.example.com": {}}})";
  auto hub = FindCredential(cfg, "docker.io");
  ASSERT_TRUE(hub.ok()) << hub.error().Message();
  ASSERT_TRUE(hub->has_value());
  EXPECT_EQ((*hub)->username, "hub");
  EXPECT_EQ((*hub)->password, "secret");
  auto local = FindCredential(cfg, "127.0.0.1:5001");
  ASSERT_TRUE(local.ok() && local->has_value());
  EXPECT_EQ((*local)->username, "user");
  auto ex = FindCredential(cfg, "reg.example.com");
  ASSERT_TRUE(ex.ok() && ex->has_value());
  EXPECT_EQ((*ex)->password, "b:c");  // only the first colon separates
  EXPECT_FALSE(FindCredential(cfg, "127.0.0.1:5002")->has_value());
  EXPECT_FALSE(FindCredential(cfg, "stub.example.com")->has_value());
  EXPECT_FALSE(FindCredential("{}", "docker.io")->has_value());
  EXPECT_FALSE(FindCredential("{", "docker.io").ok());
  EXPECT_FALSE(FindCredential(R"({"auths":{"h":{"auth":"bm9jb2xvbg=="}}})", "h").ok());
}

class AuthFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-auth-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    (void)RemoveAll(dir_);
    ::unsetenv("REGISTRY_AUTH_FILE");
    ::unsetenv("DOCKER_CONFIG");
  }
  std::string dir_;
};

TEST_F(AuthFileTest, LoginLogoutAndLookupOrder) {
  std::string mine = dir_ + "/root/auth.json";
  ASSERT_TRUE(SaveCredential(mine, "https://127.0.0.1:5001", {"u", "p"}).ok());
  ASSERT_TRUE(SaveCredential(mine, "127.0.0.1:5001", {"u", "p2"}).ok());  // replaces
  ASSERT_TRUE(SaveCredential(mine, "other:1", {"o", "q"}).ok());
  ASSERT_TRUE(MkdirAll(dir_ + "/docker").ok());
  ASSERT_TRUE(
      WriteFileAtomic(dir_ + "/docker/config.json",
                      R"({"auths":{"127.0.0.1:5001":{"auth":"ZDpk"},"x:2":{"auth":"ZDpk"}}})")
          .ok());
  ::setenv("DOCKER_CONFIG", (dir_ + "/docker").c_str(), 1);
  auto files = AuthFiles(dir_ + "/root");
  ASSERT_EQ(files.size(), 2u);
  auto c = LookupCredential(files, "127.0.0.1:5001");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->password, "p2");  // skiff's own file first
  c = LookupCredential(files, "x:2");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->username, "d");
  ASSERT_TRUE(RemoveCredential(mine, "127.0.0.1:5001").ok());
  EXPECT_EQ(RemoveCredential(mine, "127.0.0.1:5001").error().code, ENOENT);
  c = LookupCredential(files, "127.0.0.1:5001");
  EXPECT_EQ((*c)->username, "d");  // now Docker's
  EXPECT_TRUE(LookupCredential(files, "other:1")->has_value());
  ::setenv("REGISTRY_AUTH_FILE", (dir_ + "/nope.json").c_str(), 1);
  EXPECT_EQ(AuthFiles(dir_ + "/root").size(), 3u);
  EXPECT_TRUE(LookupCredential(AuthFiles(dir_ + "/root"), "other:1")->has_value());
}

TEST(Token, ResponseForms) {
  auto now = std::chrono::steady_clock::now();
  auto t = ParseTokenResponse(R"({"token":"abc","expires_in":300})", now);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->value, "abc");
  EXPECT_EQ(t->expires - now, std::chrono::seconds(300));
  t = ParseTokenResponse(R"({"access_token":"xyz"})", now);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->value, "xyz");
  EXPECT_EQ(t->expires - now, std::chrono::seconds(60));
  EXPECT_FALSE(ParseTokenResponse(R"({"nothing":1})", now).ok());
}

TEST(Token, Url) {
  Challenge c{.scheme = "bearer",
              .params = {{"realm", "https://auth.example/token"}, {"service", "reg x"}}};
  EXPECT_EQ(TokenUrl(c, {"repository:a/b:pull,push", "repository:c:pull"}),
            "https://auth.example/token?service=reg%20x&scope=repository%3Aa%2Fb%3Apull%2Cpush"
            "&scope=repository%3Ac%3Apull");
}

}  // namespace
}  // namespace skiff::image
