// Image references, parsed and normalised as Docker does (distribution/reference):
// "busybox" is docker.io/library/busybox:latest; "127.0.0.1:5000/x/y:1" keeps its registry;
// "name@sha256:..." pins a digest.
#pragma once

#include <string>

#include "base/error.h"

namespace skiff::image {

struct Reference {
  std::string domain;  // "docker.io", "127.0.0.1:5000", "localhost"
  std::string path;    // "library/busybox", "x/y"
  std::string tag;     // "" when only a digest was given
  std::string digest;  // "sha256:<64 hex>" or ""

  std::string Name() const { return domain + "/" + path; }  // docker.io/library/busybox
  // The full form: docker.io/library/busybox:latest, or ...@sha256:...
  std::string String() const;
  // The short form Docker prints: busybox:latest, 127.0.0.1:5000/x/y:1.
  std::string Familiar() const;
};

// "invalid reference \"Foo\": repository name must be lowercase".
Result<Reference> ParseReference(const std::string& text);

}  // namespace skiff::image
