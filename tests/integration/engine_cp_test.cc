// skiff cp on a stopped container (created or exited) sees the container's mounts as the
// container would (issue 5): its root is assembled, volumes and binds in place, in a mount
// namespace of a child's own, so that links into mounts are followed, parents of mount
// points include what is mounted below them, file binds read as bound, and nothing is left
// in the host's mount table, even when cp fails half-way.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "bundle.h"
#include "engine_fixture.h"

namespace skiff::itest {
namespace {

class EngineCpTest : public EngineFixture {
 protected:
  EngineCpTest() : EngineFixture("cp") {}
  void ExtendTree(const std::string& tree) override {
    ASSERT_EQ(::mkdir((tree + "/data").c_str(), 0755), 0);
    ASSERT_TRUE(WriteText(tree + "/data/in-image.txt", "from the image\n"));
  }

  // run (not -d) ARGS to its end: an exited container, removed in TearDown.
  std::string RunToExit(std::vector<std::string> args) {
    args.insert(args.begin(), "run");
    CmdResult r = Skiff(args);
    EXPECT_EQ(r.code, 0) << r.err;
    std::string id = Inspect("ct")["Id"];
    Own(id);
    return id;
  }
  // cp c:FROM to work_/NAME; its content ("" when cp failed, which fails the test).
  std::string Out(const std::string& from, const std::string& name) {
    CmdResult r = Skiff({"cp", "ct:" + from, work_ + "/" + name});
    EXPECT_EQ(r.code, 0) << from << ": " << r.err;
    return ReadText(work_ + "/" + name);
  }
  void ExpectNoMountOf(const std::string& id) {
    std::string mi = ReadText("/proc/self/mountinfo");
    EXPECT_EQ(mi.find(id), std::string::npos) << "cp left a mount of the container";
    EXPECT_EQ(mi.find(work_), std::string::npos) << "cp left a mount under " << work_;
  }
};

const char kImagePasswd[] = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n";

// /data-link -> /data, a volume: followed into the volume, both ways.
TEST_F(EngineCpTest, StoppedFollowsALinkIntoAVolume) {
  std::string id = RunToExit({"--name", "ct", "-v", "keep:/data", "bb", "sh", "-c",
                              "ln -s /data /data-link && echo vol > /data/v.txt"});
  EXPECT_EQ(Out("/data-link/v.txt", "v"), "vol\n");
  EXPECT_EQ(Out("/data-link/in-image.txt", "i"), "from the image\n");  // copied up
  ASSERT_TRUE(WriteText(work_ + "/host.txt", "from the host\n"));
  CmdResult in = Skiff({"cp", work_ + "/host.txt", "ct:/data-link/"});
  EXPECT_EQ(in.code, 0) << in.err;
  EXPECT_EQ(ReadText(root_ + "/volumes/keep/_data/host.txt"), "from the host\n");
  ExpectNoMountOf(id);
  // The next run sees it where the link leads.
  CmdResult seen = Skiff({"run", "--rm", "-v", "keep:/data", "bb", "cat", "/data/host.txt"});
  EXPECT_EQ(seen.out, "from the host\n") << seen.err;
}

// A created container (never started: its root mounted by create, its mount points maybe
// not made yet) is the same.
TEST_F(EngineCpTest, CreatedContainerSeesItsVolumes) {
  ASSERT_EQ(::mkdir((work_ + "/bind").c_str(), 0755), 0);
  ASSERT_TRUE(WriteText(work_ + "/bind/b.txt", "bound\n"));
  CmdResult c = Skiff({"create", "--name", "ct", "-v", work_ + "/bind:/deep/bind", "bb", "true"});
  ASSERT_EQ(c.code, 0) << c.err;
  std::string id = Trim(c.out);
  Own(id);
  EXPECT_EQ(Out("/deep/bind/b.txt", "b"), "bound\n");
  ASSERT_TRUE(WriteText(work_ + "/host.txt", "from the host\n"));
  CmdResult in = Skiff({"cp", work_ + "/host.txt", "ct:/deep/bind/in.txt"});
  EXPECT_EQ(in.code, 0) << in.err;
  EXPECT_EQ(ReadText(work_ + "/bind/in.txt"), "from the host\n");
  std::string mi = ReadText("/proc/self/mountinfo");
  EXPECT_EQ(mi.find(work_ + "/bind"), std::string::npos) << "cp left the bind mounted";
  CmdResult start = Skiff({"start", "-a", "ct"});
  EXPECT_EQ(start.code, 0) << start.err;
}

// A parent of mount points copies what is mounted below it, out (a dir, a tar of "/") and
// in.
TEST_F(EngineCpTest, StoppedParentOfMountsIncludesThem) {
  ASSERT_EQ(::mkdir((work_ + "/bind").c_str(), 0755), 0);
  ASSERT_TRUE(WriteText(work_ + "/bind/b.txt", "bound\n"));
  // A volume nested in a bind too: mounted under it in cp's namespace, it must not
  // propagate to the bind's source on the host (ExpectNoMountOf).
  std::string id = RunToExit({"--name", "ct", "-v", "keep:/mnt/vol", "-v",
                              work_ + "/bind:/mnt/bind", "-v", "nest:/mnt/bind/nest", "bb", "sh",
                              "-c", "echo vol > /mnt/vol/v.txt && echo nest > /mnt/bind/nest/n.txt"});
  CmdResult dir = Skiff({"cp", "ct:/mnt", work_ + "/mnt"});
  EXPECT_EQ(dir.code, 0) << dir.err;
  EXPECT_EQ(ReadText(work_ + "/mnt/vol/v.txt"), "vol\n");
  EXPECT_EQ(ReadText(work_ + "/mnt/bind/b.txt"), "bound\n");
  EXPECT_EQ(ReadText(work_ + "/mnt/bind/nest/n.txt"), "nest\n");
  CmdResult tar = Shell("$SKIFF cp ct:/ - | tar -tf -");
  EXPECT_EQ(tar.code, 0) << tar.err;
  EXPECT_NE(tar.out.find("mnt/vol/v.txt"), std::string::npos) << tar.out;
  EXPECT_NE(tar.out.find("mnt/bind/b.txt"), std::string::npos) << tar.out;
  EXPECT_NE(tar.out.find("etc/hosts"), std::string::npos) << tar.out;
  // In: a tree copied onto /mnt lands in the volume and the bind under it.
  std::string tree = work_ + "/up/mnt";
  ASSERT_EQ(::mkdir((work_ + "/up").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(tree.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((tree + "/vol").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((tree + "/bind").c_str(), 0755), 0);
  ASSERT_TRUE(WriteText(tree + "/vol/new.txt", "into the volume\n"));
  ASSERT_TRUE(WriteText(tree + "/bind/new.txt", "into the bind\n"));
  CmdResult in = Skiff({"cp", tree, "ct:/"});
  EXPECT_EQ(in.code, 0) << in.err;
  EXPECT_EQ(ReadText(root_ + "/volumes/keep/_data/new.txt"), "into the volume\n");
  EXPECT_EQ(ReadText(work_ + "/bind/new.txt"), "into the bind\n");
  ExpectNoMountOf(id);
}

// /etc/hostname, /etc/hosts, /etc/resolv.conf and -v FILE:/x read as bound, not as the
// placeholders in the root.
TEST_F(EngineCpTest, StoppedFileBindsReadAsBound) {
  ASSERT_TRUE(WriteText(work_ + "/file.txt", "a bound file\n"));
  std::string id = RunToExit({"--name", "ct", "-h", "boxname", "-v", work_ + "/file.txt:/x.txt",
                              "bb", "true"});
  EXPECT_EQ(Out("/etc/hostname", "hn"), "boxname\n");
  EXPECT_NE(Out("/etc/hosts", "hosts").find("localhost"), std::string::npos);
  std::string bundle = root_ + "/containers/" + id;
  std::string resolv = ReadText(bundle + "/resolv.conf");
  EXPECT_EQ(Out("/etc/resolv.conf", "rc"), resolv);
  EXPECT_EQ(Out("/x.txt", "x"), "a bound file\n");
  CmdResult etc = Skiff({"cp", "ct:/etc", work_ + "/etc"});
  EXPECT_EQ(etc.code, 0) << etc.err;
  EXPECT_EQ(ReadText(work_ + "/etc/hostname"), "boxname\n");
  ExpectNoMountOf(id);
}

// Links planted in a volume to "/" and "../../.." resolve in the container's root as
// assembled (as the container would see them), never on the host's, both ways; so does a
// link planted where a mount goes.
TEST_F(EngineCpTest, StoppedLinksInAVolumeStayInTheContainer) {
  std::string id = RunToExit({"--name", "ct", "-v", "keep:/vol", "-v", "side:/target/vol", "bb",
                              "sh", "-c",
                              "ln -s / /vol/esc && ln -s ../../../../../../.. /vol/up && "
                              "echo side > /target/vol/s.txt"});
  EXPECT_EQ(Out("/vol/esc/etc/passwd", "p1"), kImagePasswd);
  EXPECT_EQ(Out("/vol/up/etc/passwd", "p2"), kImagePasswd);
  EXPECT_EQ(Out("/vol/up/vol/esc/data/in-image.txt", "p3"), "from the image\n");
  std::string tag = "skiff-cp-test-" + std::to_string(::getpid());
  ASSERT_TRUE(WriteText(work_ + "/host.txt", "from the host\n"));
  ASSERT_EQ(Skiff({"cp", work_ + "/host.txt", "ct:/vol/up/etc/" + tag}).code, 0);
  EXPECT_FALSE(Exists("/etc/" + tag)) << "cp wrote through a link onto the host";
  EXPECT_EQ(Out("/etc/" + tag, "back"), "from the host\n");
  // The container replaced the directory a mount goes on by a link out of its root (here
  // straight in its upper dir): the mount goes where the link leads inside the root.
  std::string upper = root_ + "/containers/" + id + "/upper";
  ASSERT_EQ(::rmdir((upper + "/target/vol").c_str()), 0);
  ASSERT_EQ(::rmdir((upper + "/target").c_str()), 0);
  std::string away = "/tmp/" + tag;
  (void)::mkdir((upper + "/tmp").c_str(), 01777);
  ASSERT_EQ(::mkdir((upper + away).c_str(), 0755), 0);
  ASSERT_EQ(::symlink(("../../../../../../../.." + away).c_str(), (upper + "/target").c_str()), 0);
  EXPECT_EQ(Out("/target/vol/s.txt", "s"), "side\n");
  EXPECT_FALSE(Exists(away)) << "a mount target was made outside the container's root";
  EXPECT_TRUE(Exists(upper + away + "/vol")) << "the mount target was not made in the root";
  EXPECT_EQ(Out(away + "/vol/s.txt", "s2"), "side\n");
  ExpectNoMountOf(id);
}

// A cp that fails after its mounts (a read-only volume), or while making them (a bind
// source gone), leaves nothing mounted, and says what failed in one line.
TEST_F(EngineCpTest, StoppedFailuresLeaveNoMount) {
  ASSERT_EQ(::mkdir((work_ + "/gone").c_str(), 0755), 0);
  std::string id = RunToExit({"--name", "ct", "-v", "keep:/vol", "-v", "ro:/ro:ro", "-v",
                              work_ + "/gone:/zz/gone", "bb", "true"});
  ASSERT_TRUE(WriteText(work_ + "/host.txt", "from the host\n"));
  CmdResult ro = Skiff({"cp", work_ + "/host.txt", "ct:/ro/"});
  EXPECT_EQ(ro.code, 125);
  EXPECT_NE(ro.err.find("Read-only file system"), std::string::npos) << ro.err;
  EXPECT_FALSE(Exists(root_ + "/volumes/ro/_data/host.txt"));
  ExpectNoMountOf(id);
  ASSERT_EQ(::rmdir((work_ + "/gone").c_str()), 0);
  CmdResult gone = Skiff({"cp", "ct:/vol", work_ + "/vol"});
  EXPECT_EQ(gone.code, 125);
  EXPECT_EQ(gone.err.rfind("skiff: ", 0), 0u) << gone.err;
  EXPECT_NE(gone.err.find(work_ + "/gone"), std::string::npos) << gone.err;
  EXPECT_EQ(gone.err.find('\n'), gone.err.size() - 1) << gone.err;
  ExpectNoMountOf(id);
}

}  // namespace
}  // namespace skiff::itest
