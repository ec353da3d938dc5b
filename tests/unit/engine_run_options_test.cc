#include <gtest/gtest.h>

#include <map>

#include "engine/run_options.h"

namespace skiff::engine {
namespace {

std::string Err(const Status& s) { return s.ok() ? "" : s.error().Message(); }
template <typename T>
std::string Err(const Result<T>& r) {
  return r.ok() ? "" : r.error().Message();
}

TEST(EngineSizes, RamInBytes) {
  const std::pair<const char*, int64_t> kCases[] = {
      {"32", 32},          {"32b", 32},         {"32B", 32},
      {"32k", 32 << 10},   {"32K", 32 << 10},   {"32kb", 32 << 10},
      {"32Kib", 32 << 10}, {"32KIB", 32 << 10}, {"64m", 64 << 20},
      {"64MB", 64 << 20},  {"1g", 1LL << 30},   {"1.5g", 3LL << 29},
      {"512k", 512 << 10}, {"32 mb", 32 << 20}, {"1t", 1LL << 40},
      {"2p", 2LL << 50},   {"0.5k", 512},       {"0", 0},
  };
  for (const auto& [in, want] : kCases) {
    auto r = ParseMemoryBytes(in);
    ASSERT_TRUE(r.ok()) << in << ": " << Err(r);
    EXPECT_EQ(*r, want) << in;
  }
}

TEST(EngineSizes, RamInBytesErrors) {
  EXPECT_EQ(Err(ParseMemoryBytes("")), "invalid size: ''");
  EXPECT_EQ(Err(ParseMemoryBytes("abc")), "invalid size: 'abc'");
  EXPECT_EQ(Err(ParseMemoryBytes("-1")), "invalid size: '-1'");
  EXPECT_EQ(Err(ParseMemoryBytes("64x")), "invalid suffix: 'x'");
  EXPECT_EQ(Err(ParseMemoryBytes("64mbb")), "invalid suffix: 'mbb'");
  EXPECT_EQ(Err(ParseMemoryBytes("64mx")), "invalid suffix: 'mx'");
  EXPECT_EQ(Err(ParseMemoryBytes("64bi")), "invalid suffix: 'bi'");
  EXPECT_EQ(Err(ParseMemoryBytes("64miB2")), "invalid size: '64miB2'");
  EXPECT_EQ(Err(ParseMemoryBytes("99999999p")), "invalid size: '99999999p'");
  EXPECT_EQ(*ParseMemorySwap("-1"), -1);
  EXPECT_EQ(*ParseMemorySwap("128m"), 128 << 20);
}

TEST(EngineCpus, NanoCpusAndQuota) {
  EXPECT_EQ(*ParseNanoCpus("1.5"), 1500000000);
  EXPECT_EQ(*ParseNanoCpus("2"), 2000000000);
  EXPECT_EQ(*ParseNanoCpus(".25"), 250000000);
  EXPECT_EQ(*ParseNanoCpus("0.000000001"), 1);
  EXPECT_EQ(*ParseNanoCpus("1.0000000000"), 1000000000);
  EXPECT_EQ(Err(ParseNanoCpus("abc")), "failed to parse abc as a rational number");
  EXPECT_EQ(Err(ParseNanoCpus("")), "failed to parse  as a rational number");
  EXPECT_EQ(Err(ParseNanoCpus("0.0000000001")), "value is too precise");
  CpuQuota q = NanoCpusToQuota(1500000000);
  EXPECT_EQ(q.quota, 150000);
  EXPECT_EQ(q.period, 100000u);
  EXPECT_EQ(NanoCpusToQuota(10000000).quota, 1000);
}

TEST(EngineUlimit, Parses) {
  auto u = ParseUlimit("nofile=1024:2048");
  ASSERT_TRUE(u.ok()) << Err(u);
  EXPECT_EQ(u->name, "nofile");
  EXPECT_EQ(u->soft, 1024);
  EXPECT_EQ(u->hard, 2048);
  u = ParseUlimit("nproc=512");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->soft, 512);
  EXPECT_EQ(u->hard, 512);
  u = ParseUlimit("core=-1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->hard, -1);
  EXPECT_EQ(RlimitName("nofile"), "RLIMIT_NOFILE");
  EXPECT_EQ(RlimitName("bogus"), "");
}

TEST(EngineUlimit, Errors) {
  EXPECT_EQ(Err(ParseUlimit("nofile")), "invalid ulimit argument: nofile");
  EXPECT_EQ(Err(ParseUlimit("bogus=1")), "invalid ulimit type: bogus");
  EXPECT_EQ(Err(ParseUlimit("nofile=1:2:3")),
            "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`");
  EXPECT_EQ(Err(ParseUlimit("nofile=2048:1024")),
            "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024");
  EXPECT_EQ(Err(ParseUlimit("nofile=x")), "invalid ulimit argument: nofile=x");
}

TEST(EngineRestart, Policies) {
  EXPECT_EQ(ParseRestartPolicy("no")->mode, RestartMode::kNo);
  EXPECT_EQ(ParseRestartPolicy("always")->mode, RestartMode::kAlways);
  EXPECT_EQ(ParseRestartPolicy("unless-stopped")->mode, RestartMode::kUnlessStopped);
  auto p = ParseRestartPolicy("on-failure:3");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->mode, RestartMode::kOnFailure);
  EXPECT_EQ(p->max_retries, 3);
  EXPECT_EQ(ParseRestartPolicy("on-failure")->max_retries, 0);
  EXPECT_EQ(Err(ParseRestartPolicy(":3")),
            "invalid restart policy format: no policy provided before colon");
  EXPECT_EQ(Err(ParseRestartPolicy("on-failure:x")),
            "invalid restart policy format: maximum retry count must be an integer");
  EXPECT_EQ(Err(ParseRestartPolicy("always:2")),
            "invalid restart policy: maximum retry count can only be used with 'on-failure'");
  EXPECT_EQ(Err(ParseRestartPolicy("on-failure:-1")),
            "invalid restart policy: maximum retry count cannot be negative");
  EXPECT_EQ(Err(ParseRestartPolicy("sometimes")),
            "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', "
            "'on-failure', or 'unless-stopped'");
}

TEST(EngineEnums, NetworkIsolationPull) {
  EXPECT_EQ(*ParseNetworkMode("none"), NetworkMode::kNone);
  EXPECT_EQ(*ParseNetworkMode("host"), NetworkMode::kHost);
  EXPECT_EQ(*ParseNetworkMode("bridge"), NetworkMode::kDefault);
  EXPECT_FALSE(ParseNetworkMode("container:x").ok());
  EXPECT_EQ(*ParseIsolation("chroot"), Isolation::kChroot);
  EXPECT_FALSE(ParseIsolation("hyperv").ok());
  EXPECT_EQ(*ParsePullPolicy("never"), PullPolicy::kNever);
  EXPECT_FALSE(ParsePullPolicy("sometimes").ok());
}

TEST(EngineSecurityOpt, Parses) {
  SecurityOptions s;
  ASSERT_TRUE(ApplySecurityOpt("no-new-privileges", &s).ok());
  EXPECT_TRUE(s.no_new_privileges);
  ASSERT_TRUE(ApplySecurityOpt("no-new-privileges=false", &s).ok());
  EXPECT_FALSE(s.no_new_privileges);
  ASSERT_TRUE(ApplySecurityOpt("no-new-privileges:true", &s).ok());
  EXPECT_TRUE(s.no_new_privileges);
  ASSERT_TRUE(ApplySecurityOpt("seccomp=/etc/p.json", &s).ok());
  EXPECT_EQ(s.seccomp_profile, "/etc/p.json");
  EXPECT_FALSE(s.seccomp_unconfined);
  ASSERT_TRUE(ApplySecurityOpt("seccomp=unconfined", &s).ok());
  EXPECT_TRUE(s.seccomp_unconfined);
  EXPECT_EQ(s.seccomp_profile, "");
  EXPECT_EQ(Err(ApplySecurityOpt("bogus", &s)), "invalid --security-opt 1: \"bogus\"");
  EXPECT_EQ(Err(ApplySecurityOpt("no-new-privileges=maybe", &s)),
            "invalid --security-opt 2: \"no-new-privileges=maybe\"");
}

TEST(EngineVolumeFlag, BindAndVolume) {
  auto m = ParseVolumeFlag("/host/dir:/data:ro");
  ASSERT_TRUE(m.ok()) << Err(m);
  EXPECT_EQ(m->kind, MountKind::kBind);
  EXPECT_EQ(m->source, "/host/dir");
  EXPECT_EQ(m->target, "/data");
  EXPECT_TRUE(m->readonly);
  EXPECT_TRUE(m->create_source);

  m = ParseVolumeFlag("/h//x/:/data/./sub/:rw,z,rshared");
  ASSERT_TRUE(m.ok()) << Err(m);
  EXPECT_EQ(m->source, "/h/x");
  EXPECT_EQ(m->target, "/data/sub");
  EXPECT_FALSE(m->readonly);
  EXPECT_EQ(m->propagation, "rshared");

  m = ParseVolumeFlag("mydata:/var/lib/db");
  ASSERT_TRUE(m.ok()) << Err(m);
  EXPECT_EQ(m->kind, MountKind::kVolume);
  EXPECT_EQ(m->source, "mydata");
  EXPECT_FALSE(m->create_source);

  m = ParseVolumeFlag("/anon");
  ASSERT_TRUE(m.ok()) << Err(m);
  EXPECT_EQ(m->kind, MountKind::kVolume);
  EXPECT_EQ(m->source, "");
  EXPECT_EQ(m->target, "/anon");

  m = ParseVolumeFlag("v1:/x:ro,nocopy");
  ASSERT_TRUE(m.ok()) << Err(m);
  EXPECT_TRUE(m->nocopy);
  EXPECT_TRUE(m->readonly);
}

TEST(EngineVolumeFlag, Errors) {
  EXPECT_EQ(Err(ParseVolumeFlag("")), "invalid volume specification: ''");
  EXPECT_EQ(Err(ParseVolumeFlag(":/x")), "invalid volume specification: ':/x'");
  EXPECT_EQ(Err(ParseVolumeFlag("/foo:rw")), "invalid volume specification: '/foo:rw'");
  EXPECT_EQ(Err(ParseVolumeFlag("/a:/b:c:d")), "invalid volume specification: '/a:/b:c:d'");
  EXPECT_EQ(Err(ParseVolumeFlag("/a:/b:rx")), "invalid mode: rx");
  EXPECT_EQ(Err(ParseVolumeFlag("/a:/b:ro,rw")), "invalid mode: ro,rw");
  EXPECT_EQ(Err(ParseVolumeFlag("/a:rel")),
            "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must "
            "be absolute");
  EXPECT_EQ(Err(ParseVolumeFlag("/a:/")), "invalid specification: destination can't be '/'");
  EXPECT_EQ(Err(ParseVolumeFlag("bad$name:/x")),
            "\"bad$name\" includes invalid characters for a local volume name, only "
            "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host "
            "directory, use absolute path");
  EXPECT_EQ(Err(ParseVolumeFlag("./rel:/x")).substr(0, 9), "\"./rel\" i");
  EXPECT_EQ(Err(ParseVolumeFlag("v:/x:rshared")), "invalid volume specification: 'v:/x:rshared'");
}

TEST(EngineMountFlag, Kinds) {
  auto m = ParseMountFlag("type=bind,source=/src,target=/dst,readonly");
  ASSERT_TRUE(m.ok()) << Err(m);
  EXPECT_EQ(m->kind, MountKind::kBind);
  EXPECT_EQ(m->source, "/src");
  EXPECT_EQ(m->target, "/dst");
  EXPECT_TRUE(m->readonly);
  EXPECT_FALSE(m->create_source);

  m = ParseMountFlag("type=bind,src=/s,dst=/d,ro=false,bind-propagation=rslave");
  ASSERT_TRUE(m.ok()) << Err(m);
  EXPECT_FALSE(m->readonly);
  EXPECT_EQ(m->propagation, "rslave");

  m = ParseMountFlag("source=vol,destination=/v,volume-nocopy");  // type defaults to volume
  ASSERT_TRUE(m.ok()) << Err(m);
  EXPECT_EQ(m->kind, MountKind::kVolume);
  EXPECT_EQ(m->source, "vol");
  EXPECT_TRUE(m->nocopy);

  m = ParseMountFlag("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770");
  ASSERT_TRUE(m.ok()) << Err(m);
  EXPECT_EQ(m->kind, MountKind::kTmpfs);
  EXPECT_EQ(m->tmpfs_options,
            (std::vector<std::string>{"noexec", "nosuid", "nodev", "size=67108864", "mode=1770"}));

  m = ParseMountFlag("\"type=bind\",\"source=/a,b\",target=/c");
  ASSERT_TRUE(m.ok()) << Err(m);
  EXPECT_EQ(m->source, "/a,b");
}

TEST(EngineMountFlag, Errors) {
  EXPECT_EQ(Err(ParseMountFlag("type=bind,source=/s")), "target is required");
  EXPECT_EQ(Err(ParseMountFlag("type=bind,source=/s,target=/t,foo")),
            "invalid field 'foo' must be a key=value pair");
  EXPECT_EQ(Err(ParseMountFlag("type=bind,source=/s,target=/t,foo=1")),
            "unexpected key 'foo' in 'foo=1'");
  EXPECT_EQ(Err(ParseMountFlag("type=bind,source=/s,target=/t,readonly=maybe")),
            "invalid value for readonly: maybe");
  EXPECT_EQ(Err(ParseMountFlag("type=bind,target=/t")),
            "invalid mount config for type \"bind\": field Source must not be empty");
  EXPECT_EQ(Err(ParseMountFlag("type=tmpfs,source=x,target=/t")),
            "invalid mount config for type \"tmpfs\": field Source must not be specified");
  EXPECT_EQ(Err(ParseMountFlag("type=npipe,target=/t")),
            "invalid mount config for type \"npipe\": mount type unknown");
  EXPECT_EQ(Err(ParseMountFlag("type=bind,source=/s,target=/t,tmpfs-size=1m")),
            "cannot mix 'tmpfs-*' options with mount type 'bind'");
  EXPECT_EQ(Err(ParseMountFlag("type=tmpfs,target=/t,bind-propagation=shared")),
            "cannot mix 'bind-*' options with mount type 'tmpfs'");
  EXPECT_EQ(Err(ParseMountFlag("type=bind,source=/s,target=/t,volume-nocopy")),
            "cannot mix 'volume-*' options with mount type 'bind'");
  EXPECT_EQ(Err(ParseMountFlag("type=tmpfs,target=/t,tmpfs-size=lots")),
            "invalid value for tmpfs-size: lots");
  EXPECT_EQ(Err(ParseMountFlag("type=tmpfs,target=/t,tmpfs-mode=9")),
            "invalid value for tmpfs-mode: 9");
  EXPECT_EQ(Err(ParseMountFlag("type=volume,source=a b,target=/t")).substr(0, 20),
            "\"a b\" includes inval");
}

TEST(EngineTmpfsFlag, MergesOverDefaults) {
  auto m = ParseTmpfsFlag("/run:rw,size=64m");
  ASSERT_TRUE(m.ok()) << Err(m);
  EXPECT_EQ(m->kind, MountKind::kTmpfs);
  EXPECT_EQ(m->target, "/run");
  EXPECT_FALSE(m->readonly);
  EXPECT_EQ(m->tmpfs_options, (std::vector<std::string>{"noexec", "nosuid", "nodev", "size=64m"}));

  m = ParseTmpfsFlag("/x:exec,size=1m,size=2m,ro,mode=700");
  ASSERT_TRUE(m.ok()) << Err(m);
  EXPECT_TRUE(m->readonly);
  EXPECT_EQ(m->tmpfs_options,
            (std::vector<std::string>{"nosuid", "nodev", "exec", "size=2m", "mode=700"}));

  m = ParseTmpfsFlag("/plain");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->tmpfs_options, (std::vector<std::string>{"noexec", "nosuid", "nodev"}));

