// linux.namespaces: new ones, joined ones by path, the user namespace's id maps, and what
// the pid and cgroup namespaces look like from inside.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "bundle.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

// Spec type -> /proc/self/ns entry.
const std::map<std::string, std::string> kNsFile = {
    {"pid", "pid"},   {"network", "net"},   {"ipc", "ipc"},   {"uts", "uts"},
    {"mount", "mnt"}, {"cgroup", "cgroup"}, {"user", "user"}, {"time", "time"}};

class NamespacesTest : public BundleTest {
 protected:
  void RemoveNs(const std::string& type) {
    json& ns = spec_["linux"]["namespaces"];
    for (size_t i = 0; i < ns.size(); ++i)
      if (ns[i]["type"] == type) {
        ns.erase(i);
        return;
      }
  }
  std::vector<std::string> SpecNs() {
    std::vector<std::string> out;
    for (const auto& n : spec_["linux"]["namespaces"]) out.push_back(n["type"]);
    return out;
  }
  json ProbeNs() {
    CmdResult r = RunProbe({"ns"});
    EXPECT_EQ(r.code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out;
    return j.is_object() ? j : json::object();
  }
};

TEST_F(NamespacesTest, EachSpecNamespaceIsNew) {
  std::vector<std::string> types = SpecNs();
  ASSERT_EQ(types.size(), 6u);  // pid network ipc uts mount cgroup
  json ns = ProbeNs();
  for (const auto& [type, file] : kNsFile) {
    ASSERT_TRUE(ns.contains(file)) << file;
    bool in_spec = std::find(types.begin(), types.end(), type) != types.end();
    unsigned long host = HostNsInode(file);
    if (in_spec)
      EXPECT_NE(ns[file].get<unsigned long>(), host) << type << " should be a new namespace";
    else
      EXPECT_EQ(ns[file].get<unsigned long>(), host) << type << " should be the host's";
  }
}

TEST_F(NamespacesTest, WithoutNetworkEntryItIsTheHosts) {
  RemoveNs("network");
  RemoveNs("ipc");
  json ns = ProbeNs();
  EXPECT_EQ(ns.value("net", 0ul), HostNsInode("net"));
  EXPECT_EQ(ns.value("ipc", 0ul), HostNsInode("ipc"));
  EXPECT_NE(ns.value("uts", 0ul), HostNsInode("uts"));
}

TEST_F(NamespacesTest, JoinNetworkNamespaceByPath) {
  int ready[2];
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
  pid_t holder = fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    char ok = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
    (void)!write(ready[1], &ok, 1);
    pause();
    _exit(0);
  }
  OwnPid(holder);
  close(ready[1]);
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  close(ready[0]);
  ASSERT_EQ(ok, 'y');
  std::string path = "/proc/" + std::to_string(holder) + "/ns/net";
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  ASSERT_NE(st.st_ino, HostNsInode("net"));

  for (auto& n : spec_["linux"]["namespaces"])
    if (n["type"] == "network") n["path"] = path;
  json ns = ProbeNs();
  EXPECT_EQ(ns.value("net", 0ul), st.st_ino);
}

TEST_F(NamespacesTest, JoinMissingPathFails) {
  for (auto& n : spec_["linux"]["namespaces"])
    if (n["type"] == "network") n["path"] = "/proc/999999999/ns/net";
  CmdResult r = RunProbe({"ns"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("/proc/999999999/ns/net"), std::string::npos) << r.err;
}

TEST_F(NamespacesTest, UserNamespaceWithMappings) {
  spec_["linux"]["namespaces"].push_back({{"type", "user"}});
  spec_["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  spec_["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  CmdResult r = RunArgs({"/bin/sh", "-c",
                         "cat /proc/self/uid_map /proc/self/gid_map; /bin/skiff-probe ids; "
                         "/bin/skiff-probe ns"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::string uid_map, gid_map, ids_line, ns_line;
  std::getline(in, uid_map);
  std::getline(in, gid_map);
  std::getline(in, ids_line);
  std::getline(in, ns_line);
  auto squeeze = [](std::string s) {
    std::istringstream w(s);
    std::string out, tok;
    while (w >> tok) out += (out.empty() ? "" : " ") + tok;
    return out;
  };
  EXPECT_EQ(squeeze(uid_map), "0 100000 65536");
  EXPECT_EQ(squeeze(gid_map), "0 100000 65536");
  json ids = json::parse(ids_line, nullptr, false);
  EXPECT_EQ(ids["uid"], 0) << ids_line;
  EXPECT_EQ(ids["gid"], 0) << ids_line;
  json ns = json::parse(ns_line, nullptr, false);
  EXPECT_NE(ns.value("user", 0ul), HostNsInode("user")) << ns_line;
}

TEST_F(NamespacesTest, PidNamespaceMakesProbePid1) {
  json j = ProbeAll();
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["pid"], 1);
  EXPECT_EQ(j["ppid"], 0);
}

TEST_F(NamespacesTest, WithoutPidNamespaceProbeSeesHostPids) {
  RemoveNs("pid");
  json j = ProbeAll();
  ASSERT_TRUE(j.is_object());
  EXPECT_GT(j.value("pid", 0), 1);
}

TEST_F(NamespacesTest, CgroupNamespaceShowsRootPaths) {
  json j = ProbeAll();
  ASSERT_TRUE(j.is_object());
  ASSERT_TRUE(j["cgroup"].is_array());
  ASSERT_FALSE(j["cgroup"].empty());
  for (const auto& line : j["cgroup"]) {
    std::string l = line;
    EXPECT_EQ(l.substr(l.rfind(':')), ":/") << l;
  }
}

TEST_F(NamespacesTest, WithoutCgroupNamespaceShowsSkiffPaths) {
  RemoveNs("cgroup");
  spec_["process"]["args"] = {"/bin/skiff-probe", "cgroup"};
  CmdResult r = RunProbe({"cgroup"});
  ASSERT_EQ(r.code, 0) << r.err;
  json lines = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(lines.is_array()) << r.out;
  bool memory = false;
  for (const auto& line : lines) {
    std::string l = line;
    if (l.find(":memory:") == std::string::npos) continue;
    memory = true;
    EXPECT_NE(l.find(":memory:/skiff/itest-"), std::string::npos) << l;
  }
  EXPECT_TRUE(memory) << r.out;
}

}  // namespace
}  // namespace skiff::itest
