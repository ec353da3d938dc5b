// Layer entry names (image-spec layer.md): cleaning a tar entry's name into a path relative
// to the layer root, and recognising whiteouts (".wh.NAME" and the opaque ".wh..wh..opq").
// Pure string logic, no syscalls, so that every hostile spelling has a unit test.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace skiff::image {

inline constexpr std::string_view kWhiteoutPrefix = ".wh.";
inline constexpr std::string_view kOpaqueWhiteout = ".wh..wh..opq";

// A tar entry name as a path relative to the layer root: leading "/" stripped (an absolute
// name is contained, as tar and Docker do), "." and empty components dropped, ".." folded
// lexically. "" is the root itself. A name that climbs above the root ("../x", "a/../../x")
// is refused: "path escapes the layer root". Components over 255 bytes and names over
// PATH_MAX are refused as well.
Result<std::string> CleanEntryPath(std::string_view name);

// The parent of a clean path ("" for a top-level name) and its last component.
std::string_view ParentOf(std::string_view clean);
std::string_view BaseOf(std::string_view clean);

enum class WhiteoutKind {
  kNone,      // an ordinary entry
  kWhiteout,  // ".wh.NAME": NAME of the lower layers is deleted
  kOpaque,    // ".wh..wh..opq": the lower layers' contents of this directory are hidden
  kMeta,      // another ".wh..wh." name (aufs bookkeeping such as .wh..wh.plnk): skipped
  kInvalid,   // ".wh." naming nothing, ".", ".." or a path: refused
};

struct Whiteout {
  WhiteoutKind kind = WhiteoutKind::kNone;
  std::string target;  // NAME for kWhiteout
};

// Parses the last component of an entry name.
Whiteout ParseWhiteout(std::string_view base);

}  // namespace skiff::image
