#include "image/http.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>

#include "base/file.h"

namespace skiff::image::http {

namespace {

constexpr size_t kMaxBody = 16u << 20;
constexpr size_t kMaxErrorBody = 64u << 10;

// libcurl is loaded on first use, not linked: its dependency tree (nghttp2, ssh2, ldap,
// krb5, gnutls...) is most of what the dynamic loader would do at every `skiff` start,
// and the container hot path never makes a request. <curl/curl.h> still gives the types
// and constants; calls go through this table.
struct CurlApi {
  decltype(&::curl_global_init) global_init;
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_reset) easy_reset;
  decltype(&::curl_easy_setopt) easy_setopt;  // variadic, called as such
  decltype(&::curl_easy_perform) easy_perform;
  decltype(&::curl_easy_getinfo) easy_getinfo;  // variadic
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
};

std::once_flag g_load;
CurlApi g_curl;
bool g_curl_ok = false;
std::string g_curl_error;

constexpr const char* kCurlSoname = "libcurl.so.4";

template <typename F>
bool Resolve(void* lib, const char* name, F& fn) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (fn) return true;
  const char* why = dlerror();
  g_curl_error = std::string(kCurlSoname) + ": " + (why ? why : std::string("no symbol ") + name);
  return false;
}

void LoadCurl() {
  void* lib = dlopen(kCurlSoname, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    // dlerror names the file: "libcurl.so.4: cannot open shared object file: ...".
    const char* why = dlerror();
    g_curl_error = why ? why : std::string(kCurlSoname) + ": cannot load";
    return;
  }
  CurlApi& a = g_curl;
  bool ok = Resolve(lib, "curl_global_init", a.global_init) &&
            Resolve(lib, "curl_easy_init", a.easy_init) &&
            Resolve(lib, "curl_easy_cleanup", a.easy_cleanup) &&
            Resolve(lib, "curl_easy_reset", a.easy_reset) &&
            Resolve(lib, "curl_easy_setopt", a.easy_setopt) &&
            Resolve(lib, "curl_easy_perform", a.easy_perform) &&
            Resolve(lib, "curl_easy_getinfo", a.easy_getinfo) &&
            Resolve(lib, "curl_easy_strerror", a.easy_strerror) &&
            Resolve(lib, "curl_slist_append", a.slist_append) &&
            Resolve(lib, "curl_slist_free_all", a.slist_free_all);
  if (!ok) return;  // lib stays loaded: it is the process's libcurl either way
  CURLcode rc = a.global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) {
    g_curl_error = std::string(kCurlSoname) + ": curl_global_init: " + a.easy_strerror(rc);
    return;
  }
  g_curl_ok = true;
}

// The table, loaded once; nullptr (and g_curl_error says why) when libcurl can't be loaded.
const CurlApi* Curl() {
  std::call_once(g_load, LoadCurl);
  return g_curl_ok ? &g_curl : nullptr;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

// State of one transfer, seen by the callbacks.
struct Transfer {
  CURL* curl = nullptr;
  const Request* req = nullptr;
  Response* resp = nullptr;
  Error sink_error;
  bool sink_failed = false;
  long status = -1;  // the final status, read at the first body byte
  int64_t body_pos = 0;
  bool started = false;
  long stall_s = 0;
  curl_off_t last_bytes = -1;
  std::chrono::steady_clock::time_point last_change;
};

// curl's low-speed check averages over its speed window (about 5 s), so that a connection
// which stops dead after a fast start is noticed only 5 s late; this notices it after
// stall_s seconds without a byte either way.
int OnProgress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  auto now = std::chrono::steady_clock::now();
  if (dlnow + ulnow != t->last_bytes) {
    t->last_bytes = dlnow + ulnow;
    t->last_change = now;
    return 0;
  }
  if (t->stall_s > 0 && now - t->last_change > std::chrono::seconds(t->stall_s)) {
    t->sink_error = MakeError(ETIMEDOUT, "%s %s: no data for %ld s", t->req->method.c_str(),
                              t->req->url.c_str(), t->stall_s);
    t->sink_failed = true;
    return 1;
  }
  return 0;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->resp->headers.clear();  // a new response (redirect, 100 Continue): start over
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  std::string name = Lower(line.substr(0, colon));
  std::string value = Trim(line.substr(colon + 1));
  auto& slot = t->resp->headers[name];
  if (slot.empty())
    slot = value;
  else
    slot += (name == "www-authenticate" ? "\n" : ", ") + value;
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (t->status < 0) g_curl.easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
  bool ok = t->status >= 200 && t->status < 300;
  if (ok && t->req->sink) {
    Status s = Ok();
    if (!t->started && t->req->on_body_start) {
      t->resp->status = t->status;
      s = t->req->on_body_start(*t->resp);
    }
    t->started = true;
    if (s) s = t->req->sink(data, len);
    if (!s) {
      t->sink_error = std::move(s).error();
      t->sink_failed = true;
      return CURL_WRITEFUNC_ERROR;
    }
    return len;
  }
  size_t cap = ok ? kMaxBody : kMaxErrorBody;
  if (t->resp->body.size() + len > cap) {
    if (ok) {
      t->sink_error =
          MakeError(EFBIG, "%s: response body over %zu bytes", t->req->url.c_str(), cap);
      t->sink_failed = true;
      return CURL_WRITEFUNC_ERROR;
    }
    return len;  // an error body: keep its start only
  }
  t->resp->body.append(data, len);
  return len;
}

