// HTTPS registries through the skiff CLI: Debian's docker-registry serving TLS with a
// certificate from a CA the test makes. The registry is reached by a name that is not
// insecure by default, skiff-tls.localhost (libcurl resolves *.localhost to 127.0.0.1 itself;
// skiff treats only the literal loopback addresses and "localhost" as insecure), so the
// certificate really is verified: untrusted, the pull fails; with the CA in --cert-dir or
// a certs.d directory it works; --tls-verify=false skips the check. 127.0.0.1 is insecure
// as in Docker: HTTPS without verification first, plain HTTP only when HTTPS fails.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "registry.h"

namespace skiff::itest {
namespace {

constexpr const char* kName = "skiff-tls.localhost";

// Makes the missing directories of path, and removes them (with what they hold) when it
// goes: a certs.d entry for one test, leaving /etc as it was.
class DirsGuard {
 public:
  explicit DirsGuard(const std::string& path) {
    for (size_t i = 1; i <= path.size(); ++i) {
      if (i < path.size() && path[i] != '/') continue;
      std::string p = path.substr(0, i);
      if (::mkdir(p.c_str(), 0755) == 0) made_.push_back(p);
    }
  }
  ~DirsGuard() {
    if (!made_.empty()) RemoveTree(made_.front());
  }

 private:
  std::vector<std::string> made_;  // outermost first
};

class TlsTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    ASSERT_TRUE(MakeTestCerts(TempDir("certs"), {kName}, &certs_));
    root_ = TempDir("root");
    ca_dir_ = TempDir("cadir");
    ASSERT_TRUE(CopyFile(certs_.ca, ca_dir_ + "/ca.crt", 0644));
    // Not the host's logins.
    ::setenv("DOCKER_CONFIG", (work_ + "/nodocker").c_str(), 1);
  }

  CmdResult Skiff(std::vector<std::string> args) {
    args.insert(args.begin(), {SKIFF_BIN, "--root", root_});
    return RunCommand(args, work_, CmdOptions{.timeout_ms = 60000});
  }
  // A TLS registry holding a busybox image at x:1.
  LocalRegistry* SeededTlsRegistry(const std::string& user = "", const std::string& pass = "") {
    LocalRegistry* reg = StartTlsRegistry(certs_, user, pass);
    if (!reg) return nullptr;
    std::string src = TempDir("src");
    MakeImage(src, "1", {MakeLayer("gzip")});
    std::vector<std::string> args = {"copy", "--dest-tls-verify=false"};
    if (!user.empty()) args.push_back("--dest-creds=" + user + ":" + pass);
    args.push_back("oci:" + src + ":1");
    args.push_back("docker://" + reg->host() + "/x:1");
    CmdResult r = Skopeo(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? reg : nullptr;
  }
  std::string Named(const LocalRegistry* reg) {
    return std::string(kName) + ":" + std::to_string(reg->port());
  }
  // The one line a failed command writes, checked for what it must name.
  void ExpectOneLineError(const CmdResult& r, const std::string& prefix,
                          const std::vector<std::string>& words) {
    EXPECT_EQ(r.code, 125) << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind(prefix, 0), 0u) << r.err;
    for (const auto& w : words) EXPECT_NE(r.err.find(w), std::string::npos) << w << ": " << r.err;
  }
  std::vector<std::string> Images() { return Lines(Skiff({"images", "-q"}).out); }

  TestCerts certs_;
  std::string root_, ca_dir_;
};

