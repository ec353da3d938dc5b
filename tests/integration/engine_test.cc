// skiff's container commands end to end (the fixture: engine_fixture.h).
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "bundle.h"
#include "engine_fixture.h"
#include "registry.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

class EngineTest : public EngineFixture {
 protected:
  EngineTest() : EngineFixture("eng") {}
};

TEST_F(EngineTest, RunPassesOutputAndExitCode) {
  CmdResult r = Skiff({"run", "--rm", "bb", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_NE(r.err.find("err\n"), std::string::npos) << r.err;
  CmdResult ps = Skiff({"ps", "-aq"});
  EXPECT_EQ(ps.out, "") << "--rm left a container";
  CmdResult ok = Skiff({"run", "--rm", "bb", "true"});
  EXPECT_EQ(ok.code, 0) << ok.err;
}

// Docker's --network none: a network namespace of its own with only lo, and lo up (a new
// namespace starts with it down, and 127.0.0.1 unreachable). --network host: the host's.
TEST_F(EngineTest, NetworkNoneHasLoopbackUp) {
  // IFF_UP is bit 0 of /sys/class/net/lo/flags; a server on 127.0.0.1 answers a client.
  CmdResult r = Skiff({"run", "--rm", "--network", "none", "bb", "sh", "-c",
                       "cat /sys/class/net/lo/flags; ls /sys/class/net; "
                       "(echo pong | nc -l -p 7777 &) ; sleep 0.3; nc 127.0.0.1 7777 </dev/null"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "0x9\nlo\npong\n");
  CmdResult host = Skiff({"run", "--rm", "--network", "host", "bb", "ls", "/sys/class/net"});
  ASSERT_EQ(host.code, 0) << host.err;
  EXPECT_NE(host.out, "lo\n") << "--network host should see the host's links";
}

TEST_F(EngineTest, ForegroundForwardsSignalsAndStdinEof) {
  CmdResult result;
  std::thread run([&] {
    result = Skiff({"run", "--rm", "--name", "fwd-sig", "bb", "sh", "-c",
                    "trap 'echo got-term; exit 7' TERM; echo ready; "
                    "while true; do sleep 0.1; done"});
  });
  pid_t skiff = 0;
  for (int i = 0; i < 200 && !skiff; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    skiff = FindProcess("fwd-sig");
  }
  ASSERT_GT(skiff, 0);
  // Until the container runs, a SIGTERM would end skiff itself.
  for (int i = 0; i < 200 && Inspect("fwd-sig")["State"]["Status"] != "running"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(skiff, SIGTERM);
  run.join();
  EXPECT_EQ(result.code, 7) << result.err;
  EXPECT_EQ(result.out, "ready\ngot-term\n");
  // -i: our stdin (here /dev/null) goes to the container; its EOF closes the container's.
  CmdResult cat = Skiff({"run", "--rm", "-i", "bb", "cat"}, 10000);
  EXPECT_EQ(cat.code, 0) << cat.err;
  EXPECT_FALSE(cat.timed_out);
}

TEST_F(EngineTest, ExitCodes125To127) {
  CmdResult nf = Skiff({"run", "--rm", "bb", "nosuchcommand"});
  EXPECT_EQ(nf.code, 127) << nf.err;
  EXPECT_NE(nf.err.find("nosuchcommand"), std::string::npos) << nf.err;
  CmdResult nx = Skiff({"run", "--rm", "bb", "/etc/notexec"});
  EXPECT_EQ(nx.code, 126) << nx.err;
  CmdResult flag = Skiff({"run", "--rm", "-m", "64x", "bb", "true"});
  EXPECT_EQ(flag.code, 125);
  EXPECT_NE(flag.err.find("invalid argument \"64x\" for \"-m, --memory\" flag"), std::string::npos)
      << flag.err;
  CmdResult img = Skiff({"run", "--rm", "--pull", "never", "nosuchimage", "true"});
  EXPECT_EQ(img.code, 125);
  EXPECT_NE(img.err.find("No such image"), std::string::npos) << img.err;
  CmdResult d = Skiff({"run", "-d", "bb", "nosuchcommand"});
  EXPECT_EQ(d.code, 127) << d.err;
  EXPECT_EQ(Lines(d.err).size(), 1u) << "one line: " << d.err;
  size_t first = d.err.find("No such file or directory");
  EXPECT_EQ(d.err.find("No such file or directory", first + 1), std::string::npos) << d.err;
  CmdResult ps = Skiff({"ps", "-a", "--format", "{{.State}} {{.Status}}"});
  EXPECT_EQ(ps.out, "created Created\n") << "a failed run -d keeps its container, created";
  CmdResult err = Skiff({"ps", "-aq"});
  json doc = Inspect(Trim(err.out));
  EXPECT_EQ(doc["State"]["ExitCode"], 127);
  EXPECT_NE(doc["State"]["Error"].get<std::string>().find("nosuchcommand"), std::string::npos);
}

TEST_F(EngineTest, DetachedPsLogsStopRm) {
  std::string id = RunDetached({"--name", "web", "bb", "sh", "-c",
                                "echo hello; echo oops >&2; trap 'exit 0' TERM; "
                                "while true; do sleep 0.1; done"});
  CmdResult ps = Skiff({"ps"});
  ASSERT_EQ(ps.code, 0) << ps.err;
  EXPECT_NE(ps.out.find("CONTAINER ID"), std::string::npos);
  EXPECT_NE(ps.out.find(id.substr(0, 12)), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("Up "), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("web"), std::string::npos) << ps.out;
  // The truncated COMMAND ends in "…" (3 bytes, 1 column): NAMES still lines up under its
  // header, counted in code points.
  {
    auto rows = Lines(ps.out);
    ASSERT_EQ(rows.size(), 2u) << ps.out;
    ASSERT_NE(rows[1].find("…"), std::string::npos) << ps.out;
    auto col = [](const std::string& line, size_t byte) {
      size_t n = 0;
      for (size_t i = 0; i < byte && i < line.size(); ++i) n += (line[i] & 0xC0) != 0x80;
      return n;
    };
    EXPECT_EQ(col(rows[0], rows[0].find("NAMES")), col(rows[1], rows[1].rfind("web"))) << ps.out;
    EXPECT_EQ(col(rows[0], rows[0].find("STATUS")), col(rows[1], rows[1].find("Up "))) << ps.out;
  }
  CmdResult js = Skiff({"ps", "--format", "json"});
  auto j = json::parse(Lines(js.out).at(0));
  EXPECT_EQ(j["Names"], "web");
  EXPECT_EQ(j["State"], "running");
  EXPECT_EQ(Skiff({"ps", "--format", "{{.Names}} {{.State}}"}).out, "web running\n");
  EXPECT_EQ(Skiff({"ps", "-q", "--filter", "name=web"}).out, id.substr(0, 12) + "\n");
  EXPECT_EQ(Skiff({"ps", "-q", "--filter", "status=exited"}).out, "");
  CmdResult bad = Skiff({"ps", "--filter", "label=x"});
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("invalid filter 'label'"), std::string::npos) << bad.err;

  CmdResult logs;
  for (int i = 0; i < 100; ++i) {
    logs = Skiff({"logs", "web"});
    if (logs.out == "hello\n" && logs.err == "oops\n") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(logs.out, "hello\n");
  EXPECT_EQ(logs.err, "oops\n");
  std::string raw = ReadText(root_ + "/containers/" + id + "/" + id + "-json.log");
  auto first = json::parse(Lines(raw).at(0));
  EXPECT_EQ(first["log"], "hello\n");
  EXPECT_EQ(first["stream"], "stdout");
  EXPECT_TRUE(first["time"].get<std::string>().find('T') != std::string::npos);

  auto t0 = std::chrono::steady_clock::now();
  CmdResult stop = Skiff({"stop", "web"});
  EXPECT_EQ(stop.code, 0) << stop.err;
  EXPECT_EQ(stop.out, "web\n");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  json d = Inspect("web");
  EXPECT_EQ(d["State"]["Status"], "exited");
  EXPECT_EQ(d["State"]["ExitCode"], 0);
  CmdResult ps2 = Skiff({"ps", "-a"});
  EXPECT_NE(ps2.out.find("Exited (0)"), std::string::npos) << ps2.out;
  EXPECT_EQ(Skiff({"ps", "-q"}).out, "");
  CmdResult rm = Skiff({"rm", "web"});
  EXPECT_EQ(rm.code, 0) << rm.err;
  EXPECT_EQ(rm.out, "web\n");
  ExpectNothingLeft(id);
}

TEST_F(EngineTest, LogsFollowUntilExitAndSince) {
  std::string id = RunDetached(
      {"bb", "sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.3; done; echo bye >&2"});
  auto t0 = std::chrono::steady_clock::now();
  CmdResult f = Skiff({"logs", "-f", id}, 15000);
  EXPECT_FALSE(f.timed_out);
  EXPECT_EQ(f.code, 0) << f.err;
  EXPECT_EQ(f.out, "line1\nline2\nline3\n");
  EXPECT_EQ(f.err, "bye\n");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500))
      << "-f returned before the container ended";
  EXPECT_EQ(Skiff({"logs", "--since", "1h", id}).out, "line1\nline2\nline3\n");
  EXPECT_EQ(Skiff({"logs", "--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02T00:00:00Z", id}).out,
            "");
  // --tail counts records of both streams, as Docker.
  CmdResult tail = Skiff({"logs", "--tail", "2", id});
  EXPECT_EQ(tail.out, "line3\n");
  EXPECT_EQ(tail.err, "bye\n");
  EXPECT_EQ(Skiff({"logs", "--tail", "0", id}).out, "");
}

TEST_F(EngineTest, StopEscalatesToSigkill) {
  std::string id = RunDetached(
      {"--stop-timeout", "1", "bb", "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"});
  auto t0 = std::chrono::steady_clock::now();
  CmdResult stop = Skiff({"stop", id.substr(0, 12)});
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(stop.code, 0) << stop.err;
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::seconds(6));
  EXPECT_EQ(Inspect(id)["State"]["ExitCode"], 137);
  CmdResult t = Skiff({"run", "-d", "bb", "sleep", "100"});
  std::string id2 = Trim(t.out);
  Own(id2);
  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Skiff({"stop", "-t", "0", id2}).code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  // stop -s: another signal, this once.
  std::string id3 = RunDetached(
      {"bb", "sh", "-c", "trap 'exit 9' USR1; while true; do sleep 0.1; done"});
  EXPECT_EQ(Skiff({"stop", "-s", "USR1", id3}).code, 0);
  EXPECT_EQ(Inspect(id3)["State"]["ExitCode"], 9);
  EXPECT_EQ(Inspect(id3)["Config"]["StopSignal"], "SIGTERM");
}

TEST_F(EngineTest, KillWaitAndRmRules) {
  std::string id = RunDetached({"--name", "kk", "bb", "sleep", "100"});
  CmdResult rm = Skiff({"rm", "kk"});
  EXPECT_NE(rm.code, 0);
  EXPECT_NE(rm.err.find("You cannot remove a running container " + id +
                        ". Stop the container before attempting removal or force remove"),
            std::string::npos)
      << rm.err;
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CmdResult k = Skiff({"kill", "kk"});
    EXPECT_EQ(k.code, 0) << k.err;
    EXPECT_EQ(k.out, "kk\n");
  });
  CmdResult w = Skiff({"wait", "kk"});
  killer.join();
  EXPECT_EQ(w.code, 0) << w.err;
  EXPECT_EQ(w.out, "137\n");
  CmdResult again = Skiff({"kill", "kk"});
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.err.find("is not running"), std::string::npos) << again.err;
  std::string id2 = RunDetached({"bb", "sleep", "100"});
  CmdResult rmf = Skiff({"rm", "-f", id2});
  EXPECT_EQ(rmf.code, 0) << rmf.err;
  ExpectNothingLeft(id2);
  CmdResult none = Skiff({"rm", "nosuch"});
  EXPECT_NE(none.code, 0);
  EXPECT_NE(none.err.find("No such container: nosuch"), std::string::npos) << none.err;
}