size_t OnRead(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const Request& r = *t->req;
  size_t want = size * n;
  if (r.body_fd >= 0) {
    int64_t left = r.body_length - t->body_pos;
    if (left <= 0) return 0;
    want = static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(want)));
    ssize_t got;
    do {
      got = ::pread(r.body_fd, buf, want, r.body_offset + t->body_pos);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) return CURL_READFUNC_ABORT;
    t->body_pos += got;
    return static_cast<size_t>(got);
  }
  int64_t left = static_cast<int64_t>(r.body.size()) - t->body_pos;
  if (left <= 0) return 0;
  want = static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(want)));
  std::memcpy(buf, r.body.data() + t->body_pos, want);
  t->body_pos += static_cast<int64_t>(want);
  return want;
}

int SeekBody(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
  t->body_pos = offset;
  return CURL_SEEKFUNC_OK;
}

int CodeOf(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
      return ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
      return ETIMEDOUT;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return ECONNRESET;
    case CURLE_PEER_FAILED_VERIFICATION:
      return kCertRejected;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
      return EPROTO;
    default:
      return 0;  // curl's message says it all
  }
}

}  // namespace

std::string Response::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

struct Client::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl) g_curl.easy_cleanup(curl);
  }
};

Client::Client(Options opts) : opts_(std::move(opts)) {}

Client::~Client() = default;

std::unique_ptr<Client::Handle> Client::Take() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pool_.empty()) {
      auto h = std::move(pool_.back());
      pool_.pop_back();
      g_curl.easy_reset(h->curl);  // keeps the connection cache
      return h;
    }
  }
  auto h = std::make_unique<Handle>();
  h->curl = g_curl.easy_init();
  return h;
}

const std::string& Client::CaBlob(void* curl) {
  std::call_once(ca_once_, [&] {
    char* bundle = nullptr;
    // CURLINFO_CAINFO (curl 7.84) is the bundle libcurl was built to use.
    if (g_curl.easy_getinfo(curl, CURLINFO_CAINFO, &bundle) != CURLE_OK || !bundle)
      bundle = const_cast<char*>("/etc/ssl/certs/ca-certificates.crt");
    auto sys = ReadFile(bundle);
    if (sys.ok()) ca_blob_ = std::move(*sys);  // no bundle: only the registry's own CAs
    if (!ca_blob_.empty() && ca_blob_.back() != '\n') ca_blob_ += '\n';
    ca_blob_ += opts_.ca_pem;
  });
  return ca_blob_;
}

void Client::Give(std::unique_ptr<Handle> h) {
  std::lock_guard<std::mutex> lock(mu_);
  pool_.push_back(std::move(h));
}

