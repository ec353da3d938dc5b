#include "image/registry_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/file.h"

namespace skiff::image {
namespace {

TEST(CheckInsecureRegistry, HostsPortsAndCidrs) {
  EXPECT_EQ(*CheckInsecureRegistry("reg.lan"), "reg.lan");
  EXPECT_EQ(*CheckInsecureRegistry("Reg.LAN:5000"), "reg.lan:5000");
  EXPECT_EQ(*CheckInsecureRegistry("10.1.2.3:5000"), "10.1.2.3:5000");
  EXPECT_EQ(*CheckInsecureRegistry("[fd00::1]:5000"), "[fd00::1]:5000");
  EXPECT_EQ(*CheckInsecureRegistry("[fd00::1]"), "[fd00::1]");
  EXPECT_EQ(*CheckInsecureRegistry("fd00::1"), "[fd00::1]");  // bare, as Docker takes it
  EXPECT_EQ(*CheckInsecureRegistry("10.0.0.0/8"), "10.0.0.0/8");
  EXPECT_EQ(*CheckInsecureRegistry("FD00::/8"), "fd00::/8");
  // Docker drops the scheme (with a warning).
  EXPECT_EQ(*CheckInsecureRegistry("http://reg.lan:5000"), "reg.lan:5000");
  EXPECT_EQ(*CheckInsecureRegistry("https://reg.lan"), "reg.lan");
}

TEST(CheckInsecureRegistry, BadEntriesSayWhy) {
  auto why = [](const std::string& e) {
    auto r = CheckInsecureRegistry(e);
    return r.ok() ? "accepted as " + *r : r.error().msg;
  };
  EXPECT_EQ(why(""), "\"\": invalid host");
  EXPECT_EQ(why("reg lan"), "\"reg lan\": invalid host");
  EXPECT_EQ(why("-reg.lan"), "\"-reg.lan\": invalid host");
  EXPECT_EQ(why("reg..lan"), "\"reg..lan\": invalid host");
  EXPECT_EQ(why("[reg.lan]:5000"), "\"[reg.lan]:5000\": invalid host");
  EXPECT_EQ(why("[fd00::1"), "\"[fd00::1\": invalid host");
  EXPECT_EQ(why("[fd00::1]5000"), "\"[fd00::1]5000\": invalid host");
  EXPECT_EQ(why("reg.lan:"), "\"reg.lan:\": invalid port");
  EXPECT_EQ(why("reg.lan:http"), "\"reg.lan:http\": invalid port");
  EXPECT_EQ(why("reg.lan:0"), "\"reg.lan:0\": invalid port");
  EXPECT_EQ(why("reg.lan:65536"), "\"reg.lan:65536\": invalid port");
  EXPECT_EQ(why("10.0.0.0/33"), "\"10.0.0.0/33\": invalid CIDR");
  EXPECT_EQ(why("fd00::/129"), "\"fd00::/129\": invalid CIDR");
  EXPECT_EQ(why("10.0.0/8"), "\"10.0.0/8\": invalid CIDR");
  EXPECT_EQ(why("10.0.0.0/"), "\"10.0.0.0/\": invalid CIDR");
  EXPECT_EQ(why("[fd00::]/8"), "\"[fd00::]/8\": invalid CIDR");
  EXPECT_EQ(why("reg.lan/v2"), "\"reg.lan/v2\": invalid CIDR");
  EXPECT_EQ(why("ftp://reg.lan"), "\"ftp://reg.lan\": a host[:port] or a CIDR, not a URL");
}

TEST(MatchesInsecureRegistry, HostPortHostAndCidr) {
  // host:port: that port only.
  EXPECT_TRUE(MatchesInsecureRegistry("reg.lan:5000", "reg.lan:5000"));
  EXPECT_FALSE(MatchesInsecureRegistry("reg.lan:6000", "reg.lan:5000"));
  EXPECT_FALSE(MatchesInsecureRegistry("reg.lan", "reg.lan:5000"));
  // host: any port.
  EXPECT_TRUE(MatchesInsecureRegistry("reg.lan", "reg.lan"));
  EXPECT_TRUE(MatchesInsecureRegistry("reg.lan:5000", "reg.lan"));
  EXPECT_TRUE(MatchesInsecureRegistry("REG.lan:5000", "reg.lan"));
  EXPECT_FALSE(MatchesInsecureRegistry("sub.reg.lan", "reg.lan"));
  EXPECT_FALSE(MatchesInsecureRegistry("reg.lan.evil", "reg.lan"));
  EXPECT_TRUE(MatchesInsecureRegistry("[fd00::1]:5000", "[fd00::1]"));
  EXPECT_TRUE(MatchesInsecureRegistry("[fd00::1]:5000", "[fd00::1]:5000"));
  EXPECT_FALSE(MatchesInsecureRegistry("[fd00::2]:5000", "[fd00::1]"));
  // CIDR v4.
  EXPECT_TRUE(MatchesInsecureRegistry("10.1.2.3:5000", "10.0.0.0/8"));
  EXPECT_TRUE(MatchesInsecureRegistry("10.255.255.255", "10.0.0.0/8"));
  EXPECT_FALSE(MatchesInsecureRegistry("11.0.0.1:5000", "10.0.0.0/8"));
  EXPECT_TRUE(MatchesInsecureRegistry("192.168.1.77", "192.168.1.64/27"));
  EXPECT_FALSE(MatchesInsecureRegistry("192.168.1.96", "192.168.1.64/27"));
  EXPECT_TRUE(MatchesInsecureRegistry("10.9.9.9", "10.1.2.3/8"));  // host bits ignored
  EXPECT_TRUE(MatchesInsecureRegistry("1.2.3.4", "0.0.0.0/0"));
  EXPECT_TRUE(MatchesInsecureRegistry("1.2.3.4", "1.2.3.4/32"));
  EXPECT_FALSE(MatchesInsecureRegistry("1.2.3.5", "1.2.3.4/32"));
  // CIDR v6.
  EXPECT_TRUE(MatchesInsecureRegistry("[fd12:3456::1]:5000", "fd00::/8"));
  EXPECT_FALSE(MatchesInsecureRegistry("[fe80::1]:5000", "fd00::/8"));
  EXPECT_TRUE(MatchesInsecureRegistry("[2001:db8:1::5]", "2001:db8::/32"));
  EXPECT_FALSE(MatchesInsecureRegistry("[2001:db9::5]", "2001:db8::/32"));
  // Families do not mix, and names are never resolved.
  EXPECT_FALSE(MatchesInsecureRegistry("10.1.2.3", "::/0"));
  EXPECT_FALSE(MatchesInsecureRegistry("[::1]", "0.0.0.0/0"));
  EXPECT_FALSE(MatchesInsecureRegistry("localhost", "127.0.0.0/8"));
  EXPECT_FALSE(MatchesInsecureRegistry("reg.lan:5000", "0.0.0.0/0"));
}

TEST(ParseRegistryConfig, DaemonJsonKey) {
  auto c = ParseRegistryConfig(
      R"({"insecure-registries": ["reg.lan:5000", "10.0.0.0/8", "http://Other"],
          "log-driver": "json-file", "registry-mirrors": []})",
      "/etc/skiff/config.json");
  ASSERT_TRUE(c.ok()) << c.error().Message();
  EXPECT_EQ(c->insecure_registries,
            (std::vector<std::string>{"reg.lan:5000", "10.0.0.0/8", "other"}));
  auto empty = ParseRegistryConfig("{}", "f");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->insecure_registries.empty());
  auto none = ParseRegistryConfig(R"({"insecure-registries": []})", "f");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->insecure_registries.empty());
}

