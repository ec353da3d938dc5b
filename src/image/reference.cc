#include "image/reference.h"

#include <cctype>

namespace skiff::image {
namespace {

constexpr const char* kDefaultDomain = "docker.io";
constexpr size_t kMaxNameLength = 255;

Error Bad(const std::string& text, const char* why) {
  return MakeError(0, "invalid reference \"%s\": %s", text.c_str(), why);
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
bool ValidComponent(const std::string& c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  for (size_t i = 0; i < c.size();) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !IsLowerAlnum(c[j])) ++j;
    std::string sep = c.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

// domain: host components ([a-zA-Z0-9] with inner '-') joined by '.', optional ":port", or
// a bracketed IPv6 address.
bool ValidDomain(const std::string& d) {
  std::string host = d, port;
  if (!d.empty() && d[0] == '[') {
    auto close = d.find(']');
    if (close == std::string::npos) return false;
    host = d.substr(1, close - 1);
    if (close + 1 < d.size()) {
      if (d[close + 1] != ':') return false;
      port = d.substr(close + 2);
      if (port.empty()) return false;
    }
    for (char c : host)
      if (!isxdigit(static_cast<unsigned char>(c)) && c != ':') return false;
  } else {
    auto colon = d.find(':');
    if (colon != std::string::npos) {
      host = d.substr(0, colon);
      port = d.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (host.empty()) return false;
    size_t start = 0;
    while (start <= host.size()) {
      size_t dot = host.find('.', start);
      std::string part = host.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (part.empty() || !isalnum(static_cast<unsigned char>(part.front())) ||
          !isalnum(static_cast<unsigned char>(part.back())))
        return false;
      for (char c : part)
        if (!isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  }
  for (char c : port)
    if (!isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

bool ValidTag(const std::string& t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t[0])) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

Status CheckDigest(const std::string& text, const std::string& d) {
  auto colon = d.find(':');
  if (colon == std::string::npos || colon == 0) return Bad(text, "digest must be algorithm:hex");
  std::string algo = d.substr(0, colon), hex = d.substr(colon + 1);
  for (char c : hex)
    if (!isxdigit(static_cast<unsigned char>(c)) || isupper(static_cast<unsigned char>(c)))
      return Bad(text, "digest must be lowercase hex");
  if (algo == "sha256" && hex.size() != 64) return Bad(text, "sha256 digest must be 64 hex digits");
  if (algo == "sha512" && hex.size() != 128)
    return Bad(text, "sha512 digest must be 128 hex digits");
  if (algo != "sha256" && algo != "sha512") return Bad(text, "unsupported digest algorithm");
  return Ok();
}

}  // namespace

std::string Reference::String() const {
  std::string s = Name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string Reference::Familiar() const {
  std::string s;
  if (domain == kDefaultDomain) {
    s = path.rfind("library/", 0) == 0 ? path.substr(8) : path;
  } else {
    s = Name();
  }
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

Result<Reference> ParseReference(const std::string& text) {
  if (text.empty()) return Bad(text, "empty");
  Reference ref;
  std::string rest = text;
  auto at = rest.find('@');
  if (at != std::string::npos) {
    ref.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    TRY(CheckDigest(text, ref.digest));
  }
  // A tag follows the last ':' after the last '/', so a registry port is not taken for one.
  auto slash = rest.find_last_of('/');
  auto colon = rest.find_last_of(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    ref.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (!ValidTag(ref.tag)) return Bad(text, "invalid tag");
  }
  if (rest.empty()) return Bad(text, "missing repository name");
  std::string domain, path = rest;
  auto first = rest.find('/');
  if (first != std::string::npos) {
    std::string head = rest.substr(0, first);
    if (head.find_first_of(".:") != std::string::npos || head == "localhost" ||
        head.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos) {
      domain = head;
      path = rest.substr(first + 1);
    }
  }
  if (domain.empty()) {
    domain = kDefaultDomain;
  } else if (!ValidDomain(domain)) {
    return Bad(text, "invalid registry name");
  }
  if (domain == "index.docker.io") domain = kDefaultDomain;
  for (char c : path)
    if (isupper(static_cast<unsigned char>(c))) return Bad(text, "repository name must be lowercase");
  size_t start = 0;
  while (true) {
    size_t end = path.find('/', start);
    std::string comp = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!ValidComponent(comp)) return Bad(text, "invalid repository name");
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (domain == kDefaultDomain && path.find('/') == std::string::npos) path = "library/" + path;
  if (domain.size() + 1 + path.size() > kMaxNameLength)
    return Bad(text, "repository name longer than 255 characters");
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  ref.domain = std::move(domain);
  ref.path = std::move(path);
  return ref;
}

}  // namespace skiff::image
