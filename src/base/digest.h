// Content digests ("sha256:<hex>") with OpenSSL's SHA-256, streaming.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"

namespace skiff {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  std::string HexDigest();  // finishes: 64 lowercase hex digits
  std::string Digest() { return "sha256:" + HexDigest(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Digest(std::string_view data);  // "sha256:..."
// "sha256:<64 lowercase hex>" only: the store never takes anything else as a file name.
Status ValidateSha256Digest(const std::string& digest);

}  // namespace skiff
