// skiff exec, top, stats, pause/unpause, port, rename, restart, cp, container prune,
// system df/prune and run --explain, end to end: the real `skiff` binary with a temp --root
// and a busybox image imported from busybox-static (the fixture: engine_fixture.h).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "bundle.h"
#include "engine_fixture.h"

namespace skiff::itest {
namespace {

using json = nlohmann::json;

class EngineOpsTest : public EngineFixture {
 protected:
  EngineOpsTest() : EngineFixture("ops") {}
  void ExtendTree(const std::string& tree) override {
    ASSERT_EQ(::mkdir((tree + "/data").c_str(), 0755), 0);
    ASSERT_TRUE(WriteText(tree + "/data/in-image.txt", "from the image\n"));
  }
};

TEST_F(EngineOpsTest, ExecExitCodesAndFlags) {
  RunDetached({"--name", "web", "bb", "sleep", "300"});
  CmdResult r = Skiff({"exec", "web", "sh", "-c", "echo hi; exit 7"});
  EXPECT_EQ(r.code, 7) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_EQ(Skiff({"exec", "web", "nosuchcmd"}).code, 127);
  EXPECT_EQ(Skiff({"exec", "web", "/etc/passwd"}).code, 126);
  CmdResult f = Skiff({"exec", "-e", "FOO=bar", "-w", "/tmp", "-u", "nobody", "web", "sh", "-c",
                       "echo $FOO; pwd; id -u; id -g"});
  EXPECT_EQ(f.code, 0) << f.err;
  EXPECT_EQ(f.out, "bar\n/tmp\n65534\n65534\n");
  // -i passes stdin on; without it the process reads EOF at once.
  CmdResult in = Shell("echo piped | $SKIFF exec -i web cat");
  EXPECT_EQ(in.out, "piped\n") << in.err;
  CmdResult no_in = Shell("echo piped | $SKIFF exec web cat");
  EXPECT_EQ(no_in.code, 0) << no_in.err;
  EXPECT_EQ(no_in.out, "");
  // -d returns at once; the process runs on in the container.
  CmdResult d = Skiff({"exec", "-d", "web", "sh", "-c", "sleep 0.2; echo done > /tmp/marker"});
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(d.out, "");
  CmdResult seen;
  for (int i = 0; i < 50; ++i) {
    seen = Skiff({"exec", "web", "cat", "/tmp/marker"});
    if (seen.out == "done\n") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(seen.out, "done\n");
  CmdResult none = Skiff({"exec", "nosuch", "true"});
  EXPECT_NE(none.code, 0);
  EXPECT_NE(none.err.find("No such container: nosuch"), std::string::npos) << none.err;
}

// -t gives the process a pty of its own; the container's /dev/console stays as it was, so
// a second exec -t works as the first (it used to find the first one's dead pty there).
TEST_F(EngineOpsTest, ExecWithTerminalTwice) {
  RunDetached({"--name", "web", "bb", "sleep", "300"});
  for (int i = 0; i < 2; ++i) {
    CmdResult t = Shell("script -qec \"$SKIFF exec -t web sh -c 'tty; exit 5'\" /dev/null");
    EXPECT_EQ(t.code, 5) << t.out << t.err;
    EXPECT_NE(t.out.find("/dev/pts/"), std::string::npos) << t.out << t.err;
  }
}

TEST_F(EngineOpsTest, TopShowsHostAndContainerPids) {
  std::string id = RunDetached({"--name", "web", "bb", "sh", "-c", "sleep 300 & sleep 301"});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CmdResult t = Skiff({"top", "web"});
  ASSERT_EQ(t.code, 0) << t.err;
  auto lines = Lines(t.out);
  ASSERT_GE(lines.size(), 3u) << t.out;
  EXPECT_EQ(lines[0].rfind("UID", 0), 0u);
  for (const char* col : {"PID", "CPID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"})
    EXPECT_NE(lines[0].find(col), std::string::npos) << col;
  int host_pid = Inspect("web")["State"]["Pid"];
  // The init (busybox sh execs its last command): its host pid, pid 1 inside; the
  // background sleep beside it, a child of the init, pid 2 or more inside.
  std::regex init("^root +" + std::to_string(host_pid) +
                  " +1 +[0-9]+ +[0-9]+ +\\S+ +\\? +"
                  "[0-9:]+ +sleep 301$");
  std::regex child("^root +[0-9]+ +([0-9]+) +" + std::to_string(host_pid) +
                   " +[0-9]+ +\\S+ +\\? +[0-9:]+ +sleep 300$");
  bool found_init = false, found_child = false;
  for (const auto& l : lines) {
    std::smatch m;
    if (std::regex_match(l, init)) found_init = true;
    if (std::regex_match(l, m, child) && std::stoi(m[1].str()) > 1) found_child = true;
  }
  EXPECT_TRUE(found_init) << t.out;
  EXPECT_TRUE(found_child) << t.out;
  EXPECT_NE(Skiff({"top", "nosuch"}).code, 0);
}

// top's ps options, read from /proc: aux's columns, -o's fields (the same values as the
// host's ps gives for that process), and a clear refusal of what is not supported.
TEST_F(EngineOpsTest, TopPsOptions) {
  RunDetached({"--name", "web", "bb", "sh", "-c", "sleep 300 & sleep 301"});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int host_pid = Inspect("web")["State"]["Pid"];
  CmdResult aux = Skiff({"top", "web", "aux"});
  ASSERT_EQ(aux.code, 0) << aux.err;
  auto lines = Lines(aux.out);
  ASSERT_EQ(lines.size(), 3u) << aux.out;
  EXPECT_TRUE(std::regex_match(lines[0], std::regex("USER +PID +%CPU +%MEM +VSZ +RSS +TTY +STAT "
                                                    "+START +TIME +COMMAND")))
      << lines[0];
  std::regex row("^root +" + std::to_string(host_pid) +
                 " +[0-9]+\\.[0-9] +[0-9]+\\.[0-9] +[0-9]+ +[1-9][0-9]* +\\? +S\\S* +\\S+ +"
                 "[0-9]+:[0-9]{2} +sleep 301$");
  EXPECT_TRUE(std::regex_match(lines[1], row) || std::regex_match(lines[2], row)) << aux.out;
  CmdResult o = Skiff({"top", "web", "-o", "pid,ppid,user,comm,stat,nlwp,ni,args"});
  ASSERT_EQ(o.code, 0) << o.err;
  lines = Lines(o.out);
  ASSERT_EQ(lines.size(), 3u) << o.out;
  EXPECT_TRUE(std::regex_match(lines[0], std::regex("PID +PPID +USER +COMMAND +STAT +NLWP +NI "
                                                    "+COMMAND")))
      << lines[0];
  // The host's ps on the same process: the same words.
  CmdResult ps = RunCommand({"/bin/ps", "-o", "pid=,ppid=,user=,comm=,stat=,nlwp=,ni=", "-p",
                             std::to_string(host_pid)},
                            work_);
  ASSERT_EQ(ps.code, 0) << ps.err;
  std::string want;
  std::istringstream words(ps.out);
  for (std::string w; words >> w;) want += w + " ";
  want += "sleep 301";
  bool found = false;
  for (const auto& l : lines) {
    std::string got;
    std::istringstream in(l);
    for (std::string w; in >> w;) got += (got.empty() ? "" : " ") + w;
    found = found || got == want;
  }
  EXPECT_TRUE(found) << "ps says: " << want << "\nskiff top says:\n" << o.out;
  CmdResult bad = Skiff({"top", "web", "-o", "pid,wchan"});
  EXPECT_EQ(bad.code, 125);
  EXPECT_NE(bad.err.find("unsupported ps field \"wchan\""), std::string::npos) << bad.err;
  CmdResult bad_opt = Skiff({"top", "web", "-L"});
  EXPECT_NE(bad_opt.err.find("unsupported ps option \"-L\""), std::string::npos) << bad_opt.err;
  // -ef: the default table.
  CmdResult ef = Skiff({"top", "web", "-ef"});
  EXPECT_EQ(ef.code, 0) << ef.err;
  EXPECT_EQ(ef.out.rfind("UID", 0), 0u) << ef.out;
  EXPECT_NE(ef.out.find("CPID"), std::string::npos) << ef.out;
}

TEST_F(EngineOpsTest, StatsNoStreamTableAndJson) {
  RunDetached({"--name", "web", "-m", "32m", "--network", "none", "bb", "sh", "-c",
               "yes > /dev/null & sleep 300"});
  RunDetached({"--name", "idle", "bb", "sleep", "300"});
  CmdResult t = Skiff({"stats", "--no-stream"});
  ASSERT_EQ(t.code, 0) << t.err;
  auto lines = Lines(t.out);
  ASSERT_EQ(lines.size(), 3u) << t.out;
  EXPECT_EQ(lines[0].substr(0, 12), "CONTAINER ID");
  for (const char* h :
       {"NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"})
    EXPECT_NE(lines[0].find(h), std::string::npos) << h;
  CmdResult j = Skiff({"stats", "--no-stream", "--format", "json", "web"});
  ASSERT_EQ(j.code, 0) << j.err;
  auto doc = json::parse(Lines(j.out).at(0), nullptr, false);
  ASSERT_TRUE(doc.is_object()) << j.out;
  EXPECT_EQ(doc["Name"], "web");
  EXPECT_EQ(doc["Container"], "web");
  EXPECT_EQ(doc["ID"].get<std::string>().size(), 12u);
  std::string mem = doc["MemUsage"];
  EXPECT_NE(mem.find(" / 32MiB"), std::string::npos) << mem;
  EXPECT_EQ(doc["NetIO"], "0B / 0B");
  EXPECT_EQ(doc["PIDs"], "2");  // sleep (sh exec'd it) and yes
  // `yes` spins: well above zero (one CPU is 100%).
  double cpu = std::stod(doc["CPUPerc"].get<std::string>());
  EXPECT_GT(cpu, 20.0) << doc.dump();
  std::string perc = doc["MemPerc"];
  EXPECT_EQ(perc.back(), '%');
}

TEST_F(EngineOpsTest, PauseUnpause) {
  std::string id = RunDetached({"--name", "web", "bb", "sleep", "300"});
  CmdResult p = Skiff({"pause", "web"});
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.out, "web\n");
  json d = Inspect("web");
  EXPECT_EQ(d["State"]["Status"], "paused");
  EXPECT_EQ(d["State"]["Paused"], true);
  EXPECT_NE(Skiff({"exec", "web", "true"}).code, 0);
  CmdResult again = Skiff({"pause", "web"});
  EXPECT_NE(again.err.find("is already paused"), std::string::npos) << again.err;
  EXPECT_EQ(Skiff({"unpause", "web"}).code, 0);
  EXPECT_EQ(Inspect("web")["State"]["Status"], "running");
  (void)id;
  CmdResult not_paused = Skiff({"unpause", "web"});
  EXPECT_NE(not_paused.err.find("is not paused"), std::string::npos) << not_paused.err;
  EXPECT_EQ(Skiff({"exec", "web", "true"}).code, 0);
}

TEST_F(EngineOpsTest, PortRenameRestart) {
  std::string id = RunDetached({"--name", "web", "bb", "sleep", "300"});
  CmdResult none = Skiff({"port", "web"});
  EXPECT_EQ(none.code, 0) << none.err;
  EXPECT_EQ(none.out, "");
  CmdResult p80 = Skiff({"port", "web", "80"});
  EXPECT_EQ(p80.code, 1);
  EXPECT_EQ(p80.err, "Error: No public port '80/tcp' published for web\n");
  RunDetached({"--name", "other", "bb", "sleep", "300"});
  EXPECT_NE(Skiff({"rename", "web", "other"}).code, 0);
  EXPECT_EQ(Skiff({"rename", "web", "renamed"}).code, 0);
  EXPECT_EQ(Inspect(id)["Name"], "/renamed");
  int pid = Inspect("renamed")["State"]["Pid"];
  CmdResult r = Skiff({"restart", "-t", "1", "renamed"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "renamed\n");
  json d = Inspect("renamed");
  EXPECT_EQ(d["State"]["Status"], "running");
  EXPECT_NE(d["State"]["Pid"].get<int>(), pid);
  EXPECT_GT(d["State"]["Pid"].get<int>(), 0);
}

TEST_F(EngineOpsTest, CpBothWaysAndAgainstPlantedLinks) {
  std::string id = RunDetached({"--name", "web", "bb", "sleep", "300"});
  ASSERT_TRUE(WriteText(work_ + "/host.txt", "from the host\n"));
  ::chmod((work_ + "/host.txt").c_str(), 0640);
  ASSERT_EQ(Skiff({"cp", work_ + "/host.txt", "web:/tmp/"}).code, 0);
  CmdResult cat = Skiff({"exec", "web", "cat", "/tmp/host.txt"});
  EXPECT_EQ(cat.out, "from the host\n");
  EXPECT_EQ(Trim(Skiff({"exec", "web", "sh", "-c", "ls -l /tmp/host.txt"}).out).substr(0, 10),
            "-rw-r-----");
  CmdResult out = Skiff({"cp", "web:/data/in-image.txt", work_ + "/got.txt"});
  EXPECT_EQ(out.code, 0) << out.err;
  EXPECT_EQ(ReadText(work_ + "/got.txt"), "from the image\n");
  // A container plants links to the host's root and outside its own root.
  ASSERT_EQ(Skiff({"exec", "web", "sh", "-c",
                   "ln -s / /escape && ln -s ../../../../../../etc /etcup && "
                   "echo container > /etc/marker"})
                .code,
            0);
  CmdResult via = Skiff({"cp", "web:/escape/etc/marker", work_ + "/m1"});
  EXPECT_EQ(via.code, 0) << via.err;
  EXPECT_EQ(ReadText(work_ + "/m1"), "container\n");
  CmdResult up = Skiff({"cp", "web:/etcup/passwd", work_ + "/p"});
  EXPECT_EQ(up.code, 0) << up.err;
  EXPECT_EQ(ReadText(work_ + "/p"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n");
  // Writing through them lands inside the container, never on the host.
  std::string host_target = "/etc/skiff-ops-test-" + std::to_string(::getpid());
  ASSERT_EQ(
      Skiff({"cp", work_ + "/host.txt", "web:/etcup/skiff-ops-test-" + std::to_string(::getpid())})
          .code,
      0);
  EXPECT_FALSE(Exists(host_target));
  EXPECT_EQ(Skiff({"exec", "web", "cat", "/etc/skiff-ops-test-" + std::to_string(::getpid())}).out,
            "from the host\n");
  // A tar stream out, and a stopped container still copies (its root mounted for it).
  CmdResult tar = Shell("$SKIFF cp web:/data - | tar -tf -");
  EXPECT_NE(tar.out.find("data/in-image.txt"), std::string::npos) << tar.out << tar.err;
  ASSERT_EQ(Skiff({"stop", "-t", "1", "web"}).code, 0);
  CmdResult stopped = Skiff({"cp", "web:/tmp/host.txt", work_ + "/after-stop.txt"});
  EXPECT_EQ(stopped.code, 0) << stopped.err;
  EXPECT_EQ(ReadText(work_ + "/after-stop.txt"), "from the host\n");
  EXPECT_EQ(ReadText("/proc/self/mountinfo").find(id), std::string::npos) << "cp left its mount";
  EXPECT_NE(Skiff({"cp", work_ + "/host.txt", work_ + "/x"}).code, 0);
}

// cp sees the container's volumes, binds and tmpfs as docker cp does: running, through the
// container's own root (its mounts in place); stopped, through its root with its volumes and
// binds mounted for the copy (engine_cp_test.cc has the rest), where a link in a volume
// resolves in the container's root, as it would for a process in it.
TEST_F(EngineOpsTest, CpThroughVolumesAndBinds) {
  std::string bind = work_ + "/bind";
  ASSERT_EQ(::mkdir(bind.c_str(), 0755), 0);
  ASSERT_TRUE(WriteText(bind + "/b.txt", "bound\n"));
  ASSERT_TRUE(WriteText(work_ + "/host.txt", "from the host\n"));
  std::string id = RunDetached({"--name", "web", "-v", "keep:/vol", "-v", bind + ":/mnt/bind",
                                "--tmpfs", "/scratch", "bb", "sleep", "300"});
  ASSERT_EQ(Skiff({"exec", "web", "sh", "-c",
                   "echo vol > /vol/v.txt && echo tmp > /scratch/t.txt && ln -s / /vol/esc"})
                .code,
            0);
  auto out = [&](const std::string& from, const std::string& name) {
    CmdResult r = Skiff({"cp", "web:" + from, work_ + "/" + name});
    EXPECT_EQ(r.code, 0) << from << ": " << r.err;
    return ReadText(work_ + "/" + name);
  };
  EXPECT_EQ(out("/vol/v.txt", "r1"), "vol\n");
  EXPECT_EQ(out("/mnt/bind/b.txt", "r2"), "bound\n");
  EXPECT_EQ(out("/scratch/t.txt", "r3"), "tmp\n");
  ASSERT_EQ(Skiff({"cp", work_ + "/host.txt", "web:/mnt/bind/in.txt"}).code, 0);
  EXPECT_EQ(ReadText(bind + "/in.txt"), "from the host\n");
  ASSERT_EQ(Skiff({"cp", work_ + "/host.txt", "web:/scratch/"}).code, 0);
  EXPECT_EQ(Skiff({"exec", "web", "cat", "/scratch/host.txt"}).out, "from the host\n");

  ASSERT_EQ(Skiff({"stop", "-t", "1", "web"}).code, 0);
  EXPECT_EQ(out("/vol/v.txt", "s1"), "vol\n");
  EXPECT_EQ(out("/mnt/bind/b.txt", "s2"), "bound\n");
  ASSERT_EQ(Skiff({"cp", work_ + "/host.txt", "web:/vol/new.txt"}).code, 0);
  EXPECT_EQ(ReadText(root_ + "/volumes/keep/_data/new.txt"), "from the host\n");
  // The mount point itself: a missing DEST gets its contents, an existing dir gets "vol/".
  CmdResult whole = Skiff({"cp", "web:/vol", work_ + "/volcopy"});
  EXPECT_EQ(whole.code, 0) << whole.err;
  EXPECT_EQ(ReadText(work_ + "/volcopy/v.txt"), "vol\n");
  ASSERT_EQ(::mkdir((work_ + "/into").c_str(), 0755), 0);
  CmdResult into = Skiff({"cp", "web:/vol/", work_ + "/into"});
  EXPECT_EQ(into.code, 0) << into.err;
  EXPECT_EQ(ReadText(work_ + "/into/vol/new.txt"), "from the host\n");
  // /vol/esc -> "/" resolves to the container's root: its /etc/passwd, never the host's.
  CmdResult esc = Skiff({"cp", "web:/vol/esc/etc/passwd", work_ + "/esc"});
  EXPECT_EQ(esc.code, 0) << esc.err;
  EXPECT_EQ(ReadText(work_ + "/esc"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n");
  EXPECT_EQ(ReadText("/proc/self/mountinfo").find(id), std::string::npos) << "cp left its mount";
}

TEST_F(EngineOpsTest, PruneAndDf) {
  std::string keep = RunDetached({"--name", "keep", "bb", "sleep", "300"});
  CmdResult done = Skiff({"run", "--name", "done", "bb", "sh", "-c", "echo x > /big"});
  ASSERT_EQ(done.code, 0) << done.err;
  json d = Inspect("done");
  ASSERT_FALSE(d.is_null());
  std::string done_id = d["Id"];
  CmdResult df = Skiff({"system", "df"});
  ASSERT_EQ(df.code, 0) << df.err;
  auto lines = Lines(df.out);
  ASSERT_EQ(lines.size(), 5u) << df.out;
  EXPECT_EQ(lines[0].rfind("TYPE", 0), 0u);
  EXPECT_TRUE(std::regex_search(lines[1], std::regex("^Images +1 +1 "))) << df.out;
  EXPECT_TRUE(std::regex_search(lines[2], std::regex("^Containers +2 +1 "))) << df.out;
  EXPECT_EQ(lines[3].rfind("Local Volumes", 0), 0u);
  EXPECT_EQ(lines[4].rfind("Build Cache", 0), 0u);
  CmdResult prune = Skiff({"container", "prune", "-f"});
  ASSERT_EQ(prune.code, 0) << prune.err;
  EXPECT_NE(prune.out.find("Deleted Containers:\n" + done_id + "\n"), std::string::npos)
      << prune.out;
  EXPECT_NE(prune.out.find("Total reclaimed space: "), std::string::npos);
  EXPECT_FALSE(Exists(root_ + "/containers/" + done_id));
  EXPECT_EQ(Inspect("keep")["State"]["Status"], "running");
  // Without -f it asks; stdin is /dev/null here: nothing is removed.
  ASSERT_EQ(Skiff({"stop", "-t", "1", "keep"}).code, 0);
  CmdResult asked = Skiff({"container", "prune"});
  EXPECT_NE(asked.out.find("Are you sure you want to continue? [y/N]"), std::string::npos);
  EXPECT_TRUE(Exists(root_ + "/containers/" + keep));
  CmdResult sys = Skiff({"system", "prune", "-f"});
  EXPECT_EQ(sys.code, 0) << sys.err;
  EXPECT_NE(sys.out.find(keep), std::string::npos) << sys.out;
  EXPECT_FALSE(Exists(root_ + "/containers/" + keep));
  EXPECT_EQ(Skiff({"run", "--rm", "bb", "true"}).code, 0) << "system prune removed a used image";
}

// Dangling images (their tag moved on) go with image prune and system prune, unless a
// container uses them; -a removes every image no container uses. Docker's output.
TEST_F(EngineOpsTest, PruneDanglingAndUnusedImages) {
  std::string tree = work_ + "/tree";
  auto import = [&](const std::string& marker, const std::string& ref) {
    EXPECT_TRUE(WriteText(tree + "/etc/marker", marker + "\n"));
    CmdResult r = Skiff({"import", tree, ref, "--change", "CMD [\"sh\"]"});
    EXPECT_EQ(r.code, 0) << r.err;
    return Trim(r.out);
  };
  std::string a = Inspect("bb")["Id"];  // the fixture's bb:latest
  CmdResult c = Skiff({"create", "--name", "old", "bb", "cat", "/etc/passwd"});
  ASSERT_EQ(c.code, 0) << c.err;
  Own(Trim(c.out));
  std::string b = import("b", "bb:latest");  // a: dangling, used by "old"
  std::string cc = import("c", "bb:latest");  // b: dangling, unused
  std::string d = import("d", "other:1");     // tagged, unused
  ASSERT_NE(a, b);
  auto blob = [&](const std::string& id) {
    return Exists(root_ + "/oci/blobs/sha256/" + id.substr(7));
  };
  CmdResult p = Skiff({"image", "prune", "-f"});
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.out.rfind("Deleted Images:\ndeleted: " + b + "\n\nTotal reclaimed space: ", 0), 0u)
      << p.out;
  EXPECT_FALSE(blob(b));
  EXPECT_TRUE(blob(a)) << "a dangling image a container uses was removed";
  EXPECT_TRUE(blob(d));
  // Its layers too: the container still starts.
  CmdResult start = Skiff({"start", "-a", "old"});
  EXPECT_EQ(start.code, 0) << start.err;
  EXPECT_NE(start.out.find("root:x:0:0"), std::string::npos) << start.out;
  // -a: every image no container uses; one running on bb:latest keeps it.
  RunDetached({"--name", "up", "bb", "sleep", "300"});
  CmdResult all = Skiff({"image", "prune", "-a", "-f"});
  ASSERT_EQ(all.code, 0) << all.err;
  EXPECT_NE(all.out.find("Deleted Images:\nuntagged: other:1\ndeleted: " + d + "\n"),
            std::string::npos)
      << all.out;
  EXPECT_EQ(all.out.find(cc), std::string::npos) << all.out;
  EXPECT_EQ(all.out.find(a), std::string::npos) << all.out;
  EXPECT_TRUE(blob(cc));
  EXPECT_TRUE(blob(a));
  // system prune: the stopped container goes, and then its dangling image.
  CmdResult sys = Skiff({"system", "prune", "-f"});
  ASSERT_EQ(sys.code, 0) << sys.err;
  EXPECT_NE(sys.out.find("Deleted Containers:\n" + Trim(c.out) + "\n\nDeleted Images:\ndeleted: " +
                         a + "\n\nTotal reclaimed space: "),
            std::string::npos)
      << sys.out;
  EXPECT_FALSE(blob(a));
  EXPECT_TRUE(blob(cc));
  EXPECT_EQ(Inspect("up")["State"]["Status"], "running");
  CmdResult none = Skiff({"image", "prune", "-f"});
  EXPECT_EQ(none.out.rfind("Total reclaimed space: 0B", 0), 0u) << none.out;
}

// rmi of an image a container uses, as Docker: refused; with -f only its names go, and the
// container keeps its files (its layer dirs used to be removed from under it, running).
TEST_F(EngineOpsTest, RmiKeepsWhatContainersUse) {
  std::string image_id = Inspect("bb")["Id"];
  std::string id = RunDetached({"--name", "web", "bb", "sleep", "300"});
  CmdResult refused = Skiff({"rmi", "bb"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find("conflict: unable to remove repository reference \"bb\" (must "
                             "force) - container " +
                             id.substr(0, 12) + " is using its referenced image " +
                             image_id.substr(7, 12)),
            std::string::npos)
      << refused.err;
  CmdResult by_id = Skiff({"rmi", image_id.substr(7, 12)});
  EXPECT_EQ(by_id.code, 1);
  EXPECT_NE(by_id.err.find("image is being used by container " + id.substr(0, 12)),
            std::string::npos)
      << by_id.err;
  CmdResult forced = Skiff({"rmi", "-f", "bb"});
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(forced.out, "Untagged: bb:latest\n");
  // Untagged but kept for the container: a <none> row, as in Docker.
  EXPECT_EQ(Skiff({"images", "-q"}).out, image_id.substr(7, 12) + "\n");
  CmdResult cat = Skiff({"exec", "web", "cat", "/data/in-image.txt"});
  EXPECT_EQ(cat.code, 0) << cat.err;
  EXPECT_EQ(cat.out, "from the image\n");
  // Once the container is gone, the dangling image is prunable.
  ASSERT_EQ(Skiff({"rm", "-f", "web"}).code, 0);
  CmdResult p = Skiff({"image", "prune", "-f"});
  EXPECT_NE(p.out.find("deleted: " + image_id), std::string::npos) << p.out;
  EXPECT_FALSE(Exists(root_ + "/oci/blobs/sha256/" + image_id.substr(7)));
}

TEST_F(EngineOpsTest, RunExplain) {
  CmdResult r = Skiff({"run", "--rm", "--explain", "-m", "32m", "bb", "echo", "explained"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "explained\n");
  auto has = [&](const std::string& re) { return std::regex_search(r.err, std::regex(re)); };
  EXPECT_TRUE(has(R"(engine  image +bb resolved to sha256:[0-9a-f]{64}, 1 layers)")) << r.err;
  EXPECT_TRUE(has(R"(engine  mount +overlay on \S+/rootfs type overlay lowerdir=\S+/layers/)"))
      << r.err;
  EXPECT_TRUE(has(R"(runtime clone3 +CLONE_NEWNS\|CLONE_NEWPID)")) << r.err;
  EXPECT_TRUE(has(R"(runtime cgroup +write \S+/memory\.(limit_in_bytes|max) = 33554432)")) << r.err;
  EXPECT_TRUE(has(R"(runtime seccomp +filter compiled before clone: [0-9]+ BPF instructions)"))
      << r.err;
  EXPECT_TRUE(has(R"(child   mount +proc on /proc type proc)")) << r.err;
  EXPECT_TRUE(has(R"(child   pivot_root new root \S+/rootfs)")) << r.err;
  EXPECT_TRUE(has(R"(child   caps +bounding 14: CHOWN,)")) << r.err;
  EXPECT_TRUE(has(R"(child   execve +/bin/echo argv \["echo","explained"\])")) << r.err;
  // The runtime takes the spec the engine just wrote from memory, not from config.json.
  EXPECT_TRUE(has(R"(runtime spec +\S+/config\.json as the engine wrote it)")) << r.err;
  // On cgroup v1 each device rule is written once (the spec lists the defaults the runtime
  // adds too).
  size_t null_rules = 0;
  for (size_t p = 0; (p = r.err.find("devices.allow = c 1:3 rwm", p)) != std::string::npos; ++p)
    ++null_rules;
  if (r.err.find("devices.allow") != std::string::npos) {
    EXPECT_EQ(null_rules, 1u) << r.err;
  }
  // The engine's steps come first.
  EXPECT_LT(r.err.find("engine  image"), r.err.find("runtime clone3"));
  CmdResult quiet = Skiff({"run", "--rm", "bb", "echo", "quiet"});
  EXPECT_EQ(quiet.code, 0);
  EXPECT_EQ(quiet.err, "");
}

// run -d: the runtime's steps happen in the monitor, which sends them back on the pipe it
// reports the start on; they are printed before the ID (stdout holds only the ID).
TEST_F(EngineOpsTest, RunDetachedExplain) {
  CmdResult r = Skiff({"run", "-d", "--explain", "--name", "web", "bb", "sleep", "300"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id = Trim(r.out);
  Own(id);
  EXPECT_TRUE(std::regex_match(r.out, std::regex("[0-9a-f]{64}\n"))) << r.out;
  auto has = [&](const std::string& re) { return std::regex_search(r.err, std::regex(re)); };
  EXPECT_TRUE(has(R"(engine  image +bb resolved to sha256:)")) << r.err;
  EXPECT_TRUE(has(R"(runtime clone3 +CLONE_NEWNS\|CLONE_NEWPID)")) << r.err;
  EXPECT_TRUE(has(R"(child   pivot_root new root \S+/rootfs)")) << r.err;
  EXPECT_TRUE(has(R"(child   execve +/bin/sleep argv \["sleep","300"\])")) << r.err;
  EXPECT_LT(r.err.find("engine  image"), r.err.find("runtime clone3"));
  EXPECT_EQ(r.err.find("explain: what the kernel"), r.err.rfind("explain: what the kernel"))
      << "one header: " << r.err;
  EXPECT_EQ(Inspect("web")["State"]["Status"], "running");
  CmdResult quiet = Skiff({"run", "-d", "bb", "true"});
  EXPECT_EQ(quiet.code, 0) << quiet.err;
  Own(Trim(quiet.out));
  EXPECT_EQ(quiet.err, "");
}

}  // namespace
}  // namespace skiff::itest
