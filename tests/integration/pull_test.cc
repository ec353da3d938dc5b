// skiff's pull against a real registry (Debian's docker-registry), seeded by skopeo: the
// anonymous and Basic-auth paths, manifest lists, zstd layers, digests, a tampered blob, and
// the network going wrong in the middle of a blob (a drop, a stall, a 503) through a proxy.
#include "image/pull.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/digest.h"
#include "base/file.h"
#include "image/images.h"
#include "image/push.h"
#include "image/reference.h"
#include "registry.h"

namespace skiff::itest {
namespace {

using image::Pull;
using image::PullOptions;
using image::PullResult;
using image::Store;

class PullTest : public RegistryTest {
 protected:
  // A registry holding one busybox image at x:1 (layer compressed as asked).
  void Seed(const std::string& compression = "gzip", const std::string& user = "",
            const std::string& pass = "") {
    reg_ = StartRegistry(user, pass);
    ASSERT_NE(reg_, nullptr);
    layer_ = MakeLayer(compression);
    ASSERT_FALSE(HasFailure());
    std::string src = TempDir("src");
    manifest_ = MakeImage(src, "1", {layer_});
    std::vector<std::string> args = {"copy", "--dest-tls-verify=false"};
    if (!user.empty()) args.push_back("--dest-creds=" + user + ":" + pass);
    args.push_back("oci:" + src + ":1");
    args.push_back("docker://" + reg_->host() + "/x:1");
    CmdResult r = Skopeo(args);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  // A multi-platform image: an OCI index of an amd64 image (a) and an arm64/v8 one (b).
  struct Multi {
    oci::Descriptor a, b;
    TestLayer arm;           // b's layer
    std::string index, idx;  // the index's bytes and digest
  };
  // A registry holding a Multi at x:multi.
  Multi SeedMulti() {
    Multi m;
    reg_ = StartRegistry();
    if (!reg_) return m;
    TestLayer amd = MakeLayer("gzip");
    m.arm = MakeLayer("gzip", 1000);  // gzip: skopeo would compress a bare tar
    std::string src = TempDir("src");
    m.a = MakeImage(src, "", {amd}, "amd64");
    m.b = MakeImage(src, "", {m.arm}, "arm64");
    m.a.platform = oci::Platform{.os = "linux", .architecture = "amd64"};
    m.b.platform = oci::Platform{.os = "linux", .architecture = "arm64", .variant = "v8"};
    m.index = oci::IndexJson(oci::Index{.manifests = {m.b, m.a}});
    m.idx = Sha256Digest(m.index);
    Store src_store = Store::Open(src).value();
    EXPECT_TRUE(src_store.PutBlob(m.index).ok());
    EXPECT_TRUE(src_store
                    .SetRef("multi", oci::Descriptor{.media_type = oci::kMediaOciIndex,
                                                     .digest = m.idx,
                                                     .size = (int64_t)m.index.size()})
                    .ok());
    CmdResult c = Skopeo({"copy", "--all", "--dest-tls-verify=false", "oci:" + src + ":multi",
                          "docker://" + reg_->host() + "/x:multi"});
    EXPECT_EQ(c.code, 0) << c.err;
    return m;
  }
  PullOptions Options() {
    PullOptions o;
    o.registry.skiff_root = TempDir("root");  // no auth.json: only what the test sets up
    o.registry.backoff_ms = 50;
    o.registry.http.low_speed_time_s = 2;
    return o;
  }
  Store OpenStore(std::string* dir = nullptr) {
    std::string d = TempDir("store");
    if (dir) *dir = d;
    return Store::Open(d).value();
  }

  LocalRegistry* reg_ = nullptr;
  TestLayer layer_;
  oci::Descriptor manifest_;
};

TEST_F(PullTest, AnonymousPullStoresBlobsAndRefLast) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  std::string dir;
  Store store = OpenStore(&dir);
  auto r = Pull(store, reg_->host() + "/x:1", Options());
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->manifest.digest, manifest_.digest);  // skopeo kept the OCI manifest as is
  EXPECT_EQ(r->layers_fetched, 1);
  EXPECT_EQ(r->bytes_fetched, layer_.desc.size);
  EXPECT_TRUE(store.HasBlob(layer_.desc.digest));
  EXPECT_TRUE(store.HasBlob(r->config_digest));
  EXPECT_TRUE(store.HasBlob(r->manifest.digest));
  auto ref = store.GetRef(r->ref);
  ASSERT_TRUE(ref.ok() && ref->has_value());
  EXPECT_EQ((*ref)->digest, manifest_.digest);
  EXPECT_EQ(r->ref, reg_->host() + "/x:1");
  // The store is an OCI layout that skopeo reads back.
  CmdResult inspect = Skopeo({"inspect", "oci:" + dir + ":" + r->ref});
  EXPECT_EQ(inspect.code, 0) << inspect.err;