TEST_F(TlsTest, PullVerifiesTheCertificate) {
  LocalRegistry* reg = SeededTlsRegistry();
  ASSERT_NE(reg, nullptr);
  std::string ref = Named(reg) + "/x:1";

  CmdResult untrusted = Skiff({"pull", ref});
  ExpectOneLineError(untrusted, "skiff: pull " + ref + ": ",
                     {"registry " + Named(reg), "https://" + Named(reg) + "/v2/",
                      "SSL certificate problem: unable to get local issuer certificate",
                      "/etc/docker/certs.d/" + Named(reg)});
  EXPECT_EQ(StoreFiles(root_ + "/oci"), std::vector<std::string>{});
  EXPECT_TRUE(Images().empty());

  // A CA that did not sign it is no better.
  TestCerts other;
  ASSERT_TRUE(MakeTestCerts(TempDir("other"), {kName}, &other));
  std::string other_dir = TempDir("othercadir");
  ASSERT_TRUE(CopyFile(other.ca, other_dir + "/ca.crt", 0644));
  CmdResult wrong_ca = Skiff({"pull", "--cert-dir", other_dir, ref});
  ExpectOneLineError(wrong_ca, "skiff: pull " + ref + ": ",
                     {"SSL certificate problem", other_dir + "/*.crt"});
  EXPECT_EQ(StoreFiles(root_ + "/oci"), std::vector<std::string>{});

  CmdResult trusted = Skiff({"pull", "--cert-dir", ca_dir_, ref});
  ASSERT_EQ(trusted.code, 0) << trusted.err;
  EXPECT_NE(trusted.out.find(ref), std::string::npos) << trusted.out;
  EXPECT_EQ(Images().size(), 1u);

  ASSERT_EQ(Skiff({"rmi", ref}).code, 0);
  CmdResult unverified = Skiff({"pull", "--tls-verify=false", ref});
  ASSERT_EQ(unverified.code, 0) << unverified.err;
  EXPECT_EQ(Images().size(), 1u);
}

