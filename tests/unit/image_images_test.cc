#include "image/images.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "base/fd.h"
#include "base/file.h"
#include "image/layer_writer.h"

namespace skiff::image {
namespace {

class ImagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-images-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    tree_ = dir_ + "/tree";
    ASSERT_TRUE(MkdirAll(tree_ + "/bin").ok());
    ASSERT_TRUE(WriteFileAtomic(tree_ + "/bin/tool", "#!/bin/sh\necho hi\n").ok());
    ::chmod((tree_ + "/bin/tool").c_str(), 04755);
    ASSERT_EQ(::symlink("tool", (tree_ + "/bin/link").c_str()), 0);
    ASSERT_EQ(::link((tree_ + "/bin/tool").c_str(), (tree_ + "/bin/hard").c_str()), 0);
    store_ = std::make_unique<Store>(Store::Open(dir_ + "/oci").value());
  }
  void TearDown() override { (void)RemoveAll(dir_); }

  // name -> (type, size or link target) of a layer blob.
  std::map<std::string, std::string> Entries(const std::string& digest) {
    std::map<std::string, std::string> out;
    struct archive* a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);  // layers are tar; "all" needs libxml2 (xar)
    EXPECT_EQ(archive_read_open_filename(a, store_->BlobPath(digest).c_str(), 65536), ARCHIVE_OK);
    struct archive_entry* e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
      std::string v;
      if (archive_entry_hardlink(e)) v = "hard:" + std::string(archive_entry_hardlink(e));
      else if (archive_entry_symlink(e)) v = "sym:" + std::string(archive_entry_symlink(e));
      else v = StrFormat("%o:%lld", archive_entry_mode(e), (long long)archive_entry_size(e));
      out[archive_entry_pathname(e)] = v;
    }
    archive_read_free(a);
    return out;
  }

  std::string dir_, tree_;
  std::unique_ptr<Store> store_;
};

TEST_F(ImagesTest, LayerFromDirKeepsTypesAndModes) {
  auto layer = WriteLayerFromDir(*store_, tree_);
  ASSERT_TRUE(layer.ok()) << layer.error().Message();
  EXPECT_TRUE(store_->HasBlob(layer->desc.digest));
  EXPECT_NE(layer->diff_id, layer->desc.digest);
  auto e = Entries(layer->desc.digest);
  EXPECT_EQ(e["bin/link"], "sym:tool");
  // One of the two names carries the data, the other is a hardlink to it.
  bool tool_first = e["bin/tool"] == "104755:18";
  EXPECT_TRUE(tool_first ? e["bin/hard"] == "hard:bin/tool" : e["bin/tool"] == "hard:bin/hard")
      << e["bin/tool"] << " " << e["bin/hard"];
  EXPECT_EQ(e.count("tree"), 0u);  // the top dir itself is not an entry
}

TEST_F(ImagesTest, OverlayWhiteoutsBecomeImageSpecWhiteouts) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: mknod and trusted.* xattrs";
  ASSERT_EQ(::mknod((tree_ + "/gone").c_str(), S_IFCHR | 0, 0), 0);
  ASSERT_TRUE(MkdirAll(tree_ + "/opaque").ok());
  ASSERT_EQ(::setxattr((tree_ + "/opaque").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  auto layer = WriteLayerFromDir(*store_, tree_, {.overlay_whiteouts = true});
  ASSERT_TRUE(layer.ok()) << layer.error().Message();
  auto e = Entries(layer->desc.digest);
  EXPECT_EQ(e.count("gone"), 0u);
  EXPECT_EQ(e.count(".wh.gone"), 1u);
  EXPECT_EQ(e.count("opaque/.wh..wh..opq"), 1u);
}

TEST_F(ImagesTest, ImportTagListRemove) {
  auto id = ImportDir(*store_, tree_, "example/tool:1", {.changes = {"CMD [\"/bin/tool\"]", "ENV A=b"}});
  ASSERT_TRUE(id.ok()) << id.error().Message();
  auto img = FindImage(*store_, "example/tool:1");
  ASSERT_TRUE(img.ok()) << img.error().Message();
  EXPECT_EQ(img->config_digest, *id);
  EXPECT_EQ(img->config.config.cmd, std::vector<std::string>{"/bin/tool"});
  EXPECT_EQ(img->config.config.env, std::vector<std::string>{"A=b"});
  EXPECT_EQ(FindImage(*store_, id->substr(7, 12))->config_digest, *id);  // by ID prefix
  EXPECT_EQ(FindImage(*store_, "docker.io/example/tool:1")->config_digest, *id);

  ASSERT_TRUE(TagImage(*store_, "example/tool:1", "localhost:5000/t:2").ok());
  auto list = ListImages(*store_);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].refs.size(), 2u);

  // By ID with two references: refused unless forced, as Docker.
  auto refused = RemoveImage(*store_, id->substr(7, 12), false);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().msg.find("must be forced"), std::string::npos);
  // By reference: untagged only; the blobs stay while the other name holds them.
  auto lines = RemoveImage(*store_, "example/tool:1", false);
  ASSERT_TRUE(lines.ok()) << lines.error().Message();
  EXPECT_EQ(*lines, std::vector<std::string>{"Untagged: example/tool:1"});
  EXPECT_TRUE(store_->HasBlob(*id));
  lines = RemoveImage(*store_, "localhost:5000/t:2", false);
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ(lines->back(), "Deleted: " + *id);
  EXPECT_FALSE(store_->HasBlob(*id));
  EXPECT_FALSE(store_->HasBlob(img->manifest.layers[0].digest));
  auto missing = FindImage(*store_, "example/tool:1");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().msg, "no such image: example/tool:1");
}

