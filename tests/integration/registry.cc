#include "registry.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>

#include "base/digest.h"
#include "image/auth.h"
#include "image/store.h"

namespace skiff::itest {

namespace {

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) < 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool MakeTestCerts(const std::string& dir, const std::vector<std::string>& dns_names,
                   TestCerts* out) {
  TestCerts c{.dir = dir,
              .ca = dir + "/ca.crt",
              .cert = dir + "/server.crt",
              .key = dir + "/server.key",
              .client_cert = dir + "/client.cert",
              .client_key = dir + "/client.key"};
  std::string san = "subjectAltName=IP:127.0.0.1";
  for (const auto& n : dns_names) san += ",DNS:" + n;
  WriteText(dir + "/server.ext", san + "\nextendedKeyUsage=serverAuth\n");
  WriteText(dir + "/client.ext", "extendedKeyUsage=clientAuth\n");
  const std::string ssl = "/usr/bin/openssl";
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                       "-nodes"};
  auto req = [&](std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.end(), ec.begin(), ec.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  std::vector<std::vector<std::string>> steps = {
      req({ssl, "req", "-x509"},
          {"-keyout", dir + "/ca.key", "-out", c.ca, "-days", "2", "-subj", "/CN=skiff test CA"}),
      req({ssl, "req"}, {"-keyout", c.key, "-out", dir + "/server.csr", "-subj", "/CN=127.0.0.1"}),
      {ssl, "x509", "-req", "-in", dir + "/server.csr", "-CA", c.ca, "-CAkey", dir + "/ca.key",
       "-CAcreateserial", "-days", "2", "-extfile", dir + "/server.ext", "-out", c.cert},
      req({ssl, "req"},
          {"-keyout", c.client_key, "-out", dir + "/client.csr", "-subj", "/CN=skiff test client"}),
      {ssl, "x509", "-req", "-in", dir + "/client.csr", "-CA", c.ca, "-CAkey", dir + "/ca.key",
       "-CAcreateserial", "-days", "2", "-extfile", dir + "/client.ext", "-out", c.client_cert},
  };
  for (const auto& argv : steps) {
    CmdResult r = RunCommand(argv, dir);
    if (r.code != 0) {
      ADD_FAILURE() << "openssl " << argv[1] << ": " << r.err;
      return false;
    }
  }
  *out = c;
  return true;
}

// --- LocalRegistry ---

void LocalRegistry::UseTls(const std::string& cert, const std::string& key,
                           const std::string& client_ca) {
  tls_cert_ = cert;
  tls_key_ = key;
  tls_client_ca_ = client_ca;
}

bool LocalRegistry::Start(const std::string& dir, const std::string& user,
                          const std::string& pass) {
  port_ = FreePort();
  storage_ = dir + "/storage";
  std::string auth;
  if (!user.empty()) {
    CmdResult h = RunCommand({"/usr/bin/htpasswd", "-Bbn", user, pass}, dir);
    if (h.code != 0) {
      ADD_FAILURE() << "htpasswd: " << h.err;
      return false;
    }
    WriteText(dir + "/htpasswd", h.out);
    auth = "auth:\n  htpasswd:\n    realm: skiff-test\n    path: " + dir + "/htpasswd\n";
  }
  std::string tls;
  if (!tls_cert_.empty()) {
    tls = "  tls:\n    certificate: " + tls_cert_ + "\n    key: " + tls_key_ + "\n";
    if (!tls_client_ca_.empty()) tls += "    clientcas:\n      - " + tls_client_ca_ + "\n";
  }
  std::string config =
      "version: 0.1\n"
      "log:\n  level: error\n  accesslog:\n    disabled: true\n"
      "storage:\n  filesystem:\n    rootdirectory: " +
      storage_ +
      "\n"
      "  delete:\n    enabled: true\n"
      "http:\n  addr: 127.0.0.1:" +
      std::to_string(port_) + "\n" + tls + auth;
  WriteText(dir + "/config.yml", config);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    int null = ::open("/dev/null", O_RDWR);
    int log = ::open((dir + "/registry.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(null, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execl("/usr/bin/docker-registry", "docker-registry", "serve", (dir + "/config.yml").c_str(),
            nullptr);
    _exit(127);
  }
  // Up when /v2/ answers anything (401 with auth; over TLS, Go's "400 Bad Request" to a
  // plain-HTTP request).
  for (int i = 0; i < 200; ++i) {
    int fd = ConnectLoopback(port_);
    if (fd >= 0) {
      std::string req = "GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
      char buf[64] = "";
      bool ok = WriteAll(fd, req.data(), req.size()) && ::recv(fd, buf, sizeof buf - 1, 0) > 0 &&
                std::strncmp(buf, "HTTP/1.", 7) == 0;
      ::close(fd);
      if (ok) return true;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ADD_FAILURE() << "docker-registry exited: " << ReadText(dir + "/registry.log");
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "docker-registry did not answer on " << host() << ": "
                << ReadText(dir + "/registry.log");
  return false;
}

void LocalRegistry::Stop() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string LocalRegistry::BlobFile(const std::string& digest) const {
  std::string hex = digest.substr(7);
  return storage_ + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
}

// --- FaultProxy ---

bool FaultProxy::Start(int target_port) {
  target_ = target_port;
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
      ::listen(listen_fd_, 64) < 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) < 0) {
    ADD_FAILURE() << "proxy: " << strerror(errno);
    return false;
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return true;
}

void FaultProxy::Stop() {
  if (listen_fd_ < 0) return;
  stop_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : conns_) t.join();
  conns_.clear();
  ::close(listen_fd_);
  listen_fd_ = -1;
}

void FaultProxy::Arm(Fault f, size_t after, const std::string& match) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    match_ = match;
  }
  after_ = after;
  fired_ = false;
  fault_ = static_cast<int>(f);
}

