#include "image/registry.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/digest.h"
#include "image/certs.h"
#include "image/registry_config.h"

namespace skiff::image {

namespace {

const char* kManifestAccept =
    "Accept: application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

// distribution's error body: {"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}.
std::string RegistryWords(const http::Response& r) {
  try {
    auto j = nlohmann::json::parse(r.body);
    if (j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
      const auto& e = j["errors"][0];
      std::string m = e.value("message", "");
      if (m.empty()) m = e.value("code", "");
      return m;
    }
  } catch (const nlohmann::json::exception&) {
  }
  return "";
}

Error Unexpected(const std::string& what, const http::Response& r) {
  std::string words = RegistryWords(r);
  return MakeError(0, "%s: HTTP %ld%s%s", what.c_str(), r.status, words.empty() ? "" : ": ",
                   words.c_str());
}

}  // namespace

bool IsInsecureRegistry(const std::string& host, const RegistryOptions& opts) {
  if (!opts.tls_verify) return true;
  for (const char* loopback : {"localhost", "127.0.0.0/8", "::1/128"})
    if (MatchesInsecureRegistry(host, loopback)) return true;
  for (const auto& e : opts.insecure_registries)
    if (MatchesInsecureRegistry(host, e)) return true;
  return false;
}

bool FallBackToHttp(int code) {
  // Not after a certificate that did not verify (an insecure registry does not verify), a
  // timeout or an HTTP answer: those say that HTTPS is there.
  return code == ECONNREFUSED || code == EPROTO || code == ECONNRESET;
}

std::optional<std::chrono::milliseconds> RetryDelay(int max_tries, int backoff_ms, int attempt,
                                                    int error_code, long status,
                                                    const std::string& retry_after) {
  if (attempt >= max_tries) return std::nullopt;
  bool retry = false;
  if (error_code != 0) {
    retry = http::IsTransient(Error{error_code, ""});
  } else {
    retry = status >= 500 || status == 429 || status == 408;
    // 501 Not Implemented will not change its mind.
    if (status == 501 || status == 505) retry = false;
  }
  if (!retry) return std::nullopt;
  int64_t ms = static_cast<int64_t>(backoff_ms) << std::min(attempt - 1, 10);
  ms = std::min<int64_t>(ms, 8000);
  if (!retry_after.empty() && std::all_of(retry_after.begin(), retry_after.end(), ::isdigit) &&
      retry_after.size() < 6) {
    ms = std::max<int64_t>(ms, std::min<int64_t>(std::stoll(retry_after) * 1000, 30000));
  }
  return std::chrono::milliseconds(ms);
}

Result<int64_t> ResumeSkip(long status, const std::string& content_range, int64_t have) {
  if (status == 200) return have;
  if (status != 206) return MakeError(0, "resume at byte %lld: HTTP %ld", (long long)have, status);
  // "bytes 1000-4999/5000"
  long long start = -1;
  if (std::sscanf(content_range.c_str(), "bytes %lld-", &start) != 1 || start < 0 || start > have) {
    return MakeError(0, "resume at byte %lld: bad Content-Range \"%s\"", (long long)have,
                     content_range.c_str());
  }
  return have - start;
}

std::string UploadUrl(const std::string& base, const std::string& location,
                      const std::string& query) {
  std::string url = location;
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    url = base + (url.empty() || url[0] != '/' ? "/" : "") + url;
  }
  if (!query.empty()) url += (url.find('?') == std::string::npos ? "?" : "&") + query;
  return url;
}

Registry::Registry(std::string domain, std::string repo, const RegistryOptions& opts, bool push)
    : domain_(std::move(domain)), repo_(std::move(repo)), opts_(opts), push_(push) {}

Result<std::unique_ptr<Registry>> Registry::Open(const std::string& domain,
                                                 const std::string& repository,
                                                 const RegistryOptions& opts, bool push) {
  std::unique_ptr<Registry> r(new Registry(domain, repository, opts, push));
  if (opts.read_config) {
    // Only now, when a registry is contacted: no other command opens the file.
    RegistryConfig c = TRY(LoadRegistryConfig(FindConfigFile(::geteuid() == 0)));
    auto& list = r->opts_.insecure_registries;
    list.insert(list.end(), c.insecure_registries.begin(), c.insecure_registries.end());
  }
  r->insecure_ = IsInsecureRegistry(domain, r->opts_);
  std::optional<Credential> cred = opts.credential;
  if (!cred) {
    auto files = opts.auth_files.empty() ? AuthFiles(opts.skiff_root) : opts.auth_files;
    cred = TRY(LookupCredential(files, domain));
  }
  http::Options h = opts.http;
  h.tls_verify = h.tls_verify && !r->insecure_;
  r->cert_dirs_ = CertDirs(domain, opts.cert_dir);
  TlsFiles tls = TRY(LoadTlsFiles(r->cert_dirs_).Wrap("registry " + domain));
  h.ca_pem = std::move(tls.ca_pem);
  h.client_cert = tls.client_cert;
  h.client_key = tls.client_key;
  r->client_ = std::make_unique<http::Client>(h);
  r->auth_ = std::make_unique<Authenticator>(r->client_.get(), domain, cred);
  TRY(r->Ping());
  return r;
}