TEST_F(ImagesTest, GarbageCollectionKeepsWhatRefsReach) {
  auto id = ImportDir(*store_, tree_, "keep:1", {});
  ASSERT_TRUE(id.ok());
  std::string orphan = store_->PutBlob("nobody points at me").value();
  auto removed = CollectGarbage(*store_);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, std::vector<std::string>{orphan});
  EXPECT_TRUE(FindImage(*store_, "keep:1").ok());
}

// Bytes this process has read so far (rchar: every read(2), pread(2) ...).
long long BytesRead() {
  auto io = ReadFile("/proc/self/io");
  if (!io.ok()) return -1;
  auto at = io->find("rchar: ");
  return at == std::string::npos ? -1 : std::stoll(io->substr(at + 7));
}

// GC walks manifests and indexes only: a 256 MiB layer (sparse, no disk) is never read, and
// still exactly the unreachable blobs go: a dangling image's manifest, config and layer, an
// orphan; what a tagged image or an index reaches stays.
TEST_F(ImagesTest, GarbageCollectionReadsManifestsNotLayers) {
  auto image = [&](const std::string& tag, char fill) {
    Descriptor layer{oci::kMediaOciLayerGzip, "sha256:" + std::string(64, fill), 256 << 20};
    UniqueFd f(::open(store_->BlobPath(layer.digest).c_str(), O_WRONLY | O_CREAT, 0644));
    EXPECT_EQ(::ftruncate(f.get(), layer.size), 0);
    std::string cfg = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}})";
    oci::Manifest m;
    m.media_type = oci::kMediaOciManifest;
    m.config = {oci::kMediaOciConfig, store_->PutBlob(cfg + std::string(1, ' ') + tag).value(),
                static_cast<int64_t>(cfg.size() + 1 + tag.size())};
    m.layers.push_back(layer);
    std::string text = oci::ManifestJson(m);
    Descriptor d{oci::kMediaOciManifest, store_->PutBlob(text).value(),
                 static_cast<int64_t>(text.size())};
    return std::make_tuple(d, m.config.digest, layer.digest);
  };
  auto [tagged, tagged_cfg, tagged_layer] = image("tagged", 'a');
  auto [in_index, index_cfg, index_layer] = image("index", 'b');
  auto [dangling, dangling_cfg, dangling_layer] = image("dangling", 'c');
  oci::Index idx;
  idx.manifests.push_back(in_index);
  std::string idx_text = oci::IndexJson(idx);
  Descriptor idx_desc{oci::kMediaOciIndex, store_->PutBlob(idx_text).value(),
                      static_cast<int64_t>(idx_text.size())};
  ASSERT_TRUE(store_->SetRef("docker.io/library/a:1", tagged).ok());
  ASSERT_TRUE(store_->SetRef("docker.io/library/b:1", idx_desc).ok());
  std::string orphan = store_->PutBlob("nobody points at me").value();

  long long before = BytesRead();
  auto removed = CollectGarbage(*store_);
  long long read = BytesRead() - before;
  ASSERT_TRUE(removed.ok()) << removed.error().Message();
  EXPECT_LT(read, 1 << 20) << "GC read layer blobs";
  std::vector<std::string> want = {dangling.digest, dangling_cfg, dangling_layer, orphan};
  std::sort(want.begin(), want.end());
  std::sort(removed->begin(), removed->end());
  EXPECT_EQ(*removed, want);
  for (const auto& d : {tagged.digest, tagged_cfg, tagged_layer, idx_desc.digest, in_index.digest,
                        index_cfg, index_layer})
    EXPECT_TRUE(store_->HasBlob(d)) << d;
}

