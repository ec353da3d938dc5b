#include "base/error.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace skiff {
namespace {

Result<int> Half(int x) {
  if (x % 2) return MakeError(EINVAL, "half of %d", x);
  return x / 2;
}

Result<int> Quarter(int x) {
  int h = TRY(Half(x).Wrap("quarter"));
  return TRY(Half(h));
}

Status FailOpen() {
  errno = ENOENT;
  return Errno("open %s", "/nope");
}

TEST(Error, MessageAddsStrerror) {
  Status st = FailOpen();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ENOENT);
  EXPECT_EQ(st.error().Message(), "open /nope: No such file or directory");
}

TEST(Error, WrapPrefixesContext) {
  Status st = std::move(FailOpen()).Wrap("create c1");
  EXPECT_EQ(st.error().Message(), "create c1: open /nope: No such file or directory");
}

TEST(Error, TryPropagatesAndYieldsValue) {
  EXPECT_EQ(Quarter(8).value(), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().msg, "half of 3");
  auto r2 = Quarter(5);
  EXPECT_EQ(r2.error().Message(), "quarter: half of 5: Invalid argument");
}

TEST(Error, LogicErrorHasNoReason) {
  Error e = MakeError(0, "bad %s", "thing");
  EXPECT_EQ(e.Message(), "bad thing");
}

TEST(StrFormat, LongStrings) {
  std::string big(2000, 'x');
  EXPECT_EQ(StrFormat("<%s>", big.c_str()).size(), 2002u);
}

}  // namespace
}  // namespace skiff