Status Registry::Ping() {
  // Docker Hub's API lives on registry-1.docker.io, not on docker.io.
  std::string host = domain_ == "docker.io" ? "registry-1.docker.io" : domain_;
  std::vector<std::string> bases = {http::BaseUrl(host, false)};
  if (insecure_) bases.push_back(http::BaseUrl(host, true));
  Error last;
  for (const auto& base : bases) {
    http::Request req{.url = base + "/v2/"};
    ++stats_.requests;
    auto r = client_->Do(req);
    if (!r) {
      last = std::move(r).error();
      bool fall_back = insecure_ && FallBackToHttp(last.code);
      if (last.code == http::kCertRejected &&
          last.msg.find("certificate problem") != std::string::npos) {
        // An unknown issuer: curl's words name the problem; add where a CA would have been
        // trusted from (and no strerror: EKEYREJECTED's "Key was rejected by service" would
        // mislead).
        std::string where;
        for (const auto& d : cert_dirs_) where += (where.empty() ? "" : ", ") + d + "/*.crt";
        last = MakeError(0, "%s (trusted: the system's CAs, %s)", last.msg.c_str(), where.c_str());
      } else if (last.code == http::kCertRejected) {
        last.code = 0;  // a name mismatch, an expired certificate: curl says which
      }
      if (!fall_back) break;
      continue;
    }
    base_ = base;
    if (r->status == 200) return Ok();
    if (r->status == 401) {
      std::string chal = r->Header("www-authenticate");
      if (chal.empty()) return MakeError(0, "%s: 401 without WWW-Authenticate", domain_.c_str());
      return auth_->SetChallenge(chal);
    }
    return Unexpected(StrFormat("%s/v2/ (not a registry?)", base.c_str()), *r);
  }
  return std::move(last).Wrapf("registry %s", domain_.c_str());
}

std::vector<std::string> Registry::Scopes(const std::string& extra_repo) const {
  std::vector<std::string> s = {"repository:" + repo_ + (push_ ? ":pull,push" : ":pull")};
  if (!extra_repo.empty()) s.push_back("repository:" + extra_repo + ":pull");
  return s;
}

std::string Registry::Url(const std::string& tail) const { return base_ + "/v2/" + repo_ + tail; }

Status Registry::Sleep(int attempt, const Error* err, const http::Response* resp) {
  auto d = RetryDelay(opts_.max_tries, opts_.backoff_ms, attempt, err ? err->code : 0,
                      resp ? resp->status : 0, resp ? resp->Header("retry-after") : "");
  if (!d) {
    if (err) return *err;
    return MakeError(0, "gave up");  // not reached: callers only ask about retryable ones
  }
  ++stats_.retries;
  std::this_thread::sleep_for(*d);
  return Ok();
}

Result<http::Response> Registry::Send(http::Request req, const std::vector<std::string>& scopes) {
  std::string what = req.method + " " + req.url;
  for (int attempt = 1;; ++attempt) {
    http::Request r = req;
    std::string auth = TRY(auth_->Header(scopes));
    if (!auth.empty()) r.headers.push_back(auth);
    ++stats_.requests;
    auto resp = client_->Do(r);
    if (!resp) {
      Error e = std::move(resp).error();
      if (!RetryDelay(opts_.max_tries, opts_.backoff_ms, attempt, e.code, 0, "")) return e;
      TRY(Sleep(attempt, &e, nullptr));
      continue;
    }
    if (resp->status == 401) {
      // The first 401 of an anonymous client teaches the scheme; any other is a refusal.
      std::string chal = resp->Header("www-authenticate");
      if (auth.empty() && !chal.empty() && attempt == 1) {
        TRY(auth_->SetChallenge(chal));
        if (!TRY(auth_->Header(scopes)).empty()) continue;
      }
      return auth_->Refused(what, *resp);
    }
    if (RetryDelay(opts_.max_tries, opts_.backoff_ms, attempt, 0, resp->status,
                   resp->Header("retry-after"))) {
      TRY(Sleep(attempt, nullptr, &*resp));
      continue;
    }
    return resp;
  }
}

