// docker top's columns from /proc text, and the real table of this test process.
#include <gtest/gtest.h>
#include <unistd.h>

#include "engine/top.h"

namespace skiff::engine {
namespace {

TEST(Top, ParseStatWithAwkwardComm) {
  // comm may hold spaces and ')': the last ')' ends it.
  std::string stat =
      "4242 (my (weird) cmd) S 4241 4242 4242 34817 4242 4194560 100 0 0 0 250 50 0 0 20 0 1 0 "
      "12345 1000000 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
  auto p = ParseProcStat(stat);
  ASSERT_TRUE(p.ok()) << p.error().Message();
  EXPECT_EQ(p->pid, 4242);
  EXPECT_EQ(p->comm, "my (weird) cmd");
  EXPECT_EQ(p->state, 'S');
  EXPECT_EQ(p->ppid, 4241);
  EXPECT_EQ(p->tty_nr, 34817);
  EXPECT_EQ(p->cpu_ticks, 300u);
  EXPECT_EQ(p->start_ticks, 12345u);
  EXPECT_FALSE(ParseProcStat("no parens here").ok());
  EXPECT_FALSE(ParseProcStat("1 (x) S 0 x").ok());
}

TEST(Top, ParseStatusNSpid) {
  ProcInfo p;
  p.pid = 5000;
  ASSERT_TRUE(
      ParseProcStatus("Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nNSpid:\t5000\t7\t1\n", &p).ok());
  EXPECT_EQ(p.uid, 1000u);
  EXPECT_EQ(p.cpid, 1);
  ProcInfo q;
  q.pid = 9;
  ASSERT_TRUE(ParseProcStatus("Uid:\t0\t0\t0\t0\n", &q).ok());
  EXPECT_EQ(q.cpid, 9);
}

TEST(Top, Cells) {
  ProcInfo p;
  p.pid = 5000;
  p.cpid = 1;
  p.ppid = 4999;
  p.state = 'S';
  p.cpu_ticks = 100 * 3725;  // 1:02:05 of CPU
  p.start_ticks = 100 * 1000;
  p.tty_nr = (136 << 8) | 3;  // pts/3
  p.cmdline = {"sleep", "100"};
  TopClock c;
  c.hz = 100;
  c.uptime_s = 1000 + 7450;  // running for 7450 s: 50% of one CPU
  c.now = ::time(nullptr);
  c.boot_time = c.now - static_cast<time_t>(c.uptime_s);
  auto cells = TopCells(p, c, "root");
  ASSERT_EQ(cells.size(), 9u);
  EXPECT_EQ(cells[0], "root");
  EXPECT_EQ(cells[1], "5000");
  EXPECT_EQ(cells[2], "1");
  EXPECT_EQ(cells[3], "4999");
  EXPECT_EQ(cells[4], "50");
  EXPECT_EQ(cells[6], "pts/3");
  EXPECT_EQ(cells[7], "01:02:05");
  EXPECT_EQ(cells[8], "sleep 100");
  p.state = 'Z';
  p.comm = "sh";
  EXPECT_EQ(TopCells(p, c, "root")[8], "[sh] <defunct>");
}

std::vector<std::string> Keys(const std::vector<TopField>& f) {
  std::vector<std::string> out;
  for (const auto& x : f) out.push_back(x.key + "=" + x.header);
  return out;
}

TEST(Top, PsOptions) {
  using V = std::vector<std::string>;
  V full = {"user=UID", "pid=PID",     "cpid=CPID", "ppid=PPID", "c=C",
            "stime=STIME", "tty=TTY", "time=TIME", "cmd=CMD"};
  EXPECT_EQ(Keys(*ParsePsOptions({})), full);
  EXPECT_EQ(Keys(*ParsePsOptions({"-ef"})), full);
  EXPECT_EQ(Keys(*ParsePsOptions({"-e", "-f"})), full);
  EXPECT_EQ(Keys(*ParsePsOptions({"aux"})),
            (V{"user=USER", "pid=PID", "pcpu=%CPU", "pmem=%MEM", "vsz=VSZ", "rss=RSS", "tty=TTY",
               "stat=STAT", "stime=START", "bsdtime=TIME", "args=COMMAND"}));
  // -o: ps's names and aliases, FIELD=HEADER, in a word of its own or glued (-eo).
  EXPECT_EQ(Keys(*ParsePsOptions({"-o", "pid,comm,args,user"})),
            (V{"pid=PID", "comm=COMMAND", "args=COMMAND", "user=USER"}));
  EXPECT_EQ(Keys(*ParsePsOptions({"-eo", "pid=P,%cpu", "-o", "command"})),
            (V{"pid=P", "pcpu=%CPU", "args=COMMAND"}));
  EXPECT_EQ(Keys(*ParsePsOptions({"axo", "rss,etime"})), (V{"rss=RSS", "etime=ELAPSED"}));
  auto bad_field = ParsePsOptions({"-o", "pid,wchan"});
  ASSERT_FALSE(bad_field.ok());
  EXPECT_NE(bad_field.error().Message().find("unsupported ps field \"wchan\""),
            std::string::npos)
      << bad_field.error().Message();
  auto bad_opt = ParsePsOptions({"-L"});
  ASSERT_FALSE(bad_opt.ok());
  EXPECT_NE(bad_opt.error().Message().find("unsupported ps option \"-L\""), std::string::npos)
      << bad_opt.error().Message();
  EXPECT_FALSE(ParsePsOptions({"--sort=pid"}).ok());
  EXPECT_FALSE(ParsePsOptions({"-o"}).ok());
}

TEST(Top, RowOfFields) {
  ProcInfo p;
  p.pid = 5000;
  p.cpid = 1;
  p.ppid = 4999;
  p.pgid = 5000;
  p.sid = 5000;
  p.tpgid = -1;
  p.uid = 33;
  p.gid = 33;
  p.nice = 5;
  p.threads = 3;
  p.state = 'S';
  p.cpu_ticks = 100 * 125;  // 2:05 of CPU
  p.start_ticks = 100 * 1000;
  p.vsize = 8192 * 1024;
  p.rss_pages = 256;
  p.comm = "httpd";
  p.cmdline = {"httpd", "-f"};
  TopClock c;
  c.hz = 100;
  c.uptime_s = 1000 + 500;  // 125 s of CPU in 500 s: 25%
  c.now = ::time(nullptr);
  c.boot_time = c.now - static_cast<time_t>(c.uptime_s);
  c.mem_total_kb = 102400;
  c.page_kb = 4;
  TopNames n{"www-data:x:33:33::/var/www:/bin/false\n", "www-data:x:33:\n"};
  auto fields = *ParsePsOptions({"-o", "pid,ppid,user,group,uid,comm,args,pcpu,pmem,vsz,rss,stat,"
                                       "s,time,bsdtime,etime,nlwp,ni,cpid"});
  EXPECT_EQ(TopRow(fields, p, c, n),
            (std::vector<std::string>{"5000", "4999", "www-data", "www-data", "33", "httpd",
                                      "httpd -f", "25.0", "1.0", "8192", "1024", "SNsl", "S",
                                      "00:02:05", "2:05", "08:20", "3", "5", "1"}));
}

TEST(Top, UserName) {
  std::string pw = "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/false\n";
  EXPECT_EQ(UserName(0, pw), "root");
  EXPECT_EQ(UserName(33, pw), "www-data");
  EXPECT_EQ(UserName(3, pw), "3");
}

TEST(Top, TableOfThisProcess) {
  auto t = TopTable({::getpid(), 999999999});  // the second does not exist: left out
  ASSERT_TRUE(t.ok()) << t.error().Message();
  EXPECT_EQ(t->rfind("UID                 PID                 CPID", 0), 0u) << *t;
  EXPECT_NE(t->find(" " + std::to_string(::getpid()) + " "), std::string::npos) << *t;
  EXPECT_EQ(std::count(t->begin(), t->end(), '\n'), 2) << *t;
}

}  // namespace
}  // namespace skiff::engine
