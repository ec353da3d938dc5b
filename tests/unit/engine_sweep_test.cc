// What a create killed half-way leaves of its anonymous volumes, and the sweep (the next
// ps: ListContainers) that removes them with its directory. No root: nothing is mounted.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "engine/container_fs.h"
#include "engine/containers.h"

namespace skiff::engine {
namespace {

class EngineSweep : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-sweep-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    rootfs_ = root_ + "/image-root";
    ASSERT_TRUE(MkdirAll(rootfs_ + "/data").ok());
    ASSERT_TRUE(WriteFileAtomic(rootfs_ + "/data/from-image", "x").ok());
  }
  void TearDown() override { (void)RemoveAll(root_); }

  static MountRequest Volume(const std::string& name, const std::string& target) {
    MountRequest m;
    m.kind = MountKind::kVolume;
    m.source = name;
    m.target = target;
    return m;
  }
  // A container with a record whose spec mounts volume (by name) at /v.
  void RecordedUser(Engine& e, const std::string& name, const std::string& volume) {
    auto b = e.records.NewDir();
    ASSERT_TRUE(b.ok()) << b.error().Message();
    std::string spec =
        "{\"ociVersion\":\"1.0.2\",\"mounts\":[{\"destination\":\"/v\",\"type\":"
        "\"bind\",\"source\":\"" +
        VolumesDir(e) + "/" + volume + "/_data\",\"options\":[\"rbind\"]}]}";
    ASSERT_TRUE(WriteFileAtomic(e.records.Dir(b->id) + "/config.json", spec).ok());
    ContainerRecord r;
    r.id = b->id;
    r.name = name;
    r.image = "busybox";
    ASSERT_TRUE(e.records.Create(r).ok());
  }

  std::string root_, rootfs_;
};

// The marker is written before the volume is made: no anonymous volume exists without one
// (here the marker can't be written: the container's directory is missing).
TEST_F(EngineSweep, NoVolumeWithoutItsMarker) {
  std::string volumes = root_ + "/volumes";
  RunOptions o;
  o.mounts = {Volume("", "/data")};
  std::vector<std::string> anon;
  auto made = PrepareVolumes(volumes, {}, o, rootfs_, root_ + "/no-such-container", &anon);
  EXPECT_FALSE(made.ok());
  EXPECT_TRUE(anon.empty());  // nothing was made: the rollback removes nothing
  struct stat st;
  EXPECT_TRUE(::stat(volumes.c_str(), &st) != 0 || st.st_nlink == 2) << "a volume was made";
}

// A create that died after making its anonymous volumes (one of -v /data, one of the
// image's VOLUME) left a directory without a record: the next ps removes both volumes
// with it, but not a named volume, nor a volume (marked too) that a container uses.
TEST_F(EngineSweep, DeadCreatesAnonymousVolumesGoWithItsDirectory) {
  auto opened = Engine::Open(root_);
  ASSERT_TRUE(opened.ok()) << opened.error().Message();
  Engine e = std::move(opened).value();
  auto b = e.records.NewDir();
  ASSERT_TRUE(b.ok()) << b.error().Message();
  std::string dir = e.records.Dir(b->id);
  RunOptions o;
  o.mounts = {Volume("", "/data"), Volume("named", "/named")};
  oci::ImageConfig image;
  image.config.volumes = {"/data", "/from-image"};
  std::vector<std::string> anon;
  auto paths = PrepareVolumes(VolumesDir(e), image, o, rootfs_, dir, &anon);
  ASSERT_TRUE(paths.ok()) << paths.error().Message();
  ASSERT_EQ(anon.size(), 2u);
  EXPECT_TRUE(PathExists(VolumesDir(e) + "/" + anon[0] + "/_data/from-image"));  // copied up
  EXPECT_EQ(MarkedVolumes(dir).size(), 2u);
  // A third marked volume that another container mounts by its name.
  std::string shared = *NewContainerId();
  ASSERT_TRUE(MkdirAll(VolumesDir(e) + "/" + shared + "/_data").ok());
  ASSERT_EQ(::symlink("x", (dir + "/anon-volume-" + shared).c_str()), 0);
  RecordedUser(e, "user", shared);
  if (HasFatalFailure()) return;
  b->lock.reset();  // its create is gone

  auto list = ListContainers(e);
  ASSERT_TRUE(list.ok()) << list.error().Message();
  EXPECT_EQ(list->size(), 1u);
  EXPECT_FALSE(PathExists(dir));
  EXPECT_FALSE(PathExists(e.records.Dir(".removing-" + b->id)));
  for (const auto& v : anon) EXPECT_FALSE(PathExists(VolumesDir(e) + "/" + v)) << v;
  EXPECT_TRUE(PathExists(VolumesDir(e) + "/named/_data"));
  EXPECT_TRUE(PathExists(VolumesDir(e) + "/" + shared + "/_data"));
}

// A sweep killed after it renamed the directory (or a removal killed midway) leaves a
// .removing- directory with markers: the next ps finishes the job.
TEST_F(EngineSweep, MarkedVolumesOfARemovingDirGoToo) {
  auto opened = Engine::Open(root_);
  ASSERT_TRUE(opened.ok()) << opened.error().Message();
  Engine e = std::move(opened).value();
  std::string id = *NewContainerId();
  std::string dir = e.records.Dir(".removing-" + id);
  ASSERT_TRUE(MkdirAll(dir + "/upper/etc").ok());
  RunOptions o;
  o.mounts = {Volume("", "/data")};
  std::vector<std::string> anon;
  ASSERT_TRUE(PrepareVolumes(VolumesDir(e), {}, o, rootfs_, dir, &anon).ok());
  ASSERT_EQ(anon.size(), 1u);
  auto list = ListContainers(e);
  ASSERT_TRUE(list.ok()) << list.error().Message();
  EXPECT_FALSE(PathExists(dir));
  EXPECT_FALSE(PathExists(VolumesDir(e) + "/" + anon[0]));
}

}  // namespace
}  // namespace skiff::engine
