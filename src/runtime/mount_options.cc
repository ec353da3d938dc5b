#include "runtime/mount_options.h"

#include <sys/mount.h>

#include <cstring>

namespace skiff::runtime {
namespace {

struct FlagOption {
  const char* name;
  bool clear;
  unsigned long flag;
};

// The table mount(8) documents; "clear" options undo their counterparts.
constexpr FlagOption kFlags[] = {
    {"defaults", false, 0},         {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},        {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},      {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},        {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},      {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS}, {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT}, {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},  {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME}, {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME}, {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME}, {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME}, {"lazytime", false, MS_LAZYTIME},
    {"nolazytime", true, MS_LAZYTIME}, {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
};

struct PropOption {
  const char* name;
  unsigned long flag;
};

constexpr PropOption kPropagation[] = {
    {"private", MS_PRIVATE},           {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},             {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},               {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE},     {"runbindable", MS_UNBINDABLE | MS_REC},
};

struct RecAttr {
  const char* name;
  bool clear;
  uint64_t attr;
};

constexpr RecAttr kRecAttrs[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},       {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},   {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},     {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},   {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME}, {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW},
    {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
};

}  // namespace

MountOptions ParseMountOptions(const std::vector<std::string>& options) {
  MountOptions out;
  for (const std::string& o : options) {
    const char* s = o.c_str();
    bool done = false;
    for (const auto& f : kFlags) {
      if (strcmp(s, f.name) == 0) {
        if (f.clear)
          out.flags &= ~f.flag;
        else
          out.flags |= f.flag;
        done = true;
        break;
      }
    }
    if (done) continue;
    for (const auto& p : kPropagation) {
      if (strcmp(s, p.name) == 0) {
        out.propagation = p.flag;
        done = true;
        break;
      }
    }
    if (done) continue;
    for (const auto& r : kRecAttrs) {
      if (strcmp(s, r.name) == 0) {
        if (r.clear) {
          out.rec_attr_clr |= r.attr;
          out.rec_attr_set &= ~r.attr;
        } else {
          out.rec_attr_set |= r.attr;
          out.rec_attr_clr &= ~r.attr;
        }
        done = true;
        break;
      }
    }
    if (done) continue;
    static const std::pair<const char*, uint64_t> kRecAtime[] = {
        {"rnoatime", MOUNT_ATTR_NOATIME},        {"ratime", MOUNT_ATTR_RELATIME},
        {"rrelatime", MOUNT_ATTR_RELATIME},      {"rnostrictatime", MOUNT_ATTR_RELATIME},
        {"rstrictatime", MOUNT_ATTR_STRICTATIME}, {"rnorelatime", MOUNT_ATTR_STRICTATIME}};
    for (const auto& [name, mode] : kRecAtime) {
      if (o == name) {
        out.rec_atime_set = true;
        out.rec_atime = mode;
        done = true;
      }
    }
    if (done) continue;
    if (o == "bind" || o == "rbind") {
      out.bind = true;
      out.recursive = out.recursive || o == "rbind";
    } else if (o == "idmap" || o == "ridmap") {
      out.idmap = true;
      out.idmap_recursive = o == "ridmap";
    } else if (o == "tmpcopyup") {
      out.tmpcopyup = true;
    } else if (o.rfind("X-", 0) == 0 || o.rfind("x-", 0) == 0) {
      // userspace-only options (mount(8) X-*): nothing for the kernel
    } else {
      if (!out.data.empty()) out.data += ',';
      out.data += o;
    }
  }
  return out;
}

Result<unsigned long> ParsePropagation(const std::string& value) {
  if (value.empty()) return static_cast<unsigned long>(MS_SLAVE | MS_REC);
  for (const auto& p : kPropagation)
    if (value == p.name) return p.flag;
  return MakeError(EINVAL, "linux.rootfsPropagation: unknown propagation \"%s\"", value.c_str());
}

}  // namespace skiff::runtime
