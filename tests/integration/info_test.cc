// skiff info reports what this kernel has, found by asking it.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>

#include "bundle.h"

namespace skiff::itest {
namespace {

TEST(SkiffInfo, ReportsTheHostAsTheKernelSeesIt) {
  char tmpl[] = "/tmp/skiff-info-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string work = tmpl;
  CmdResult r = RunCommand({SKIFF_BIN, "--root", work + "/root", "info", "--format", "json"}, work);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  // The cgroup layout as mountinfo has it: a cgroup2 mount beside v1 controllers = hybrid.
  std::string mountinfo = ReadText("/proc/self/mountinfo");
  bool has_v2 = mountinfo.find(" - cgroup2 ") != std::string::npos;
  bool has_v1 = mountinfo.find(" - cgroup ") != std::string::npos;
  EXPECT_EQ(j["CgroupLayout"], has_v1 && has_v2 ? "hybrid" : has_v2 ? "v2" : "v1");
  bool overlay = ReadText("/proc/filesystems").find("\toverlay\n") != std::string::npos;
  EXPECT_EQ(j["Driver"], overlay ? "overlay" : "none");
  EXPECT_NE(std::find(j["Namespaces"].begin(), j["Namespaces"].end(), "user"),
            j["Namespaces"].end());
  EXPECT_EQ(j["Syscalls"]["openat2"], true);
  EXPECT_EQ(j["Images"], 0);
  EXPECT_FALSE(Exists(work + "/root")) << "info created a store";
  CmdResult text = RunCommand({SKIFF_BIN, "--root", work + "/root", "info"}, work);
  EXPECT_NE(text.out.find("Cgroup Version:"), std::string::npos);
  RemoveTree(work);
}

}  // namespace
}  // namespace skiff::itest