TEST(ParseRegistryConfig, BadFilesNameTheFileAndWhat) {
  auto why = [](const std::string& text) {
    auto c = ParseRegistryConfig(text, "/etc/skiff/config.json");
    return c.ok() ? std::string("accepted") : c.error().Message();
  };
  std::string bad_json = why(R"({"insecure-registries": ["reg.lan")");
  EXPECT_EQ(bad_json.rfind("/etc/skiff/config.json: invalid JSON: ", 0), 0u) << bad_json;
  EXPECT_EQ(bad_json.find('\n'), std::string::npos) << bad_json;
  EXPECT_EQ(why("").rfind("/etc/skiff/config.json: invalid JSON: ", 0), 0u);  // an empty file
  EXPECT_EQ(why(R"(["reg.lan"])"), "/etc/skiff/config.json: expected a JSON object, not array");
  EXPECT_EQ(why(R"({"insecure-registries": "reg.lan"})"),
            "/etc/skiff/config.json: insecure-registries: expected an array of strings, not "
            "string");
  EXPECT_EQ(why(R"({"insecure-registries": {"reg.lan": true}})"),
            "/etc/skiff/config.json: insecure-registries: expected an array of strings, not "
            "object");
  EXPECT_EQ(why(R"({"insecure-registries": ["reg.lan", 5000]})"),
            "/etc/skiff/config.json: insecure-registries: expected strings, not number 5000");
  EXPECT_EQ(why(R"({"insecure-registries": ["reg.lan", "10.0.0.0/33"]})"),
            "/etc/skiff/config.json: insecure-registries: \"10.0.0.0/33\": invalid CIDR");
}

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-config-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* v : {"SKIFF_CONFIG", "XDG_CONFIG_HOME", "HOME"}) {
      const char* old = ::getenv(v);
      saved_.emplace_back(v, old ? std::optional<std::string>(old) : std::nullopt);
      ::unsetenv(v);
    }
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) ::setenv(name.c_str(), value->c_str(), 1);
      else ::unsetenv(name.c_str());
    }
    ASSERT_TRUE(RemoveAll(dir_).ok());
  }
  std::string dir_;
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(ConfigFileTest, WhichFile) {
  EXPECT_EQ(FindConfigFile(true).path, "/etc/skiff/config.json");
  EXPECT_FALSE(FindConfigFile(true).must_exist);
  ::setenv("HOME", dir_.c_str(), 1);
  // A user without a file of their own gets the system's.
  EXPECT_EQ(FindConfigFile(false).path, "/etc/skiff/config.json");
  ASSERT_TRUE(MkdirAll(dir_ + "/.config/skiff").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/.config/skiff/config.json", "{}").ok());
  EXPECT_EQ(FindConfigFile(false).path, dir_ + "/.config/skiff/config.json");
  EXPECT_EQ(FindConfigFile(true).path, "/etc/skiff/config.json");  // root: never HOME's
  ::setenv("XDG_CONFIG_HOME", (dir_ + "/xdg").c_str(), 1);
  EXPECT_EQ(FindConfigFile(false).path, "/etc/skiff/config.json");
  ASSERT_TRUE(MkdirAll(dir_ + "/xdg/skiff").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/xdg/skiff/config.json", "{}").ok());
  EXPECT_EQ(FindConfigFile(false).path, dir_ + "/xdg/skiff/config.json");
  ::setenv("SKIFF_CONFIG", "/elsewhere.json", 1);
  for (bool root : {true, false}) {
    EXPECT_EQ(FindConfigFile(root).path, "/elsewhere.json");
    EXPECT_TRUE(FindConfigFile(root).must_exist);
  }
}

TEST_F(ConfigFileTest, MissingIsEmptyUnlessNamed) {
  std::string path = dir_ + "/config.json";
  auto quiet = LoadRegistryConfig({path, false});
  ASSERT_TRUE(quiet.ok()) << quiet.error().Message();
  EXPECT_TRUE(quiet->insecure_registries.empty());
  auto named = LoadRegistryConfig({path, true});
  ASSERT_FALSE(named.ok());
  EXPECT_EQ(named.error().code, ENOENT);
  EXPECT_NE(named.error().msg.find(path), std::string::npos) << named.error().msg;
  ASSERT_TRUE(WriteFileAtomic(path, R"({"insecure-registries": ["reg.lan"]})").ok());
  auto read = LoadRegistryConfig({path, true});
  ASSERT_TRUE(read.ok()) << read.error().Message();
  EXPECT_EQ(read->insecure_registries, std::vector<std::string>{"reg.lan"});
  ASSERT_TRUE(WriteFileAtomic(path, "{").ok());
  auto broken = LoadRegistryConfig({path, false});  // there, so read, and refused
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().msg.rfind(path + ": invalid JSON", 0), 0u) << broken.error().msg;
}

}  // namespace
}  // namespace skiff::image
