// HTTPS registries through the skiff CLI: Debian's docker-registry serving TLS with a
// certificate from a CA the test makes. The registry is reached by a name that is not
// insecure by default, skiff-tls.localhost (libcurl resolves *.localhost to 127.0.0.1 itself;
// skiff treats only the literal loopback addresses and "localhost" as insecure), so the
// certificate really is verified: untrusted, the pull fails; with the CA in --cert-dir or
// a certs.d directory it works; --tls-verify=false skips the check. 127.0.0.1 is insecure
// as in Docker: HTTPS without verification first, plain HTTP only when HTTPS fails; so is
// the name once skiff's config file lists it in insecure-registries.
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
    // Not the host's logins, nor its /etc/skiff/config.json.
    ::setenv("DOCKER_CONFIG", (work_ + "/nodocker").c_str(), 1);
    config_ = work_ + "/config.json";
    ASSERT_TRUE(WriteText(config_, "{}"));
    ::setenv("SKIFF_CONFIG", config_.c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("SKIFF_CONFIG");
    RegistryTest::TearDown();
  }

  CmdResult Skiff(std::vector<std::string> args) {
    args.insert(args.begin(), {SKIFF_BIN, "--root", root_});
    return RunCommand(args, work_, CmdOptions{.timeout_ms = 60000});
  }
  // A TLS registry holding a busybox image at x:1.
  LocalRegistry* SeededTlsRegistry(const std::string& user = "", const std::string& pass = "") {
    return Seeded(StartTlsRegistry(certs_, user, pass), "x:1", user, pass);
  }
  // A plain-HTTP registry holding it at y:1.
  LocalRegistry* SeededPlainRegistry() { return Seeded(StartRegistry(), "y:1"); }
  LocalRegistry* Seeded(LocalRegistry* reg, const std::string& ref, const std::string& user = "",
                        const std::string& pass = "") {
    if (!reg) return nullptr;
    std::string src = TempDir("src");
    MakeImage(src, "1", {MakeLayer("gzip")});
    std::vector<std::string> args = {"copy", "--dest-tls-verify=false"};
    if (!user.empty()) args.push_back("--dest-creds=" + user + ":" + pass);
    args.push_back("oci:" + src + ":1");
    args.push_back("docker://" + reg->host() + "/" + ref);
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
  std::string root_, ca_dir_, config_;
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
  LocalRegistry* plain = SeededPlainRegistry();
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(Skiff({"pull", plain->host() + "/y:1"}).code, 0);
  std::string named = Named(plain) + "/y:1";
  CmdResult no_fallback = Skiff({"pull", named});
  ExpectOneLineError(no_fallback, "skiff: pull " + named + ": ",
                     {"registry " + Named(plain), "https://" + Named(plain) + "/v2/"});
  CmdResult allowed = Skiff({"pull", "--tls-verify=false", named});
  EXPECT_EQ(allowed.code, 0) << allowed.err;
}

// Docker's insecure-registries, in skiff's config file ($SKIFF_CONFIG here): a plain-HTTP
// registry reached by a name that is not insecure is pulled over HTTP once the file lists
// it (host:port, or the host for any port), and an HTTPS one by that name is then not
// verified. --insecure-registry does the same for one command. A broken file is one error
// line naming it, and only for commands that contact a registry.
TEST_F(TlsTest, InsecureRegistriesFromTheConfigFile) {
  LocalRegistry* plain = SeededPlainRegistry();
  ASSERT_NE(plain, nullptr);
  std::string named = Named(plain) + "/y:1";
  std::string what = "skiff: pull " + named + ": ";

  // Listed for another port, or only as an address range (names are not resolved): HTTPS
  // only, which a plain-HTTP registry does not speak.
  ASSERT_TRUE(WriteText(config_, R"({"insecure-registries": [")" + std::string(kName) +
                                     R"(:1", "127.0.0.0/8"]})"));
  ExpectOneLineError(Skiff({"pull", named}), what,
                     {"registry " + Named(plain), "https://" + Named(plain) + "/v2/"});
  EXPECT_TRUE(Images().empty());

  ASSERT_TRUE(WriteText(config_, R"({"insecure-registries": [")" + Named(plain) + R"("]})"));
  CmdResult listed = Skiff({"pull", named});
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_EQ(Images().size(), 1u);
  ASSERT_EQ(Skiff({"rmi", named}).code, 0);

  ASSERT_TRUE(WriteText(config_, "{}"));
  CmdResult flag = Skiff({"pull", "--insecure-registry", Named(plain), named});
  ASSERT_EQ(flag.code, 0) << flag.err;
  ASSERT_EQ(Skiff({"rmi", named}).code, 0);
  ExpectOneLineError(Skiff({"pull", "--insecure-registry", "reg:99999", named}), what,
                     {"--insecure-registry", "\"reg:99999\": invalid port"});

  // The host without a port: any port; an HTTPS registry's untrusted certificate is accepted.
  ASSERT_TRUE(WriteText(config_, R"({"insecure-registries": [")" + std::string(kName) + R"("]})"));
  LocalRegistry* tls = SeededTlsRegistry();
  ASSERT_NE(tls, nullptr);
  CmdResult unverified = Skiff({"pull", Named(tls) + "/x:1"});
  ASSERT_EQ(unverified.code, 0) << unverified.err;

  // Broken files: one line naming the file, exit 125, for pull, push and login; commands that
  // contact no registry do not read it.
  ASSERT_TRUE(WriteText(config_, R"({"insecure-registries": [)"));
  ExpectOneLineError(Skiff({"pull", named}), what, {config_ + ": invalid JSON: "});
  ASSERT_TRUE(WriteText(config_, R"({"insecure-registries": "reg.lan"})"));
  ExpectOneLineError(Skiff({"push", Named(tls) + "/x:1"}), "skiff: push " + Named(tls) + "/x:1: ",
                     {config_ + ": insecure-registries: expected an array of strings, not string"});
  ASSERT_TRUE(WriteText(config_, R"({"insecure-registries": ["10.0.0.0/33"]})"));
  ExpectOneLineError(Skiff({"login", "-u", "u", "-p", "p", Named(tls)}),
                     "skiff: login " + Named(tls) + ": ",
                     {config_ + ": insecure-registries: \"10.0.0.0/33\": invalid CIDR"});
  CmdResult images = Skiff({"images"});
  EXPECT_EQ(images.code, 0) << images.err;
  CmdResult ps = Skiff({"ps", "-a"});
  EXPECT_EQ(ps.code, 0) << ps.err;
  // A file named by $SKIFF_CONFIG must be there.
  ::setenv("SKIFF_CONFIG", (work_ + "/none.json").c_str(), 1);
  ExpectOneLineError(Skiff({"pull", named}), what,
                     {"open " + work_ + "/none.json", "No such file or directory"});
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
