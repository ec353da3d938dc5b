// skiff's start loads no libcurl (dlopened by the registry client on first use) and no
// libxml2/ICU (libarchive is linked statically, without its xar writer): the container hot
// path pays for neither. See CMakeLists.txt (skiff_image) and src/image/http.cc.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "bundle.h"

extern char** environ;

namespace skiff::itest {
namespace {

class StartupLibsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-libs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    work_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!work_.empty()) std::filesystem::remove_all(work_, ec);
  }

  // The test's environment plus one variable.
  static CmdOptions WithEnv(const std::string& var) {
    CmdOptions o;
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    env.push_back(var);
    o.env = env;
    return o;
  }

  static void ExpectNoHeavyLibs(const std::string& text) {
    for (const char* lib : {"libcurl", "libxml2", "libicu", "libnghttp2", "libgnutls"})
      EXPECT_EQ(text.find(lib), std::string::npos) << lib << " in:\n" << text;
  }

  std::string work_;
};

// What ldd shows: the libraries the loader maps before main.
TEST_F(StartupLibsTest, LinkedLibrariesExcludeCurlAndXml) {
  CmdResult r = RunCommand({SKIFF_BIN}, work_, WithEnv("LD_TRACE_LOADED_OBJECTS=1"));
  ASSERT_EQ(r.code, 0) << r.err;
  // The listing is real: libc is in it.
  ASSERT_NE(r.out.find("libc.so.6"), std::string::npos) << r.out;
  ExpectNoHeavyLibs(r.out);
  // Nor the big C++ and crypto libraries: their archives are linked in (CMakeLists.txt), as
  // their symbol lookups and relocations were a tenth of a short container's CPU.
  for (const char* lib : {"libstdc++", "libcrypto", "libseccomp", "libzstd", "liblzma"})
    EXPECT_EQ(r.out.find(lib), std::string::npos) << lib << " in:\n" << r.out;
}

// And a whole run of a command that makes no request: nothing dlopened either.
TEST_F(StartupLibsTest, VersionLoadsNoCurl) {
  CmdResult r = RunCommand({SKIFF_BIN, "--version"}, work_, WithEnv("LD_DEBUG=libs"));
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_NE(r.err.find("libc.so.6"), std::string::npos) << r.err;  // LD_DEBUG took effect
  ExpectNoHeavyLibs(r.err);
}

}  // namespace
}  // namespace skiff::itest