Result<FetchedManifest> Registry::GetManifest(const std::string& ref) {
  std::string what = StrFormat("manifest %s/%s%s%s", domain_.c_str(), repo_.c_str(),
                               ref.rfind("sha256:", 0) == 0 ? "@" : ":", ref.c_str());
  http::Request req{.url = Url("/manifests/" + ref), .headers = {kManifestAccept}};
  auto sent = Send(req, Scopes());
  if (!sent) {
    // "authentication required: ..." reads best alone, after the CLI's "pull REF: ".
    if (IsAuthError(sent.error())) return std::move(sent).error();
    return std::move(sent).error().Wrap(what);
  }
  http::Response resp = std::move(sent).value();
  if (resp.status == 404) return MakeError(0, "%s: not found", what.c_str());
  if (resp.status != 200) return Unexpected(what, resp);
  FetchedManifest m{.bytes = std::move(resp.body), .media_type = resp.Header("content-type")};
  m.digest = Sha256Digest(m.bytes);
  bool by_digest = ref.rfind("sha256:", 0) == 0;
  if (by_digest && m.digest != ref)
    return MakeError(0, "%s: digest mismatch (got %s)", what.c_str(), m.digest.c_str());
  std::string said = resp.Header("docker-content-digest");
  if (said.rfind("sha256:", 0) == 0 && said != m.digest)
    return MakeError(0, "%s: digest mismatch (registry says %s, content is %s)", what.c_str(),
                     said.c_str(), m.digest.c_str());
  return m;
}

Status Registry::FetchBlob(const Descriptor& d, BlobWriter* w, const ProgressFn& progress,
                           const http::Sink& tee) {
  std::string what = "blob " + d.digest;
  ++stats_.blob_gets;
  int64_t skip = 0;  // bytes of the current response already written (a 200 after Range)
  http::Request req{.url = Url("/blobs/" + d.digest)};
  req.on_body_start = [&](const http::Response& r) -> Status {
    skip = TRY(ResumeSkip(r.status, r.Header("content-range"), w->written()));
    return Ok();
  };
  req.sink = [&](const char* p, size_t n) -> Status {
    size_t drop = static_cast<size_t>(std::min<int64_t>(skip, static_cast<int64_t>(n)));
    skip -= static_cast<int64_t>(drop);
    p += drop;
    n -= drop;
    if (n == 0) return Ok();
    if (d.size > 0 && w->written() + static_cast<int64_t>(n) > d.size)
      return MakeError(0, "%s: more than the %lld bytes its descriptor says", what.c_str(),
                       static_cast<long long>(d.size));
    if (tee) TRY(tee(p, n));
    TRY(w->Write(p, n));
    stats_.bytes_down += static_cast<int64_t>(n);
    if (progress) progress(d.digest, w->written(), d.size);
    return Ok();
  };
  int attempt = 1;
  while (true) {
    http::Request r = req;
    int64_t before = w->written();
    if (before > 0) r.headers.push_back(StrFormat("Range: bytes=%lld-", (long long)before));
    std::string auth = TRY(auth_->Header(Scopes()));
    if (!auth.empty()) r.headers.push_back(auth);
    ++stats_.requests;
    skip = 0;
    auto resp = client_->Do(r);
    bool progressed = w->written() > before;
    if (progressed) attempt = 1;  // a resume that moved on is not a failed try
    if (!resp) {
      Error e = std::move(resp).error();
      if (!http::IsTransient(e)) return std::move(e).Wrap(what);
      if (!RetryDelay(opts_.max_tries, opts_.backoff_ms, attempt, e.code, 0, ""))
        return std::move(e).Wrap(what);
      if (w->written() > 0) ++stats_.resumes;
      if (!progressed) TRY(Sleep(attempt++, &e, nullptr));
      continue;
    }
    long st = resp->status;
    if (st == 401) return auth_->Refused(what, *resp);
    if (st == 404)
      return MakeError(0, "%s: not found in %s/%s", what.c_str(), domain_.c_str(), repo_.c_str());
    if (st == 200 || st == 206) {
      if (d.size > 0 && w->written() < d.size) {
        // The server ended the body early without curl noticing (no Content-Length).
        ++stats_.resumes;
        Error e = MakeError(ECONNRESET, "%s: body ended at byte %lld of %lld", what.c_str(),
                            (long long)w->written(), (long long)d.size);
        if (!progressed) TRY(Sleep(attempt++, &e, nullptr));
        continue;
      }
      return Ok();
    }
    if (!RetryDelay(opts_.max_tries, opts_.backoff_ms, attempt, 0, st,
                    resp->Header("retry-after"))) {
      return Unexpected(what, *resp);
    }
    TRY(Sleep(attempt++, nullptr, &*resp));
  }
}

