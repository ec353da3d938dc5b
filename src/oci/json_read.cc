#include "oci/json_read.h"

#include <limits>

namespace skiff::oci {

std::string JsonMember(const std::string& path, const char* key) {
  if (path.empty()) return key;
  return path + "." + key;
}

std::string JsonIndex(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

Error JsonTypeError(const std::string& path, const char* what) {
  return MakeError(0, "%s: expected %s", path.empty() ? "top level" : path.c_str(), what);
}

Status ExpectObject(const Json& j, const std::string& path) {
  if (!j.is_object()) return JsonTypeError(path, "an object");
  return Ok();
}

Status Read(const Json& j, const std::string& path, std::string* out) {
  if (!j.is_string()) return JsonTypeError(path, "a string");
  *out = j.get_ref<const std::string&>();
  return Ok();
}

Status Read(const Json& j, const std::string& path, bool* out) {
  if (!j.is_boolean()) return JsonTypeError(path, "a boolean");
  *out = j.get<bool>();
  return Ok();
}

namespace {

// nlohmann stores every non-negative integer as number_unsigned, so a negative number or a
// float (1.0 included, as Go's encoding/json refuses it too) fails the type check here.
template <typename T>
Status ReadUnsigned(const Json& j, const std::string& path, T* out) {
  if (!j.is_number_unsigned()) return JsonTypeError(path, "an unsigned integer");
  uint64_t v = j.get<uint64_t>();
  if (v > std::numeric_limits<T>::max()) {
    return MakeError(0, "%s: %llu is out of range (at most %llu)", path.c_str(),
                     static_cast<unsigned long long>(v),
                     static_cast<unsigned long long>(std::numeric_limits<T>::max()));
  }
  *out = static_cast<T>(v);
  return Ok();
}

template <typename T>
Status ReadSigned(const Json& j, const std::string& path, T* out) {
  if (!j.is_number_integer()) return JsonTypeError(path, "an integer");
  int64_t v;
  if (j.is_number_unsigned()) {
    uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return MakeError(0, "%s: %llu is out of range", path.c_str(),
                       static_cast<unsigned long long>(u));
    }
    v = static_cast<int64_t>(u);
  } else {
    v = j.get<int64_t>();
  }
  if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
    return MakeError(0, "%s: %lld is out of range", path.c_str(), static_cast<long long>(v));
  }
  *out = static_cast<T>(v);
  return Ok();
}

}  // namespace

Status Read(const Json& j, const std::string& path, uint16_t* out) {
  return ReadUnsigned(j, path, out);
}
Status Read(const Json& j, const std::string& path, uint32_t* out) {
  return ReadUnsigned(j, path, out);
}
Status Read(const Json& j, const std::string& path, uint64_t* out) {
  return ReadUnsigned(j, path, out);
}
Status Read(const Json& j, const std::string& path, int* out) { return ReadSigned(j, path, out); }
Status Read(const Json& j, const std::string& path, int64_t* out) {
  return ReadSigned(j, path, out);
}

}  // namespace skiff::oci