  EXPECT_EQ(Err(ParseTmpfsFlag("/x:bogus")), "invalid tmpfs option [\"bogus\"]");
  EXPECT_EQ(Err(ParseTmpfsFlag("/x:color=red")), "invalid tmpfs option [\"color=red\"]");
  EXPECT_EQ(Err(ParseTmpfsFlag("rel")),
            "invalid mount config for type \"tmpfs\": invalid mount path: 'rel' mount path must "
            "be absolute");
}

TEST(EngineNames, ContainerAndVolume) {
  EXPECT_TRUE(ValidateContainerName("web_1").ok());
  EXPECT_TRUE(ValidateContainerName("/web.1-a").ok());
  EXPECT_EQ(Err(ValidateContainerName("a")),
            "Invalid container name (a), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  EXPECT_FALSE(ValidateContainerName("_x").ok());
  EXPECT_FALSE(ValidateContainerName("a/b").ok());
  EXPECT_TRUE(ValidateVolumeName("v").ok());
  EXPECT_FALSE(ValidateVolumeName(".v").ok());
}

TEST(EngineEnv, FlagAndFile) {
  std::map<std::string, std::string> host = {{"HOSTVAR", "from host"}, {"EMPTY", ""}};
  EnvLookup lookup = [&](const std::string& k) -> std::optional<std::string> {
    auto it = host.find(k);
    if (it == host.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_EQ(*ResolveEnvFlag("A=1", lookup), "A=1");
  EXPECT_EQ(*ResolveEnvFlag("A=", lookup), "A=");
  EXPECT_EQ(*ResolveEnvFlag("HOSTVAR", lookup), "HOSTVAR=from host");
  EXPECT_EQ(*ResolveEnvFlag("EMPTY", lookup), "EMPTY=");
  EXPECT_EQ(*ResolveEnvFlag("MISSING", lookup), "MISSING");
  EXPECT_FALSE(ResolveEnvFlag("=x", lookup).ok());

  auto env = ParseEnvFile(
      "# a comment\nA=1\n\n  B=two words\nHOSTVAR\nMISSING\r\nC=x=y\n   # indented comment\n",
      lookup);
  ASSERT_TRUE(env.ok()) << Err(env);
  EXPECT_EQ(*env, (std::vector<std::string>{"A=1", "B=two words", "HOSTVAR=from host", "C=x=y"}));
  EXPECT_EQ(Err(ParseEnvFile("BAD KEY=1\n", lookup)), "variable 'BAD KEY' contains whitespaces");
  EXPECT_EQ(Err(ParseEnvFile("=1\n", lookup)), "no variable name on line '=1'");
}

TEST(EngineValidate, DockerConflicts) {
  RunOptions o;
  EXPECT_TRUE(ValidateRunOptions(o, 2).ok());
  o.auto_remove = true;
  o.restart.mode = RestartMode::kAlways;
  EXPECT_EQ(Err(ValidateRunOptions(o, 2)), "Conflicting options: --restart and --rm");
  o = {};
  o.memory = 1 << 20;
  EXPECT_EQ(Err(ValidateRunOptions(o, 2)), "Minimum memory limit allowed is 6MB");
  o.memory = 64 << 20;
  o.memory_swap = 32 << 20;
  EXPECT_EQ(Err(ValidateRunOptions(o, 2)),
            "Minimum memoryswap limit should be larger than memory limit, see usage");
  o.memory_swap = -1;
  EXPECT_TRUE(ValidateRunOptions(o, 2).ok());
  o = {};
  o.memory_swap = 64 << 20;
  EXPECT_EQ(Err(ValidateRunOptions(o, 2)),
            "You should always set the Memory limit when using Memoryswap limit, see usage");
  o = {};
  o.nano_cpus = 3000000000;
  EXPECT_EQ(Err(ValidateRunOptions(o, 2)),
            "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
  o.nano_cpus = 1000000;
  EXPECT_EQ(Err(ValidateRunOptions(o, 2)), "CPU cfs quota can not be less than 1ms (i.e. 1000)");
  o = {};
  o.name = "x";
  EXPECT_FALSE(ValidateRunOptions(o, 2).ok());
  o = {};
  o.isolation = Isolation::kChroot;
  EXPECT_TRUE(ValidateRunOptions(o, 2).ok());
  o.memory = 64 << 20;
  EXPECT_FALSE(ValidateRunOptions(o, 2).ok());
}

}  // namespace
}  // namespace skiff::engine