  // Again: nothing to download.
  auto again = Pull(store, reg_->host() + "/x:1", Options());
  ASSERT_TRUE(again.ok()) << again.error().Message();
  EXPECT_EQ(again->layers_fetched, 0);
  EXPECT_EQ(again->layers_present, 1);
}

TEST_F(PullTest, BasicAuthWithDockerConfigCredentials) {
  ASSERT_NO_FATAL_FAILURE(Seed("gzip", "user", "s3cret"));
  Store store = OpenStore();
  // No credentials: refused at once, with the way out in the message.
  auto anon = Pull(store, reg_->host() + "/x:1", Options());
  ASSERT_FALSE(anon.ok());
  EXPECT_TRUE(image::IsAuthError(anon.error())) << anon.error().Message();
  EXPECT_NE(anon.error().msg.find("skiff login " + reg_->host()), std::string::npos)
      << anon.error().Message();

  std::string cfg = TempDir("docker");
  ASSERT_TRUE(WriteText(
      cfg + "/config.json",
      nlohmann::json{
          {"auths", {{"https://" + reg_->host(), {{"auth", image::Base64Encode("user:s3cret")}}}}}}
          .dump()));
  ::setenv("DOCKER_CONFIG", cfg.c_str(), 1);
  auto r = Pull(store, reg_->host() + "/x:1", Options());
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->layers_fetched, 1);
}

// ~/.docker/config.json's credHelpers: the password comes from docker-credential-<name>.
TEST_F(PullTest, BasicAuthThroughACredentialHelper) {
  ASSERT_NO_FATAL_FAILURE(Seed("gzip", "user", "s3cret"));
  std::string bin = TempDir("bin"), cfg = TempDir("docker");
  ASSERT_TRUE(WriteText(bin + "/docker-credential-fake",
                        "#!/bin/sh\ncat > " + bin +
                            "/asked\n"
                            "echo '{\"Username\":\"user\",\"Secret\":\"s3cret\"}'\n"));
  ASSERT_EQ(::chmod((bin + "/docker-credential-fake").c_str(), 0755), 0);
  ASSERT_TRUE(WriteText(
      cfg + "/config.json",
      nlohmann::json{{"credHelpers", {{reg_->host(), "fake"}}},
                     {"auths", {{reg_->host(), {{"auth", image::Base64Encode("user:wrong")}}}}}}
          .dump()));
  ::setenv("DOCKER_CONFIG", cfg.c_str(), 1);
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", (bin + ":" + path).c_str(), 1);
  Store store = OpenStore();
  auto r = Pull(store, reg_->host() + "/x:1", Options());
  ::setenv("PATH", path.c_str(), 1);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->layers_fetched, 1);
  EXPECT_EQ(ReadText(bin + "/asked"), reg_->host());
}

