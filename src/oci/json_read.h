// Reading config.json values while tracking the JSON path, so that every error names the
// field the user has to fix: "mounts[3].destination: expected a string". Internal to oci/.
//
// Readers are overloads of Read(json, path, T*). The containers (optional, vector, map) are
// templates; the struct readers live in namespace skiff::oci beside the spec types, where
// the templates find them by argument-dependent lookup.
//
// None of these throw: they check a value's type before touching it, and the only
// nlohmann call that throws (parse) is caught by the callers in spec_parse.cc.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace skiff::oci {

using Json = nlohmann::json;

// "process" + "user" -> "process.user"; "" + "ociVersion" -> "ociVersion".
std::string JsonMember(const std::string& path, const char* key);
// "mounts" + 3 -> "mounts[3]".
std::string JsonIndex(const std::string& path, size_t i);
// "<path>: expected <what>".
Error JsonTypeError(const std::string& path, const char* what);

Status ExpectObject(const Json& j, const std::string& path);

Status Read(const Json& j, const std::string& path, std::string* out);
Status Read(const Json& j, const std::string& path, bool* out);
Status Read(const Json& j, const std::string& path, uint16_t* out);
Status Read(const Json& j, const std::string& path, uint32_t* out);
Status Read(const Json& j, const std::string& path, uint64_t* out);
Status Read(const Json& j, const std::string& path, int* out);
Status Read(const Json& j, const std::string& path, int64_t* out);

// Defined in resources_parse.cc; spec_parse.cc reads linux.resources with it.
Status Read(const Json& j, const std::string& path, Resources* out);

template <typename T>
Status Read(const Json& j, const std::string& path, std::optional<T>* out) {
  T value{};
  TRY(Read(j, path, &value));
  *out = std::move(value);
  return Ok();
}

template <typename T>
Status Read(const Json& j, const std::string& path, std::vector<T>* out) {
  if (!j.is_array()) return JsonTypeError(path, "an array");
  out->clear();
  out->reserve(j.size());
  for (size_t i = 0; i < j.size(); i++) {
    T value{};
    TRY(Read(j[i], JsonIndex(path, i), &value));
    out->push_back(std::move(value));
  }
  return Ok();
}

template <typename T>
Status Read(const Json& j, const std::string& path, std::map<std::string, T>* out) {
  if (!j.is_object()) return JsonTypeError(path, "an object");
  out->clear();
  for (const auto& [key, item] : j.items()) {
    T value{};
    TRY(Read(item, JsonMember(path, key.c_str()), &value));
    out->emplace(key, std::move(value));
  }
  return Ok();
}

// Reads obj[key] into *out when present. A JSON null counts as absent, as it does for the
// Go runtimes (encoding/json leaves the zero value), so configs they accept parse here too.
template <typename T>
Status Field(const Json& obj, const std::string& path, const char* key, T* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Ok();
  return Read(*it, JsonMember(path, key), out);
}

// For the REQUIRED fields whose zero value would be meaningful (a mapping size, a rlimit),
// so that their absence can't be mistaken for 0 later. Required strings are left to
// ValidateSpec, where an empty string already says "missing".
template <typename T>
Status Required(const Json& obj, const std::string& path, const char* key, T* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    return MakeError(0, "%s: required field is missing", JsonMember(path, key).c_str());
  }
  return Read(*it, JsonMember(path, key), out);
}

}  // namespace skiff::oci
