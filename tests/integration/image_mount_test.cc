// `skiff image mount` / `unmount` end to end: a multi-layer image that umoci built (with a
// whiteout and an opaque dir) read through its overlay, a single-layer image through its
// read-only bind, the mount table checked after each step, rmi of a mounted image, errors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bundle.h"

namespace skiff::itest {
namespace {

struct MountEntry {
  std::string root, point, fstype, options;
};

// /proc/self/mountinfo: "id parent maj:min root point options [tags] - fstype source super".
std::vector<MountEntry> MountTable() {
  std::vector<MountEntry> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream s(line);
    std::string id, parent, dev, sep;
    MountEntry e;
    s >> id >> parent >> dev >> e.root >> e.point >> e.options;
    while (s >> sep && sep != "-") {
    }
    s >> e.fstype;
    out.push_back(e);
  }
  return out;
}

std::vector<MountEntry> MountsAt(const std::string& point) {
  std::vector<MountEntry> out;
  for (auto& e : MountTable())
    if (e.point == point) out.push_back(e);
  return out;
}

class ImageMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-imgmnt-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    work_ = tmpl;
    root_ = work_ + "/root";
  }
  // Whatever the test left mounted under work_ goes first (deepest first), so that the
  // tree removal never meets a read-only mount and no mount outlives the test.
  void TearDown() override {
    std::vector<std::string> points;
    for (auto& e : MountTable())
      if (e.point.rfind(work_ + "/", 0) == 0) points.push_back(e.point);
    std::sort(points.rbegin(), points.rend());
    for (const auto& p : points) ::umount2(p.c_str(), MNT_DETACH);
    RemoveTree(work_);
  }

  CmdResult Skiff(std::vector<std::string> args) {
    args.insert(args.begin(), {SKIFF_BIN, "--root", root_});
    return RunCommand(args, work_);
  }

  // A 4-layer image built by umoci: a base tree, /opt/tool, a whiteout of /etc/gone and an
  // opaque /var holding only "new". Pulled into skiff's store as localhost/layout:t.
  void MakeUmociImage() {
    if (!Exists("/usr/bin/umoci")) GTEST_SKIP() << "umoci is not installed";
    std::string s1 = work_ + "/s1", s2 = work_ + "/s2", s3 = work_ + "/s3";
    for (const auto& d : {s1, s2, s3, s1 + "/etc", s1 + "/var", s1 + "/var/old", s1 + "/bin"})
      ASSERT_EQ(::mkdir(d.c_str(), 0755), 0) << d;
    ASSERT_TRUE(WriteText(s1 + "/etc/gone", "gone"));
    ASSERT_TRUE(WriteText(s1 + "/etc/kept", "kept\n"));
    ASSERT_TRUE(WriteText(s1 + "/var/old/x", "x"));
    ASSERT_TRUE(CopyFile("/bin/busybox", s1 + "/bin/busybox", 0755));
    ASSERT_TRUE(WriteText(s2 + "/tool", "tool\n"));
    ASSERT_TRUE(WriteText(s3 + "/new", "new\n"));
    std::string layout = work_ + "/layout", img = layout + ":t";
    std::vector<std::vector<std::string>> cmds = {
        {"init", "--layout", layout},
        {"new", "--image", img},
        {"insert", "--image", img, s1, "/"},
        {"insert", "--image", img, s2, "/opt"},
        {"insert", "--image", img, "--whiteout", "/etc/gone"},
        {"insert", "--image", img, "--opaque", s3, "/var"},
    };
    for (auto args : cmds) {
      args.insert(args.begin(), "/usr/bin/umoci");
      CmdResult r = RunCommand(args, work_);
      ASSERT_EQ(r.code, 0) << args[1] << ": " << r.err;
    }
    CmdResult pull = Skiff({"pull", "oci:" + layout + ":t"});
    ASSERT_EQ(pull.code, 0) << pull.err;
    CmdResult insp = Skiff({"image", "inspect", "localhost/layout:t"});
    ASSERT_EQ(insp.code, 0) << insp.err;
    auto doc = nlohmann::json::parse(insp.out);
    ASSERT_EQ(doc[0]["RootFS"]["Layers"].size(), 4u);
    id_ = doc[0]["Id"];
  }

  // errno of creating a file at path (0 if it could be created).
  static int CreateErrno(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::close(fd);
      return 0;
    }
    return errno;
  }

  std::string work_, root_, id_;
};

