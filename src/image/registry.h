// The registry client (distribution spec v2) for one repository: manifests and blobs down,
// blobs and manifests up. Every blob is verified by digest while it streams; a connection
// dropped or stalled mid-blob is resumed with a Range request from the bytes already
// written; 5xx and 429 are retried with exponential backoff; a refused credential fails at
// once. Thread-safe: Pull fetches several blobs of one Registry in parallel.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "image/auth.h"
#include "image/http.h"
#include "image/store.h"

namespace skiff::image {

struct RegistryOptions {
  // False: every registry is insecure (--tls-verify=false).
  bool tls_verify = true;
  // Registries treated as insecure: "host", "host:port" or a CIDR, as CheckInsecureRegistry
  // (image/registry_config.h) returns them. 127.0.0.0/8, ::1 and localhost always are, as in
  // Docker: HTTPS is tried first without verification, and plain HTTP only when
  // HTTPS can't connect or its handshake fails. Names are not resolved for this (Docker
  // resolves them, so that a DNS answer of 127.0.0.1 turns verification off; skiff does not
  // let DNS decide that): only the literal addresses and "localhost" are insecure.
  std::vector<std::string> insecure_registries;
  // Also the insecure-registries of the config file (FindConfigFile), read by Open, so only
  // when a registry is contacted; what the CLI sets. Off, only the list above counts.
  bool read_config = false;
  // The directory of the registry's CA certificates (*.crt) and client certificate (*.cert,
  // *.key), instead of /etc/containers/certs.d/HOST and /etc/docker/certs.d/HOST (see
  // image/certs.h). Its CAs are trusted besides the system's.
  std::string cert_dir;
  // Where credentials come from: `credential` when set, else the files (AuthFiles(skiff_root)
  // when `auth_files` is empty).
  std::optional<Credential> credential;
  std::string skiff_root;
  std::vector<std::string> auth_files;
  http::Options http;
  int max_tries = 4;       // per request, for 5xx, 429 and connections that fail
  int backoff_ms = 250;    // the first retry's delay; doubles each time (at most 8 s)
  int64_t chunk_size = 0;  // > 0: upload blobs in PATCH chunks of this size
};

// Whether host is insecure by the options (see RegistryOptions::insecure_registries).
bool IsInsecureRegistry(const std::string& host, const RegistryOptions& opts);
// For an insecure registry: whether an HTTPS failure (an http::Client::Do error code) is
// one of those after which plain HTTP is tried: no connection, a failed handshake.
bool FallBackToHttp(int https_error_code);

// --- the pure decisions, for unit tests ---

// After try `attempt` (1 = the first) failed with a transport error code (0 for none) or an
// HTTP status: the delay before the next try, or nullopt to give up. 5xx, 429 and transient
// transport errors (http::IsTransient) are retried; Retry-After (seconds) is honoured up
// to 30 s.
std::optional<std::chrono::milliseconds> RetryDelay(int max_tries, int backoff_ms, int attempt,
                                                    int error_code, long status,
                                                    const std::string& retry_after);
// How many bytes at the start of a resumed response duplicate what is written already:
// 0 for a 206 whose Content-Range starts at `have`, `have` for a 200 (the server ignored
// Range), an error for anything else.
Result<int64_t> ResumeSkip(long status, const std::string& content_range, int64_t have);
// A Location header resolved against the registry's base URL, with `query` ("digest=...")
// appended.
std::string UploadUrl(const std::string& base, const std::string& location,
                      const std::string& query);

// Counters for tests and the curious: what went over the wire.
struct RegistryStats {
  std::atomic<int> requests{0}, heads{0}, blob_gets{0}, uploads{0}, mounts{0}, retries{0},
      resumes{0};
  std::atomic<int64_t> bytes_down{0}, bytes_up{0};
};

struct FetchedManifest {
  std::string bytes;
  std::string media_type;  // the Content-Type
  std::string digest;      // sha256 of bytes (checked against Docker-Content-Digest)
};

using ProgressFn = std::function<void(const std::string& digest, int64_t done, int64_t total)>;

class Registry {
 public:
  // Connects to ref's registry (the /v2/ ping, which also learns how to authenticate).
  // push asks for push rights in the token scope.
  static Result<std::unique_ptr<Registry>> Open(const std::string& domain,
                                                const std::string& repository,
                                                const RegistryOptions& opts, bool push = false);

  // By tag or by digest; by digest the bytes are checked against it.
  Result<FetchedManifest> GetManifest(const std::string& tag_or_digest);
  // Streams a blob into w (the writer checks the digest on Commit, which the caller does);
  // tee, when set, sees every byte once and in order, resumes included.
  Status FetchBlob(const Descriptor& d, BlobWriter* w, const ProgressFn& progress = nullptr,
                   const http::Sink& tee = nullptr);
  // HEAD: whether the repository has the blob.
  Result<bool> HasBlob(const std::string& digest);
  // Uploads store's blob d; mount_from (another repository of this registry that has it)
  // tries a cross-repository mount first.
  Status UploadBlob(const Store& store, const Descriptor& d, const std::string& mount_from = "",
                    const ProgressFn& progress = nullptr);
  // PUT of a manifest under a tag or digest; returns its digest.
  Result<std::string> PutManifest(const std::string& tag_or_digest, const std::string& bytes,
                                  const std::string& media_type);

  // GET /v2/ with the credential: whether the registry takes it (skiff login).
  Status CheckLogin();

  const std::string& base_url() const { return base_; }
  const RegistryStats& stats() const { return stats_; }

 private:
  Registry(std::string domain, std::string repo, const RegistryOptions& opts, bool push);
  Status Ping();
  // One request with auth, retries (5xx, 429, transport) and the 401 rule.
  Result<http::Response> Send(http::Request req, const std::vector<std::string>& scopes);
  Status Sleep(int attempt, const Error* err, const http::Response* resp);
  std::vector<std::string> Scopes(const std::string& extra_repo = "") const;
  std::string Url(const std::string& tail) const;

  std::string domain_, repo_;
  RegistryOptions opts_;
  bool push_;
  bool insecure_;
  std::string base_;  // "https://host" or "http://host"
  std::vector<std::string> cert_dirs_;
  std::unique_ptr<http::Client> client_;
  std::unique_ptr<Authenticator> auth_;
  RegistryStats stats_;
};

// `skiff login`: checks the credential against the registry, then saves it in file
// (<skiff root>/auth.json). `skiff logout`: removes it.
Status Login(const std::string& registry, const Credential& cred, const std::string& file,
             RegistryOptions opts = {});
Status Logout(const std::string& registry, const std::string& file);

}  // namespace skiff::image