TEST_F(PullTest, WrongPasswordFailsAtOnce) {
  ASSERT_NO_FATAL_FAILURE(Seed("gzip", "user", "s3cret"));
  std::string cfg = TempDir("docker");
  ASSERT_TRUE(WriteText(
      cfg + "/config.json",
      nlohmann::json{{"auths", {{reg_->host(), {{"auth", image::Base64Encode("user:wrong")}}}}}}
          .dump()));
  ::setenv("DOCKER_CONFIG", cfg.c_str(), 1);
  std::string dir;
  Store store = OpenStore(&dir);
  PullOptions o = Options();
  o.registry.backoff_ms = 2000;  // a retry would show in the time
  auto start = std::chrono::steady_clock::now();
  auto r = Pull(store, reg_->host() + "/x:1", o);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(image::IsAuthError(r.error())) << r.error().Message();
  std::string msg = r.error().Message();
  // One line, nothing before it for the CLI's "skiff: pull REF: " to repeat.
  EXPECT_EQ(msg, "authentication required: " + reg_->host() +
                     " refused the credentials of user \"user\"");
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  EXPECT_TRUE(StoreFiles(dir).empty());
}

TEST_F(PullTest, BearerTokenFlowWithOneCachedToken) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  FaultProxy* proxy = StartProxy(reg_->port());
  ASSERT_NE(proxy, nullptr);
  proxy->RequireBearer("user", "pw");
  Store store = OpenStore();
  auto anon = Pull(store, proxy->host() + "/x:1", Options());
  ASSERT_FALSE(anon.ok());
  EXPECT_TRUE(image::IsAuthError(anon.error())) << anon.error().Message();

  std::string cfg = TempDir("docker");
  auto write_cfg = [&](const std::string& userpass) {
    return WriteText(
        cfg + "/config.json",
        nlohmann::json{{"auths", {{proxy->host(), {{"auth", image::Base64Encode(userpass)}}}}}}
            .dump());
  };
  ::setenv("DOCKER_CONFIG", cfg.c_str(), 1);
  ASSERT_TRUE(write_cfg("user:bad"));
  auto bad = Pull(store, proxy->host() + "/x:1", Options());
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(image::IsAuthError(bad.error())) << bad.error().Message();
  EXPECT_NE(bad.error().msg.find("bad credentials"), std::string::npos) << bad.error().Message();

  ASSERT_TRUE(write_cfg("user:pw"));
  int tokens_before = proxy->Count("GET token");
  auto r = Pull(store, proxy->host() + "/x:1", Options());
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->layers_fetched, 1);
  EXPECT_EQ(proxy->Count("GET token") - tokens_before, 1);  // manifest, config, layer: one token
}

TEST_F(PullTest, ManifestListSelectsPlatform) {
  Multi m = SeedMulti();
  ASSERT_NE(reg_, nullptr);
  ASSERT_FALSE(HasFailure());
  const oci::Descriptor &a = m.a, &b = m.b;
  const TestLayer& arm = m.arm;
  const std::string& index = m.index;
  Store store = OpenStore();
  PullOptions o = Options();
  o.platform = oci::Platform{.os = "linux", .architecture = "amd64"};
  auto r = Pull(store, reg_->host() + "/x:multi", o);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->manifest.digest, a.digest);
  EXPECT_EQ(r->index_digest, Sha256Digest(index));
  auto cfg = oci::ParseImageConfig(store.ReadBlob(r->config_digest).value());
  EXPECT_EQ(cfg->architecture, "amd64");

  o.platform = oci::ParsePlatform("linux/arm64").value();
  auto r2 = Pull(store, reg_->host() + "/x:multi", o);
  ASSERT_TRUE(r2.ok()) << r2.error().Message();
  EXPECT_EQ(r2->manifest.digest, b.digest);
  EXPECT_TRUE(store.HasBlob(arm.desc.digest));

  o.platform = oci::ParsePlatform("linux/s390x").value();
  auto r3 = Pull(store, reg_->host() + "/x:multi", o);
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.error().msg.find("linux/arm64/v8, linux/amd64"), std::string::npos)
      << r3.error().Message();
}

