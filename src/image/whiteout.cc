#include "image/whiteout.h"

#include <climits>
#include <vector>

namespace skiff::image {

Result<std::string> CleanEntryPath(std::string_view name) {
  if (name.size() >= PATH_MAX) return MakeError(ENAMETOOLONG, "entry name too long");
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= name.size()) {
    size_t j = name.find('/', i);
    if (j == std::string_view::npos) j = name.size();
    std::string_view c = name.substr(i, j - i);
    i = j + 1;
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (parts.empty()) return MakeError(0, "path escapes the layer root");
      parts.pop_back();
      continue;
    }
    if (c.size() > NAME_MAX) return MakeError(ENAMETOOLONG, "entry name component too long");
    parts.push_back(c);
  }
  std::string out;
  out.reserve(name.size());
  for (std::string_view c : parts) {
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

std::string_view ParentOf(std::string_view clean) {
  size_t slash = clean.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : clean.substr(0, slash);
}

std::string_view BaseOf(std::string_view clean) {
  size_t slash = clean.rfind('/');
  return slash == std::string_view::npos ? clean : clean.substr(slash + 1);
}

Whiteout ParseWhiteout(std::string_view base) {
  if (!base.starts_with(kWhiteoutPrefix)) return {};
  if (base == kOpaqueWhiteout) return {WhiteoutKind::kOpaque, ""};
  std::string_view target = base.substr(kWhiteoutPrefix.size());
  if (target.starts_with(kWhiteoutPrefix)) return {WhiteoutKind::kMeta, ""};
  if (target.empty() || target == "." || target == ".." || target.find('/') != target.npos)
    return {WhiteoutKind::kInvalid, std::string(target)};
  return {WhiteoutKind::kWhiteout, std::string(target)};
}

}  // namespace skiff::image
