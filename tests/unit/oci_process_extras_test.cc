#include <gtest/gtest.h>

#include "oci/spec.h"

namespace skiff::oci {
namespace {

std::string WithProcess(const std::string& extra, const std::string& linux_extra = "") {
  return R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
             "process": {"args": ["sh"], "cwd": "/" )" + extra + R"(},
             "linux": {"namespaces": [{"type": "pid"}] )" + linux_extra + "}}";
}

TEST(OciProcessExtras, SchedulerAndIoPriorityParse) {
  auto s = ParseSpec(WithProcess(R"(, "scheduler": {"policy": "SCHED_FIFO", "priority": 10,
      "flags": ["SCHED_FLAG_RESET_ON_FORK"]}, "ioPriority": {"class": "IOPRIO_CLASS_RT",
      "priority": 2})"));
  ASSERT_TRUE(s.ok()) << s.error().Message();
  ASSERT_TRUE(s->process->scheduler);
  EXPECT_EQ(s->process->scheduler->policy, "SCHED_FIFO");
  EXPECT_EQ(s->process->scheduler->priority, 10);
  EXPECT_EQ(s->process->scheduler->flags.size(), 1u);
  EXPECT_EQ(s->process->io_priority->io_class, "IOPRIO_CLASS_RT");
  EXPECT_TRUE(ValidateSpec(*s).ok());
}

TEST(OciProcessExtras, BadValuesNameTheField) {
  auto s = ParseSpec(WithProcess(R"(, "ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 9})"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(ValidateSpec(*s).error().msg, "process.ioPriority.priority: 9 is outside [0, 7]");
  auto t = ParseSpec(WithProcess(R"(, "scheduler": {"policy": 3})"));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().msg.rfind("process.scheduler.policy", 0), 0u) << t.error().msg;
}

TEST(OciProcessExtras, UnsupportedFieldsAreRecorded) {
  auto s = ParseSpec(WithProcess(R"(, "execCPUAffinity": {"initial": "0"})",
                                 R"(, "intelRdt": {"closID": "a"}, "resources": {"rdma": {}})"));
  ASSERT_TRUE(s.ok()) << s.error().Message();
  EXPECT_EQ(s->unsupported, (std::vector<std::string>{"process.execCPUAffinity",
                                                      "linux.intelRdt", "linux.resources.rdma"}));
  EXPECT_EQ(ValidateSpec(*s).error().msg, "process.execCPUAffinity: not supported by skiff-runtime");
}

}  // namespace
}  // namespace skiff::oci
