#include "image/auth.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "image/cred_helper.h"

namespace skiff::image {

using nlohmann::json;

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~/:", c);
}

// "https://index.docker.io/v1/" -> "docker.io"; "http://host:5000/x" -> "host:5000".
std::string NormalHost(std::string key) {
  for (const char* scheme : {"https://", "http://"}) {
    if (key.rfind(scheme, 0) == 0) key = key.substr(std::strlen(scheme));
  }
  key = Lower(key.substr(0, key.find('/')));
  if (key == "index.docker.io" || key == "registry-1.docker.io") return "docker.io";
  return key;
}

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += StrFormat("%%%02X", c);
    }
  }
  return out;
}

Result<json> ParseJsonFile(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return MakeError(0, "%s: invalid JSON: %s", what.c_str(), e.what());
  }
}

}  // namespace

std::string Challenge::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

Result<std::vector<Challenge>> ParseWwwAuthenticate(const std::string& h) {
  std::vector<Challenge> out;
  size_t i = 0, n = h.size();
  auto skip_space = [&] {
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n')) ++i;
  };
  while (true) {
    while (i < n && (std::isspace(static_cast<unsigned char>(h[i])) || h[i] == ',')) ++i;
    if (i >= n) break;
    size_t start = i;
    while (i < n && IsTokenChar(h[i])) ++i;
    if (i == start) {
      return MakeError(0, "invalid WWW-Authenticate \"%s\": unexpected '%c'", h.c_str(), h[i]);
    }
    std::string token = h.substr(start, i - start);
    skip_space();
    if (i < n && h[i] == '=') {
      ++i;
      skip_space();
      if (out.empty()) {
        return MakeError(0, "invalid WWW-Authenticate \"%s\": parameter before a scheme",
                         h.c_str());
      }
      std::string value;
      if (i < n && h[i] == '"') {
        ++i;
        while (i < n && h[i] != '"') {
          if (h[i] == '\\' && i + 1 < n) ++i;
          value += h[i++];
        }
        if (i >= n) {
          return MakeError(0, "invalid WWW-Authenticate \"%s\": unterminated quote", h.c_str());
        }
        ++i;
      } else {
        while (i < n && h[i] != ',' && !std::isspace(static_cast<unsigned char>(h[i])))
          value += h[i++];
      }
      out.back().params[Lower(token)] = value;
    } else {
      out.push_back(Challenge{.scheme = Lower(token)});
    }
  }
  if (out.empty()) return MakeError(0, "invalid WWW-Authenticate \"%s\": no challenge", h.c_str());
  return out;
}

static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(const std::string& in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(const std::string& in) {
  std::string out;
  uint32_t v = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    const char* p = std::strchr(kB64, c);
    if (!p || c == '\0') return MakeError(0, "invalid base64");
    v = (v << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xff);
    }
  }
  return out;
}

Result<std::optional<Credential>> FindCredential(const std::string& text,
                                                 const std::string& registry) {
  json j = TRY(ParseJsonFile(text, "auth config"));
  if (!j.is_object() || !j.contains("auths")) return std::optional<Credential>();
  const json& auths = j["auths"];
  if (!auths.is_object()) return MakeError(0, "auths: expected an object");
  std::string want = NormalHost(registry);
  for (const auto& [key, entry] : auths.items()) {
    if (NormalHost(key) != want) continue;
    if (!entry.is_object()) return MakeError(0, "auths.%s: expected an object", key.c_str());
    Credential c;
    if (entry.contains("auth") && entry["auth"].is_string()) {
      std::string plain = TRY(Base64Decode(entry["auth"].get<std::string>())
                                  .Wrap(StrFormat("auths.%s.auth", key.c_str())));
      size_t colon = plain.find(':');
      if (colon == std::string::npos) {
        return MakeError(0, "auths.%s.auth: expected base64 of user:password", key.c_str());
      }
      c.username = plain.substr(0, colon);
      c.password = plain.substr(colon + 1);
    } else {
      c.username = entry.value("username", "");
      c.password = entry.value("password", "");
    }
    if (c.username.empty() && c.password.empty()) continue;  // e.g. a credsStore stub
    return std::optional<Credential>(c);
  }
  return std::optional<Credential>();
}