Result<Response> Client::Do(const Request& req) {
  if (!Curl())
    return MakeError(ELIBACC, "%s %s: %s", req.method.c_str(), req.url.c_str(),
                     g_curl_error.c_str());
  std::unique_ptr<Handle> h = Take();
  if (!h->curl)
    return MakeError(ENOMEM, "%s %s: curl_easy_init failed", req.method.c_str(), req.url.c_str());
  CURL* c = h->curl;
  Response resp;
  Transfer t{.curl = c, .req = &req, .resp = &resp};
  char errbuf[CURL_ERROR_SIZE] = "";

  g_curl.easy_setopt(c, CURLOPT_URL, req.url.c_str());
  g_curl.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  g_curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  g_curl.easy_setopt(c, CURLOPT_USERAGENT, opts_.user_agent.c_str());
  g_curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, opts_.connect_timeout_s);
  g_curl.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, opts_.low_speed_bytes);
  g_curl.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, opts_.low_speed_time_s);
  g_curl.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, opts_.tls_verify ? 1L : 0L);
  g_curl.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, opts_.tls_verify ? 2L : 0L);
  if (opts_.tls_verify && !opts_.ca_pem.empty()) {
    const std::string& ca = CaBlob(c);
    curl_blob blob{
        .data = const_cast<char*>(ca.data()), .len = ca.size(), .flags = CURL_BLOB_NOCOPY};
    g_curl.easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (!opts_.client_cert.empty()) {
    g_curl.easy_setopt(c, CURLOPT_SSLCERT, opts_.client_cert.c_str());
    g_curl.easy_setopt(c, CURLOPT_SSLKEY, opts_.client_key.c_str());
  }
  // Only http(s), also after a redirect: a registry must not send us to file:// or gopher://.
  g_curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  g_curl.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  g_curl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  g_curl.easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  g_curl.easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  g_curl.easy_setopt(c, CURLOPT_HEADERDATA, &t);
  g_curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  g_curl.easy_setopt(c, CURLOPT_WRITEDATA, &t);
  t.stall_s = opts_.low_speed_time_s;
  t.last_change = std::chrono::steady_clock::now();
  g_curl.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
  g_curl.easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  g_curl.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);

  bool has_body = req.body_fd >= 0 || !req.body.empty();
  int64_t body_len = req.body_fd >= 0 ? req.body_length : static_cast<int64_t>(req.body.size());
  if (req.method == "HEAD") {
    g_curl.easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.method == "GET") {
    g_curl.easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    // PUT, POST, PATCH: an upload through the read callback, with a Content-Length (no
    // chunked encoding: the registry wants the length, and curl can rewind on a redirect).
    g_curl.easy_setopt(c, CURLOPT_UPLOAD, 1L);
    g_curl.easy_setopt(c, CURLOPT_READFUNCTION, OnRead);
    g_curl.easy_setopt(c, CURLOPT_READDATA, &t);
    g_curl.easy_setopt(c, CURLOPT_SEEKFUNCTION, SeekBody);
    g_curl.easy_setopt(c, CURLOPT_SEEKDATA, &t);
    g_curl.easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(has_body ? body_len : 0));
    g_curl.easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  curl_slist* headers = nullptr;
  for (const auto& hd : req.headers) headers = g_curl.slist_append(headers, hd.c_str());
  // curl sends "Expect: 100-continue" for uploads over 1 MiB and waits a second for it.
  if (req.method != "GET" && req.method != "HEAD")
    headers = g_curl.slist_append(headers, "Expect:");
  g_curl.easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = g_curl.easy_perform(c);
  g_curl.slist_free_all(headers);
  g_curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  char* eff = nullptr;
  if (g_curl.easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) resp.url = eff;
  g_curl.easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  g_curl.easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  // A failed transfer may leave a half-read connection in the handle: drop the handle then.
  if (rc == CURLE_OK) Give(std::move(h));

  if (t.sink_failed) return std::move(t.sink_error);
  if (rc != CURLE_OK) {
    const char* why = errbuf[0] ? errbuf : g_curl.easy_strerror(rc);
    return MakeError(CodeOf(rc), "%s %s: %s", req.method.c_str(), req.url.c_str(), why);
  }
  return resp;
}

bool IsTransient(const Error& e) {
  return e.code == ECONNRESET || e.code == ETIMEDOUT || e.code == ECONNREFUSED;
}

std::string BaseUrl(const std::string& host, bool plain_http) {
  return (plain_http ? "http://" : "https://") + host;
}

}  // namespace skiff::image::http
