// Pure pieces of the container commands: json-file log records, ps's STATUS column,
// durations, ps filters, --since.
#include <gtest/gtest.h>

#include "engine/containers.h"
#include "engine/logs.h"

namespace skiff::engine {
namespace {

TEST(EngineLogs, EncodesAsDockersJsonFile) {
  EXPECT_EQ(EncodeLogLine("hello\n", "stdout", "2024-05-01T10:11:12.5Z"),
            "{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":\"2024-05-01T10:11:12.5Z\"}\n");
  // Go's encoder escapes control characters and, HTML-safe, < > &.
  EXPECT_EQ(EncodeLogLine("a\t\"b\"\\<&>\x01", "stderr", "t"),
            "{\"log\":\"a\\t\\\"b\\\"\\\\\\u003c\\u0026\\u003e\\u0001\",\"stream\":\"stderr\","
            "\"time\":\"t\"}\n");
}

TEST(EngineLogs, DecodesWhatItEncodes) {
  std::string line = EncodeLogLine("x <y>\n", "stderr", "2024-05-01T10:11:12.000000123Z");
  line.pop_back();
  auto e = DecodeLogLine(line);
  ASSERT_TRUE(e.ok()) << e.error().Message();
  EXPECT_EQ(e->log, "x <y>\n");
  EXPECT_EQ(e->stream, "stderr");
  EXPECT_EQ(e->time_ns, 1714558272LL * 1000000000 + 123);
  EXPECT_FALSE(DecodeLogLine("{\"log\":\"torn").ok());
}

TEST(EngineLogs, LogTimeIsRfc3339NanoUtc) {
  std::string t = LogTimeNow();
  ASSERT_GE(t.size(), 20u);
  EXPECT_EQ(t.back(), 'Z');
  EXPECT_EQ(t[10], 'T');
  EXPECT_TRUE(ParseRfc3339Nano(t).ok()) << t;
}

TEST(EngineLogs, SplitterEmitsLinesAndSplitsLongOnes) {
  LogSplitter s;
  std::vector<std::string> got;
  auto emit = [&](std::string_view l) { got.emplace_back(l); };
  s.Feed("a\nb", emit);
  EXPECT_EQ(got, (std::vector<std::string>{"a\n"}));
  s.Feed("c\n\n", emit);
  EXPECT_EQ(got, (std::vector<std::string>{"a\n", "bc\n", "\n"}));
  got.clear();
  s.Feed(std::string(kMaxLogLine + 10, 'x'), emit);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].size(), kMaxLogLine);
  s.Flush(emit);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1], std::string(10, 'x'));
}

TEST(EngineLogs, ParsesSince) {
  int64_t now = 1714558272LL * 1000000000;
  EXPECT_EQ(*ParseSince("10m", now), now - 600LL * 1000000000);
  EXPECT_EQ(*ParseSince("1h30m", now), now - 5400LL * 1000000000);
  EXPECT_EQ(*ParseSince("1714558000", now), 1714558000LL * 1000000000);
  EXPECT_EQ(*ParseSince("1714558000.5", now), 1714558000LL * 1000000000 + 500000000);
  EXPECT_EQ(*ParseSince("2024-05-01T10:11:12Z", now), 1714558272LL * 1000000000);
  EXPECT_EQ(*ParseSince("2024-05-01T12:11:12+02:00", now), 1714558272LL * 1000000000);
  EXPECT_FALSE(ParseSince("yesterday", now).ok());
}

ContainerRecord Rec(ContainerStatus s) {
  ContainerRecord r;
  r.id = std::string(64, 'a');
  r.name = "web";
  r.image = "busybox";
  r.image_id = "sha256:" + std::string(64, 'b');
  r.status = s;
  r.started_at = "2024-05-01T10:00:00Z";
  r.finished_at = "2024-05-01T10:05:00Z";
  return r;
}

TEST(EngineContainers, StatusTextAsDockerPs) {
  int64_t t0 = 1714557600;  // 10:00:00
  EXPECT_EQ(StatusText(Rec(ContainerStatus::kCreated), t0), "Created");
  EXPECT_EQ(StatusText(Rec(ContainerStatus::kRunning), t0 + 3), "Up 3 seconds");
  EXPECT_EQ(StatusText(Rec(ContainerStatus::kRunning), t0), "Up Less than a second");
  EXPECT_EQ(StatusText(Rec(ContainerStatus::kPaused), t0 + 120), "Up 2 minutes (Paused)");
  ContainerRecord ex = Rec(ContainerStatus::kExited);
  ex.exit_code = 137;
  EXPECT_EQ(StatusText(ex, t0 + 300 + 5), "Exited (137) 5 seconds ago");
  ex.finished_at = kZeroTime;  // a failed start of a created container
  EXPECT_EQ(StatusText(ex, t0), "Created");
  // While the monitor waits out the restart delay: the last exit code, since it exited.
  ContainerRecord rs = Rec(ContainerStatus::kRestarting);
  rs.exit_code = 1;
  EXPECT_EQ(StatusText(rs, t0 + 300 + 2), "Restarting (1) 2 seconds ago");
  EXPECT_TRUE(MatchesFilters(rs, {*ParsePsFilter("status=restarting")}));
  EXPECT_FALSE(MatchesFilters(rs, {*ParsePsFilter("status=running")}));
}