Result<std::string> FindCredentialHelper(const std::string& text, const std::string& registry) {
  json j = TRY(ParseJsonFile(text, "auth config"));
  if (!j.is_object()) return std::string();
  if (j.contains("credHelpers")) {
    const json& helpers = j["credHelpers"];
    if (!helpers.is_object()) return MakeError(0, "credHelpers: expected an object");
    std::string want = NormalHost(registry);
    for (const auto& [key, name] : helpers.items()) {
      if (NormalHost(key) != want) continue;
      if (!name.is_string()) return MakeError(0, "credHelpers.%s: expected a string", key.c_str());
      return name.get<std::string>();
    }
  }
  if (j.contains("credsStore")) {
    if (!j["credsStore"].is_string()) return MakeError(0, "credsStore: expected a string");
    return j["credsStore"].get<std::string>();
  }
  return std::string();
}

std::vector<std::string> AuthFiles(const std::string& skiff_root) {
  std::vector<std::string> files;
  if (const char* f = std::getenv("REGISTRY_AUTH_FILE"); f && *f) files.push_back(f);
  if (!skiff_root.empty()) files.push_back(skiff_root + "/auth.json");
  if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d) {
    files.push_back(std::string(d) + "/config.json");
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    files.push_back(std::string(home) + "/.docker/config.json");
  }
  return files;
}

Result<std::optional<Credential>> LookupCredential(const std::vector<std::string>& files,
                                                   const std::string& registry) {
  for (const auto& f : files) {
    if (!PathExists(f)) continue;
    std::string text = TRY(ReadFile(f));
    std::string helper = TRY(FindCredentialHelper(text, registry).Wrap(f));
    std::optional<Credential> c;
    if (helper.empty()) {
      c = TRY(FindCredential(text, registry).Wrap(f));
    } else {
      c = TRY(RunCredentialHelper(helper, HelperServerName(registry)));
    }
    if (c) return c;
  }
  return std::optional<Credential>();
}

static Result<json> LoadAuthFile(const std::string& file) {
  if (!PathExists(file)) return json{{"auths", json::object()}};
  std::string text = TRY(ReadFile(file));
  json j = TRY(ParseJsonFile(text, file));
  if (!j.is_object()) return MakeError(0, "%s: expected a JSON object", file.c_str());
  if (!j.contains("auths") || !j["auths"].is_object()) j["auths"] = json::object();
  return j;
}

Status SaveCredential(const std::string& file, const std::string& registry, const Credential& c) {
  json j = TRY(LoadAuthFile(file));
  std::string want = NormalHost(registry);
  for (auto it = j["auths"].begin(); it != j["auths"].end();) {
    if (NormalHost(it.key()) == want)
      it = j["auths"].erase(it);
    else
      ++it;
  }
  j["auths"][want] = {{"auth", Base64Encode(c.username + ":" + c.password)}};
  std::string dir = file.substr(0, file.rfind('/'));
  if (!dir.empty() && dir != file) TRY(MkdirAll(dir, 0700));
  return WriteFileAtomic(file, j.dump(1, '\t') + "\n", 0600, true);
}

Status RemoveCredential(const std::string& file, const std::string& registry) {
  json j = TRY(LoadAuthFile(file));
  std::string want = NormalHost(registry);
  bool found = false;
  for (auto it = j["auths"].begin(); it != j["auths"].end();) {
    if (NormalHost(it.key()) == want) {
      it = j["auths"].erase(it);
      found = true;
    } else {
      ++it;
    }
  }
  if (!found) return MakeError(ENOENT, "not logged in to %s", registry.c_str());
  return WriteFileAtomic(file, j.dump(1, '\t') + "\n", 0600, true);
}

Result<Token> ParseTokenResponse(const std::string& body,
                                 std::chrono::steady_clock::time_point now) {
  json j = TRY(ParseJsonFile(body, "token response"));
  if (!j.is_object()) return MakeError(0, "token response: expected a JSON object");
  Token t;
  if (j.contains("token") && j["token"].is_string()) t.value = j["token"];
  if (t.value.empty() && j.contains("access_token") && j["access_token"].is_string())
    t.value = j["access_token"];
  if (t.value.empty()) return MakeError(0, "token response: no token");
  int64_t secs = 60;
  if (j.contains("expires_in") && j["expires_in"].is_number_integer())
    secs = std::max<int64_t>(j["expires_in"].get<int64_t>(), 1);
  t.expires = now + std::chrono::seconds(secs);
  return t;
}

