// Turning a spec mount's options into what mount(2) and mount_setattr(2) take. Pure logic,
// unit-tested; the child only replays the result.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace skiff::runtime {

struct MountOptions {
  unsigned long flags = 0;        // MS_* for mount(2), without propagation flags
  unsigned long propagation = 0;  // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC)
  std::string data;               // filesystem options, comma-joined
  bool bind = false;              // bind or rbind
  bool recursive = false;         // rbind
  // Recursive attributes (rro, rnosuid, ...) applied with mount_setattr(AT_RECURSIVE).
  uint64_t rec_attr_set = 0;
  uint64_t rec_attr_clr = 0;
  bool idmap = false;             // "idmap"/"ridmap": idmapped mount (needs mappings)
  bool idmap_recursive = false;   // "ridmap": submounts of an rbind are mapped too
  // A recursive atime mode (ratime, rrelatime, rstrictatime, rnoatime...): one value of
  // MOUNT_ATTR__ATIME, which mount_setattr takes only with the whole field cleared.
  bool rec_atime_set = false;
  uint64_t rec_atime = 0;
  // "tmpcopyup" (runc's and crun's extension; podman's default for --tmpfs): a tmpfs starts
  // with a copy of the directory it covers.
  bool tmpcopyup = false;
};

// Unknown options are filesystem data, as in mount(8); "X-" options are dropped.
MountOptions ParseMountOptions(const std::vector<std::string>& options);

// rootfsPropagation: "" (default: rslave, as runc), shared, slave, private, unbindable and
// their r-prefixed forms.
Result<unsigned long> ParsePropagation(const std::string& value);

}  // namespace skiff::runtime