Result<bool> Registry::HasBlob(const std::string& digest) {
  ++stats_.heads;
  http::Request req{.method = "HEAD", .url = Url("/blobs/" + digest)};
  http::Response resp = TRY(Send(req, Scopes()).Wrap("blob " + digest));
  if (resp.status == 200) return true;
  if (resp.status == 404) return false;
  return Unexpected("HEAD blob " + digest, resp);
}

Status Registry::UploadBlob(const Store& store, const Descriptor& d, const std::string& from,
                            const ProgressFn& progress) {
  std::string what = "upload blob " + d.digest;
  std::string start = Url("/blobs/uploads/");
  if (!from.empty()) start += "?mount=" + d.digest + "&from=" + from;
  http::Request post{.method = "POST", .url = start};
  http::Response resp = TRY(Send(post, Scopes(from)).Wrap(what));
  if (resp.status == 201 && !from.empty()) {
    ++stats_.mounts;
    if (progress) progress(d.digest, d.size, d.size);
    return Ok();
  }
  if (resp.status != 202) return Unexpected(what, resp);
  std::string loc = resp.Header("location");
  if (loc.empty()) return MakeError(0, "%s: no Location in the 202", what.c_str());

  std::string path = store.BlobPath(d.digest);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Errno("%s: open %s", what.c_str(), path.c_str());
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return Errno("%s: stat %s", what.c_str(), path.c_str());
  int64_t size = st.st_size;
  ++stats_.uploads;
  const std::string ctype = "Content-Type: application/octet-stream";
  int64_t chunk = opts_.chunk_size > 0 ? opts_.chunk_size : size;
  int64_t off = 0;
  if (chunk < size) {
    // Chunked: PATCH each piece with its Content-Range, following the new Location each time.
    for (; off < size; off += chunk) {
      int64_t len = std::min(chunk, size - off);
      http::Request patch{.method = "PATCH",
                          .url = UploadUrl(base_, loc, ""),
                          .headers = {ctype, StrFormat("Content-Range: %lld-%lld", (long long)off,
                                                       (long long)(off + len - 1))},
                          .body_fd = fd.get(),
                          .body_offset = off,
                          .body_length = len};
      http::Response pr = TRY(Send(patch, Scopes()).Wrap(what));
      if (pr.status != 202) return Unexpected(what + " (PATCH)", pr);
      if (!pr.Header("location").empty()) loc = pr.Header("location");
      stats_.bytes_up += len;
      if (progress) progress(d.digest, off + len, size);
    }
  }
  http::Request put{
      .method = "PUT", .url = UploadUrl(base_, loc, "digest=" + d.digest), .headers = {ctype}};
  if (off < size) {
    put.body_fd = fd.get();
    put.body_offset = off;
    put.body_length = size - off;
  }
  http::Response pr = TRY(Send(put, Scopes()).Wrap(what));
  if (pr.status != 201) return Unexpected(what + " (PUT)", pr);
  stats_.bytes_up += size - off;
  if (progress) progress(d.digest, size, size);
  return Ok();
}

Status Registry::CheckLogin() {
  http::Request req{.url = base_ + "/v2/"};
  http::Response r = TRY(Send(req, {}).Wrap("login " + domain_));
  if (r.status != 200) return Unexpected("login " + domain_, r);
  return Ok();
}

Status Login(const std::string& registry, const Credential& cred, const std::string& file,
             RegistryOptions opts) {
  opts.credential = cred;
  auto reg = TRY(Registry::Open(registry, "", opts));
  TRY(reg->CheckLogin());
  return SaveCredential(file, registry, cred).Wrap("login " + registry);
}

Status Logout(const std::string& registry, const std::string& file) {
  return RemoveCredential(file, registry).Wrap("logout " + registry);
}

Result<std::string> Registry::PutManifest(const std::string& ref, const std::string& bytes,
                                          const std::string& media_type) {
  std::string what =
      StrFormat("put manifest %s/%s:%s", domain_.c_str(), repo_.c_str(), ref.c_str());
  http::Request put{.method = "PUT",
                    .url = Url("/manifests/" + ref),
                    .headers = {"Content-Type: " + media_type},
                    .body = bytes};
  http::Response r = TRY(Send(put, Scopes()).Wrap(what));
  if (r.status != 201 && r.status != 200) return Unexpected(what, r);
  return Sha256Digest(bytes);
}

}  // namespace skiff::image