TEST_F(ImageMountTest, MultiLayerOverlayWithWhiteoutIsReadOnly) {
  ASSERT_NO_FATAL_FAILURE(MakeUmociImage());
  if (IsSkipped()) return;
  CmdResult m = Skiff({"image", "mount", "localhost/layout:t"});
  ASSERT_EQ(m.code, 0) << m.err;
  std::string path = root_ + "/mounts/" + id_.substr(7) + "/merged";
  EXPECT_EQ(m.out, path + "\n");
  auto at = MountsAt(path);
  ASSERT_EQ(at.size(), 1u);
  EXPECT_EQ(at[0].fstype, "overlay");
  EXPECT_EQ(at[0].options.substr(0, 3), "ro,") << at[0].options;

  // The merged view: lower layers show through, the whiteout and the opaque dir hide.
  EXPECT_EQ(ReadText(path + "/etc/kept"), "kept\n");
  EXPECT_EQ(ReadText(path + "/opt/tool"), "tool\n");
  EXPECT_EQ(ReadText(path + "/var/new"), "new\n");
  EXPECT_FALSE(Exists(path + "/etc/gone"));
  EXPECT_FALSE(Exists(path + "/var/old"));
  EXPECT_TRUE(Exists(path + "/bin/busybox"));
  EXPECT_EQ(CreateErrno(path + "/etc/new"), EROFS);
  EXPECT_EQ(CreateErrno(path + "/etc/kept"), EROFS);

  // Idempotent: the same path, still one mount.
  CmdResult again = Skiff({"image", "mount", id_.substr(7, 12)});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out, path + "\n");
  EXPECT_EQ(MountsAt(path).size(), 1u);

  CmdResult list = Skiff({"image", "mount"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(list.out, "localhost/layout:t " + path + "\n");
  CmdResult json = Skiff({"image", "mount", "--format", "json"});
  ASSERT_EQ(json.code, 0) << json.err;
  auto doc = nlohmann::json::parse(json.out);
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0]["mountpoint"], path);
  EXPECT_EQ(doc[0]["id"], id_.substr(7));

  // rmi refuses a mounted image, and the image and its mount stay.
  CmdResult rmi = Skiff({"rmi", "localhost/layout:t"});
  EXPECT_NE(rmi.code, 0);
  EXPECT_EQ(rmi.err, "skiff: rmi localhost/layout:t: image is in use by a mount at " + path +
                         " (unmount it or use -f)\n");
  EXPECT_EQ(MountsAt(path).size(), 1u);
  EXPECT_EQ(Skiff({"image", "inspect", "localhost/layout:t"}).code, 0);

  CmdResult un = Skiff({"image", "umount", "localhost/layout:t"});
  ASSERT_EQ(un.code, 0) << un.err;
  EXPECT_EQ(un.out, id_.substr(7) + "\n");
  EXPECT_TRUE(MountsAt(path).empty());
  EXPECT_FALSE(Exists(root_ + "/mounts/" + id_.substr(7)));
  EXPECT_EQ(Skiff({"image", "mount"}).out, "");
  // The layers under the overlay are untouched.
  EXPECT_EQ(Skiff({"image", "mount", "localhost/layout:t"}).out, path + "\n");
  EXPECT_EQ(ReadText(path + "/etc/kept"), "kept\n");

  // rmi -f unmounts, then removes.
  CmdResult forced = Skiff({"rmi", "-f", "localhost/layout:t"});
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(forced.out.find("Deleted: " + id_), std::string::npos) << forced.out;
  EXPECT_TRUE(MountsAt(path).empty());
  EXPECT_FALSE(Exists(root_ + "/mounts/" + id_.substr(7)));
  CmdResult layers = RunCommand({"/bin/sh", "-c", "ls " + root_ + "/layers | wc -l"}, work_);
  EXPECT_EQ(layers.out, "0\n");
}

