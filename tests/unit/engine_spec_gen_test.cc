#include <gtest/gtest.h>

#include <algorithm>

#include "engine/spec_gen.h"

namespace skiff::engine {
namespace {

using Strings = std::vector<std::string>;

const std::string kId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

oci::ImageConfig Image(Strings entrypoint, Strings cmd) {
  oci::ImageConfig c;
  c.config.entrypoint = std::move(entrypoint);
  c.config.cmd = std::move(cmd);
  c.config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  return c;
}

SpecInputs Inputs() {
  SpecInputs in;
  in.id = kId;
  in.rootfs = "rootfs";
  in.user.home = "/root";
  return in;
}

oci::Spec Generate(const RunOptions& o, const oci::ImageConfig& image = Image({}, {"sh"}),
                   const SpecInputs& in = Inputs()) {
  auto g = GenerateSpec(image, o, in);
  EXPECT_TRUE(g.ok()) << g.error().Message();
  if (!g.ok()) return {};
  // GenerateSpec validates already; check again here that the text is what the runtime reads.
  auto parsed = oci::ParseSpec(g->json);
  EXPECT_TRUE(parsed.ok());
  Status st = oci::ValidateSpec(*parsed);
  EXPECT_TRUE(st.ok()) << st.error().Message();
  return g->spec;
}

bool Has(const Strings& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

const oci::Mount* FindMount(const oci::Spec& s, const std::string& dest) {
  for (const auto& m : s.mounts)
    if (m.destination == dest) return &m;
  return nullptr;
}

Strings NamespaceTypes(const oci::Spec& s) {
  Strings out;
  for (const auto& n : s.linux->namespaces) out.push_back(n.type);
  return out;
}

// Docker's documented matrix ("Understand how CMD and ENTRYPOINT interact") plus the flags.
TEST(EngineSpecArgs, EntrypointCmdMatrix) {
  struct Case {
    Strings entrypoint, cmd;
    std::optional<std::string> flag_entrypoint;
    Strings args;
    Strings want;  // empty = "no command specified"
  };
  const Case kCases[] = {
      {{}, {}, {}, {}, {}},
      {{}, {"exec_cmd", "p1_cmd"}, {}, {}, {"exec_cmd", "p1_cmd"}},
      {{}, {"/bin/sh", "-c", "exec_cmd p1_cmd"}, {}, {}, {"/bin/sh", "-c", "exec_cmd p1_cmd"}},
      {{"exec_entry", "p1_entry"}, {}, {}, {}, {"exec_entry", "p1_entry"}},
      {{"exec_entry", "p1_entry"},
       {"exec_cmd", "p1_cmd"},
       {},
       {},
       {"exec_entry", "p1_entry", "exec_cmd", "p1_cmd"}},
      {{"/bin/sh", "-c", "exec_entry p1_entry"},
       {"exec_cmd", "p1_cmd"},
       {},
       {},
       {"/bin/sh", "-c", "exec_entry p1_entry", "exec_cmd", "p1_cmd"}},
      // Arguments replace Cmd, keep the entrypoint.
      {{"exec_entry"}, {"exec_cmd"}, {}, {"a", "b"}, {"exec_entry", "a", "b"}},
      {{}, {"exec_cmd"}, {}, {"a"}, {"a"}},
      // --entrypoint replaces the entrypoint and clears the image's Cmd.
      {{"exec_entry"}, {"exec_cmd"}, "new", {}, {"new"}},
      {{}, {"exec_cmd"}, "new", {"x"}, {"new", "x"}},
      {{}, {"exec_cmd"}, "sh -c", {}, {"sh -c"}},  // one string, not split
      // --entrypoint "" resets it: the arguments alone, or nothing.
      {{"exec_entry"}, {"exec_cmd"}, "", {"x", "y"}, {"x", "y"}},
      {{"exec_entry"}, {"exec_cmd"}, "", {}, {}},
  };
  for (const auto& c : kCases) {
    RunOptions o;
    o.entrypoint = c.flag_entrypoint;
    o.args = c.args;
    auto r = ProcessArgs(Image(c.entrypoint, c.cmd).config, o);
    if (c.want.empty()) {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().Message(), "no command specified");
    } else {
      ASSERT_TRUE(r.ok()) << r.error().Message();
      EXPECT_EQ(*r, c.want);
    }
  }
  EXPECT_FALSE(GenerateSpec(Image({}, {}), RunOptions{}, Inputs()).ok());
}

TEST(EngineSpecEnv, Merge) {
  const std::string kPath = kDefaultPath;
  EXPECT_EQ(ContainerEnv({}, {}, "h", false, ""), (Strings{kPath, "HOSTNAME=h"}));
  EXPECT_EQ(ContainerEnv({}, {}, "h", true, "/root"),
            (Strings{kPath, "HOSTNAME=h", "TERM=xterm", "HOME=/root"}));
  // The image's PATH replaces the default in place; flags override the image by key.
  EXPECT_EQ(ContainerEnv({"PATH=/bin", "A=image", "B=image"}, {"A=flag", "C=flag"}, "h", false, ""),
            (Strings{"PATH=/bin", "HOSTNAME=h", "A=flag", "C=flag", "B=image"}));
  // A bare KEY (unset on the host) removes the image's KEY; -e TERM=dumb beats -t.
  EXPECT_EQ(ContainerEnv({"A=image", "B=image"}, {"A", "TERM=dumb"}, "h", true, ""),
            (Strings{kPath, "HOSTNAME=h", "TERM=dumb", "B=image"}));
  EXPECT_EQ(ContainerEnv({}, {"HOSTNAME"}, "h", false, ""), (Strings{kPath}));
  EXPECT_EQ(ContainerEnv({"HOME=/home/x"}, {}, "h", false, "/root"),
            (Strings{kPath, "HOSTNAME=h", "HOME=/home/x"}));
}

TEST(EngineSpecCaps, AddDrop) {
  RunOptions o;
  Strings def = DockerDefaultCapabilities();
  ASSERT_EQ(def.size(), 14u);
  EXPECT_EQ(*ContainerCapabilities(o), def);

  o.cap_add = {"net_admin", "CAP_SYS_PTRACE", "Sys_Time", "chown"};
  o.cap_drop = {"mknod", "CAP_NET_RAW"};
  Strings caps = *ContainerCapabilities(o);
  EXPECT_EQ(caps.size(), 15u);
  EXPECT_TRUE(Has(caps, "CAP_NET_ADMIN"));
  EXPECT_TRUE(Has(caps, "CAP_SYS_PTRACE"));
  EXPECT_TRUE(Has(caps, "CAP_SYS_TIME"));
  EXPECT_FALSE(Has(caps, "CAP_MKNOD"));
  EXPECT_FALSE(Has(caps, "CAP_NET_RAW"));
  EXPECT_EQ(std::count(caps.begin(), caps.end(), "CAP_CHOWN"), 1);

  o = {};
  o.cap_drop = {"all"};
  o.cap_add = {"kill"};
  EXPECT_EQ(*ContainerCapabilities(o), (Strings{"CAP_KILL"}));
  o.cap_add.clear();
  EXPECT_TRUE(ContainerCapabilities(o)->empty());

  o = {};
  o.cap_add = {"ALL"};
  o.cap_drop = {"sys_admin"};
  caps = *ContainerCapabilities(o);
  EXPECT_EQ(caps.size(), 40u);
  EXPECT_FALSE(Has(caps, "CAP_SYS_ADMIN"));
  EXPECT_TRUE(Has(caps, "CAP_BPF"));

  o = {};
  o.cap_add = {"foo"};
  EXPECT_EQ(ContainerCapabilities(o).error().Message(), "unknown capability: \"CAP_FOO\"");
}

TEST(EngineSpec, DockerDefaults) {
  RunOptions o;
  oci::Spec s = Generate(o);
  ASSERT_TRUE(s.process && s.linux && s.root);
  EXPECT_EQ(s.root->path, "rootfs");
  EXPECT_FALSE(s.root->readonly);
  EXPECT_EQ(s.hostname, "0123456789ab");
  EXPECT_EQ(s.process->args, (Strings{"sh"}));
  EXPECT_EQ(s.process->cwd, "/");
  EXPECT_FALSE(s.process->terminal);
  EXPECT_FALSE(s.process->no_new_privileges);
  EXPECT_EQ(s.process->oom_score_adj, 0);
  EXPECT_TRUE(s.process->rlimits.empty());
  EXPECT_EQ(s.process->env, (Strings{kDefaultPath, "HOSTNAME=0123456789ab", "HOME=/root"}));
  const auto& caps = *s.process->capabilities;
  EXPECT_EQ(caps.bounding, DockerDefaultCapabilities());
  EXPECT_EQ(caps.effective, DockerDefaultCapabilities());
  EXPECT_EQ(caps.permitted, DockerDefaultCapabilities());
  EXPECT_TRUE(caps.inheritable.empty());
  EXPECT_TRUE(caps.ambient.empty());

  EXPECT_EQ(NamespaceTypes(s), (Strings{"mount", "network", "uts", "pid", "ipc"}));
  EXPECT_EQ(s.linux->cgroups_path, "/skiff/" + kId);
  EXPECT_EQ(s.linux->rootfs_propagation, "rprivate");
  EXPECT_EQ(
      s.linux->masked_paths,
      (Strings{"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
               "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
               "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"}));
  EXPECT_EQ(s.linux->readonly_paths,
            (Strings{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}));
  ASSERT_TRUE(s.linux->seccomp);
  EXPECT_EQ(s.linux->seccomp->default_action, "SCMP_ACT_ERRNO");
  EXPECT_GT(s.linux->seccomp->syscalls.size(), 1u);

  ASSERT_TRUE(s.linux->resources);
  const auto& devs = s.linux->resources->devices;
  ASSERT_FALSE(devs.empty());
  EXPECT_FALSE(devs[0].allow);
  EXPECT_EQ(devs[0].access, "rwm");
  EXPECT_FALSE(devs[0].major);
  EXPECT_FALSE(s.linux->resources->memory);
  EXPECT_FALSE(s.linux->resources->cpu);
  EXPECT_FALSE(s.linux->resources->pids);

  Strings dests;
  for (const auto& m : s.mounts) dests.push_back(m.destination);
  EXPECT_EQ(dests, (Strings{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
                            "/dev/shm"}));
  EXPECT_TRUE(Has(FindMount(s, "/sys")->options, "ro"));
  EXPECT_TRUE(Has(FindMount(s, "/sys/fs/cgroup")->options, "ro"));
  EXPECT_TRUE(Has(FindMount(s, "/dev/shm")->options, "size=67108864"));
}

TEST(EngineSpec, UserCwdTtyReadOnly) {
  RunOptions o;
  o.tty = true;
  o.read_only = true;
  o.workdir = "/work";
  o.hostname = "box";
  o.shm_size = 128 << 20;
  SpecInputs in = Inputs();
  in.user = {1000, 1000, {10, 50}, "/home/app"};
  oci::ImageConfig image = Image({}, {"sh"});
  image.config.working_dir = "/image-dir";
  oci::Spec s = Generate(o, image, in);
  EXPECT_TRUE(s.process->terminal);
  EXPECT_TRUE(s.root->readonly);
  EXPECT_EQ(s.process->cwd, "/work");
  EXPECT_EQ(s.hostname, "box");
  EXPECT_EQ(s.process->user.uid, 1000u);
  EXPECT_EQ(s.process->user.gid, 1000u);
  EXPECT_EQ(s.process->user.additional_gids, (std::vector<uint32_t>{10, 50}));
  EXPECT_TRUE(Has(s.process->env, "TERM=xterm"));
  EXPECT_TRUE(Has(s.process->env, "HOSTNAME=box"));
  EXPECT_TRUE(Has(s.process->env, "HOME=/home/app"));
  EXPECT_TRUE(Has(FindMount(s, "/dev/shm")->options, "size=134217728"));

  o = {};
  EXPECT_EQ(Generate(o, image).process->cwd, "/image-dir");
  o.workdir = "rel";
  auto g = GenerateSpec(image, o, Inputs());
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().Message(),
            "the working directory 'rel' is invalid, it needs to be an absolute path");
}

TEST(EngineSpec, Privileged) {
  RunOptions o;
  o.privileged = true;
  o.cap_drop = {"ALL"};  // ignored, as in Docker
  oci::Spec s = Generate(o);
  EXPECT_EQ(s.process->capabilities->bounding.size(), 41u);
  EXPECT_FALSE(s.linux->seccomp);
  EXPECT_TRUE(s.linux->masked_paths.empty());
  EXPECT_TRUE(s.linux->readonly_paths.empty());
  EXPECT_FALSE(Has(FindMount(s, "/sys")->options, "ro"));
  EXPECT_FALSE(Has(FindMount(s, "/sys/fs/cgroup")->options, "ro"));
  const auto& devs = s.linux->resources->devices;
  ASSERT_EQ(devs.size(), 1u);
  EXPECT_TRUE(devs[0].allow);
  EXPECT_EQ(devs[0].access, "rwm");
}

TEST(EngineSpec, SecurityOpts) {
  RunOptions o;
  o.security.no_new_privileges = true;
  o.cap_add = {"SYS_ADMIN"};
  oci::Spec s = Generate(o);
  EXPECT_TRUE(s.process->no_new_privileges);
  ASSERT_TRUE(s.linux->seccomp);
  // The profile is resolved for the final capabilities: with CAP_SYS_ADMIN, mount is allowed.
  bool mount_allowed = false;
  for (const auto& c : s.linux->seccomp->syscalls)
    if (c.action == "SCMP_ACT_ALLOW" && Has(c.names, "mount")) mount_allowed = true;
  EXPECT_TRUE(mount_allowed);
  EXPECT_TRUE(Has(s.process->capabilities->bounding, "CAP_SYS_ADMIN"));

  o = {};
  o.security.seccomp_unconfined = true;
  EXPECT_FALSE(Generate(o).linux->seccomp);

  o = {};
  o.security.seccomp_profile = "/p.json";
  SpecInputs in = Inputs();
  in.seccomp_profile_json =
      R"({"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
    "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"comment":"x"}]})";
  s = Generate(o, Image({}, {"sh"}), in);
  ASSERT_TRUE(s.linux->seccomp);
  EXPECT_EQ(s.linux->seccomp->default_action, "SCMP_ACT_ALLOW");
  ASSERT_EQ(s.linux->seccomp->syscalls.size(), 1u);
  EXPECT_EQ(s.linux->seccomp->syscalls[0].names, (Strings{"mkdir"}));
  EXPECT_EQ(s.linux->seccomp->syscalls[0].errno_ret, 1u);

  in.seccomp_profile_json =
      R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_PTRACE"]}}]})";
  auto g = GenerateSpec(Image({}, {"sh"}), o, in);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().Message(), "seccomp profile /p.json: includes/excludes are not supported");
  in.seccomp_profile_json = "{not json";
  EXPECT_FALSE(GenerateSpec(Image({}, {"sh"}), o, in).ok());
}