std::string TokenUrl(const Challenge& bearer, const std::vector<std::string>& scopes) {
  std::string url = bearer.Param("realm");
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  if (std::string service = bearer.Param("service"); !service.empty()) {
    url += sep + std::string("service=") + UrlEncode(service);
    sep = '&';
  }
  for (const auto& s : scopes) {
    url += sep + std::string("scope=") + UrlEncode(s);
    sep = '&';
  }
  return url;
}

bool IsAuthError(const Error& e) {
  return e.code == 0 && e.msg.find("authentication required: ") != std::string::npos;
}

Status Authenticator::SetChallenge(const std::string& www_authenticate) {
  auto all = TRY(ParseWwwAuthenticate(www_authenticate).Wrap(registry_));
  std::lock_guard<std::mutex> lock(mu_);
  // Bearer is preferred: with it the password goes to the token server only.
  for (const auto& c : all) {
    if (c.scheme == "bearer" && !c.Param("realm").empty()) {
      challenge_ = c;
      return Ok();
    }
  }
  for (const auto& c : all) {
    if (c.scheme == "basic") {
      challenge_ = c;
      return Ok();
    }
  }
  return MakeError(0, "%s: unsupported authentication scheme \"%s\"", registry_.c_str(),
                   all[0].scheme.c_str());
}

Result<std::string> Authenticator::Header(const std::vector<std::string>& scopes) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!challenge_) return std::string();
  if (challenge_->scheme == "basic") {
    if (!cred_) return std::string();
    return "Authorization: Basic " + Base64Encode(cred_->username + ":" + cred_->password);
  }
  std::string key;
  for (const auto& s : scopes) key += s + " ";
  auto now = std::chrono::steady_clock::now();
  auto it = tokens_.find(key);
  // A token that runs out within ten seconds would expire in the middle of a request.
  if (it != tokens_.end() && it->second.expires - std::chrono::seconds(10) > now)
    return "Authorization: Bearer " + it->second.value;
  Challenge ch = *challenge_;
  lock.unlock();  // the token request may take a while; a duplicate fetch is harmless

  http::Request req{.url = TokenUrl(ch, scopes)};
  if (cred_) {
    req.headers.push_back("Authorization: Basic " +
                          Base64Encode(cred_->username + ":" + cred_->password));
  }
  http::Response resp = TRY(client_->Do(req).Wrap("token"));
  if (resp.status == 401 || resp.status == 403) return Refused("token", resp);
  if (resp.status != 200) {
    return MakeError(0, "%s: token server %s answered %ld", registry_.c_str(),
                     ch.Param("realm").c_str(), resp.status);
  }
  Token t = TRY(ParseTokenResponse(resp.body, now).Wrap(registry_));
  lock.lock();
  tokens_[key] = t;
  ++tokens_fetched_;
  return "Authorization: Bearer " + t.value;
}

Error Authenticator::Refused(const std::string& what, const http::Response& resp) const {
  // The registry's own words (distribution's {"errors":[{"message":..}]}) when it gave any.
  std::string why;
  try {
    json j = json::parse(resp.body);
    if (j.contains("errors") && j["errors"].is_array() && !j["errors"].empty())
      why = j["errors"][0].value("message", "");
    if (why.empty() && j.contains("details") && j["details"].is_string()) why = j["details"];
  } catch (const json::exception&) {
  }
  std::string who = cred_ ? StrFormat("%s refused the credentials of user \"%s\"",
                                      registry_.c_str(), cred_->username.c_str())
                          : StrFormat("%s wants credentials (skiff login %s)", registry_.c_str(),
                                      registry_.c_str());
  // distribution says "authentication required" itself: no need to say it twice.
  if (why == "authentication required" || why == "unauthorized") why.clear();
  (void)what;
  return MakeError(0, "authentication required: %s%s%s", who.c_str(), why.empty() ? "" : ": ",
                   why.c_str());
}

}  // namespace skiff::image