void FaultProxy::RequireBearer(const std::string& user, const std::string& pass) {
  bearer_cred_ = image::Base64Encode(user + ":" + pass);
}

std::string FaultProxy::BearerGate(const std::string& request) {
  auto reply = [](const std::string& status, const std::string& headers, const std::string& body) {
    return "HTTP/1.1 " + status + "\r\n" + headers +
           "Content-Length: " + std::to_string(body.size()) +
           "\r\nContent-Type: application/json\r\n\r\n" + body;
  };
  if (request.rfind("GET /token", 0) == 0) {
    if (request.find("Authorization: Basic " + bearer_cred_ + "\r\n") == std::string::npos) {
      return reply("401 Unauthorized", "", R"({"details":"bad credentials"})");
    }
    if (request.find("scope=repository%3Ax%3Apull") == std::string::npos) {
      return reply("403 Forbidden", "", R"({"details":"bad scope"})");
    }
    return reply("200 OK", "", R"({"token":"tok-good","expires_in":300})");
  }
  if (request.find("Authorization: Bearer tok-good\r\n") != std::string::npos) return "";
  return reply("401 Unauthorized",
               "WWW-Authenticate: Bearer realm=\"http://" + host() +
                   "/token\",service=\"skiff-test\",scope=\"repository:x:pull\"\r\n",
               R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})");
}

int FaultProxy::Count(const std::string& kind) {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(std::count(seen_.begin(), seen_.end(), kind));
}

void FaultProxy::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    conns_.emplace_back([this, c] { Serve(c); });
  }
}

