#include "oci/spec.h"

namespace skiff::oci {

const Namespace* Spec::FindNamespace(const std::string& type) const {
  if (!linux) return nullptr;
  for (const auto& ns : linux->namespaces)
    if (ns.type == type) return &ns;
  return nullptr;
}

bool Spec::HasNamespace(const std::string& type) const { return FindNamespace(type) != nullptr; }

}  // namespace skiff::oci
