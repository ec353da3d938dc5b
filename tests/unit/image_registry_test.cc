#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/file.h"
#include "image/certs.h"
#include "image/progress.h"
#include "image/registry.h"

namespace skiff::image {
namespace {

using std::chrono::milliseconds;

TEST(RetryDelay, BackoffAndLimits) {
  EXPECT_EQ(RetryDelay(4, 100, 1, 0, 503, ""), milliseconds(100));
  EXPECT_EQ(RetryDelay(4, 100, 2, 0, 500, ""), milliseconds(200));
  EXPECT_EQ(RetryDelay(4, 100, 3, 0, 429, ""), milliseconds(400));
  EXPECT_EQ(RetryDelay(4, 100, 4, 0, 503, ""), std::nullopt);  // out of tries
  EXPECT_EQ(RetryDelay(4, 100, 1, 0, 404, ""), std::nullopt);
  EXPECT_EQ(RetryDelay(4, 100, 1, 0, 401, ""), std::nullopt);  // never retry a refusal
  EXPECT_EQ(RetryDelay(4, 100, 1, 0, 501, ""), std::nullopt);
  EXPECT_EQ(RetryDelay(4, 100, 1, 0, 429, "2"), milliseconds(2000));
  EXPECT_EQ(RetryDelay(4, 100, 1, 0, 429, "3600"), milliseconds(30000));
  EXPECT_EQ(RetryDelay(4, 100, 1, 0, 429, "soon"), milliseconds(100));
  EXPECT_EQ(RetryDelay(20, 1000, 10, 0, 503, ""), milliseconds(8000));
  EXPECT_EQ(RetryDelay(4, 100, 1, ECONNRESET, 0, ""), milliseconds(100));
  EXPECT_EQ(RetryDelay(4, 100, 1, ETIMEDOUT, 0, ""), milliseconds(100));
  EXPECT_EQ(RetryDelay(4, 100, 1, EPROTO, 0, ""), std::nullopt);  // TLS: not transient
}

TEST(ResumeSkip, RangeAnswers) {
  EXPECT_EQ(*ResumeSkip(206, "bytes 1000-4999/5000", 1000), 0);
  EXPECT_EQ(*ResumeSkip(206, "bytes 900-4999/5000", 1000), 100);  // overlap is dropped
  EXPECT_EQ(*ResumeSkip(200, "", 1000), 1000);                    // Range ignored
  EXPECT_EQ(*ResumeSkip(200, "", 0), 0);
  EXPECT_FALSE(ResumeSkip(206, "bytes 1001-4999/5000", 1000).ok());  // a gap
  EXPECT_FALSE(ResumeSkip(206, "junk", 1000).ok());
  EXPECT_FALSE(ResumeSkip(416, "", 1000).ok());
}

TEST(UploadUrl, RelativeAbsoluteAndQuery) {
  EXPECT_EQ(UploadUrl("http://h:1", "/v2/x/blobs/uploads/u?_state=s", "digest=sha256:1"),
            "http://h:1/v2/x/blobs/uploads/u?_state=s&digest=sha256:1");
  EXPECT_EQ(UploadUrl("http://h:1", "https://s3/up", "digest=d"), "https://s3/up?digest=d");
  EXPECT_EQ(UploadUrl("http://h:1", "/v2/x/u", ""), "http://h:1/v2/x/u");
}

TEST(Insecure, LoopbackAndList) {
  RegistryOptions o;
  EXPECT_TRUE(IsInsecureRegistry("127.0.0.1:5000", o));
  EXPECT_TRUE(IsInsecureRegistry("127.3.4.5", o));
  EXPECT_TRUE(IsInsecureRegistry("localhost:5000", o));
  EXPECT_TRUE(IsInsecureRegistry("[::1]:5000", o));
  EXPECT_FALSE(IsInsecureRegistry("docker.io", o));
  EXPECT_FALSE(IsInsecureRegistry("128.0.0.1:5000", o));
  o.insecure_registries = {"reg.lan"};
  EXPECT_TRUE(IsInsecureRegistry("reg.lan:5000", o));
  EXPECT_TRUE(IsInsecureRegistry("reg.lan", o));
  o.insecure_registries = {"reg.lan:5000", "10.0.0.0/8", "fd00::/8"};
  EXPECT_FALSE(IsInsecureRegistry("reg.lan:6000", o));
  EXPECT_TRUE(IsInsecureRegistry("10.20.30.40:5000", o));
  EXPECT_TRUE(IsInsecureRegistry("[fd00::5]:443", o));
  EXPECT_TRUE(IsInsecureRegistry("127.0.0.1:5000", o));  // loopback still
  EXPECT_FALSE(IsInsecureRegistry("[::2]", o));
  o.tls_verify = false;
  EXPECT_TRUE(IsInsecureRegistry("docker.io", o));
  // Names are not resolved: a name that points at 127.0.0.1 is verified.
  EXPECT_FALSE(IsInsecureRegistry("skiff-tls.localhost:5000", RegistryOptions{}));
}

TEST(Insecure, FallBackToHttpOnlyWhenHttpsIsNotThere) {
  EXPECT_TRUE(FallBackToHttp(ECONNREFUSED));
  EXPECT_TRUE(FallBackToHttp(EPROTO));      // the handshake failed: a plain-HTTP server
  EXPECT_TRUE(FallBackToHttp(ECONNRESET));  // closed on the ClientHello
  EXPECT_FALSE(FallBackToHttp(http::kCertRejected));
  EXPECT_FALSE(FallBackToHttp(ETIMEDOUT));
  EXPECT_FALSE(FallBackToHttp(EHOSTUNREACH));
  EXPECT_FALSE(FallBackToHttp(0));
}

class CertDirsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-certs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }
  void Put(const std::string& name, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/" + name, text).ok());
  }
  std::string dir_;
};

