#include "engine/host_info.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/file.h"
#include "cgroup/manager.h"
#include "image/images.h"

namespace skiff::engine {

namespace {

// A syscall exists when it fails with anything but ENOSYS on deliberately bad arguments.
bool Have(long rc) { return rc >= 0 || errno != ENOSYS; }

std::string OsName() {
  auto text = ReadFile("/etc/os-release");
  if (!text.ok()) return "";
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
    std::string v = line.substr(12);
    if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return "";
}

}  // namespace

Result<HostInfo> ProbeHost(const std::string& root) {
  HostInfo h;
  struct utsname u{};
  ::uname(&u);
  h.kernel = u.release;
  h.arch = u.machine;
  h.os = OsName();
  h.cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  struct sysinfo si{};
  if (::sysinfo(&si) == 0) h.mem_total = static_cast<int64_t>(si.totalram) * si.mem_unit;

  auto cg = cgroup::Detect();
  if (cg.ok()) {
    h.cgroup_layout = cgroup::LayoutName(cg->layout);
    for (const auto& [name, mnt] : cg->v1) h.cgroup_controllers.push_back(name);
    for (const auto& c : cg->unified_controllers) h.cgroup_controllers.push_back(c + " (v2)");
  }
  auto fs = ReadFile("/proc/filesystems");
  h.overlayfs = fs.ok() && fs->find("\toverlay\n") != std::string::npos;
  if (DIR* d = ::opendir("/proc/self/ns")) {
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == ".." || n.find("_for_children") != std::string::npos) continue;
      h.namespaces.push_back(n);
    }
    ::closedir(d);
    std::sort(h.namespaces.begin(), h.namespaces.end());
  }
  h.seccomp = ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
  auto actions = ReadFile("/proc/sys/kernel/seccomp/actions_avail");
  h.seccomp_notify = actions.ok() && actions->find("user_notif") != std::string::npos;
  h.clone3 = Have(::syscall(SYS_clone3, nullptr, 0));
  struct open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  long fd = ::syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));
  h.openat2 = Have(fd);
  if (fd >= 0) ::close(static_cast<int>(fd));
  long pfd = ::syscall(SYS_pidfd_open, ::getpid(), 0);
  h.pidfd = Have(pfd);
  if (pfd >= 0) ::close(static_cast<int>(pfd));
  h.close_range = Have(::syscall(SYS_close_range, ~0U, 0U, 0));  // first > last: EINVAL
  h.rootless = ::geteuid() != 0;
  h.root = root;
  // Only an existing store: info must not create one.
  auto store = PathExists(root + "/oci/index.json") ? image::Store::Open(root + "/oci")
                                                    : Result<image::Store>(MakeError(0, "none"));
  if (store.ok()) {
    if (auto list = image::ListImages(*store); list.ok()) h.images = static_cast<int>(list->size());
  }
  return h;
}

std::string HostInfoJson(const HostInfo& h) {
  nlohmann::json j = {
      {"KernelVersion", h.kernel},
      {"OperatingSystem", h.os},
      {"Architecture", h.arch},
      {"NCPU", h.cpus},
      {"MemTotal", h.mem_total},
      {"CgroupVersion", h.cgroup_layout == "v2" ? "2" : "1"},
      {"CgroupLayout", h.cgroup_layout},
      {"CgroupControllers", h.cgroup_controllers},
      {"Driver", h.overlayfs ? "overlay" : "none"},
      {"Namespaces", h.namespaces},
      {"Seccomp", h.seccomp},
      {"SeccompNotify", h.seccomp_notify},
      {"Syscalls", {{"clone3", h.clone3}, {"openat2", h.openat2}, {"pidfd_open", h.pidfd},
                    {"close_range", h.close_range}}},
      {"Rootless", h.rootless},
      {"SkiffRootDir", h.root},
      {"Images", h.images},
  };
  return j.dump(2);
}

std::string HostInfoText(const HostInfo& h) {
  auto yes = [](bool b) { return b ? "yes" : "no"; };
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
    return s;
  };
  std::string s;
  s += StrFormat(" Kernel Version: %s\n", h.kernel.c_str());
  s += StrFormat(" Operating System: %s\n", h.os.c_str());
  s += StrFormat(" Architecture: %s\n CPUs: %d\n Total Memory: %.2fGiB\n", h.arch.c_str(), h.cpus,
                 static_cast<double>(h.mem_total) / (1 << 30));
  s += StrFormat(" Cgroup Version: %s (%s layout)\n", h.cgroup_layout == "v2" ? "2" : "1",
                 h.cgroup_layout.c_str());
  s += StrFormat(" Cgroup Controllers: %s\n", join(h.cgroup_controllers).c_str());
  s += StrFormat(" Storage Driver: %s\n", h.overlayfs ? "overlay" : "none (no overlayfs)");
  s += StrFormat(" Namespaces: %s\n", join(h.namespaces).c_str());
  s += StrFormat(" Seccomp: %s (user notification: %s)\n", yes(h.seccomp), yes(h.seccomp_notify));
  s += StrFormat(" Syscalls: clone3 %s, openat2 %s, pidfd_open %s, close_range %s\n", yes(h.clone3),
                 yes(h.openat2), yes(h.pidfd), yes(h.close_range));
  s += StrFormat(" Rootless: %s\n Skiff Root Dir: %s\n Images: %d\n", yes(h.rootless),
                 h.root.c_str(), h.images);
  return s;
}

}  // namespace skiff::engine
