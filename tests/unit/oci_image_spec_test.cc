#include "oci/image_spec.h"

#include <gtest/gtest.h>

namespace skiff::oci {
namespace {

const char* kDigestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const char* kDigestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

std::string DockerManifest() {
  return std::string(R"({"schemaVersion":2,"mediaType":")") + kMediaDockerManifest +
         R"(","config":{"mediaType":")" + kMediaDockerConfig + R"(","digest":")" + kDigestA +
         R"(","size":7},"layers":[{"mediaType":")" + kMediaDockerLayerGzip +
         R"(","digest":")" + kDigestB + R"(","size":100}]})";
}

TEST(ImageSpec, ParsesDockerManifest) {
  auto doc = ParseManifestDoc(DockerManifest(), "");
  ASSERT_TRUE(doc.ok()) << doc.error().Message();
  EXPECT_FALSE(doc->is_index);
  EXPECT_EQ(doc->manifest.config.digest, kDigestA);
  ASSERT_EQ(doc->manifest.layers.size(), 1u);
  EXPECT_EQ(doc->manifest.layers[0].size, 100);
  EXPECT_EQ(*LayerMediaCompression(doc->manifest.layers[0].media_type), LayerCompression::kGzip);
}

TEST(ImageSpec, ManifestRoundTrips) {
  auto doc = ParseManifestDoc(DockerManifest(), "");
  ASSERT_TRUE(doc.ok());
  auto again = ParseManifestDoc(ManifestJson(doc->manifest), "");
  ASSERT_TRUE(again.ok()) << again.error().Message();
  EXPECT_EQ(ManifestJson(again->manifest), ManifestJson(doc->manifest));
}

TEST(ImageSpec, MediaTypeFromContentTypeOrShape) {
  std::string body = std::string(R"({"schemaVersion":2,"manifests":[{"mediaType":")") +
                     kMediaOciManifest + R"(","digest":")" + kDigestA +
                     R"(","size":5,"platform":{"os":"linux","architecture":"arm64"}}]})";
  auto doc = ParseManifestDoc(body, "");
  ASSERT_TRUE(doc.ok()) << doc.error().Message();
  EXPECT_TRUE(doc->is_index);
  auto doc2 = ParseManifestDoc(body, std::string(kMediaDockerList) + "; charset=utf-8");
  ASSERT_TRUE(doc2.ok());
  EXPECT_EQ(doc2->index.media_type, kMediaDockerList);
}

TEST(ImageSpec, RefusesUnknownAndSchema1) {
  auto a = ParseManifestDoc(R"({"schemaVersion":2,"mediaType":"application/x-foo"})", "");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().msg.find("unsupported manifest media type \"application/x-foo\""),
            std::string::npos);
  auto b = ParseManifestDoc(R"({"schemaVersion":1,"name":"x","fsLayers":[]})",
                            "application/vnd.docker.distribution.manifest.v1+prettyjws");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().msg.find("schema 1"), std::string::npos);
  EXPECT_FALSE(ParseManifestDoc("{not json", "").ok());
  EXPECT_FALSE(LayerMediaCompression("text/plain").ok());
}

TEST(ImageSpec, BadDigestNamesTheField) {
  std::string body = std::string(R"({"schemaVersion":2,"mediaType":")") + kMediaOciManifest +
                     R"(","config":{"mediaType":"x","digest":"sha256:../../etc","size":1},)"
                     R"("layers":[]})";
  auto doc = ParseManifestDoc(body, "");
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(doc.error().msg.find("config.digest"), std::string::npos) << doc.error().msg;
}

TEST(ImageSpec, SelectsPlatform) {
  Index idx;
  auto add = [&](const char* arch, const char* variant, const char* digest) {
    Descriptor d{.media_type = kMediaOciManifest, .digest = digest, .size = 1};
    d.platform = Platform{.os = "linux", .architecture = arch, .variant = variant};
    idx.manifests.push_back(d);
  };
  add("arm", "v7", kDigestA);
  add("amd64", "", kDigestB);
  EXPECT_EQ(SelectPlatform(idx, *ParsePlatform("linux/amd64"))->digest, kDigestB);
  EXPECT_EQ(SelectPlatform(idx, *ParsePlatform("linux/arm/v7"))->digest, kDigestA);
  auto none = SelectPlatform(idx, *ParsePlatform("linux/s390x"));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().msg.find("linux/arm/v7, linux/amd64"), std::string::npos);
  EXPECT_FALSE(ParsePlatform("linux//x").ok());
  EXPECT_EQ(ParsePlatform("arm64")->String(), "linux/arm64");
  EXPECT_TRUE(PlatformMatches({.os = "linux", .architecture = "arm64", .variant = "v8"},
                              {.os = "linux", .architecture = "arm64"}));
}

TEST(ImageSpec, ConfigParsesAndRoundTrips) {
  std::string text = std::string(R"({"architecture":"amd64","os":"linux","config":{)") +
                     R"("Env":["PATH=/bin"],"Cmd":["sh"],"WorkingDir":"/w","User":"1:2",)" +
                     R"("ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}},"StopSignal":"SIGINT"},)" +
                     R"("rootfs":{"type":"layers","diff_ids":[")" + kDigestA + R"("]}})";
  auto c = ParseImageConfig(text);
  ASSERT_TRUE(c.ok()) << c.error().Message();
  EXPECT_EQ(c->config.cmd, std::vector<std::string>{"sh"});
  EXPECT_TRUE(c->config.cmd_set);
  EXPECT_FALSE(c->config.entrypoint_set);
  EXPECT_EQ(c->config.volumes, std::vector<std::string>{"/data"});
  EXPECT_EQ(c->config.exposed_ports, std::vector<std::string>{"80/tcp"});
  auto again = ParseImageConfig(ImageConfigJson(*c));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(ImageConfigJson(*again), ImageConfigJson(*c));
  EXPECT_FALSE(ParseImageConfig(R"({"os":"linux"})").ok());
  auto bad = ParseImageConfig(R"({"rootfs":{"type":"layers","diff_ids":["md5:x"]}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().msg.find("rootfs.diff_ids[0]"), std::string::npos) << bad.error().msg;
}

}  // namespace
}  // namespace skiff::oci