// wait --condition as Docker's API: next-exit waits for an exit still to come (here of a
// container started after the wait began), removed until the record is gone.
TEST_F(EngineTest, WaitConditions) {
  CmdResult c = Skiff({"create", "--name", "job", "bb", "sh", "-c", "sleep 0.3; exit 4"});
  ASSERT_EQ(c.code, 0) << c.err;
  std::string id = Trim(c.out);
  Own(id);
  // not-running: a created container is not running: at once, 0.
  EXPECT_EQ(Skiff({"wait", "--condition", "not-running", "job"}).out, "0\n");
  for (const char* cond : {"next-exit", "removed"}) {
    std::atomic<bool> returned{false};
    CmdResult w;
    std::thread waiter([&] {
      w = Skiff({"wait", "--condition", cond, "job"});
      returned = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    EXPECT_FALSE(returned) << cond << " returned before the container ran: " << w.out;
    ASSERT_EQ(Skiff({"start", "job"}).code, 0);
    if (std::string(cond) == "removed") {
      EXPECT_EQ(Skiff({"wait", "job"}).out, "4\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      EXPECT_FALSE(returned) << "removed returned before rm";
      EXPECT_EQ(Skiff({"rm", "job"}).code, 0);
    }
    waiter.join();
    EXPECT_EQ(w.code, 0) << w.err;
    EXPECT_EQ(w.out, "4\n") << cond;
  }
  CmdResult bad = Skiff({"wait", "--condition", "sometime", "x"});
  EXPECT_EQ(bad.code, 125);
  EXPECT_NE(bad.err.find("invalid condition: \"sometime\""), std::string::npos) << bad.err;
}

TEST_F(EngineTest, DetachedRmRemovesItselfAndNameConflicts) {
  std::string id = RunDetached({"--rm", "bb", "true"});
  // The monitor removes the container, then exits.
  for (int i = 0; i < 100 && (Exists(root_ + "/containers/" + id) || FindProcess(id) != 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ExpectNothingLeft(id);
  CmdResult c1 = Skiff({"create", "--name", "same", "bb", "true"});
  ASSERT_EQ(c1.code, 0) << c1.err;
  Own(Trim(c1.out));
  CmdResult c2 = Skiff({"create", "--name", "same", "bb", "true"});
  EXPECT_EQ(c2.code, 125);
  EXPECT_NE(c2.err.find("Conflict. The container name \"/same\" is already in use by container \"" +
                        Trim(c1.out) + "\""),
            std::string::npos)
      << c2.err;
}

TEST_F(EngineTest, CreateInspectStartWaitLogs) {
  CmdResult c = Skiff({"create", "--name", "insp", "-m", "64m", "--hostname", "box", "-e", "A=1",
                       "bb", "sh", "-c", "echo hi; cat /etc/hostname"});
  ASSERT_EQ(c.code, 0) << c.err;
  std::string id = Trim(c.out);
  Own(id);
  json d = Inspect("insp");
  ASSERT_FALSE(d.is_null());
  EXPECT_EQ(d["Id"], id);
  EXPECT_EQ(d["Name"], "/insp");
  EXPECT_EQ(d["State"]["Status"], "created");
  EXPECT_EQ(d["State"]["Running"], false);
  EXPECT_EQ(d["Path"], "sh");
  EXPECT_EQ(d["Args"][0], "-c");
  EXPECT_EQ(d["HostConfig"]["Memory"], 64 * 1024 * 1024);
  EXPECT_EQ(d["Config"]["Hostname"], "box");
  EXPECT_NE(d["Config"]["Env"].dump().find("A=1"), std::string::npos);
  EXPECT_EQ(d["GraphDriver"]["Name"], "overlay");
  EXPECT_EQ(d["GraphDriver"]["Data"]["MergedDir"], root_ + "/containers/" + id + "/rootfs");
  EXPECT_EQ(d["RestartCount"], 0);
  CmdResult f = Skiff({"inspect", "-f", "{{.State.Status}} {{.Name}}", "insp"});
  EXPECT_EQ(f.out, "created /insp\n");

  CmdResult s = Skiff({"start", "insp"});
  EXPECT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(s.out, "insp\n");
  CmdResult w = Skiff({"wait", "insp"});
  EXPECT_EQ(w.out, "0\n") << w.err;
  CmdResult logs = Skiff({"logs", "insp"});
  EXPECT_EQ(logs.out, "hi\nbox\n");
  CmdResult tail = Skiff({"logs", "--tail", "1", "-t", "insp"});
  auto tl = Lines(tail.out);
  ASSERT_EQ(tl.size(), 1u) << tail.out;
  EXPECT_NE(tl[0].find("Z box"), std::string::npos) << tl[0];
  d = Inspect(id);
  EXPECT_EQ(d["State"]["Status"], "exited");
  EXPECT_NE(d["State"]["StartedAt"], "0001-01-01T00:00:00Z");
  EXPECT_NE(d["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
  // Started again: a second run appends to the log.
  EXPECT_EQ(Skiff({"start", id}).code, 0);
  EXPECT_EQ(Skiff({"wait", id}).out, "0\n");
  EXPECT_EQ(Skiff({"logs", id}).out, "hi\nbox\nhi\nbox\n");
  // start -a: in the foreground, its output and exit code ours.
  CmdResult att = Skiff({"start", "-a", "insp"});
  EXPECT_EQ(att.code, 0) << att.err;
  EXPECT_EQ(att.out, "hi\nbox\n");
  // An image falls back to image inspect. Not as "bb": that is also a prefix of one
  // container ID in 256, which a container lookup rightly matches first (as Docker does).
  json img = json::parse(Skiff({"inspect", "bb:latest"}).out);
  EXPECT_EQ(img[0]["Id"].get<std::string>().rfind("sha256:", 0), 0u);
}

TEST_F(EngineTest, VolumesCopyUpPersistAndGoWithRmV) {
  std::string tree = work_ + "/tree";
  ASSERT_EQ(::mkdir((tree + "/data").c_str(), 0750), 0);
  ASSERT_TRUE(WriteText(tree + "/data/seed", "from the image\n"));
  CmdResult imp = Skiff({"import", tree, "bbvol:1", "--change", "VOLUME /data"});
  ASSERT_EQ(imp.code, 0) << imp.err;
  // The image's VOLUME: an anonymous volume with the image's content.
  CmdResult c = Skiff({"create", "bbvol:1", "cat", "/data/seed"});
  ASSERT_EQ(c.code, 0) << c.err;
  std::string id = Trim(c.out);
  Own(id);
  json mounts = Inspect(id)["Mounts"];
  ASSERT_EQ(mounts.size(), 1u) << mounts.dump();
  EXPECT_EQ(mounts[0]["Type"], "volume");
  EXPECT_EQ(mounts[0]["Destination"], "/data");
  std::string anon = mounts[0]["Source"];
  EXPECT_EQ(ReadText(anon + "/seed"), "from the image\n");
  struct stat st;
  ASSERT_EQ(::stat(anon.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(Skiff({"start", id}).code, 0);
  EXPECT_EQ(Skiff({"wait", id}).out, "0\n");
  EXPECT_EQ(Skiff({"logs", id}).out, "from the image\n");
  EXPECT_EQ(Skiff({"rm", "-v", id}).code, 0);
  EXPECT_FALSE(Exists(anon)) << "rm -v keeps the anonymous volume";
  // A named volume outlives its containers.
  CmdResult w = Skiff({"run", "--rm", "-v", "keep:/data", "bbvol:1", "sh", "-c", "echo more > /data/more"});
  EXPECT_EQ(w.code, 0) << w.err;
  CmdResult r = Skiff({"run", "--rm", "-v", "keep:/data", "bb", "cat", "/data/seed", "/data/more"});
  EXPECT_EQ(r.out, "from the image\nmore\n") << r.err;
  EXPECT_TRUE(Exists(root_ + "/volumes/keep/_data/more"));
}

// --pull missing (the default) pulls from the registry, then runs; stdout holds only the
// container's output (pull progress goes to stderr); --pull never refuses.
TEST_F(EngineTest, RunPullsAMissingImage) {
  LocalRegistry reg;
  ASSERT_EQ(::mkdir((work_ + "/registry").c_str(), 0755), 0);
  ASSERT_TRUE(reg.Start(work_ + "/registry"));
  std::string remote = reg.host() + "/team/bb:1";
  ASSERT_EQ(Skiff({"push", "bb", remote}).code, 0);
  root_ = work_ + "/root2";  // an empty store
  CmdResult never = Skiff({"run", "--rm", "--pull", "never", remote, "true"});
  EXPECT_EQ(never.code, 125);
  EXPECT_NE(never.err.find("No such image: " + remote), std::string::npos) << never.err;
  CmdResult r = Skiff({"run", "--rm", remote, "echo", "pulled"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "pulled\n");
  EXPECT_NE(r.err.find("Unable to find image '" + remote + "' locally"), std::string::npos) << r.err;
  CmdResult again = Skiff({"run", "--rm", remote, "true"});
  EXPECT_EQ(again.err.find("Unable to find image"), std::string::npos) << again.err;
  EXPECT_EQ(Skiff({"run", "--rm", "--pull", "always", remote, "true"}).code, 0);
}

TEST_F(EngineTest, OomKillIs137AndOOMKilled) {
  CmdResult r = Skiff({"run", "--name", "oom", "-m", "16m", "--memory-swap", "16m", "bb", "sh",
                       "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"});
  EXPECT_EQ(r.code, 137) << r.out << r.err;
  json d = Inspect("oom");
  EXPECT_EQ(d["State"]["OOMKilled"], true);
  EXPECT_EQ(d["State"]["ExitCode"], 137);
  Own(d["Id"].get<std::string>());
}

TEST_F(EngineTest, PidsLimitContainsForkBomb) {
  std::string id = RunDetached({"--pids-limit", "10", "bb", "sh", "-c",
                                "for i in $(seq 1 6); do sleep 30 & done; sleep 30"});
  std::string cg;
  for (const auto& m : CgroupMounts())
    if (Exists(m + "/skiff/" + id + "/pids.max")) cg = m + "/skiff/" + id;
  ASSERT_FALSE(cg.empty());
  EXPECT_EQ(Trim(ReadText(cg + "/pids.max")), "10");
  int current = 0;
  for (int i = 0; i < 100 && current < 7; ++i) {
    current = atoi(ReadText(cg + "/pids.current").c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(current, 7) << "sh and its six sleeps (sh execs the last command)";
  EXPECT_EQ(Skiff({"rm", "-f", id}).code, 0);
  // A fork bomb: forks fail at the limit, the host is untouched, the run ends.
  CmdResult bomb = Skiff({"run", "--rm", "--pids-limit", "10", "bb", "sh", "-c",
                          "b() { b | b & }; b; sleep 1; echo never"});
  EXPECT_FALSE(bomb.timed_out);
  EXPECT_NE(bomb.err.find("fork"), std::string::npos) << bomb.out << bomb.err;
  EXPECT_EQ(Skiff({"ps", "-aq"}).out, "");
}

TEST_F(EngineTest, InitReapsZombies) {
  CmdResult r = Skiff({"run", "--rm", "--init", "bb", "sh", "-c",
                       "(sleep 0.2 &) ; sleep 1; cat /proc/1/cmdline | tr '\\0' ' '; echo; "
                       "grep -l '^State:.Z' /proc/[0-9]*/status 2>/dev/null | wc -l"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto l = Lines(r.out);
  ASSERT_EQ(l.size(), 2u) << r.out;
  EXPECT_NE(l[0].find("skiff-init"), std::string::npos) << l[0];
  EXPECT_EQ(Trim(l[1]), "0") << "zombies left";
}

TEST_F(EngineTest, RestartOnFailureRestartsTwice) {
  std::string id = RunDetached({"--restart", "on-failure:2", "bb", "sh", "-c", "echo run; exit 1"});
  json rec;
  for (int i = 0; i < 200; ++i) {
    rec = Record(id);
    if (!rec.is_null() && rec["State"]["MonitorPid"] == 0 && rec["State"]["Status"] == "exited")
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  json d = Inspect(id);
  EXPECT_EQ(d["RestartCount"], 2);
  EXPECT_EQ(d["State"]["ExitCode"], 1);
  EXPECT_EQ(Skiff({"logs", id}).out, "run\nrun\nrun\n");
  // always: restarted until stopped; a stopped one stays stopped.
  std::string id2 = RunDetached({"--restart", "always", "bb", "sh", "-c", "sleep 0.2; exit 0"});
  for (int i = 0; i < 100 && Inspect(id2)["RestartCount"].get<int>() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GE(Inspect(id2)["RestartCount"].get<int>(), 2);
  EXPECT_EQ(Skiff({"stop", id2}).code, 0);
  int count = Inspect(id2)["RestartCount"].get<int>();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(Inspect(id2)["RestartCount"].get<int>(), count);
  EXPECT_EQ(Inspect(id2)["State"]["Status"], "exited");
}

// While the monitor waits out the restart delay (100 ms doubled per restart), Docker shows
// "restarting": Running and Restarting true, no Pid, the last exit code, and the restart
// already counted; ps says "Restarting (N) X ago". stop ends it at once.
TEST_F(EngineTest, RestartingStatusDuringBackoff) {
  std::string id = RunDetached({"--name", "flap", "--restart", "always", "bb", "sh", "-c", "exit 3"});
  json d;
  bool seen = false;
  for (int i = 0; i < 400 && !seen; ++i) {
    d = Inspect(id);
    seen = !d.is_null() && d["State"]["Status"] == "restarting" && d["RestartCount"] >= 4;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(seen) << d.dump();
  EXPECT_EQ(d["State"]["Restarting"], true);
  EXPECT_EQ(d["State"]["Running"], true);
  EXPECT_EQ(d["State"]["Pid"], 0);
  EXPECT_EQ(d["State"]["ExitCode"], 3);
  // The delay after the 4th restart is 800 ms: time enough to look.
  CmdResult ps = Skiff({"ps", "--format", "{{.Names}} {{.Status}}"});
  EXPECT_TRUE(std::regex_match(
      Trim(ps.out), std::regex("flap Restarting \\(3\\) (Less than a second|[0-9] seconds?) ago")))
      << ps.out;
  EXPECT_EQ(Skiff({"ps", "-q", "--filter", "status=restarting"}).out, id.substr(0, 12) + "\n");
  CmdResult rm = Skiff({"rm", "flap"});
  EXPECT_NE(rm.code, 0);
  EXPECT_NE(rm.err.find("You cannot remove a restarting container " + id), std::string::npos)
      << rm.err;
  CmdResult stop = Skiff({"stop", "flap"});
  EXPECT_EQ(stop.code, 0) << stop.err;
  d = Inspect(id);
  EXPECT_EQ(d["State"]["Status"], "exited");
  EXPECT_EQ(d["State"]["Restarting"], false);
  int count = d["RestartCount"];
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  d = Inspect(id);
  EXPECT_EQ(d["State"]["Status"], "exited") << "restarted after stop";
  EXPECT_EQ(d["RestartCount"], count);
  EXPECT_EQ(Skiff({"rm", "flap"}).code, 0);
  ExpectNothingLeft(id, 5000);
}

// rm -f returns only once the monitor is gone: one still exiting used to re-create the
// records lock after rm had returned (and after a caller had removed the store).
TEST_F(EngineTest, RmForceWaitsForTheMonitor) {
  for (bool auto_remove : {false, true}) {
    std::vector<std::string> args = {"bb", "sleep", "100"};
    if (auto_remove) args.insert(args.begin(), "--rm");
    std::string id = RunDetached(args);
    pid_t monitor = Record(id)["State"]["MonitorPid"].get<int>();
    ASSERT_GT(monitor, 0);
    ASSERT_EQ(Skiff({"rm", "-f", id}).code, 0);
    EXPECT_FALSE(Alive(monitor)) << "rm -f returned with the monitor still running"
                                 << (auto_remove ? " (--rm)" : "");
    ExpectNothingLeft(id);
  }
}

TEST_F(EngineTest, LogsSurviveAKilledMonitor) {
  std::string id = RunDetached({"bb", "sh", "-c", "echo alive; sleep 100"});
  pid_t monitor = Record(id)["State"]["MonitorPid"].get<int>();
  pid_t proc = Inspect(id)["State"]["Pid"].get<int>();
  ASSERT_GT(monitor, 0);
  ASSERT_GT(proc, 0);
  EXPECT_EQ(Trim(ReadText("/proc/" + std::to_string(monitor) + "/comm")), "skiff-monitor");
  // The monitor that stays for the container's lifetime is the small static one: under
  // 1 MiB resident (conmon is the anchor: about 360 KiB PSS here).
  std::string status = ReadText("/proc/" + std::to_string(monitor) + "/status");
  size_t at = status.find("VmRSS:");
  ASSERT_NE(at, std::string::npos);
  EXPECT_LT(atol(status.c_str() + at + 6), 1024) << status.substr(at, 30);
  for (int i = 0; i < 100 && Skiff({"logs", id}).out != "alive\n"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(::kill(monitor, SIGKILL), 0);
  for (int i = 0; i < 100 && Alive(monitor); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(Skiff({"logs", id}).out, "alive\n");
  CmdResult ps = Skiff({"ps", "-a"});
  EXPECT_NE(ps.out.find("Exited (137)"), std::string::npos) << ps.out;
  for (int i = 0; i < 100 && Alive(proc); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Alive(proc)) << "the container outlived its reconciliation";
  EXPECT_EQ(Skiff({"logs", id}).out, "alive\n");
  EXPECT_EQ(Skiff({"rm", id}).code, 0);
  ExpectNothingLeft(id);
}

// A foreground run is its own monitor: SIGKILLed, it leaves a record that says running;
// the next command reconciles it, and rm leaves nothing.
TEST_F(EngineTest, KilledForegroundRunIsReconciled) {
  std::thread run([&] { Skiff({"run", "--name", "fg-killed", "bb", "sleep", "100"}); });
  pid_t skiff = 0, proc = 0;
  std::string id;
  for (int i = 0; i < 250 && !proc; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    json d = Inspect("fg-killed");
    if (!d.is_null() && d["State"]["Status"] == "running") {
      proc = d["State"]["Pid"].get<int>();
      id = d["Id"];
      skiff = Record(id)["State"]["MonitorPid"].get<int>();
    }
  }
  ASSERT_GT(proc, 0);
  Own(id);
  ASSERT_GT(skiff, 0);
  ::kill(skiff, SIGKILL);
  run.join();
  json d = Inspect("fg-killed");
  EXPECT_EQ(d["State"]["Status"], "exited");
  EXPECT_EQ(d["State"]["ExitCode"], 137);
  for (int i = 0; i < 100 && Alive(proc); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Alive(proc));
  EXPECT_EQ(Skiff({"rm", "fg-killed"}).code, 0);
  ExpectNothingLeft(id);
}

// A create killed after building the container but before writing its record leaves a
// directory (and a mounted rootfs) that no command can name: the next ps removes it.
TEST_F(EngineTest, DeadCreatesLeftoversGoAtTheNextPs) {
  CmdResult c = Skiff({"create", "--name", "half", "bb", "true"});
  ASSERT_EQ(c.code, 0) << c.err;
  std::string id = Trim(c.out);
  Own(id);
  std::string dir = root_ + "/containers/" + id;
  ASSERT_TRUE(Exists(dir + "/rootfs/bin/busybox"));        // the overlay is mounted
  ASSERT_EQ(::unlink((dir + "/record.json").c_str()), 0);  // as if it died before the write
  CmdResult ps = Skiff({"ps", "-a"});
  ASSERT_EQ(ps.code, 0) << ps.err;
  EXPECT_EQ(ps.out.find("half"), std::string::npos) << ps.out;
  EXPECT_FALSE(Exists(dir));
  EXPECT_EQ(ReadText("/proc/self/mountinfo").find(id), std::string::npos);
}

TEST_F(EngineTest, FiftyInParallel) {
  constexpr int kN = 50;
  std::vector<std::thread> threads;
  std::vector<CmdResult> results(kN);
  for (int i = 0; i < kN; ++i) {
    std::string dir = work_ + "/t" + std::to_string(i);
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    threads.emplace_back([this, i, dir, &results] {
      results[i] = SkiffIn(dir, {"run", "-d", "bb", "sleep", "300"}, 60000);
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> ids;
  for (const auto& r : results) {
    EXPECT_EQ(r.code, 0) << r.err;
    ids.insert(Trim(r.out));
    Own(Trim(r.out));
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kN));
  CmdResult ps = Skiff({"ps", "-q", "--filter", "status=running"});
  EXPECT_EQ(Lines(ps.out).size(), static_cast<size_t>(kN)) << ps.out;
  threads.clear();
  std::vector<CmdResult> rms(kN);
  int i = 0;
  for (const auto& id : ids) {
    std::string dir = work_ + "/t" + std::to_string(i);
    threads.emplace_back([this, id, dir, i, &rms] { rms[i] = SkiffIn(dir, {"rm", "-f", id}, 60000); });
    ++i;
  }
  for (auto& t : threads) t.join();
  for (const auto& r : rms) EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Skiff({"ps", "-aq"}).out, "");
}

TEST_F(EngineTest, ConcurrentSameNameOnlyOneWins) {
  constexpr int kN = 6;
  std::vector<std::thread> threads;
  std::vector<CmdResult> results(kN);
  for (int i = 0; i < kN; ++i) {
    std::string dir = work_ + "/n" + std::to_string(i);
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    threads.emplace_back([this, i, dir, &results] {
      results[i] = SkiffIn(dir, {"run", "-d", "--name", "same", "bb", "sleep", "300"});
    });
  }
  for (auto& t : threads) t.join();
  int won = 0;
  for (const auto& r : results) {
    if (r.code == 0) {
      won++;
      Own(Trim(r.out));
    } else {
      EXPECT_NE(r.err.find("Conflict"), std::string::npos) << r.err;
    }
  }
  EXPECT_EQ(won, 1);
  EXPECT_EQ(Lines(Skiff({"ps", "-aq"}).out).size(), 1u);
}

// skiff builds only the command its words name (skiff_main.cc): help must still list every
// command, aliases and groups must still resolve, and a word naming no command must get
// CLI11's own error, not a narrower tree's.
TEST_F(EngineTest, OnlyTheInvokedCommandIsBuiltYetEverySpellingWorks) {
  CmdResult top = Skiff({"--help"});
  EXPECT_EQ(top.code, 0) << top.err;
  for (const char* c : {"images", "run", "ps", "exec", "cp", "info", "login", "save", "image",
                        "container", "system"})
    EXPECT_NE(top.out.find(std::string("  ") + c + " "), std::string::npos) << c << top.out;
  CmdResult group = Skiff({"container", "--help"});
  EXPECT_EQ(group.code, 0) << group.err;
  for (const char* c : {"run", "ls", "prune", "exec", "cp"})
    EXPECT_NE(group.out.find(std::string("  ") + c + " "), std::string::npos) << c << group.out;
  EXPECT_EQ(Skiff({"image", "list"}).code, 0);             // an alias in a group
  EXPECT_EQ(Skiff({"image", "umount", "--all"}).code, 0);  // another
  EXPECT_EQ(Skiff({"container", "ls", "-a"}).code, 0);
  EXPECT_EQ(Skiff({"system", "df"}).code, 0);
  CmdResult typo = Skiff({"imgaes"});
  EXPECT_EQ(typo.code, 125);
  EXPECT_NE(typo.err.find("skiff: 'imgaes' is not a skiff command."), std::string::npos)
      << typo.err;
  CmdResult sub_typo = Skiff({"image", "lst"});
  EXPECT_EQ(sub_typo.code, 125);
  EXPECT_NE(sub_typo.err.find("'image lst' is not a skiff command"), std::string::npos)
      << sub_typo.err;
  // Global options and --root's value (every call passes one) are no command words.
  CmdResult ps = Skiff({"-D", "ps", "-q"});
  EXPECT_EQ(ps.code, 0) << ps.err;
}

// run's and create's flags are added only when that command is parsed (container_cmds.cc):
// each of the four spellings must still show and take them.
TEST_F(EngineTest, RunAndCreateFlagsUnderEverySpelling) {
  for (std::vector<std::string> cmd : std::vector<std::vector<std::string>>{
           {"run"}, {"create"}, {"container", "run"}, {"container", "create"}}) {
    std::vector<std::string> help = cmd;
    help.push_back("--help");
    CmdResult h = Skiff(help);
    EXPECT_EQ(h.code, 0) << h.err;
    EXPECT_NE(h.out.find("--pids-limit"), std::string::npos) << h.out;
    EXPECT_NE(h.out.find("--memory-swap"), std::string::npos) << h.out;
    std::vector<std::string> bad = cmd;
    for (const char* a : {"--pids-limit", "notanumber", "bb", "true"}) bad.push_back(a);
    CmdResult b = Skiff(bad);
    EXPECT_EQ(b.code, 125) << b.out;
    EXPECT_NE(b.err.find("pids-limit"), std::string::npos) << b.err;
  }
}

}  // namespace
}  // namespace skiff::itest
