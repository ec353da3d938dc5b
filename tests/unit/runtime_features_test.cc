// `features` is what containerd and podman read to learn what the runtime takes: it must list
// what the mount option parser knows, and nothing it would pass to the filesystem as data.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/caps.h"
#include "runtime/container.h"
#include "runtime/mount_options.h"

namespace skiff::runtime {
namespace {

using json = nlohmann::json;

std::vector<std::string> ListedMountOptions() {
  json f = json::parse(FeaturesJson());
  return f["mountOptions"].get<std::vector<std::string>>();
}

// containerd and podman read linux.capabilities to know which names they may ask for: every
// one listed must resolve, and the Docker defaults must be there.
TEST(Features, ListsCapabilitiesThatResolve) {
  json f = json::parse(FeaturesJson());
  auto caps = f["linux"]["capabilities"].get<std::vector<std::string>>();
  ASSERT_GE(caps.size(), 38u);  // CAP_CHOWN .. CAP_AUDIT_READ at least (Linux 3.16)
  for (const char* c : {"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN", "CAP_AUDIT_WRITE"})
    EXPECT_NE(std::find(caps.begin(), caps.end(), c), caps.end()) << c;
  oci::Capabilities want;
  want.bounding = caps;
  CapSets sets = ResolveCapabilities(want, static_cast<int>(caps.size()) - 1);
  EXPECT_TRUE(sets.unknown.empty()) << sets.unknown.front();
}

TEST(Features, EveryListedMountOptionIsKnownToTheParser) {
  for (const auto& o : ListedMountOptions())
    EXPECT_EQ(ParseMountOptions({o}).data, "") << o << " would reach the filesystem as data";
}

TEST(Features, TmpcopyupIsParsedAndListed) {
  MountOptions m = ParseMountOptions({"rw", "tmpcopyup", "size=1m"});
  EXPECT_TRUE(m.tmpcopyup);
  EXPECT_EQ(m.data, "size=1m");
  auto listed = ListedMountOptions();
  EXPECT_NE(std::find(listed.begin(), listed.end(), "tmpcopyup"), listed.end());
}

TEST(Features, EveryRecursiveOptionTheParserKnowsIsListed) {
  auto listed = ListedMountOptions();
  for (const char* o : {"rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec",
                        "rnodiratime", "rdiratime", "rnosymfollow", "rsymfollow", "rnoatime",
                        "ratime", "rrelatime", "rnorelatime", "rstrictatime", "rnostrictatime"}) {
    MountOptions m = ParseMountOptions({o});
    ASSERT_TRUE(m.data.empty() && (m.rec_attr_set || m.rec_attr_clr || m.rec_atime_set)) << o;
    EXPECT_NE(std::find(listed.begin(), listed.end(), o), listed.end()) << o << " not listed";
  }
}

}  // namespace
}  // namespace skiff::runtime