// Docker's dangling images: manifests no reference reaches, each with its config (the
// image ID); not what a reference reaches, nor a blob over 1 MiB, which is never read to
// find out (a manifest is small; a layer can be gigabytes).
TEST_F(ImagesTest, DanglingImagesAreManifestsNoReferenceReaches) {
  ASSERT_TRUE(ImportDir(*store_, tree_, "keep:1", {}).ok());
  // A manifest blob of `size` bytes (0: as it comes), padded with white space (the same
  // JSON); its digest and its config's.
  auto manifest = [&](const std::string& cfg, size_t size) {
    oci::Manifest m;
    m.media_type = oci::kMediaOciManifest;
    m.config = {oci::kMediaOciConfig, store_->PutBlob(cfg).value(),
                static_cast<int64_t>(cfg.size())};
    std::string text = oci::ManifestJson(m);
    if (size > text.size()) text.append(size - text.size(), ' ');
    return std::make_pair(store_->PutBlob(text).value(), m.config.digest);
  };
  auto small = manifest(R"({"os":"linux","n":1})", 0);
  auto at_cap = manifest(R"({"os":"linux","n":2})", 1 << 20);  // still read
  manifest(R"({"os":"linux","n":3})", (1 << 20) + 1);            // not read

  auto dangling = DanglingImages(*store_);
  ASSERT_TRUE(dangling.ok()) << dangling.error().Message();
  std::vector<std::pair<std::string, std::string>> got, want = {small, at_cap};
  for (const auto& d : *dangling) got.emplace_back(d.manifest_digest, d.config_digest);
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

// A pull killed while it made the store (its first Open) or wrote a blob or index.json
// leaves temp files: the next SweepTemps removes them all, and the store still opens.
TEST_F(ImagesTest, SweepTempsRemovesEveryKindOfTempFile) {
  std::string d = dir_ + "/oci";
  for (const char* f : {"/oci-layout.tmp.a1b2c3", "/index.json.tmp.d4e5f6", "/blobs/sha256/.tmp-1"})
    ASSERT_TRUE(WriteFileAtomic(d + f, "half").ok()) << f;
  ASSERT_TRUE(SweepTemps(*store_).ok());
  EXPECT_FALSE(PathExists(d + "/oci-layout.tmp.a1b2c3"));
  EXPECT_FALSE(PathExists(d + "/index.json.tmp.d4e5f6"));
  EXPECT_FALSE(PathExists(d + "/blobs/sha256/.tmp-1"));
  EXPECT_TRUE(PathExists(d + "/oci-layout"));
  EXPECT_TRUE(PathExists(d + "/index.json"));
  EXPECT_TRUE(Store::Open(d).ok());
}

TEST_F(ImagesTest, BadChangesAndReferencesAreRefused) {
  auto bad = ImportDir(*store_, tree_, "x:1", {.changes = {"RUN rm -rf /"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().msg.find("unsupported change \"RUN\""), std::string::npos);
  auto badref = ImportDir(*store_, tree_, "Upper:1", {});
  ASSERT_FALSE(badref.ok());
  EXPECT_NE(badref.error().msg.find("lowercase"), std::string::npos) << badref.error().msg;
  auto nodir = ImportDir(*store_, dir_ + "/missing", "x:1", {});
  EXPECT_FALSE(nodir.ok());
}

}  // namespace
}  // namespace skiff::image

#include "image/transports.h"

namespace skiff::image {
namespace {

TEST(Transports, ParsesSkopeoNames) {
  TransportRef a = ParseTransport("oci:/x/y:v1");
  EXPECT_EQ(a.transport, "oci");
  EXPECT_EQ(a.path, "/x/y");
  EXPECT_EQ(a.ref, "v1");
  TransportRef b = ParseTransport("docker-archive:/t.tar");
  EXPECT_EQ(b.transport, "docker-archive");
  EXPECT_EQ(b.ref, "");
  TransportRef c = ParseTransport("oci-archive:/t.tar:docker.io/library/x:1");
  EXPECT_EQ(c.transport, "oci-archive");
  EXPECT_EQ(c.ref, "docker.io/library/x:1");
  TransportRef d = ParseTransport("127.0.0.1:5000/x:1");
  EXPECT_EQ(d.transport, "");
  EXPECT_EQ(d.ref, "127.0.0.1:5000/x:1");
}

}  // namespace
}  // namespace skiff::image
