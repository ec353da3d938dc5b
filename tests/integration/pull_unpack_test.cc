// One-pass pull (download, digest check and unpack at once) against a real registry, and a
// `skiff pull` killed with SIGKILL at random moments, then completed by the next pull.
#include "image/pull_unpack.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "base/digest.h"
#include "image/push.h"
#include "registry.h"

extern char** environ;

namespace skiff::itest {
namespace {

using image::LayerStore;
using image::PullOptions;
using image::Store;

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> out;
  DIR* dp = ::opendir(dir.c_str());
  while (dp) {
    dirent* e = ::readdir(dp);
    if (!e) break;
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) out.push_back(e->d_name);
  }
  if (dp) ::closedir(dp);
  std::sort(out.begin(), out.end());
  return out;
}

class PullUnpackTest : public RegistryTest {
 protected:
  // A registry holding an image of n layers at x:1, each bin/busybox plus its own
  // random.bin of `extra` bytes (so no two layers are the same).
  void Seed(int n, size_t extra) {
    reg_ = StartRegistry();
    ASSERT_NE(reg_, nullptr);
    for (int i = 0; i < n; ++i) layers_.push_back(MakeLayer("gzip", extra));
    ASSERT_FALSE(HasFailure());
    std::string src = TempDir("src");
    manifest_ = MakeImage(src, "1", layers_);
    CmdResult r = Skopeo({"copy", "--dest-tls-verify=false", "oci:" + src + ":1",
                          "docker://" + reg_->host() + "/x:1"});
    ASSERT_EQ(r.code, 0) << r.err;
    std::vector<std::string> diff_ids;
    for (const auto& l : layers_) diff_ids.push_back(l.diff_id);
    chain_ = image::ChainIds(diff_ids).value();
  }
  PullOptions Options() {
    PullOptions o;
    o.registry.skiff_root = TempDir("root");
    o.registry.backoff_ms = 50;
    o.registry.http.low_speed_time_s = 2;
    return o;
  }
  // The layer dirs must be exactly the image's chain IDs, each holding its layer's files.
  void ExpectLayers(const std::string& dir) {
    std::vector<std::string> want = {".locks"};
    for (const auto& c : chain_) want.push_back(c.substr(7));
    std::sort(want.begin(), want.end());
    EXPECT_EQ(List(dir), want);
    std::string busybox = ReadText("/bin/busybox");
    for (const auto& c : chain_) {
      std::string layer = dir + "/" + c.substr(7);
      EXPECT_EQ(ReadText(layer + "/bin/busybox"), busybox) << layer;
      struct stat st {};
      EXPECT_EQ(::stat((layer + "/random.bin").c_str(), &st), 0) << layer;
    }
  }

  LocalRegistry* reg_ = nullptr;
  std::vector<TestLayer> layers_;
  std::vector<std::string> chain_;
  oci::Descriptor manifest_;
};

TEST_F(PullUnpackTest, EveryLayerUnpacksWhileItDownloads) {
  ASSERT_NO_FATAL_FAILURE(Seed(3, 1 << 20));
  std::string sdir = TempDir("store"), ldir = TempDir("layers");
  Store store = Store::Open(sdir).value();
  LayerStore layers = LayerStore::Open(ldir).value();
  auto r = image::PullAndUnpack(store, layers, reg_->host() + "/x:1", Options());
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->layers_streamed, 3);
  EXPECT_EQ(r->pull.layers_fetched, 3);
  ASSERT_EQ(r->lower.size(), 3u);
  EXPECT_EQ(r->lower[0], ldir + "/" + chain_[2].substr(7));  // top first
  ExpectLayers(ldir);
  for (const auto& l : layers_) EXPECT_TRUE(store.HasBlob(l.desc.digest));

  // Again: nothing fetched, nothing streamed, same dirs.
  auto again = image::PullAndUnpack(store, layers, reg_->host() + "/x:1", Options());
  ASSERT_TRUE(again.ok()) << again.error().Message();
  EXPECT_EQ(again->layers_streamed, 0);
  EXPECT_EQ(again->pull.layers_fetched, 0);
  ExpectLayers(ldir);

  // Blobs stored but no layer dirs (a new layers dir): unpacked from the blobs instead.
  std::string ldir2 = TempDir("layers");
  LayerStore layers2 = LayerStore::Open(ldir2).value();
  auto from_blobs = image::PullAndUnpack(store, layers2, reg_->host() + "/x:1", Options());
  ASSERT_TRUE(from_blobs.ok()) << from_blobs.error().Message();
  EXPECT_EQ(from_blobs->layers_streamed, 0);
  ExpectLayers(ldir2);
}