TEST(EngineSpec, NetworkModes) {
  RunOptions o;
  o.network = NetworkMode::kNone;
  EXPECT_EQ(NamespaceTypes(Generate(o)), (Strings{"mount", "network", "uts", "pid", "ipc"}));
  o.network = NetworkMode::kHost;
  SpecInputs in = Inputs();
  in.host_hostname = "thehost";
  oci::Spec s = Generate(o, Image({}, {"sh"}), in);
  EXPECT_EQ(NamespaceTypes(s), (Strings{"mount", "uts", "pid", "ipc"}));
  EXPECT_EQ(s.hostname, "thehost");
  in.cgroup_v2_unified = true;
  o.network = NetworkMode::kDefault;
  EXPECT_EQ(NamespaceTypes(Generate(o, Image({}, {"sh"}), in)),
            (Strings{"mount", "network", "uts", "pid", "ipc", "cgroup"}));
}

TEST(EngineSpec, Resources) {
  RunOptions o;
  o.memory = 64 << 20;
  o.nano_cpus = 1500000000;
  o.cpu_shares = 512;
  o.cpuset_cpus = "0-1";
  o.pids_limit = 100;
  o.ulimits = {{"nofile", 1024, 2048}, {"core", -1, -1}};
  oci::Spec s = Generate(o);
  const auto& r = *s.linux->resources;
  EXPECT_EQ(r.memory->limit, 64 << 20);
  EXPECT_EQ(r.memory->swap, 128 << 20);  // Docker: twice the memory when only -m
  EXPECT_EQ(r.cpu->quota, 150000);
  EXPECT_EQ(r.cpu->period, 100000u);
  EXPECT_EQ(r.cpu->shares, 512u);
  EXPECT_EQ(r.cpu->cpus, "0-1");
  EXPECT_EQ(r.pids->limit, 100);
  ASSERT_EQ(s.process->rlimits.size(), 2u);
  EXPECT_EQ(s.process->rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(s.process->rlimits[0].soft, 1024u);
  EXPECT_EQ(s.process->rlimits[0].hard, 2048u);
  EXPECT_EQ(s.process->rlimits[1].hard, UINT64_MAX);

  o.memory_swap = -1;
  EXPECT_EQ(Generate(o).linux->resources->memory->swap, -1);
  o.memory_swap = 100 << 20;
  EXPECT_EQ(Generate(o).linux->resources->memory->swap, 100 << 20);
  SpecInputs in = Inputs();
  in.swap_limit_supported = false;
  auto g = GenerateSpec(Image({}, {"sh"}), o, in);
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->spec.linux->resources->memory->swap);
  ASSERT_EQ(g->warnings.size(), 1u);
}

