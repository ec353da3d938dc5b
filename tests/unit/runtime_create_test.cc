#include <gtest/gtest.h>

#include "oci/spec.h"
#include "runtime/create_internal.h"
#include "runtime/planner.h"

namespace skiff::runtime {
namespace {

std::string Text(const oci::DeviceRule& r) {
  return std::string(r.allow ? "allow " : "deny ") + (r.type.empty() ? "a" : r.type) + " " +
         (r.major ? std::to_string(*r.major) : "*") + ":" +
         (r.minor ? std::to_string(*r.minor) : "*") + " " + (r.access.empty() ? "rwm" : r.access);
}

std::vector<std::string> Texts(const std::vector<oci::DeviceRule>& rules) {
  std::vector<std::string> out;
  for (const auto& r : rules) out.push_back(Text(r));
  return out;
}

// An engine's spec (skiff's, Docker's) lists deny-all and the default devices itself; the
// runtime adds the same: each rule is written to devices.allow/deny once, in order.
TEST(ResourcesWithDefaults, DefaultDevicesOnceWhenTheSpecListsThem) {
  oci::Spec spec;
  spec.linux.emplace();
  spec.linux->resources.emplace();
  auto& devs = spec.linux->resources->devices;
  devs.push_back({false, "", std::nullopt, std::nullopt, "rwm"});
  for (const auto& d : DefaultDeviceRules()) devs.push_back(d);
  oci::Resources r = ResourcesWithDefaults(spec);
  std::vector<std::string> want = {"deny a *:* rwm"};
  for (const auto& d : DefaultDeviceRules()) want.push_back(Text(d));
  EXPECT_EQ(Texts(r.devices), want);
}

// A repeat after a rule of the other kind does change something and stays.
TEST(ResourcesWithDefaults, KeepsARuleThatMattersAgain) {
  oci::Spec spec;
  spec.linux.emplace();
  spec.linux->resources.emplace();
  auto& devs = spec.linux->resources->devices;
  oci::DeviceRule null_dev{true, "c", 1, 3, "rwm"};
  devs.push_back(null_dev);
  devs.push_back({false, "c", 1, 3, "rwm"});  // the spec denies /dev/null after all
  oci::Resources r = ResourcesWithDefaults(spec);
  std::vector<std::string> got = Texts(r.devices);
  ASSERT_GE(got.size(), 4u);
  EXPECT_EQ(got[0], "deny a *:* rwm");
  EXPECT_EQ(got[1], "allow c 1:3 rwm");
  EXPECT_EQ(got[2], "deny c 1:3 rwm");
  // The defaults follow, /dev/null among them again: it is allowed in the end, as runc has it.
  EXPECT_NE(std::find(got.begin() + 3, got.end(), "allow c 1:3 rwm"), got.end());
  // Without a spec list: deny all and the defaults.
  oci::Spec bare;
  EXPECT_EQ(ResourcesWithDefaults(bare).devices.size(), DefaultDeviceRules().size() + 1);
}

}  // namespace
}  // namespace skiff::runtime