TEST_F(TlsTest, CertsDDirectoriesOfDockerAndPodman) {
  LocalRegistry* reg = SeededTlsRegistry();
  ASSERT_NE(reg, nullptr);
  std::string ref = Named(reg) + "/x:1";
  {
    std::string dir = "/etc/docker/certs.d/" + Named(reg);
    DirsGuard guard(dir);
    ASSERT_TRUE(CopyFile(certs_.ca, dir + "/ca.crt", 0644));
    CmdResult r = Skiff({"pull", ref});
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_EQ(Skiff({"rmi", ref}).code, 0);
    // --cert-dir replaces the certs.d directories, as in podman.
    CmdResult elsewhere = Skiff({"pull", "--cert-dir", TempDir("empty"), ref});
    EXPECT_EQ(elsewhere.code, 125) << elsewhere.err;
  }
  {
    std::string dir = "/etc/containers/certs.d/" + Named(reg);
    DirsGuard guard(dir);
    ASSERT_TRUE(CopyFile(certs_.ca, dir + "/test-ca.crt", 0644));
    CmdResult r = Skiff({"pull", ref});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  EXPECT_FALSE(Exists("/etc/containers/certs.d/" + Named(reg)));
  EXPECT_FALSE(Exists("/etc/docker/certs.d/" + Named(reg)));
}

TEST_F(TlsTest, LoopbackAddressIsInsecureHttpsFirst) {
  // 127.0.0.1 is insecure by default: the untrusted certificate is accepted. The registry
  // speaks only HTTPS, so this pull went over HTTPS, not the plain-HTTP fallback.
  LocalRegistry* reg = SeededTlsRegistry();
  ASSERT_NE(reg, nullptr);
  CmdResult r = Skiff({"pull", reg->host() + "/x:1"});
  ASSERT_EQ(r.code, 0) << r.err;

  // A plain-HTTP registry: by address, HTTPS fails its handshake and HTTP is tried; by a
  // name that is not insecure, there is no fallback to HTTP unless --tls-verify=false.
  LocalRegistry* plain = StartRegistry();
  ASSERT_NE(plain, nullptr);
  std::string src = TempDir("src");
  MakeImage(src, "1", {MakeLayer("gzip")});
  CmdResult seed = Skopeo({"copy", "--dest-tls-verify=false", "oci:" + src + ":1",
                           "docker://" + plain->host() + "/y:1"});
  ASSERT_EQ(seed.code, 0) << seed.err;
  EXPECT_EQ(Skiff({"pull", plain->host() + "/y:1"}).code, 0);
  std::string named = Named(plain) + "/y:1";
  CmdResult no_fallback = Skiff({"pull", named});
  ExpectOneLineError(no_fallback, "skiff: pull " + named + ": ",
                     {"registry " + Named(plain), "https://" + Named(plain) + "/v2/"});
  CmdResult allowed = Skiff({"pull", "--tls-verify=false", named});
  EXPECT_EQ(allowed.code, 0) << allowed.err;
}

TEST_F(TlsTest, PushVerifiesTheCertificate) {
  LocalRegistry* reg = StartTlsRegistry(certs_);
  ASSERT_NE(reg, nullptr);
  std::string ref = Named(reg) + "/pushed:1";
  MakeImage(root_ + "/oci", ref, {MakeLayer("gzip")});

  CmdResult untrusted = Skiff({"push", ref});
  ExpectOneLineError(untrusted, "skiff: push " + ref + ": ",
                     {"registry " + Named(reg), "SSL certificate problem"});
  // Nothing reached the registry.
  CmdResult gone =
      Skopeo({"inspect", "--tls-verify=false", "docker://" + reg->host() + "/pushed:1"});
  EXPECT_NE(gone.code, 0);

  CmdResult trusted = Skiff({"push", "--cert-dir", ca_dir_, ref});
  ASSERT_EQ(trusted.code, 0) << trusted.err;
  // skopeo (Go) does not resolve *.localhost: by address, verified against the IP SAN.
  CmdResult seen =
      Skopeo({"inspect", "--cert-dir", ca_dir_, "docker://" + reg->host() + "/pushed:1"});
  EXPECT_EQ(seen.code, 0) << seen.err;

  std::string ref2 = Named(reg) + "/pushed:2";
  CmdResult unverified = Skiff({"push", "--tls-verify=false", ref, ref2});
  ASSERT_EQ(unverified.code, 0) << unverified.err;
  EXPECT_EQ(
      Skopeo({"inspect", "--cert-dir", ca_dir_, "docker://" + reg->host() + "/pushed:2"}).code, 0);
}

TEST_F(TlsTest, LoginToTlsRegistryWithHtpasswd) {
  LocalRegistry* reg = SeededTlsRegistry("user", "secret");
  ASSERT_NE(reg, nullptr);
  std::string host = Named(reg);

  CmdResult untrusted = Skiff({"login", "-u", "user", "-p", "secret", host});
  ExpectOneLineError(untrusted, "skiff: login " + host + ": ", {"SSL certificate problem"});
  EXPECT_FALSE(Exists(root_ + "/auth.json"));

  CmdResult bad = Skiff({"login", "--cert-dir", ca_dir_, "-u", "user", "-p", "wrong", host});
  EXPECT_EQ(bad.code, 125);
  EXPECT_EQ(bad.err.find("certificate"), std::string::npos) << bad.err;
  EXPECT_FALSE(Exists(root_ + "/auth.json"));

  CmdResult good = Skiff({"login", "--cert-dir", ca_dir_, "-u", "user", "-p", "secret", host});
  ASSERT_EQ(good.code, 0) << good.err;
  EXPECT_EQ(good.out, "Login Succeeded\n");
  CmdResult pull = Skiff({"pull", "--cert-dir", ca_dir_, host + "/x:1"});
  EXPECT_EQ(pull.code, 0) << pull.err;
}

TEST_F(TlsTest, ClientCertificateFromTheCertDir) {
  LocalRegistry* reg = StartTlsRegistry(certs_, "", "", /*client_auth=*/true);
  ASSERT_NE(reg, nullptr);
  std::string ref = Named(reg) + "/x:1";
  CmdResult without = Skiff({"pull", "--cert-dir", ca_dir_, ref});
  ExpectOneLineError(without, "skiff: pull " + ref + ": ", {"registry " + Named(reg)});

  ASSERT_TRUE(CopyFile(certs_.client_cert, ca_dir_ + "/client.cert", 0644));
  // A certificate without its key is refused before any request, as in Docker.
  CmdResult no_key = Skiff({"pull", "--cert-dir", ca_dir_, ref});
  ExpectOneLineError(no_key, "skiff: pull " + ref + ": ", {"client.cert", "client.key"});
  ASSERT_TRUE(CopyFile(certs_.client_key, ca_dir_ + "/client.key", 0600));
  // The registry is empty: "not found" says the TLS handshake, client certificate
  // included, went through.
  CmdResult with = Skiff({"pull", "--cert-dir", ca_dir_, ref});
  ExpectOneLineError(with, "skiff: pull " + ref + ": ", {"not found"});
}

}  // namespace
}  // namespace skiff::itest