TEST(EngineSpec, MountsSortedAndOverridingDefaults) {
  RunOptions o;
  o.mounts.push_back(*ParseVolumeFlag("/host/a/b:/data/sub:ro"));
  o.mounts.push_back(*ParseVolumeFlag("/host/a:/data"));
  o.mounts.push_back(*ParseVolumeFlag("vol:/var/lib/db"));
  o.mounts.push_back(*ParseTmpfsFlag("/run:size=64m"));
  o.mounts.push_back(
      *ParseMountFlag("type=bind,source=/s,target=/dev/shm,bind-propagation=rslave"));
  o.init = true;
  SpecInputs in = Inputs();
  in.volume_paths["/var/lib/db"] = "/var/lib/skiff/volumes/vol/_data";
  in.volume_paths["/image/vol"] = "/var/lib/skiff/volumes/anon/_data";
  in.init_path = "/usr/libexec/skiff-init";
  in.resolv_conf_path = "/var/lib/skiff/containers/x/resolv.conf";
  oci::ImageConfig image = Image({"/entry"}, {"cmd"});
  image.config.volumes = {"/image/vol", "/unprepared"};
  oci::Spec s = Generate(o, image, in);

  Strings dests;
  for (const auto& m : s.mounts) dests.push_back(m.destination);
  // Defaults first (less the /dev/shm the user replaced), then the user's by depth, stable.
  EXPECT_EQ(dests, (Strings{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
                            "/data", "/run", "/data/sub", "/dev/shm", "/image/vol",
                            "/sbin/skiff-init", "/etc/resolv.conf", "/var/lib/db"}));
  const oci::Mount* sub = FindMount(s, "/data/sub");
  EXPECT_EQ(sub->type, "bind");
  EXPECT_EQ(sub->source, "/host/a/b");
  EXPECT_EQ(sub->options, (Strings{"rbind", "rprivate", "ro"}));
  EXPECT_EQ(FindMount(s, "/var/lib/db")->source, "/var/lib/skiff/volumes/vol/_data");
  EXPECT_EQ(FindMount(s, "/run")->type, "tmpfs");
  EXPECT_EQ(FindMount(s, "/run")->options, (Strings{"noexec", "nosuid", "nodev", "size=64m"}));
  EXPECT_EQ(FindMount(s, "/dev/shm")->source, "/s");
  EXPECT_EQ(FindMount(s, "/sbin/skiff-init")->source, "/usr/libexec/skiff-init");
  EXPECT_TRUE(Has(FindMount(s, "/sbin/skiff-init")->options, "ro"));
  EXPECT_EQ(s.process->args, (Strings{"/sbin/skiff-init", "--", "/entry", "cmd"}));
  EXPECT_EQ(s.linux->rootfs_propagation, "rslave");

  o.mounts.push_back(*ParseVolumeFlag("/x:/data"));
  auto g = GenerateSpec(image, o, in);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().Message(), "Duplicate mount point: /data");
  o.mounts.pop_back();
  o.mounts.push_back(*ParseVolumeFlag("novol:/nv"));
  EXPECT_FALSE(GenerateSpec(image, o, in).ok());
  o.mounts.pop_back();
  in.init_path.clear();
  EXPECT_FALSE(GenerateSpec(image, o, in).ok());
}