void FaultProxy::Serve(int client) {
  int up = ConnectLoopback(target_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.push_back(client);
    if (up >= 0) open_fds_.push_back(up);
  }
  Fault mine = Fault::kNone;  // the fault this connection's current response carries
  size_t resp_bytes = 0;
  char buf[16384];
  while (up >= 0 && !stop_) {
    pollfd p[2] = {{client, POLLIN, 0}, {up, POLLIN, 0}};
    if (::poll(p, 2, 100) <= 0) continue;
    if (p[0].revents) {
      ssize_t n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0) break;
      std::string chunk(buf, static_cast<size_t>(n));
      // Request lines: at the chunk's start or after a CRLF (curl never pipelines).
      bool blob_get = false, saw_request = false;
      for (const char* m : {"GET ", "HEAD ", "POST ", "PUT ", "PATCH ", "DELETE "}) {
        for (size_t at = 0; (at = chunk.find(m, at)) != std::string::npos; at += 1) {
          if (at != 0 && chunk.compare(at - 2, 2, "\r\n") != 0) continue;
          size_t sp = chunk.find(' ', at + std::strlen(m));
          std::string path = chunk.substr(at + std::strlen(m), sp - at - std::strlen(m));
          std::string meth(m, std::strlen(m) - 1);
          std::string kind = path.rfind("/token", 0) == 0                       ? "token"
                             : path.find("/blobs/uploads") != std::string::npos ? "upload"
                             : path.find("/blobs/") != std::string::npos        ? "blob"
                             : path.find("/manifests/") != std::string::npos    ? "manifest"
                                                                                : "other";
          std::lock_guard<std::mutex> lock(mu_);
          seen_.push_back(meth + " " + kind);
          saw_request = true;
          blob_get = meth == "GET" && kind == "blob" &&
                     (match_.empty() || path.find(match_) != std::string::npos);
        }
      }
      if (saw_request && !bearer_cred_.empty()) {
        std::string answer = BearerGate(chunk);
        if (!answer.empty()) {
          if (!WriteAll(client, answer.data(), answer.size())) break;
          continue;  // answered here: the token server, or a 401 for want of a token
        }
      }
      if (saw_request) {
        resp_bytes = 0;
        mine = Fault::kNone;
        if (blob_get && fault_ != 0) {
          Fault f = static_cast<Fault>(fault_.exchange(0));
          fired_ = true;
          if (f == Fault::k503) {
            const char* r = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
            if (!WriteAll(client, r, std::strlen(r))) break;
            continue;  // the request never reaches the registry
          }
          mine = f;
        }
      }
      if (!WriteAll(up, buf, static_cast<size_t>(n))) break;
    }
    if (p[1].revents) {
      ssize_t n = ::recv(up, buf, sizeof buf, 0);
      if (n <= 0) break;
      size_t len = static_cast<size_t>(n);
      if (mine != Fault::kNone && resp_bytes + len > after_) {
        size_t part = after_ - resp_bytes;
        WriteAll(client, buf, part);
        if (mine == Fault::kStall) {
          // Forward nothing more; wait for the client to give up (its low-speed limit).
          while (!stop_) {
            pollfd c{client, POLLIN, 0};
            if (::poll(&c, 1, 100) > 0 && ::recv(client, buf, sizeof buf, 0) <= 0) break;
          }
        }
        break;  // kDrop: close both sides mid-body
      }
      resp_bytes += len;
      if (!WriteAll(client, buf, len)) break;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : {client, up}) {
    if (fd < 0) continue;
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    ::close(fd);
  }
}

// --- RegistryTest ---

void RegistryTest::SetUp() {
  char tmpl[] = "/tmp/skiff-reg-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  work_ = tmpl;
}

void RegistryTest::TearDown() {
  for (auto& p : proxies_) p->Stop();
  for (auto& r : registries_) r->Stop();
  proxies_.clear();
  registries_.clear();
  ::unsetenv("DOCKER_CONFIG");
  RemoveTree(work_);
}

std::string RegistryTest::TempDir(const std::string& name) {
  std::string d = work_ + "/" + name + "-" + std::to_string(seq_++);
  ::mkdir(d.c_str(), 0755);
  return d;
}

LocalRegistry* RegistryTest::StartRegistry(const std::string& user, const std::string& pass) {
  registries_.push_back(std::make_unique<LocalRegistry>());
  if (!registries_.back()->Start(TempDir("registry"), user, pass)) return nullptr;
  return registries_.back().get();
}

LocalRegistry* RegistryTest::StartTlsRegistry(const TestCerts& certs, const std::string& user,
                                              const std::string& pass, bool client_auth) {
  registries_.push_back(std::make_unique<LocalRegistry>());
  registries_.back()->UseTls(certs.cert, certs.key, client_auth ? certs.ca : "");
  if (!registries_.back()->Start(TempDir("registry"), user, pass)) return nullptr;
  return registries_.back().get();
}

FaultProxy* RegistryTest::StartProxy(int target_port) {
  proxies_.push_back(std::make_unique<FaultProxy>());
  if (!proxies_.back()->Start(target_port)) return nullptr;
  return proxies_.back().get();
}

