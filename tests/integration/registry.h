// The registry tests' fixture: Debian's docker-registry (distribution 2.8) on 127.0.0.1 with
// a free port and its own config and storage, optionally behind htpasswd Basic auth; a TCP
// proxy thread in front of it that can drop, stall or fail a blob download once; images
// built in the test (a busybox layer, gzip or zstd) in an OCI layout and seeded with skopeo.
// TearDown kills every registry and proxy and removes every temp dir, whatever happened.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bundle.h"
#include "oci/image_spec.h"

namespace skiff::itest {

// A free TCP port on 127.0.0.1 (bound to port 0 and released: racy, good enough here).
int FreePort();

// A test CA and a server certificate it signed, for IP 127.0.0.1 and the DNS names given,
// made with the openssl command in dir: ca.crt (the CA, PEM), server.crt and server.key;
// also a client certificate the CA signed (client.cert, client.key). Valid for two days.
struct TestCerts {
  std::string dir, ca, cert, key, client_cert, client_key;
};
// False (test failed) when openssl fails.
bool MakeTestCerts(const std::string& dir, const std::vector<std::string>& dns_names,
                   TestCerts* out);

class LocalRegistry {
 public:
  LocalRegistry() = default;
  ~LocalRegistry() { Stop(); }
  LocalRegistry(const LocalRegistry&) = delete;
  LocalRegistry& operator=(const LocalRegistry&) = delete;

  // Starts it with storage and config under dir and waits until /v2/ answers. user and
  // password non-empty: htpasswd Basic auth. False (test failed) when it does not come up.
  bool Start(const std::string& dir, const std::string& user = "", const std::string& pass = "");
  // Before Start: serve HTTPS only (http.tls in the config), with this certificate and key;
  // client_ca non-empty: also require a client certificate that CA signed.
  void UseTls(const std::string& cert, const std::string& key, const std::string& client_ca = "");
  void Stop();  // SIGKILL and reap; safe to call twice

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  // The file docker-registry keeps a blob's bytes in.
  std::string BlobFile(const std::string& digest) const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string storage_;
  std::string tls_cert_, tls_key_, tls_client_ca_;
};

// Forwards 127.0.0.1:port() to a target port, one thread per connection. Faults fire once,
// on the response to a GET of a blob (/v2/.../blobs/sha256:...), then disarm.
class FaultProxy {
 public:
  enum class Fault { kNone, kDrop, kStall, k503 };
  FaultProxy() = default;
  ~FaultProxy() { Stop(); }

  bool Start(int target_port);
  void Stop();
  // kDrop: close both sides after `after` bytes of the response; kStall: stop forwarding
  // after `after` bytes until the client gives up; k503: answer 503 instead of forwarding.
  // match, when given, limits the fault to a blob whose path contains it (a digest).
  void Arm(Fault f, size_t after = 0, const std::string& match = "");
  // From now on answer as a registry with token auth (distribution's token spec): requests
  // without "Bearer tok-good" get a 401 with a Bearer challenge whose realm is this proxy's
  // /token, which hands out tok-good for Basic user:pass and the scope repository:x:pull.
  void RequireBearer(const std::string& user, const std::string& pass);
  bool fired() const { return fired_; }
  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  // Requests seen, by kind: "HEAD blob", "GET blob", "POST upload", "PUT upload", ...
  int Count(const std::string& kind);

 private:
  void AcceptLoop();
  void Serve(int client);
  // The answer to a request in Bearer mode, "" to forward it.
  std::string BearerGate(const std::string& request);

  int listen_fd_ = -1, port_ = 0, target_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> fault_{0};
  std::atomic<size_t> after_{0};
  std::atomic<bool> fired_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
  std::vector<int> open_fds_;
  std::vector<std::string> seen_;
  std::string match_;        // under mu_
  std::string bearer_cred_;  // base64(user:pass); set before the pull starts
};

struct TestLayer {
  std::string path;  // the compressed file
  oci::Descriptor desc;
  std::string diff_id;
};

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A running registry (a second one with auth when user is given); fails the test if not.
  LocalRegistry* StartRegistry(const std::string& user = "", const std::string& pass = "");
  // The same over HTTPS only, with certs' server certificate (see LocalRegistry::UseTls).
  LocalRegistry* StartTlsRegistry(const TestCerts& certs, const std::string& user = "",
                                  const std::string& pass = "", bool client_auth = false);
  FaultProxy* StartProxy(int target_port);
  // A layer holding bin/busybox (and, with extra_bytes, a file of that many random bytes),
  // compressed with "gzip", "zstd" or "none".
  TestLayer MakeLayer(const std::string& compression, size_t extra_bytes = 0);
  // An image of layers in the OCI layout at dir, under ref name `tag`; returns the manifest's
  // descriptor.
  oci::Descriptor MakeImage(const std::string& dir, const std::string& tag,
                            const std::vector<TestLayer>& layers,
                            const std::string& arch = "amd64");
  // skopeo args... (with --insecure-policy); the result, its stderr in the failure message.
  CmdResult Skopeo(const std::vector<std::string>& args, int timeout_ms = 60000);
  // Blob files and temp files in a store: what a failed pull may leave.
  std::vector<std::string> StoreFiles(const std::string& store_dir);
  std::string TempDir(const std::string& name);

  std::string work_;

 private:
  std::vector<std::unique_ptr<LocalRegistry>> registries_;
  std::vector<std::unique_ptr<FaultProxy>> proxies_;
  int seq_ = 0;
};

}  // namespace skiff::itest