// What Docker keeps of a manifest list: the index's digest is the one pulled, it is stored
// with the reference and its blob is in the store, so that a pull by that digest needs no
// registry; garbage collection keeps it while a reference names it.
TEST_F(PullTest, ManifestListDigestKeptAndPullByItFromTheStore) {
  Multi m = SeedMulti();
  ASSERT_NE(reg_, nullptr);
  ASSERT_FALSE(HasFailure());
  const std::string& idx = m.idx;
  Store store = OpenStore();
  PullOptions o = Options();
  o.platform = oci::Platform{.os = "linux", .architecture = "amd64"};
  auto r = Pull(store, reg_->host() + "/x:multi", o);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->digest(), idx);
  EXPECT_FALSE(r->from_store);
  EXPECT_EQ(store.ReadBlob(idx).value(), m.index);
  auto named = store.GetRef(r->ref).value();
  ASSERT_TRUE(named.has_value());
  EXPECT_EQ(named->digest, m.a.digest);
  EXPECT_EQ(image::PulledDigest(*named), idx);

  reg_->Stop();  // from here on, only the store can answer
  auto again = Pull(store, reg_->host() + "/x@" + idx, o);
  ASSERT_TRUE(again.ok()) << again.error().Message();
  EXPECT_TRUE(again->from_store);
  EXPECT_EQ(again->manifest.digest, m.a.digest);
  EXPECT_EQ(again->index_digest, idx);
  EXPECT_EQ(again->layers_present, 1);
  EXPECT_EQ(image::PulledDigest(store.GetRef(again->ref).value().value()), idx);
  // The platform manifest by its own digest too.
  auto by_manifest = Pull(store, reg_->host() + "/x@" + m.a.digest, o);
  ASSERT_TRUE(by_manifest.ok()) << by_manifest.error().Message();
  EXPECT_TRUE(by_manifest->from_store);
  EXPECT_EQ(by_manifest->index_digest, "");
  // The arm64 image is not in the store: that needs the registry, which is gone.
  o.platform = oci::ParsePlatform("linux/arm64").value();
  auto arm_pull = Pull(store, reg_->host() + "/x@" + idx, o);
  ASSERT_FALSE(arm_pull.ok());
  EXPECT_EQ(arm_pull.error().code, ECONNREFUSED) << arm_pull.error().Message();

  // GC keeps the index while a reference names it, and drops it with the last one.
  ASSERT_TRUE(store.RemoveRef(r->ref).ok());
  ASSERT_TRUE(store.RemoveRef(by_manifest->ref).ok());
  ASSERT_TRUE(image::CollectGarbage(store).ok());
  EXPECT_TRUE(store.HasBlob(idx));
  EXPECT_TRUE(store.HasBlob(m.a.digest));
  ASSERT_TRUE(store.RemoveRef(again->ref).ok());
  ASSERT_TRUE(image::CollectGarbage(store).ok());
  EXPECT_EQ(StoreFiles(store.dir()), std::vector<std::string>{});
}

