#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/file.h"
#include "image/auth.h"
#include "image/cred_helper.h"

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

namespace skiff::image {
namespace {

TEST(Credentials, HelperChosenAsDocker) {
  std::string cfg = R"({"credsStore": "pass",
      "credHelpers": {"https://127.0.0.1:5001": "fake", "index.docker.io": "hub"},
      "auths": {"127.0.0.1:5001": {"auth": "dXNlcjpwYXNz"}}})";
  EXPECT_EQ(FindCredentialHelper(cfg, "127.0.0.1:5001").value(), "fake");
  EXPECT_EQ(FindCredentialHelper(cfg, "docker.io").value(), "hub");
  EXPECT_EQ(FindCredentialHelper(cfg, "other:1").value(), "pass");  // the store for the rest
  EXPECT_EQ(FindCredentialHelper(R"({"auths": {}})", "other:1").value(), "");
  EXPECT_FALSE(FindCredentialHelper(R"({"credHelpers": []})", "x").ok());
  EXPECT_FALSE(FindCredentialHelper(R"({"credsStore": 1})", "x").ok());
  EXPECT_EQ(HelperServerName("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(HelperServerName("127.0.0.1:5001"), "127.0.0.1:5001");
}

// Fake helpers on $PATH: what they were asked, on stdin, is kept in a file.
class CredHelperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-credhelper-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(MkdirAll(dir_ + "/bin").ok());
    const char* path = std::getenv("PATH");
    old_path_ = path ? path : "";
    ::setenv("PATH", (dir_ + "/bin:" + old_path_).c_str(), 1);
    Helper("good", "cat > " + dir_ +
                       "/asked; [ \"$1\" = get ] || exit 3\n"
                       "echo '{\"ServerURL\":\"x\",\"Username\":\"hu\",\"Secret\":\"hs\"}'");
    Helper("empty", "cat >/dev/null; echo 'credentials not found in native keychain'; exit 1");
    Helper("broken", "echo 'gpg: decryption failed: No secret key'; exit 2");
    Helper("garbage", "echo 'hello'");
  }
  void TearDown() override {
    ::setenv("PATH", old_path_.c_str(), 1);
    ::unsetenv("DOCKER_CONFIG");
    (void)RemoveAll(dir_);
  }
  void Helper(const std::string& name, const std::string& body) {
    std::string p = dir_ + "/bin/docker-credential-" + name;
    ASSERT_TRUE(WriteFileAtomic(p, "#!/bin/sh\n" + body + "\n", 0755).ok());
  }
  std::string dir_, old_path_;
};

TEST_F(CredHelperTest, RunsTheHelperWithTheServerOnStdin) {
  auto c = RunCredentialHelper("good", "127.0.0.1:5001");
  ASSERT_TRUE(c.ok()) << c.error().Message();
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->username, "hu");
  EXPECT_EQ((*c)->password, "hs");
  EXPECT_EQ(ReadFile(dir_ + "/asked").value(), "127.0.0.1:5001");

  auto none = RunCredentialHelper("empty", "127.0.0.1:5001");
  ASSERT_TRUE(none.ok()) << none.error().Message();
  EXPECT_FALSE(none->has_value());

  auto broken = RunCredentialHelper("broken", "h:1");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().Message(),
            "credential helper docker-credential-broken get h:1: gpg: decryption failed: No "
            "secret key");
  auto garbage = RunCredentialHelper("garbage", "h:1");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().Message(),
            "credential helper docker-credential-garbage get h:1: not JSON: hello");
  auto missing = RunCredentialHelper("nothere", "h:1");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().Message(),
            "credential helper docker-credential-nothere: No such file or directory");
  EXPECT_FALSE(RunCredentialHelper("../good", "h:1").ok());
}

TEST_F(CredHelperTest, LookupAsksTheHelperInsteadOfAuths) {
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/config.json",
                              R"({"credHelpers": {"127.0.0.1:5001": "good"},
                                  "credsStore": "empty",
                                  "auths": {"127.0.0.1:5001": {"auth": "dXNlcjpwYXNz"},
                                            "other:1": {"auth": "dXNlcjpwYXNz"}}})")
                  .ok());
  ASSERT_TRUE(
      WriteFileAtomic(dir_ + "/later.json", R"({"auths": {"other:1": {"auth": "ZDpk"}}})").ok());
  std::vector<std::string> files = {dir_ + "/config.json", dir_ + "/later.json"};
  auto c = LookupCredential(files, "127.0.0.1:5001");
  ASSERT_TRUE(c.ok() && c->has_value()) << (c.ok() ? "none" : c.error().Message());
  EXPECT_EQ((*c)->username, "hu");
  // credsStore has nothing for other:1: its auths entry is not used, the next file is.
  c = LookupCredential(files, "other:1");
  ASSERT_TRUE(c.ok() && c->has_value()) << (c.ok() ? "none" : c.error().Message());
  EXPECT_EQ((*c)->username, "d");
}

}  // namespace
}  // namespace skiff::image