TestLayer RegistryTest::MakeLayer(const std::string& compression, size_t extra_bytes) {
  std::string dir = TempDir("layer");
  std::string root = dir + "/root";
  ::mkdir(root.c_str(), 0755);
  ::mkdir((root + "/bin").c_str(), 0755);
  TestLayer l;
  if (!CopyFile("/bin/busybox", root + "/bin/busybox", 0755)) {
    ADD_FAILURE() << "copy /bin/busybox";
    return l;
  }
  if (extra_bytes > 0) {
    std::mt19937_64 rng(seq_);
    std::string data(extra_bytes, '\0');
    for (size_t i = 0; i + 8 <= data.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(&data[i], &v, 8);
    }
    WriteText(root + "/random.bin", data);
  }
  CmdResult t = RunCommand({"/usr/bin/tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0",
                            "-cf", dir + "/layer.tar", "-C", root, "."},
                           dir);
  if (t.code != 0) {
    ADD_FAILURE() << "tar: " << t.err;
    return l;
  }
  l.diff_id = Sha256Digest(ReadText(dir + "/layer.tar"));
  std::string media;
  if (compression == "gzip") {
    CmdResult z = RunCommand({"/usr/bin/gzip", "-n", "-1", dir + "/layer.tar"}, dir);
    EXPECT_EQ(z.code, 0) << z.err;
    l.path = dir + "/layer.tar.gz";
    media = oci::kMediaOciLayerGzip;
  } else if (compression == "zstd") {
    CmdResult z = RunCommand({"/usr/bin/zstd", "-q", "--rm", dir + "/layer.tar"}, dir);
    EXPECT_EQ(z.code, 0) << z.err;
    l.path = dir + "/layer.tar.zst";
    media = oci::kMediaOciLayerZstd;
  } else {
    l.path = dir + "/layer.tar";
    media = oci::kMediaOciLayer;
  }
  std::string bytes = ReadText(l.path);
  l.desc = oci::Descriptor{.media_type = media,
                           .digest = Sha256Digest(bytes),
                           .size = static_cast<int64_t>(bytes.size())};
  return l;
}

oci::Descriptor RegistryTest::MakeImage(const std::string& dir, const std::string& tag,
                                        const std::vector<TestLayer>& layers,
                                        const std::string& arch) {
  auto store = image::Store::Open(dir);
  if (!store) {
    ADD_FAILURE() << store.error().Message();
    return {};
  }
  oci::ImageConfig cfg{.architecture = arch, .os = "linux"};
  cfg.config.cmd = {"/bin/busybox", "echo", arch};
  oci::Manifest m{.media_type = oci::kMediaOciManifest};
  for (const auto& l : layers) {
    cfg.diff_ids.push_back(l.diff_id);
    m.layers.push_back(l.desc);
    auto put = store->PutBlob(ReadText(l.path), l.desc.digest);
    EXPECT_TRUE(put.ok()) << put.error().Message();
  }
  std::string cfg_json = oci::ImageConfigJson(cfg);
  m.config = oci::Descriptor{.media_type = oci::kMediaOciConfig,
                             .digest = Sha256Digest(cfg_json),
                             .size = static_cast<int64_t>(cfg_json.size())};
  EXPECT_TRUE(store->PutBlob(cfg_json).ok());
  std::string man = oci::ManifestJson(m);
  oci::Descriptor d{.media_type = oci::kMediaOciManifest,
                    .digest = Sha256Digest(man),
                    .size = static_cast<int64_t>(man.size())};
  EXPECT_TRUE(store->PutBlob(man).ok());
  if (!tag.empty()) {
    EXPECT_TRUE(store->SetRef(tag, d).ok());
  }
  return d;
}

CmdResult RegistryTest::Skopeo(const std::vector<std::string>& args, int timeout_ms) {
  std::vector<std::string> argv = {"/usr/bin/skopeo", "--insecure-policy"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, work_, CmdOptions{.timeout_ms = timeout_ms});
}

std::vector<std::string> RegistryTest::StoreFiles(const std::string& store_dir) {
  std::vector<std::string> out;
  std::string d = store_dir + "/blobs/sha256";
  DIR* dp = ::opendir(d.c_str());
  while (dp) {
    dirent* e = ::readdir(dp);
    if (!e) break;
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) out.push_back(e->d_name);
  }
  if (dp) ::closedir(dp);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace skiff::itest
