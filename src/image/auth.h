// Registry authentication (distribution's token spec): WWW-Authenticate challenges, the
// Bearer token flow with a per-scope cache, Basic credentials, and the credential files
// that Docker, podman and skiff share ({"auths": {"host": {"auth": base64(user:pass)}}}).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "image/http.h"

namespace skiff::image {

// One challenge of a WWW-Authenticate header: scheme lowercased ("basic", "bearer"),
// parameter names lowercased, quoted values unquoted.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
  std::string Param(const std::string& name) const;
};

// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="a,b"`;
// several challenges, comma- or newline-separated, are all returned.
Result<std::vector<Challenge>> ParseWwwAuthenticate(const std::string& header);

struct Credential {
  std::string username, password;
};

// The credential for a registry host in a config.json / auth.json text. Keys may be
// "host", "https://host", "http://host/v1/"; docker.io also matches index.docker.io and
// "https://index.docker.io/v1/" (what `docker login` writes). None: std::nullopt.
Result<std::optional<Credential>> FindCredential(const std::string& json_text,
                                                 const std::string& registry);

// The credential helper a config.json names for a registry, as Docker picks it: its
// credHelpers entry (keys matched as FindCredential's), else credsStore; "" for none.
Result<std::string> FindCredentialHelper(const std::string& json_text,
                                         const std::string& registry);

// The files searched, first match wins: $REGISTRY_AUTH_FILE; <skiff_root>/auth.json (what
// `skiff login` writes); $DOCKER_CONFIG/config.json or else ~/.docker/config.json.
std::vector<std::string> AuthFiles(const std::string& skiff_root);
// Missing files are skipped; an unreadable or broken one is an error naming it. A file that
// names a credential helper for the registry asks it (docker-credential-<name> get) instead of
// reading its auths, as Docker does; a helper with nothing for the registry lets the search go
// on.
Result<std::optional<Credential>> LookupCredential(const std::vector<std::string>& files,
                                                   const std::string& registry);
// `skiff login`: adds or replaces the registry's entry (mode 0600, written atomically).
Status SaveCredential(const std::string& file, const std::string& registry, const Credential& c);
// `skiff logout`: removes it; ENOENT when there was none.
Status RemoveCredential(const std::string& file, const std::string& registry);

std::string Base64Encode(const std::string& in);
Result<std::string> Base64Decode(const std::string& in);

// The token endpoint's answer: {"token": ..} or {"access_token": ..}, "expires_in" seconds
// (60 when absent, as the spec says).
struct Token {
  std::string value;
  std::chrono::steady_clock::time_point expires;
};
Result<Token> ParseTokenResponse(const std::string& body,
                                 std::chrono::steady_clock::time_point now);
// realm?service=..&scope=..&scope=.. with the values URL-encoded.
std::string TokenUrl(const Challenge& bearer, const std::vector<std::string>& scopes);

// A 401 is a refusal, not something to retry: "authentication required: HOST refused the
// credentials of user \"u\"" or "...: HOST wants credentials (skiff login HOST)". Whether e is
// one (also when wrapped).
bool IsAuthError(const Error& e);

// The Authorization header for one registry, thread-safe. Learns the scheme from the
// registry's challenge (SetChallenge with a 401's WWW-Authenticate), then answers Header
// for each request: Basic from the credential, or a Bearer token fetched for the scope and
// cached while it is valid.
class Authenticator {
 public:
  Authenticator(http::Client* client, std::string registry, std::optional<Credential> cred)
      : client_(client), registry_(std::move(registry)), cred_(std::move(cred)) {}

  Status SetChallenge(const std::string& www_authenticate);
  // "Authorization: ..." or "" when the registry asked for nothing.
  Result<std::string> Header(const std::vector<std::string>& scopes);
  // The error for a 401 on a request sent with Header(): names whether credentials were sent,
  // with the registry's own words when they add anything.
  Error Refused(const std::string& what, const http::Response& resp) const;
  bool has_credential() const { return cred_.has_value(); }
  int tokens_fetched() const { return tokens_fetched_; }

 private:
  http::Client* client_;
  std::string registry_;
  std::optional<Credential> cred_;
  std::mutex mu_;
  std::optional<Challenge> challenge_;
  std::map<std::string, Token> tokens_;  // by joined scopes
  int tokens_fetched_ = 0;
};

}  // namespace skiff::image