TEST_F(PullUnpackTest, TamperedBlobLeavesNoLayerDirAndNoBlob) {
  ASSERT_NO_FATAL_FAILURE(Seed(1, 0));
  std::string file = reg_->BlobFile(layers_[0].desc.digest);
  std::string bytes = ReadText(file);
  ASSERT_EQ(static_cast<int64_t>(bytes.size()), layers_[0].desc.size) << file;
  bytes[bytes.size() / 2] ^= 0x55;
  ASSERT_TRUE(WriteText(file, bytes));

  std::string sdir = TempDir("store"), ldir = TempDir("layers");
  Store store = Store::Open(sdir).value();
  LayerStore layers = LayerStore::Open(ldir).value();
  auto r = image::PullAndUnpack(store, layers, reg_->host() + "/x:1", Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().Message().rfind("blob " + layers_[0].desc.digest + ": digest mismatch", 0),
            0u)
      << r.error().Message();
  EXPECT_FALSE(store.HasBlob(layers_[0].desc.digest));
  for (const auto& f : StoreFiles(sdir)) EXPECT_NE(f.rfind(".tmp", 0), 0u) << f;
  EXPECT_TRUE(store.ListRefs()->empty());
  EXPECT_EQ(List(ldir), std::vector<std::string>{".locks"});  // no layer, no temp dir
}

TEST_F(PullUnpackTest, DroppedConnectionResumesAndStillStreams) {
  ASSERT_NO_FATAL_FAILURE(Seed(1, 0));
  FaultProxy* proxy = StartProxy(reg_->port());
  ASSERT_NE(proxy, nullptr);
  ASSERT_GT(layers_[0].desc.size, 300000);
  proxy->Arm(FaultProxy::Fault::kDrop, 200000, layers_[0].desc.digest);
  std::string sdir = TempDir("store"), ldir = TempDir("layers");
  Store store = Store::Open(sdir).value();
  LayerStore layers = LayerStore::Open(ldir).value();
  auto r = image::PullAndUnpack(store, layers, proxy->host() + "/x:1", Options());
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_TRUE(proxy->fired());
  EXPECT_GE(r->pull.resumes, 1);
  EXPECT_EQ(r->layers_streamed, 1);  // the Range resume continued the same stream
  EXPECT_TRUE(store.HasBlob(layers_[0].desc.digest));
  EXPECT_EQ(List(ldir), (std::vector<std::string>{".locks", chain_[0].substr(7)}));
  EXPECT_EQ(ReadText(ldir + "/" + chain_[0].substr(7) + "/bin/busybox"), ReadText("/bin/busybox"));
}

// `skiff pull` killed at random moments; each time the next pull must complete the store.
TEST_F(PullUnpackTest, PullKilledAtRandomMomentsIsCompletedByTheNext) {
  ASSERT_NO_FATAL_FAILURE(Seed(4, 3 << 20));
  std::string ref = reg_->host() + "/x:1";
  auto pull = [&](const std::string& root) {
    return RunCommand({SKIFF_BIN, "--root", root, "pull", "-q", ref}, work_,
                      {.timeout_ms = 120000});
  };
  // How long a whole pull takes here: the kills land within it.
  auto t0 = std::chrono::steady_clock::now();
  CmdResult full = pull(TempDir("timing"));
  ASSERT_EQ(full.code, 0) << full.err;
  double span_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  unsigned seed = std::random_device()();
  std::mt19937 rng(seed);
  int killed = 0, left_tmp = 0;
  // Up to 12 rounds, until 6 kills have landed: a delay past the end of a pull kills nothing,
  // and 6 fixed rounds left only 2 kills in one CI run (seed 3787038402). A pull that ends
  // before its kill shrinks the window to that delay: the timing pull can be slower than the
  // rest (a new store, a busier moment), and 12 rounds still gave 2 kills once.
  int rounds = 0;
  for (int round = 0; round < 12 && killed < 6; ++round, ++rounds) {
    double delay = std::uniform_real_distribution<double>(0, span_ms)(rng);
    SCOPED_TRACE(
        StrFormat("seed %u, round %d: SIGKILL after %.0f ms of %.0f", seed, round, delay, span_ms));
    std::string root = TempDir("root");
    std::vector<std::string> args = {SKIFF_BIN, "--root", root, "pull", "-q", ref};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    ASSERT_EQ(posix_spawn(&pid, SKIFF_BIN, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(delay * 1000)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
      ++killed;
    else
      span_ms = delay;
    // What the kill left (temp blobs, temp layer dirs), to show the kill landed mid-pull.
    for (const auto& f : List(root + "/oci/blobs/sha256")) left_tmp += f.starts_with(".tmp");
    for (const auto& f : List(root + "/layers")) left_tmp += f.starts_with(".tmp");

    CmdResult again = pull(root);
    ASSERT_EQ(again.code, 0) << again.err;
    CmdResult insp = RunCommand({SKIFF_BIN, "--root", root, "image", "inspect", ref}, work_);
    ASSERT_EQ(insp.code, 0) << insp.err;
    EXPECT_EQ(nlohmann::json::parse(insp.out)[0]["RootFS"]["Layers"].size(), 4u);
    // Every blob is what its name says; no temp file is left.
    for (const auto& f : List(root + "/oci/blobs/sha256"))
      EXPECT_EQ(Sha256Digest(ReadText(root + "/oci/blobs/sha256/" + f)), "sha256:" + f) << f;
    for (const auto& f : List(root + "/oci")) EXPECT_EQ(f.find(".tmp"), std::string::npos) << f;
    ExpectLayers(root + "/layers");
  }
  std::printf("seed %u: %d of %d pulls killed before they ended, %d temp files left by them\n",
              seed, killed, rounds, left_tmp);
  EXPECT_GE(killed, 3);  // the delays fall within a whole pull's time
}

}  // namespace
}  // namespace skiff::itest