TEST(EngineContainers, HumanDuration) {
  EXPECT_EQ(HumanDuration(0), "Less than a second");
  EXPECT_EQ(HumanDuration(1), "1 second");
  EXPECT_EQ(HumanDuration(59), "59 seconds");
  EXPECT_EQ(HumanDuration(60), "About a minute");
  EXPECT_EQ(HumanDuration(45 * 60), "45 minutes");
  EXPECT_EQ(HumanDuration(3600), "About an hour");
  EXPECT_EQ(HumanDuration(5 * 3600), "5 hours");
  EXPECT_EQ(HumanDuration(3 * 86400), "3 days");
  // go-units' boundaries: hours are rounded (1 h 29 min is "About an hour", 1 h 30 min "2 hours").
  EXPECT_EQ(HumanDuration(-5), "Less than a second");
  EXPECT_EQ(HumanDuration(2), "2 seconds");
  EXPECT_EQ(HumanDuration(119), "About a minute");
  EXPECT_EQ(HumanDuration(120), "2 minutes");
  EXPECT_EQ(HumanDuration(59 * 60 + 59), "59 minutes");
  EXPECT_EQ(HumanDuration(3600 + 1799), "About an hour");
  EXPECT_EQ(HumanDuration(3600 + 1800), "2 hours");
  EXPECT_EQ(HumanDuration(47 * 3600), "47 hours");
  EXPECT_EQ(HumanDuration(48 * 3600), "2 days");
  EXPECT_EQ(HumanDuration(13 * 86400), "13 days");
  EXPECT_EQ(HumanDuration(14 * 86400), "2 weeks");
  EXPECT_EQ(HumanDuration(59 * 86400), "8 weeks");
  EXPECT_EQ(HumanDuration(60 * 86400), "2 months");
  EXPECT_EQ(HumanDuration(729 * 86400), "24 months");
  EXPECT_EQ(HumanDuration(730 * 86400), "2 years");
  EXPECT_EQ(HumanDuration(3 * 365 * 86400 + 86400), "3 years");
}

TEST(EngineContainers, PsFilters) {
  ContainerRecord r = Rec(ContainerStatus::kRunning);
  auto f = [](const char* t) { return *ParsePsFilter(t); };
  EXPECT_TRUE(MatchesFilters(r, {}));
  EXPECT_TRUE(MatchesFilters(r, {f("status=running")}));
  EXPECT_FALSE(MatchesFilters(r, {f("status=exited")}));
  // Several values of one key: any; several keys: all.
  EXPECT_TRUE(MatchesFilters(r, {f("status=exited"), f("status=running")}));
  EXPECT_FALSE(MatchesFilters(r, {f("status=running"), f("name=db")}));
  EXPECT_TRUE(MatchesFilters(r, {f("name=we"), f("id=aaaa")}));
  EXPECT_TRUE(MatchesFilters(r, {f("ancestor=busybox:latest")}));
  EXPECT_TRUE(MatchesFilters(r, {f("ancestor=docker.io/library/busybox")}));
  EXPECT_TRUE(MatchesFilters(r, {f("ancestor=bbbbbbbb")}));
  EXPECT_FALSE(MatchesFilters(r, {f("ancestor=alpine")}));
  ContainerRecord ex = Rec(ContainerStatus::kExited);
  ex.exit_code = 3;
  EXPECT_TRUE(MatchesFilters(ex, {f("exited=3")}));
  EXPECT_FALSE(MatchesFilters(ex, {f("exited=0")}));
  EXPECT_FALSE(ParsePsFilter("label=x").ok());
  EXPECT_FALSE(ParsePsFilter("status=sleeping").ok());
  EXPECT_FALSE(ParsePsFilter("novalue").ok());
}

TEST(EngineContainers, StartExitCodes) {
  EXPECT_EQ(StartExitCode(MakeError(ENOENT, "exec nope: not found in $PATH")), 127);
  EXPECT_EQ(StartExitCode(MakeError(EACCES, "exec /etc/passwd")), 126);
  EXPECT_EQ(StartExitCode(MakeError(EBUSY, "mount overlay")), 125);
}

}  // namespace
}  // namespace skiff::engine
