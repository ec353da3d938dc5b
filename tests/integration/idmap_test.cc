// Idmapped bind mounts (mounts[].uidMappings/gidMappings, runtime-spec 1.2).
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "bundle.h"

namespace skiff::itest {
namespace {

class IdmapTest : public BundleTest {};

TEST_F(IdmapTest, OwnersAreMappedOnlyOnTheIdmappedMount) {
  std::string dir = TempDir("idmapped");
  std::string file = dir + "/f";
  std::ofstream(file) << "x";
  ASSERT_EQ(::chown(file.c_str(), 0, 0), 0);
  spec_["mounts"].push_back({{"destination", "/mapped"}, {"type", "bind"}, {"source", dir},
                             {"options", {"bind", "idmap"}},
                             {"uidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}}},
                             {"gidMappings", {{{"containerID", 0}, {"hostID", 2000}, {"size", 1}}}}});
  spec_["mounts"].push_back({{"destination", "/plain"}, {"type", "bind"}, {"source", dir},
                             {"options", {"bind"}}});
  CmdResult r = RunArgs({"/bin/sh", "-c", "stat -c '%u:%g' /mapped/f /plain/f"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1000:2000\n0:0\n");
  // The host's view is untouched.
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
}

TEST_F(IdmapTest, OnlyBindMountsCanBeIdmapped) {
  spec_["mounts"].push_back({{"destination", "/t"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                             {"options", {"idmap"}},
                             {"uidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}}},
                             {"gidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}}}});
  CmdResult r = RunArgs({"/bin/true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("idmapped mounts are supported for bind mounts"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace skiff::itest

namespace skiff::itest {
namespace {

// "idmap" maps the top mount of an rbind only; "ridmap" its submounts too (config.md).
TEST_F(IdmapTest, RidmapReachesSubmountsIdmapDoesNot) {
  std::string dir = TempDir("idtree");
  std::string sub = dir + "/sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
  ASSERT_EQ(::mount("tmpfs", sub.c_str(), "tmpfs", 0, "mode=755"), 0);
  OwnMount(sub);
  std::ofstream(dir + "/top") << "t";
  std::ofstream(sub + "/low") << "l";
  auto maps = [](nlohmann::json m) {
    m["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
    m["gidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
    return m;
  };
  spec_["mounts"].push_back(maps({{"destination", "/a"}, {"type", "bind"}, {"source", dir},
                                  {"options", {"rbind", "idmap"}}}));
  spec_["mounts"].push_back(maps({{"destination", "/b"}, {"type", "bind"}, {"source", dir},
                                  {"options", {"rbind", "ridmap"}}}));
  CmdResult r = RunArgs({"/bin/sh", "-c", "stat -c '%u' /a/top /a/sub/low /b/top /b/sub/low"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1000\n0\n1000\n1000\n");
}

}  // namespace
}  // namespace skiff::itest