TEST_F(ImageMountTest, SingleLayerIsAReadOnlyBind) {
  std::string tree = work_ + "/tree";
  ASSERT_EQ(::mkdir(tree.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((tree + "/bin").c_str(), 0755), 0);
  ASSERT_TRUE(CopyFile("/bin/busybox", tree + "/bin/busybox", 0755));
  ASSERT_TRUE(WriteText(tree + "/motd", "one layer\n"));
  CmdResult imp = Skiff({"import", tree, "bb:1"});
  ASSERT_EQ(imp.code, 0) << imp.err;
  std::string id = imp.out.substr(0, imp.out.find('\n'));

  CmdResult m = Skiff({"image", "mount", "bb:1"});
  ASSERT_EQ(m.code, 0) << m.err;
  std::string path = root_ + "/mounts/" + id.substr(7) + "/merged";
  EXPECT_EQ(m.out, path + "\n");
  auto at = MountsAt(path);
  ASSERT_EQ(at.size(), 1u);
  EXPECT_NE(at[0].fstype, "overlay");
  EXPECT_EQ(at[0].options.substr(0, 3), "ro,") << at[0].options;
  // The bind's root is the one layer dir.
  CmdResult layer = RunCommand({"/bin/sh", "-c", "ls " + root_ + "/layers"}, work_);
  ASSERT_FALSE(layer.out.empty());
  EXPECT_EQ(at[0].root.substr(at[0].root.size() - 64), layer.out.substr(0, layer.out.find('\n')));
  EXPECT_EQ(ReadText(path + "/motd"), "one layer\n");
  EXPECT_EQ(CreateErrno(path + "/new"), EROFS);
  EXPECT_EQ(CreateErrno(path + "/motd"), EROFS);
  EXPECT_EQ(Skiff({"image", "mount", "bb:1"}).out, path + "\n");
  EXPECT_EQ(MountsAt(path).size(), 1u);

  CmdResult un = Skiff({"image", "unmount", "--all"});
  ASSERT_EQ(un.code, 0) << un.err;
  EXPECT_EQ(un.out, id.substr(7) + "\n");
  EXPECT_TRUE(MountsAt(path).empty());
  EXPECT_FALSE(Exists(root_ + "/mounts/" + id.substr(7)));
  EXPECT_EQ(ReadText(root_ + "/layers/" + layer.out.substr(0, 64) + "/motd"), "one layer\n");
}

TEST_F(ImageMountTest, ErrorsAreOneLineAndLeaveNothing) {
  CmdResult missing = Skiff({"image", "mount", "nothere:1"});
  EXPECT_EQ(missing.code, 125);
  EXPECT_EQ(missing.err, "skiff: image mount nothere:1: no such image: nothere:1\n");
  EXPECT_EQ(missing.out, "");
  EXPECT_FALSE(Exists(root_ + "/mounts"));
  EXPECT_FALSE(Exists(root_ + "/layers"));

  std::string tree = work_ + "/tree";
  ASSERT_EQ(::mkdir(tree.c_str(), 0755), 0);
  ASSERT_TRUE(WriteText(tree + "/f", "f"));
  ASSERT_EQ(Skiff({"import", tree, "bb:1"}).code, 0);
  CmdResult notmounted = Skiff({"image", "unmount", "bb:1"});
  EXPECT_EQ(notmounted.code, 125);
  EXPECT_EQ(notmounted.err, "skiff: image unmount bb:1: image is not mounted\n");
  EXPECT_EQ(Skiff({"image", "unmount", "-f", "bb:1"}).code, 0);
  CmdResult none = Skiff({"image", "unmount"});
  EXPECT_EQ(none.code, 125);
  EXPECT_EQ(std::count(none.err.begin(), none.err.end(), '\n'), 1) << none.err;
  EXPECT_EQ(Skiff({"image", "unmount", "nothere:1"}).err,
            "skiff: image unmount nothere:1: no such image: nothere:1\n");
  for (const char* cmd : {"mount", "unmount", "umount"}) {
    CmdResult help = Skiff({"image", cmd, "--help"});
    EXPECT_EQ(help.code, 0) << cmd;
    EXPECT_NE(help.out.find("--all"), std::string::npos) << cmd << ": " << help.out;
  }
  EXPECT_FALSE(Exists(root_ + "/mounts"));
}

}  // namespace
}  // namespace skiff::itest