TEST(EngineSpec, UserMountsUnderDevReplaceTheDevDefaults) {
  RunOptions o;
  o.mounts.push_back(*ParseVolumeFlag("/dev:/dev"));
  oci::Spec s = Generate(o);
  Strings dests;
  for (const auto& m : s.mounts) dests.push_back(m.destination);
  EXPECT_EQ(dests, (Strings{"/proc", "/sys", "/sys/fs/cgroup", "/dev"}));
}

TEST(EngineSpec, ChrootIsolation) {
  RunOptions o;
  o.isolation = Isolation::kChroot;
  o.network = NetworkMode::kHost;
  SpecInputs in = Inputs();
  in.host_hostname = "thehost";
  oci::Spec s = Generate(o, Image({}, {"sh"}), in);
  EXPECT_EQ(NamespaceTypes(s), (Strings{"mount"}));
  EXPECT_EQ(s.hostname, "");
  EXPECT_TRUE(Has(s.process->env, "HOSTNAME=thehost"));
  EXPECT_FALSE(s.linux->resources);
  EXPECT_EQ(s.linux->cgroups_path, "");
  EXPECT_TRUE(s.linux->seccomp);
  EXPECT_EQ(s.process->capabilities->bounding, DockerDefaultCapabilities());
  EXPECT_FALSE(FindMount(s, "/dev/mqueue"));
  EXPECT_FALSE(FindMount(s, "/sys/fs/cgroup"));
  EXPECT_TRUE(FindMount(s, "/proc"));
}

}  // namespace
}  // namespace skiff::engine
