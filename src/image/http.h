// A small libcurl wrapper for the registry client: one request at a time per call, any
// number of calls in parallel (each takes an easy handle from a pool, so connections are
// reused). Redirects are followed (registries send blobs to storage); a response body
// streams into a sink when the status is 2xx; a transfer slower than the low-speed limit is
// aborted. Transport failures come back as an Error whose code says what kind they were,
// so that the caller can decide to resume (ECONNRESET, ETIMEDOUT) or give up.
#pragma once

#include <cerrno>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"

namespace skiff::image::http {

struct Options {
  // Verify the server's certificate (the default). False only for an insecure registry.
  bool tls_verify = true;
  // CA certificates (PEM) trusted besides the system's bundle; a client certificate and its
  // key (PEM files) presented when the server asks.
  std::string ca_pem;
  std::string client_cert, client_key;
  long connect_timeout_s = 30;
  // A transfer slower than low_speed_bytes per second for low_speed_time_s, or one that
  // moves no byte for low_speed_time_s, is aborted (ETIMEDOUT): a stalled connection, which
  // the caller resumes with a Range request. This also bounds how long a server may think
  // before it answers.
  long low_speed_bytes = 1024;
  long low_speed_time_s = 30;
  std::string user_agent = "skiff/0.1";
};

// Called with each piece of a 2xx response body; an error aborts the transfer and is
// returned from Do.
using Sink = std::function<Status(const char* data, size_t n)>;

// Do's error code for a server certificate that failed verification.
constexpr int kCertRejected = EKEYREJECTED;

struct Response;

struct Request {
  std::string method = "GET";  // GET HEAD PUT POST PATCH DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // The request body: from memory, or `body_length` bytes of body_fd from body_offset.
  std::string body;
  int body_fd = -1;
  int64_t body_offset = 0;
  int64_t body_length = 0;
  Sink sink;  // unset: a 2xx body is kept in Response::body (capped at 16 MiB)
  // Called once before the sink's first byte, with the status and headers filled in (a
  // resumed download checks Content-Range here). An error aborts like a sink's.
  std::function<Status(const Response&)> on_body_start;
  bool follow_redirects = true;
};

struct Response {
  long status = 0;
  // Header names lowercased; a repeated header keeps the values joined by ", " except
  // www-authenticate, whose values are joined by "\n" (one challenge per line).
  std::map<std::string, std::string> headers;
  std::string body;  // a 2xx body without a sink, or the start of an error body (64 KiB)
  std::string url;   // the URL after redirects

  std::string Header(const std::string& lower_name) const;
};

// Error codes of Do, from curl's result: ECONNREFUSED / EHOSTUNREACH (no connection),
// ECONNRESET (closed or reset mid-transfer, a truncated body), ETIMEDOUT (the low-speed
// limit or the connect timeout), EPROTO (the TLS handshake failed, e.g. a plain-HTTP
// server), kCertRejected (the server's certificate did not verify), 0 otherwise.
// A sink's own error comes back unchanged.
class Client {
 public:
  explicit Client(Options opts);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<Response> Do(const Request& req);
  const Options& options() const { return opts_; }

 private:
  struct Handle;
  std::unique_ptr<Handle> Take();
  void Give(std::unique_ptr<Handle> h);

  // The system bundle followed by opts_.ca_pem, made at the first request: libcurl takes
  // either a CA file or a CA blob, not both, so the extra CAs come with a copy of the bundle.
  const std::string& CaBlob(void* curl);

  Options opts_;
  std::once_flag ca_once_;
  std::string ca_blob_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Handle>> pool_;
};

// Whether an Error from Do is a transport failure worth another try.
bool IsTransient(const Error& e);

// The registry's URL part for a host: "https://host", or "http://host" when plain_http.
std::string BaseUrl(const std::string& host, bool plain_http);

}  // namespace skiff::image::http