// The same through the CLI, as Docker shows it: `pull` prints the index's digest, and
// `image inspect` has it in RepoDigests (once, whether pulled by tag or by that digest).
TEST_F(PullTest, ManifestListDigestInCliOutputAndInspect) {
  Multi m = SeedMulti();
  ASSERT_NE(reg_, nullptr);
  ASSERT_FALSE(HasFailure());
  const std::string& idx = m.idx;
  std::string root = TempDir("cliroot");
  auto skiff = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {SKIFF_BIN, "--root", root});
    return RunCommand(args, work_, CmdOptions{.timeout_ms = 60000});
  };
  auto inspect = [&](const std::string& ref) {
    CmdResult r = skiff({"image", "inspect", ref});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? nlohmann::json::parse(r.out)[0] : nlohmann::json();
  };
  std::string name = reg_->host() + "/x";
  CmdResult pull = skiff({"pull", "--platform", "linux/amd64", name + ":multi"});
  ASSERT_EQ(pull.code, 0) << pull.err;
  EXPECT_NE(pull.out.find("Digest: " + idx + "\n"), std::string::npos) << pull.out;
  nlohmann::json doc = inspect(name + ":multi");
  EXPECT_EQ(doc["RepoDigests"], nlohmann::json::array({name + "@" + idx})) << doc.dump();
  EXPECT_TRUE(Exists(root + "/oci/blobs/sha256/" + idx.substr(7)));

  reg_->Stop();
  CmdResult by_digest = skiff({"pull", "--platform", "linux/amd64", name + "@" + idx});
  ASSERT_EQ(by_digest.code, 0) << by_digest.err;
  EXPECT_NE(by_digest.out.find("Digest: " + idx + "\n"), std::string::npos) << by_digest.out;
  doc = inspect(name + "@" + idx);
  EXPECT_EQ(doc["RepoDigests"], nlohmann::json::array({name + "@" + idx})) << doc.dump();
  EXPECT_EQ(doc["RepoTags"], nlohmann::json::array()) << doc.dump();  // a digest is no tag
  EXPECT_EQ(doc["Architecture"], "amd64");
  // By ID, with both references: the tag, and the one digest once.
  doc = inspect(doc["Id"].get<std::string>());
  EXPECT_EQ(doc["RepoDigests"], nlohmann::json::array({name + "@" + idx})) << doc.dump();
  EXPECT_EQ(doc["RepoTags"], nlohmann::json::array({name + ":multi"})) << doc.dump();

  CmdResult rmi = skiff({"rmi", name + ":multi", name + "@" + idx});
  ASSERT_EQ(rmi.code, 0) << rmi.err;
  EXPECT_EQ(StoreFiles(root + "/oci"), std::vector<std::string>{});
}

TEST_F(PullTest, ZstdLayer) {
  ASSERT_NO_FATAL_FAILURE(Seed("zstd"));
  Store store = OpenStore();
  auto r = Pull(store, reg_->host() + "/x:1", Options());
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_TRUE(store.HasBlob(layer_.desc.digest));
  auto m = oci::ParseManifestDoc(store.ReadBlob(r->manifest.digest).value(), "");
  EXPECT_EQ(m->manifest.layers[0].media_type, oci::kMediaOciLayerZstd);
}

TEST_F(PullTest, ByDigest) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  Store store = OpenStore();
  auto r = Pull(store, reg_->host() + "/x@" + manifest_.digest, Options());
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->ref, reg_->host() + "/x@" + manifest_.digest);
  EXPECT_TRUE(store.GetRef(r->ref)->has_value());
  // A digest the registry does not have.
  std::string other = Sha256Digest("nothing");
  auto missing = Pull(store, reg_->host() + "/x@" + other, Options());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().msg.find("not found"), std::string::npos) << missing.error().Message();
}

TEST_F(PullTest, TamperedBlobRefusedAndNothingLeft) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  std::string file = reg_->BlobFile(layer_.desc.digest);
  std::string bytes = ReadText(file);
  ASSERT_EQ(static_cast<int64_t>(bytes.size()), layer_.desc.size) << file;
  bytes[bytes.size() / 2] ^= 0x55;
  ASSERT_TRUE(WriteText(file, bytes));

  std::string dir;
  Store store = OpenStore(&dir);
  auto r = Pull(store, reg_->host() + "/x:1", Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().Message().rfind("blob " + layer_.desc.digest + ": digest mismatch", 0), 0u)
      << r.error().Message();
  EXPECT_FALSE(store.HasBlob(layer_.desc.digest));
  EXPECT_FALSE(store.HasBlob(manifest_.digest));
  for (const auto& f : StoreFiles(dir)) EXPECT_NE(f.rfind(".tmp", 0), 0u) << f;
  EXPECT_TRUE(store.ListRefs()->empty());
}