TEST_F(CertDirsTest, DefaultsAndOverride) {
  EXPECT_EQ(CertDirs("reg:5000", ""), (std::vector<std::string>{"/etc/containers/certs.d/reg:5000",
                                                                "/etc/docker/certs.d/reg:5000"}));
  EXPECT_EQ(CertDirs("reg:5000", "/my"), std::vector<std::string>{"/my"});
}

TEST_F(CertDirsTest, CasClientPairAndMissingDirs) {
  Put("ca.crt", "CA ONE");  // no final newline: the next one must not run into it
  Put("other.crt", "CA TWO\n");
  Put("client.cert", "C");
  Put("client.key", "K");
  Put("README", "ignored");
  auto t = LoadTlsFiles({dir_ + "/missing", dir_});
  ASSERT_TRUE(t.ok()) << t.error().Message();
  EXPECT_EQ(t->ca_pem, "CA ONE\nCA TWO\n");
  EXPECT_EQ(t->ca_files.size(), 2u);
  EXPECT_EQ(t->client_cert, dir_ + "/client.cert");
  EXPECT_EQ(t->client_key, dir_ + "/client.key");
  auto none = LoadTlsFiles({dir_ + "/missing"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->ca_pem, "");
  EXPECT_EQ(none->client_cert, "");
}

TEST_F(CertDirsTest, CertWithoutKeyAndKeyWithoutCert) {
  Put("client.cert", "C");
  auto t = LoadTlsFiles({dir_});
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().msg.find("client.key"), std::string::npos) << t.error().Message();
  ASSERT_TRUE(RemoveAll(dir_ + "/client.cert").ok());
  Put("lone.key", "K");
  auto k = LoadTlsFiles({dir_});
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().msg.find("lone.cert"), std::string::npos) << k.error().Message();
}

TEST(Progress, Lines) {
  std::string d = "sha256:ab12cd34ef5678901234567890123456789012345678901234567890abcd";
  EXPECT_EQ(ShortDigest(d), "sha256:ab12cd34ef56");
  EXPECT_EQ(HumanBytes(999), "999 B");
  EXPECT_EQ(HumanBytes(1234567), "1.2 MB");
  EXPECT_EQ(ProgressLine(d, 10, 10), "sha256:ab12cd34ef56: done (10 B)");
  EXPECT_EQ(ProgressLine(d, 5, 10),
            "sha256:ab12cd34ef56: [===============>              ] 5 B/10 B");
}

TEST(Progress, PlainRendererPrintsDoneOnce) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  {
    ProgressRenderer r(f, false);
    r.Update("sha256:aa", 1, 2);
    r.Update("sha256:aa", 2, 2);
    r.Update("sha256:aa", 2, 2);
    r.Update("sha256:bb", 3, 3);
    r.Finish();
  }
  std::fclose(f);
  EXPECT_EQ(std::string(buf, len), "sha256:aa: done (2 B)\nsha256:bb: done (3 B)\n");
  free(buf);
}

}  // namespace
}  // namespace skiff::image
