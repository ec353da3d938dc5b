// skiff's image commands end to end, with skopeo and umoci as the independent readers of
// the store (it is an OCI image layout: they must take it as oci:PATH:REF).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "bundle.h"

namespace skiff::itest {
namespace {

class ImageCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-imgcli-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    work_ = tmpl;
    root_ = work_ + "/root";
    tree_ = work_ + "/tree";
    ASSERT_EQ(::mkdir(tree_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((tree_ + "/bin").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((tree_ + "/etc").c_str(), 0700), 0);
    ASSERT_TRUE(CopyFile("/bin/busybox", tree_ + "/bin/busybox", 0755));
    ASSERT_EQ(::symlink("busybox", (tree_ + "/bin/sh").c_str()), 0);
    ASSERT_TRUE(WriteText(tree_ + "/etc/motd", "hello from skiff\n"));
    ASSERT_EQ(::chown((tree_ + "/etc/motd").c_str(), 1234, 5678), 0);
    ASSERT_EQ(::chmod((tree_ + "/etc/motd").c_str(), 0640), 0);
  }
  void TearDown() override { RemoveTree(work_); }

  CmdResult Skiff(std::vector<std::string> args) {
    args.insert(args.begin(), {SKIFF_BIN, "--root", root_});
    return RunCommand(args, work_);
  }
  CmdResult Tool(const std::vector<std::string>& args) { return RunCommand(args, work_); }

  std::string work_, root_, tree_;
};

TEST_F(ImageCliTest, ImportListInspectRemove) {
  CmdResult imp = Skiff({"import", tree_, "bb:1", "--change", "CMD [\"sh\"]"});
  ASSERT_EQ(imp.code, 0) << imp.err;
  std::string id = imp.out.substr(0, imp.out.find('\n'));
  ASSERT_EQ(id.rfind("sha256:", 0), 0u) << imp.out;

  CmdResult ls = Skiff({"images", "--format", "json"});
  ASSERT_EQ(ls.code, 0) << ls.err;
  auto list = nlohmann::json::parse(ls.out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["Repository"], "bb");
  EXPECT_EQ(list[0]["Tag"], "1");
  EXPECT_EQ(list[0]["ID"], id);

  CmdResult table = Skiff({"images"});
  EXPECT_NE(table.out.find("REPOSITORY"), std::string::npos);
  EXPECT_NE(table.out.find(id.substr(7, 12)), std::string::npos) << table.out;
  // Docker's layout (tabwriter: each column its widest cell + 3) and CREATED words; the
  // import's config says it was created just now.
  auto rows = Lines(table.out);
  ASSERT_EQ(rows.size(), 2u) << table.out;
  EXPECT_TRUE(std::regex_match(rows[0],
                               std::regex("REPOSITORY   TAG       IMAGE ID       CREATED +SIZE")))
      << rows[0];
  EXPECT_TRUE(std::regex_match(
      rows[1], std::regex("bb           1         " + id.substr(7, 12) +
                          "   (Less than a second|[0-9]+ seconds?) ago +\\S+")))
      << rows[1];

  CmdResult insp = Skiff({"image", "inspect", "bb:1"});
  ASSERT_EQ(insp.code, 0) << insp.err;
  auto doc = nlohmann::json::parse(insp.out);
  EXPECT_EQ(doc[0]["Id"], id);
  EXPECT_EQ(doc[0]["Config"]["Cmd"], nlohmann::json::array({"sh"}));
  EXPECT_EQ(doc[0]["RootFS"]["Layers"].size(), 1u);

  ASSERT_EQ(Skiff({"tag", "bb:1", "127.0.0.1:5000/team/bb:2"}).code, 0);
  CmdResult q = Skiff({"images", "-q"});
  EXPECT_EQ(q.out, id.substr(7, 12) + "\n");

  CmdResult rmi = Skiff({"rmi", "bb:1", "127.0.0.1:5000/team/bb:2"});
  ASSERT_EQ(rmi.code, 0) << rmi.err;
  EXPECT_NE(rmi.out.find("Untagged: bb:1"), std::string::npos) << rmi.out;
  EXPECT_NE(rmi.out.find("Deleted: " + id), std::string::npos) << rmi.out;
  CmdResult blobs = Tool({"/bin/sh", "-c", "ls -A " + root_ + "/oci/blobs/sha256 | wc -l"});
  EXPECT_EQ(blobs.out, "0\n");
}

TEST_F(ImageCliTest, ErrorsAreOneLineAndNonZero) {
  CmdResult missing = Skiff({"rmi", "nothere:1"});
  EXPECT_NE(missing.code, 0);
  EXPECT_EQ(missing.err, "skiff: rmi nothere:1: no such image: nothere:1\n");
  CmdResult bad = Skiff({"image", "inspect", "Bad//ref"});
  EXPECT_NE(bad.code, 0);
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_NE(bad.err.find("invalid reference"), std::string::npos) << bad.err;
  CmdResult nodir = Skiff({"import", work_ + "/missing", "x:1"});
  EXPECT_EQ(nodir.code, 125);
  EXPECT_EQ(nodir.err.rfind("skiff: import ", 0), 0u) << nodir.err;
  CmdResult help = Skiff({"images", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--format"), std::string::npos);
}

// An import to a tag another image has leaves that one dangling: `images` lists it as a
// <none> <none> row (as Docker) until a prune, in the table, -q and json alike, and
// --filter dangling= picks either side.
TEST_F(ImageCliTest, DanglingImagesAreListedAsNone) {
  CmdResult first = Skiff({"import", tree_, "bb:1", "--change", "CMD [\"sh\"]"});
  ASSERT_EQ(first.code, 0) << first.err;
  CmdResult second = Skiff({"import", tree_, "bb:1", "--change", "CMD [\"true\"]"});
  ASSERT_EQ(second.code, 0) << second.err;
  std::string old_id = first.out.substr(0, first.out.find('\n'));
  std::string new_id = second.out.substr(0, second.out.find('\n'));
  ASSERT_NE(old_id, new_id);

  auto list = nlohmann::json::parse(Skiff({"images", "--format", "json"}).out);
  ASSERT_EQ(list.size(), 2u) << list.dump();
  EXPECT_EQ(list[0]["Repository"], "bb");
  EXPECT_EQ(list[0]["Tag"], "1");
  EXPECT_EQ(list[0]["ID"], new_id);
  EXPECT_EQ(list[1]["Repository"], "<none>");
  EXPECT_EQ(list[1]["Tag"], "<none>");
  EXPECT_EQ(list[1]["ID"], old_id);

  auto rows = Lines(Skiff({"images"}).out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_TRUE(std::regex_match(rows[2], std::regex("<none> +<none> +" + old_id.substr(7, 12) +
                                                   " +.* ago +\\S+")))
      << rows[2];
  EXPECT_EQ(Skiff({"images", "-q"}).out,
            new_id.substr(7, 12) + "\n" + old_id.substr(7, 12) + "\n");
  EXPECT_EQ(Skiff({"images", "-a", "-q", "--no-trunc"}).out, new_id + "\n" + old_id + "\n");
  EXPECT_EQ(Skiff({"images", "-q", "--filter", "dangling=true"}).out, old_id.substr(7, 12) + "\n");
  EXPECT_EQ(Skiff({"images", "-q", "-f", "dangling=false"}).out, new_id.substr(7, 12) + "\n");
  EXPECT_EQ(Skiff({"images", "-q", "bb"}).out, new_id.substr(7, 12) + "\n");
  CmdResult bad = Skiff({"images", "--filter", "dangling=maybe"});
  EXPECT_NE(bad.code, 0);
  EXPECT_EQ(bad.err, "skiff: images --filter: invalid filter 'dangling=maybe' (true or false)\n");

  ASSERT_EQ(Skiff({"image", "prune", "-f"}).code, 0);
  EXPECT_EQ(Skiff({"images", "-q"}).out, new_id.substr(7, 12) + "\n");
}

// skopeo reads the store as an OCI layout, and umoci unpacks exactly the tree imported.
TEST_F(ImageCliTest, SkopeoAndUmociReadTheStore) {
  ASSERT_EQ(Skiff({"import", tree_, "bb:1"}).code, 0);
  std::string ref = "oci:" + root_ + "/oci:docker.io/library/bb:1";
  CmdResult insp = Tool({"/usr/bin/skopeo", "inspect", ref});
  ASSERT_EQ(insp.code, 0) << insp.err;
  EXPECT_EQ(nlohmann::json::parse(insp.out)["Layers"].size(), 1u);

  std::string out = work_ + "/umoci";
  CmdResult un = Tool({"/usr/bin/umoci", "unpack", "--image",
                       root_ + "/oci:docker.io/library/bb:1", out});
  ASSERT_EQ(un.code, 0) << un.err;
  // Names, types, modes, owners, link targets and contents, both ways.
  auto list = [&](const std::string& dir) {
    return Tool({"/bin/sh", "-c", "cd " + dir + " && find . -printf '%p %y %m %U:%G %l\\n' | sort"});
  };
  CmdResult want = list(tree_);
  CmdResult got = list(out + "/rootfs");
  EXPECT_NE(want.out.find("./etc/motd f 640 1234:5678"), std::string::npos) << want.out;
  EXPECT_EQ(got.out, want.out);
  EXPECT_EQ(Tool({"/usr/bin/cmp", tree_ + "/bin/busybox", out + "/rootfs/bin/busybox"}).code, 0);
  EXPECT_EQ(ReadText(out + "/rootfs/etc/motd"), "hello from skiff\n");
}

}  // namespace
}  // namespace skiff::itest

namespace skiff::itest {
namespace {

// skopeo writes the three non-registry forms; skiff takes each back.
TEST_F(ImageCliTest, PullsFromLayoutAndArchivesSkopeoWrote) {
  ASSERT_EQ(Skiff({"import", tree_, "bb:1"}).code, 0);
  std::string store = "oci:" + root_ + "/oci:docker.io/library/bb:1";
  std::string layout = work_ + "/layout", da = work_ + "/saved.tar", oa = work_ + "/oa.tar";
  ASSERT_EQ(Tool({"/usr/bin/skopeo", "copy", "-q", store, "oci:" + layout + ":v1"}).code, 0);
  ASSERT_EQ(Tool({"/usr/bin/skopeo", "copy", "-q", store, "docker-archive:" + da + ":team/x:3"})
                .code, 0);
  ASSERT_EQ(Tool({"/usr/bin/skopeo", "copy", "-q", store, "oci-archive:" + oa + ":z"}).code, 0);
  ASSERT_EQ(Skiff({"rmi", "bb:1"}).code, 0);

  CmdResult a = Skiff({"pull", "oci:" + layout + ":v1"});
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out.substr(0, a.out.find('\n')), "localhost/layout:v1");
  CmdResult b = Skiff({"pull", "docker-archive:" + da});
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(b.out.substr(0, b.out.find('\n')), "docker.io/team/x:3");
  CmdResult c = Skiff({"pull", "oci-archive:" + oa + ":z"});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(c.out.substr(0, c.out.find('\n')), "localhost/oa:z");
  // The same config each time: one image ID with three names.
  auto list = nlohmann::json::parse(Skiff({"images", "--format", "json"}).out);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0]["ID"], list[1]["ID"]);
  EXPECT_EQ(list[1]["ID"], list[2]["ID"]);
  // docker-archive layers are plain tars: umoci still unpacks what skiff stored.
  CmdResult un = Tool({"/usr/bin/umoci", "unpack", "--image", root_ + "/oci:docker.io/team/x:3",
                       work_ + "/un"});
  ASSERT_EQ(un.code, 0) << un.err;
  EXPECT_EQ(ReadText(work_ + "/un/rootfs/etc/motd"), "hello from skiff\n");
}

TEST_F(ImageCliTest, TamperedLayoutBlobIsRefusedAndLeavesNoRef) {
  ASSERT_EQ(Skiff({"import", tree_, "bb:1"}).code, 0);
  std::string layout = work_ + "/layout";
  ASSERT_EQ(Tool({"/usr/bin/skopeo", "copy", "-q", "oci:" + root_ + "/oci:docker.io/library/bb:1",
                  "oci:" + layout + ":v1"}).code, 0);
  ASSERT_EQ(Skiff({"rmi", "bb:1"}).code, 0);
  // Flip a byte in the biggest blob (the layer).
  CmdResult big = Tool({"/bin/sh", "-c", "ls -S " + layout + "/blobs/sha256 | head -1"});
  std::string victim = layout + "/blobs/sha256/" + big.out.substr(0, big.out.find('\n'));
  ASSERT_EQ(Tool({"/bin/sh", "-c", "printf X | dd of=" + victim +
                  " bs=1 seek=100 conv=notrunc status=none"}).code, 0);
  CmdResult r = Skiff({"pull", "oci:" + layout + ":v1"});
  EXPECT_EQ(r.code, 125);
  EXPECT_NE(r.err.find("digest mismatch"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(Skiff({"images", "-q"}).out, "");
  CmdResult tmp = Tool({"/bin/sh", "-c", "ls -A " + root_ + "/oci/blobs/sha256 | grep -c tmp"});
  EXPECT_EQ(tmp.out, "0\n");
  CmdResult missing = Skiff({"pull", "oci:" + layout + ":nope"});
  EXPECT_NE(missing.err.find("no image named \"nope\""), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace skiff::itest

namespace skiff::itest {
namespace {

// save writes one tar that skopeo reads both as docker-archive: and as oci-archive:, and
// that load (into another store) turns back into the same images.
TEST_F(ImageCliTest, SaveAndLoadRoundTrip) {
  ASSERT_EQ(Skiff({"import", tree_, "bb:1"}).code, 0);
  ASSERT_EQ(Skiff({"tag", "bb:1", "localhost:5000/other:2"}).code, 0);
  std::string tar = work_ + "/saved.tar";
  CmdResult save = Skiff({"save", "-o", tar, "bb:1", "localhost:5000/other:2"});
  ASSERT_EQ(save.code, 0) << save.err;
  EXPECT_EQ(Tool({"/usr/bin/skopeo", "inspect", "docker-archive:" + tar + ":bb:1"}).code, 0);
  CmdResult oci = Tool({"/usr/bin/skopeo", "inspect",
                        "oci-archive:" + tar + ":localhost:5000/other:2"});
  EXPECT_EQ(oci.code, 0) << oci.err;

  std::string id = nlohmann::json::parse(Skiff({"images", "--format", "json"}).out)[0]["ID"];
  root_ = work_ + "/root2";
  CmdResult load = Skiff({"load", "-i", tar});
  ASSERT_EQ(load.code, 0) << load.err;
  EXPECT_EQ(load.out, "Loaded image: bb:1\nLoaded image: localhost:5000/other:2\n");
  auto list = nlohmann::json::parse(Skiff({"images", "--format", "json"}).out);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["ID"], id);

  CmdResult bad = Skiff({"load", "-i", work_ + "/tree/etc/motd"});
  EXPECT_EQ(bad.code, 125);
  EXPECT_EQ(bad.err.rfind("skiff: load ", 0), 0u) << bad.err;
  // A failed save leaves no file behind.
  CmdResult nosave = Skiff({"save", "-o", work_ + "/none.tar", "missing:1"});
  EXPECT_EQ(nosave.code, 125);
  EXPECT_FALSE(Exists(work_ + "/none.tar"));
}

}  // namespace
}  // namespace skiff::itest

#include "registry.h"

namespace skiff::itest {
namespace {

// The CLI over a real registry: push, pull (layers unpacked as the store keeps them), rmi
// leaving neither blobs nor layer dirs, login/logout against htpasswd.
TEST_F(ImageCliTest, PushPullRmiThroughARegistry) {
  LocalRegistry reg;
  ASSERT_EQ(::mkdir((work_ + "/registry").c_str(), 0755), 0);
  ASSERT_TRUE(reg.Start(work_ + "/registry"));
  ASSERT_EQ(Skiff({"import", tree_, "bb:1", "--change", "CMD [\"sh\"]"}).code, 0);
  std::string remote = reg.host() + "/team/bb:1";
  CmdResult push = Skiff({"push", "bb:1", remote});
  ASSERT_EQ(push.code, 0) << push.err;
  EXPECT_NE(push.out.find("digest: sha256:"), std::string::npos) << push.out;

  root_ = work_ + "/root2";
  CmdResult pull = Skiff({"pull", remote});
  ASSERT_EQ(pull.code, 0) << pull.err;
  EXPECT_NE(pull.out.find(remote), std::string::npos) << pull.out;
  // Not a terminal: plain progress lines, one per blob.
  EXPECT_NE(pull.err.find(": done ("), std::string::npos) << pull.err;
  CmdResult layers = Tool({"/bin/sh", "-c", "ls " + root_ + "/layers"});
  ASSERT_EQ(std::count(layers.out.begin(), layers.out.end(), '\n'), 1) << layers.out;
  std::string layer = root_ + "/layers/" + layers.out.substr(0, layers.out.size() - 1);
  EXPECT_EQ(Tool({"/usr/bin/cmp", tree_ + "/bin/busybox", layer + "/bin/busybox"}).code, 0);
  struct stat st{};
  ASSERT_EQ(::stat((layer + "/etc/motd").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_mode & 07777, 0640u);

  CmdResult rmi = Skiff({"rmi", remote});
  ASSERT_EQ(rmi.code, 0) << rmi.err;
  EXPECT_EQ(Tool({"/bin/sh", "-c", "ls " + root_ + "/layers " + root_ + "/oci/blobs/sha256"}).out,
            root_ + "/layers:\n\n" + root_ + "/oci/blobs/sha256:\n");

  CmdResult missing = Skiff({"pull", reg.host() + "/team/none:1"});
  EXPECT_EQ(missing.code, 125);
  EXPECT_EQ(missing.err.rfind("skiff: pull " + reg.host() + "/team/none:1: ", 0), 0u)
      << missing.err;
}

TEST_F(ImageCliTest, LoginLogout) {
  LocalRegistry reg;
  ASSERT_EQ(::mkdir((work_ + "/registry").c_str(), 0755), 0);
  ASSERT_TRUE(reg.Start(work_ + "/registry", "user", "secret"));
  ASSERT_EQ(Skiff({"import", tree_, "bb:1"}).code, 0);
  std::string remote = reg.host() + "/x/bb:1";
  ::setenv("DOCKER_CONFIG", (work_ + "/nodocker").c_str(), 1);  // not the host's logins
  CmdResult anon = Skiff({"push", "bb:1", remote});
  EXPECT_EQ(anon.code, 125);
  EXPECT_NE(anon.err.find("authentication required"), std::string::npos) << anon.err;
  CmdResult bad = Skiff({"login", "-u", "user", "-p", "wrong", reg.host()});
  EXPECT_EQ(bad.code, 125);
  EXPECT_FALSE(Exists(root_ + "/auth.json"));
  CmdResult good = Skiff({"login", "-u", "user", "-p", "secret", reg.host()});
  ASSERT_EQ(good.code, 0) << good.err;
  EXPECT_EQ(good.out, "Login Succeeded\n");
  EXPECT_EQ(Skiff({"push", "bb:1", remote}).code, 0);
  EXPECT_EQ(Skiff({"logout", reg.host()}).code, 0);
  EXPECT_EQ(Skiff({"pull", remote}).code, 125);
  ::unsetenv("DOCKER_CONFIG");
}

}  // namespace
}  // namespace skiff::itest