TEST_F(PullTest, DroppedConnectionResumedWithRange) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  FaultProxy* proxy = StartProxy(reg_->port());
  ASSERT_NE(proxy, nullptr);
  ASSERT_GT(layer_.desc.size, 300000);
  proxy->Arm(FaultProxy::Fault::kDrop, 200000, layer_.desc.digest);
  std::string dir;
  Store store = OpenStore(&dir);
  auto r = Pull(store, proxy->host() + "/x:1", Options());
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_TRUE(proxy->fired());
  EXPECT_GE(r->resumes, 1);
  EXPECT_TRUE(store.HasBlob(layer_.desc.digest));
  EXPECT_EQ(proxy->Count("GET blob"), 3);  // config, layer, the layer's Range
}

TEST_F(PullTest, StallAbortedByLowSpeedLimitThenResumed) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  FaultProxy* proxy = StartProxy(reg_->port());
  ASSERT_NE(proxy, nullptr);
  proxy->Arm(FaultProxy::Fault::kStall, 200000, layer_.desc.digest);
  Store store = OpenStore();
  auto start = std::chrono::steady_clock::now();
  auto r = Pull(store, proxy->host() + "/x:1", Options());
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_TRUE(proxy->fired());
  EXPECT_GE(r->resumes, 1);
  EXPECT_GE(took, std::chrono::seconds(2));  // the low-speed window
  EXPECT_LT(took, std::chrono::seconds(15));
  EXPECT_TRUE(store.HasBlob(layer_.desc.digest));
}

TEST_F(PullTest, ServerErrorRetried) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  FaultProxy* proxy = StartProxy(reg_->port());
  ASSERT_NE(proxy, nullptr);
  proxy->Arm(FaultProxy::Fault::k503, 0, layer_.desc.digest);
  Store store = OpenStore();
  auto r = Pull(store, proxy->host() + "/x:1", Options());
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_TRUE(proxy->fired());
  EXPECT_GE(r->retries, 1);
}

TEST_F(PullTest, ConcurrentPullsShareOneCopy) {
  ASSERT_NO_FATAL_FAILURE(Seed());
  std::string dir;
  Store a = OpenStore(&dir);
  Store b = Store::Open(dir).value();
  Result<PullResult> ra = MakeError(0, "not run"), rb = MakeError(0, "not run");
  PullOptions o = Options();
  std::thread t1([&] { ra = Pull(a, reg_->host() + "/x:1", o); });
  std::thread t2([&] { rb = Pull(b, reg_->host() + "/x:1", o); });
  t1.join();
  t2.join();
  ASSERT_TRUE(ra.ok()) << ra.error().Message();
  ASSERT_TRUE(rb.ok()) << rb.error().Message();
  std::vector<std::string> want = {layer_.desc.digest.substr(7), ra->config_digest.substr(7),
                                   manifest_.digest.substr(7)};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(StoreFiles(dir), want);  // one copy of each, no temp files
  EXPECT_EQ(a.ListRefs()->size(), 1u);
}

TEST_F(PullTest, ThroughputFromLocalRegistry) {
  reg_ = StartRegistry();
  ASSERT_NE(reg_, nullptr);
  std::vector<TestLayer> layers;
  for (int i = 0; i < 4; ++i) layers.push_back(MakeLayer("none", 24u << 20));
  std::string src = TempDir("src");
  MakeImage(src, "big", layers);
  {
    Store s = Store::Open(src).value();
    image::PushOptions po;
    po.registry.skiff_root = TempDir("root");
    auto pushed = image::Push(s, "big", reg_->host() + "/big:1", po);
    ASSERT_TRUE(pushed.ok()) << pushed.error().Message();
  }
  for (int parallel : {1, 4}) {
    Store store = OpenStore();
    PullOptions o = Options();
    o.parallel = parallel;
    auto start = std::chrono::steady_clock::now();
    auto r = Pull(store, reg_->host() + "/big:1", o);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(r.ok()) << r.error().Message();
    double mb = static_cast<double>(r->bytes_fetched) / 1e6;
    std::printf("pull of %.0f MB in %d layers, %d at once: %.2f s, %.0f MB/s\n", mb,
                static_cast<int>(layers.size()), parallel, s, mb / s);
  }
}

}  // namespace
}  // namespace skiff::itest
