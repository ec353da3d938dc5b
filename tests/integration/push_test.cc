// skiff's push and login against a real registry, with skopeo inspect as the independent
// reader, and a proxy counting what went over the wire.
#include "image/push.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "image/pull.h"
#include "registry.h"

namespace skiff::itest {
namespace {

using image::Push;
using image::PushOptions;
using image::Store;

class PushTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    reg_ = StartRegistry();
    ASSERT_NE(reg_, nullptr);
    layer_ = MakeLayer("gzip");
    store_dir_ = TempDir("store");
    manifest_ = MakeImage(store_dir_, "img", {layer_});
    ASSERT_FALSE(HasFailure());
  }
  PushOptions Options() {
    PushOptions o;
    o.registry.skiff_root = TempDir("root");
    o.registry.backoff_ms = 50;
    return o;
  }
  nlohmann::json Inspect(const std::string& ref) {
    CmdResult r = Skopeo({"inspect", "--tls-verify=false", "docker://" + ref});
    EXPECT_EQ(r.code, 0) << r.err;
    try {
      return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << ": " << r.out;
      return nullptr;
    }
  }

  LocalRegistry* reg_ = nullptr;
  TestLayer layer_;
  std::string store_dir_;
  oci::Descriptor manifest_;
};

TEST_F(PushTest, PushedImageSeenBySkopeoAndSecondPushSkipsBlobs) {
  FaultProxy* proxy = StartProxy(reg_->port());
  ASSERT_NE(proxy, nullptr);
  Store store = Store::Open(store_dir_).value();
  auto r = Push(store, "img", proxy->host() + "/pushed:1", Options());
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->digest, manifest_.digest);
  EXPECT_EQ(r->uploaded, 2);  // layer and config
  EXPECT_EQ(proxy->Count("PUT upload"), 2);
  nlohmann::json j = Inspect(reg_->host() + "/pushed:1");
  EXPECT_EQ(j.value("Digest", ""), manifest_.digest);
  EXPECT_EQ(j["Layers"], nlohmann::json::array({layer_.desc.digest}));
  EXPECT_EQ(j.value("Architecture", ""), "amd64");

  auto again = Push(store, "img", proxy->host() + "/pushed:2", Options());
  ASSERT_TRUE(again.ok()) << again.error().Message();
  EXPECT_EQ(again->present, 2);
  EXPECT_EQ(again->uploaded, 0);
  EXPECT_EQ(proxy->Count("HEAD blob"), 4);
  EXPECT_EQ(proxy->Count("PUT upload"), 2);  // none more
  EXPECT_EQ(proxy->Count("PUT manifest"), 2);
  EXPECT_EQ(Inspect(reg_->host() + "/pushed:2").value("Digest", ""), manifest_.digest);
}

TEST_F(PushTest, ChunkedUpload) {
  FaultProxy* proxy = StartProxy(reg_->port());
  ASSERT_NE(proxy, nullptr);
  Store store = Store::Open(store_dir_).value();
  PushOptions o = Options();
  o.registry.chunk_size = 256 << 10;
  auto r = Push(store, "img", proxy->host() + "/chunked:1", o);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_GE(proxy->Count("PATCH upload"), static_cast<int>(layer_.desc.size / (256 << 10)));
  EXPECT_EQ(Inspect(reg_->host() + "/chunked:1").value("Digest", ""), manifest_.digest);
}

TEST_F(PushTest, CrossRepositoryMount) {
  Store store = Store::Open(store_dir_).value();
  auto first = Push(store, "img", reg_->host() + "/a:1", Options());
  ASSERT_TRUE(first.ok()) << first.error().Message();
  // A store that knows the blobs came from repository a of this registry.
  std::string dir = TempDir("store2");
  Store other = Store::Open(dir).value();
  image::PullOptions po;
  po.registry.skiff_root = TempDir("root");
  auto pulled = image::Pull(other, reg_->host() + "/a:1", po);
  ASSERT_TRUE(pulled.ok()) << pulled.error().Message();
  auto r = Push(other, reg_->host() + "/a:1", reg_->host() + "/b:1", Options());
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->mounted, 2);
  EXPECT_EQ(r->uploaded, 0);
  EXPECT_EQ(Inspect(reg_->host() + "/b:1").value("Digest", ""), manifest_.digest);
}

TEST_F(PushTest, MissingLocalImage) {
  Store store = Store::Open(store_dir_).value();
  auto r = Push(store, "nope:1", reg_->host() + "/x:1", Options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().msg.find("no image nope:1"), std::string::npos) << r.error().Message();
}

TEST_F(PushTest, LoginLogoutAgainstBasicAuth) {
  LocalRegistry* secure = StartRegistry("user", "pw");
  ASSERT_NE(secure, nullptr);
  std::string file = TempDir("root") + "/auth.json";
  auto bad = image::Login(secure->host(), {"user", "nope"}, file);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(image::IsAuthError(bad.error())) << bad.error().Message();
  EXPECT_FALSE(Exists(file));
  auto good = image::Login(secure->host(), {"user", "pw"}, file);
  ASSERT_TRUE(good.ok()) << good.error().Message();
  auto c = image::LookupCredential({file}, secure->host());
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->password, "pw");

  // The saved login lets a push through.
  Store store = Store::Open(store_dir_).value();
  PushOptions o = Options();
  o.registry.auth_files = {file};
  auto r = Push(store, "img", secure->host() + "/p:1", o);
  ASSERT_TRUE(r.ok()) << r.error().Message();

  ASSERT_TRUE(image::Logout(secure->host(), file).ok());
  auto r2 = Push(store, "img", secure->host() + "/p:2", o);
  ASSERT_FALSE(r2.ok());
  EXPECT_TRUE(image::IsAuthError(r2.error())) << r2.error().Message();
}

}  // namespace
}  // namespace skiff::itest
