#include <gtest/gtest.h>

#include <string>

#include "oci/spec.h"

namespace skiff::oci {
namespace {

// A small spec that passes; each test breaks one rule.
Spec Valid() {
  Spec s;
  s.oci_version = "1.2.0";
  s.root = Root{"rootfs", true};
  s.process.emplace();
  s.process->args = {"sh"};
  s.process->cwd = "/";
  s.process->env = {"PATH=/bin"};
  s.hostname = "box";
  s.mounts.push_back(Mount{"/proc", "proc", "proc"});
  s.linux.emplace();
  for (const char* t : {"pid", "mount", "uts", "ipc", "network"}) {
    s.linux->namespaces.push_back(Namespace{t, ""});
  }
  return s;
}

std::string Invalid(const Spec& s) {
  Status st = ValidateSpec(s);
  if (st.ok()) return "(valid)";
  EXPECT_EQ(st.error().code, 0);
  return st.error().Message();
}

TEST(OciValidate, ValidSpecPasses) {
  Status st = ValidateSpec(Valid());
  EXPECT_TRUE(st.ok()) << st.error().Message();
}

TEST(OciValidate, Version) {
  Spec s = Valid();
  s.oci_version = "";
  EXPECT_EQ(Invalid(s), "ociVersion: required field is missing");
  s.oci_version = "2.0.0";
  EXPECT_EQ(Invalid(s), "ociVersion: unsupported version \"2.0.0\" (expected 1.x)");
  s.oci_version = "1.x";
  EXPECT_EQ(Invalid(s), "ociVersion: unsupported version \"1.x\" (expected 1.x)");
  s.oci_version = "1.0.2-dev";
  EXPECT_EQ(Invalid(s), "(valid)");
}

TEST(OciValidate, RootPath) {
  Spec s = Valid();
  s.root->path = "";
  EXPECT_EQ(Invalid(s), "root.path: required field is missing");
  s.root.reset();
  EXPECT_EQ(Invalid(s), "(valid)");
}

TEST(OciValidate, ProcessArgsCwdEnv) {
  Spec s = Valid();
  s.process->args.clear();
  EXPECT_EQ(Invalid(s), "process.args: must not be empty");
  s = Valid();
  s.process->cwd = "work";
  EXPECT_EQ(Invalid(s), "process.cwd: must be an absolute path, got \"work\"");
  s.process->cwd = "";
  EXPECT_EQ(Invalid(s), "process.cwd: required field is missing");
  s = Valid();
  s.process->env.push_back("NOEQUALS");
  EXPECT_EQ(Invalid(s), "process.env[1]: \"NOEQUALS\" is not of the form KEY=value");
  s.process->env.back() = "=value";
  EXPECT_EQ(Invalid(s), "process.env[1]: \"=value\" is not of the form KEY=value");
  s.process->env.back() = "EMPTY=";
  EXPECT_EQ(Invalid(s), "(valid)");
}

TEST(OciValidate, ProcessWithoutSpecProcessIsFine) {
  Spec s = Valid();
  s.process.reset();
  EXPECT_EQ(Invalid(s), "(valid)");
}

TEST(OciValidate, Rlimits) {
  Spec s = Valid();
  s.process->rlimits = {{"RLIMIT_NOFILE", 1024, 1024}, {"RLIMIT_FOO", 1, 1}};
  EXPECT_EQ(Invalid(s), "process.rlimits[1].type: unknown rlimit \"RLIMIT_FOO\"");
  s.process->rlimits = {{"RLIMIT_NOFILE", 1024, 1024}, {"RLIMIT_NOFILE", 10, 10}};
  EXPECT_EQ(Invalid(s), "process.rlimits[1].type: RLIMIT_NOFILE is given twice");
  s.process->rlimits = {{"RLIMIT_NPROC", 10, 20}};
  EXPECT_EQ(Invalid(s), "process.rlimits[0]: soft limit 20 exceeds hard limit 10");
}

TEST(OciValidate, Capabilities) {
  Spec s = Valid();
  s.process->capabilities = Capabilities{};
  s.process->capabilities->bounding = {"CAP_KILL", "CAP_BPF"};
  s.process->capabilities->ambient = {"NET_ADMIN"};
  EXPECT_EQ(Invalid(s),
            "process.capabilities.ambient[0]: \"NET_ADMIN\" is not a capability "
            "name (CAP_*)");
  s.process->capabilities->ambient = {"CAP_net_admin"};
  EXPECT_EQ(Invalid(s).rfind("process.capabilities.ambient[0]:", 0), 0u);
  s.process->capabilities->ambient = {"CAP_"};
  EXPECT_EQ(Invalid(s).rfind("process.capabilities.ambient[0]:", 0), 0u);
}

TEST(OciValidate, OomScoreAdjAndUmask) {
  Spec s = Valid();
  s.process->oom_score_adj = 1001;
  EXPECT_EQ(Invalid(s), "process.oomScoreAdj: 1001 is outside [-1000, 1000]");
  s.process->oom_score_adj = -1000;
  s.process->user.umask = 01000;
  EXPECT_EQ(Invalid(s), "process.user.umask: 01000 is not a file mode mask");
}

TEST(OciValidate, MountDestinations) {
  Spec s = Valid();
  s.mounts.push_back(Mount{"dev", "tmpfs", "tmpfs"});
  EXPECT_EQ(Invalid(s), "(valid)");  // deprecated, relative to "/" (config.md)
  s.mounts[1].destination = "";
  EXPECT_EQ(Invalid(s), "mounts[1].destination: required field is missing");
}

TEST(OciValidate, IdmappedMounts) {
  Spec s = Valid();
  s.mounts[0].uid_mappings = {{0, 1000, 1}};
  EXPECT_EQ(Invalid(s), "mounts[0]: an idmapped mount needs both uidMappings and gidMappings");
  s.mounts[0].gid_mappings = {{0, 1000, 0}};
  EXPECT_EQ(Invalid(s), "mounts[0].gidMappings[0].size: must be greater than zero");
  s.mounts[0].gid_mappings[0].size = 1;
  EXPECT_EQ(Invalid(s), "(valid)");
}

TEST(OciValidate, Namespaces) {
  Spec s = Valid();
  s.linux->namespaces.push_back(Namespace{"foo", ""});
  EXPECT_EQ(Invalid(s), "linux.namespaces[5].type: unknown namespace type \"foo\"");
  s.linux->namespaces.back() = Namespace{"pid", ""};
  EXPECT_EQ(Invalid(s), "linux.namespaces[5].type: namespace type \"pid\" is given twice");
  s.linux->namespaces.back() = Namespace{"cgroup", "proc/1/ns/cgroup"};
  EXPECT_EQ(Invalid(s),
            "linux.namespaces[5].path: must be an absolute path, got \"proc/1/ns/cgroup\"");
  s.linux->namespaces.back() = Namespace{"time", ""};
  s.linux->namespaces.push_back(Namespace{"user", ""});
  s.linux->namespaces.push_back(Namespace{"cgroup", "/proc/1/ns/cgroup"});
  EXPECT_EQ(Invalid(s), "(valid)");
}

TEST(OciValidate, IdMappingsNeedNewUserNamespace) {
  Spec s = Valid();
  s.linux->uid_mappings = {{0, 1000, 1}};
  EXPECT_EQ(Invalid(s),
            "linux.uidMappings: requires a new user namespace (a linux.namespaces "
            "entry of type \"user\" without path)");
  s.linux->namespaces.push_back(Namespace{"user", "/proc/42/ns/user"});
  EXPECT_EQ(Invalid(s).rfind("linux.uidMappings: requires a new user namespace", 0), 0u);
  s.linux->namespaces.back().path = "";
  EXPECT_EQ(Invalid(s), "(valid)");
  s.linux->gid_mappings = {{0, 1000, 0}};
  EXPECT_EQ(Invalid(s), "linux.gidMappings[0].size: must be greater than zero");
  s.linux->namespaces.pop_back();
  s.linux->uid_mappings.clear();
  EXPECT_EQ(Invalid(s).rfind("linux.gidMappings: requires a new user namespace", 0), 0u);
}

TEST(OciValidate, HostnameNeedsUtsNamespace) {
  Spec s = Valid();
  s.linux->namespaces.erase(s.linux->namespaces.begin() + 2);  // uts
  EXPECT_EQ(Invalid(s), "hostname: requires a uts namespace (linux.namespaces)");
  // A joined one is accepted, as by runc and crun (runtime-tools linux_ns_path).
  s.linux->namespaces.push_back(Namespace{"uts", "/proc/1/ns/uts"});
  EXPECT_EQ(Invalid(s), "(valid)");
  s.linux->namespaces.pop_back();
  s.hostname = "";
  EXPECT_EQ(Invalid(s), "(valid)");
  s.domainname = "example.org";
  EXPECT_EQ(Invalid(s).rfind("domainname: requires a uts namespace", 0), 0u);
  s.linux.reset();
  EXPECT_EQ(Invalid(s).rfind("domainname: requires a uts namespace", 0), 0u);
}

TEST(OciValidate, TimeOffsetsNeedTimeNamespace) {
  Spec s = Valid();
  s.linux->time_offsets["monotonic"] = TimeOffset{10, 0};
  EXPECT_EQ(Invalid(s), "linux.timeOffsets: requires a new time namespace");
  s.linux->namespaces.push_back(Namespace{"time", ""});
  EXPECT_EQ(Invalid(s), "(valid)");
  s.linux->time_offsets["realtime"] = TimeOffset{1, 0};
  EXPECT_EQ(Invalid(s),
            "linux.timeOffsets.realtime: unknown clock (expected monotonic or boottime)");
  s.linux->time_offsets.erase("realtime");
  s.linux->time_offsets["boottime"] = TimeOffset{1, 1000000000};
  EXPECT_EQ(Invalid(s), "linux.timeOffsets.boottime.nanosecs: 1000000000 is not below one second");
}

TEST(OciValidate, SysctlKeys) {
  Spec s = Valid();
  for (const char* bad : {"", "net..ipv4", "../../etc/passwd", "net/../kernel", ".net", "net.",
                          "net ipv4", "net/ipv4/", "/net/ipv4"}) {
    s.linux->sysctl = {{bad, "1"}};
    EXPECT_EQ(Invalid(s), "linux.sysctl: invalid key \"" + std::string(bad) + "\"") << bad;
  }
  s.linux->sysctl = {{"net.ipv4.ip_forward", "1"},
                     {"net/ipv4/conf/eth0.100/forwarding", "1"},
                     {"kernel.shmmax", "1"},
                     {"fs.mqueue.msg_max", "10"},
                     {"kernel.domainname", "x"}};
  EXPECT_EQ(Invalid(s), "(valid)");
}

TEST(OciValidate, SysctlsMustBeNamespaced) {
  Spec s = Valid();
  s.linux->sysctl = {{"vm.overcommit_memory", "1"}};
  EXPECT_EQ(Invalid(s), "linux.sysctl.vm.overcommit_memory: is not in a separate kernel namespace");
  s.linux->sysctl = {{"kernel.hostname", "x"}};
  EXPECT_EQ(Invalid(s), "linux.sysctl.kernel.hostname: conflicts with the hostname field; use it");
  s.linux->namespaces = {{"pid", ""}, {"mount", ""}, {"uts", ""}};
  s.linux->sysctl = {{"net.core.somaxconn", "1024"}};
  EXPECT_EQ(Invalid(s), "linux.sysctl.net.core.somaxconn: needs a network namespace");
  s.linux->sysctl = {{"kernel.sem", "1 2 3 4"}};
  EXPECT_EQ(Invalid(s), "linux.sysctl.kernel.sem: needs an ipc namespace");
}

TEST(OciValidate, Devices) {
  Spec s = Valid();
  s.linux->devices = {Device{"c", "/dev/fuse", 10, 229}, Device{"x", "/dev/foo"}};
  EXPECT_EQ(Invalid(s), "linux.devices[1].type: unknown device type \"x\" (expected c, b, u or p)");
  s.linux->devices[1] = Device{"b", "dev/sda", 8, 0};
  EXPECT_EQ(Invalid(s), "linux.devices[1].path: must be an absolute path, got \"dev/sda\"");
  s.linux->devices[1] = Device{"p", "/dev/fifo"};
  s.linux->devices[1].file_mode = 010666;
  EXPECT_EQ(Invalid(s), "linux.devices[1].fileMode: 010666 has bits beyond 07777");
}

TEST(OciValidate, DeviceRules) {
  Spec s = Valid();
  s.linux->resources.emplace();
  s.linux->resources->devices = {DeviceRule{false, "", {}, {}, "rwm"},
                                 DeviceRule{true, "c", 1, 3, "rwx"}};
  EXPECT_EQ(Invalid(s),
            "linux.resources.devices[1].access: \"rwx\" has letters other than r, w and m");
  s.linux->resources->devices[1] = DeviceRule{true, "p", 1, 3, "r"};
  EXPECT_EQ(Invalid(s),
            "linux.resources.devices[1].type: unknown device type \"p\" (expected a, c or b)");
}

TEST(OciValidate, PathListsAndPropagation) {
  Spec s = Valid();
  s.linux->masked_paths = {"/proc/kcore", "proc/keys"};
  EXPECT_EQ(Invalid(s), "linux.maskedPaths[1]: must be an absolute path, got \"proc/keys\"");
  s.linux->masked_paths.clear();
  s.linux->readonly_paths = {"sys"};
  EXPECT_EQ(Invalid(s), "linux.readonlyPaths[0]: must be an absolute path, got \"sys\"");
  s.linux->readonly_paths.clear();
  s.linux->rootfs_propagation = "rshared";
  EXPECT_EQ(Invalid(s), "(valid)");
  s.linux->rootfs_propagation = "sharde";
  EXPECT_EQ(Invalid(s), "linux.rootfsPropagation: unknown propagation \"sharde\"");
}

TEST(OciValidate, Hooks) {
  Spec s = Valid();
  s.hooks.emplace();
  s.hooks->poststart = {Hook{"/bin/true"}, Hook{"true"}};
  EXPECT_EQ(Invalid(s), "hooks.poststart[1].path: must be an absolute path, got \"true\"");
  s.hooks->poststart.clear();
  s.hooks->create_runtime = {Hook{"/bin/true", {}, {}, 0}};
  EXPECT_EQ(Invalid(s), "hooks.createRuntime[0].timeout: must be greater than zero, got 0");
  s.hooks->create_runtime[0].timeout = 3;
  EXPECT_EQ(Invalid(s), "(valid)");
}

TEST(OciValidate, SeccompActions) {
  Spec s = Valid();
  s.linux->seccomp.emplace();
  EXPECT_EQ(Invalid(s), "linux.seccomp.defaultAction: required field is missing");
  s.linux->seccomp->default_action = "SCMP_ACT_DENY";
  EXPECT_EQ(Invalid(s), "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_DENY\"");
  s.linux->seccomp->default_action = "SCMP_ACT_NOTIFY";
  EXPECT_EQ(Invalid(s), "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY can't be the default action");
  s.linux->seccomp->default_action = "SCMP_ACT_ALLOW";
  s.linux->seccomp->default_errno_ret = 1;
  EXPECT_EQ(Invalid(s),
            "linux.seccomp.defaultErrnoRet: is only allowed with SCMP_ACT_ERRNO or "
            "SCMP_ACT_TRACE, not SCMP_ACT_ALLOW");
  s.linux->seccomp->default_action = "SCMP_ACT_ERRNO";
  s.linux->seccomp->syscalls = {SeccompSyscall{{"read"}, "SCMP_ACT_ALLOW"},
                                SeccompSyscall{{"mount"}, "SCMP_ACT_KILL_EVERYTHING"}};
  EXPECT_EQ(Invalid(s),
            "linux.seccomp.syscalls[1].action: unknown seccomp action "
            "\"SCMP_ACT_KILL_EVERYTHING\"");
  s.linux->seccomp->syscalls[1] = SeccompSyscall{{"mount"}, "SCMP_ACT_KILL", 1};
  EXPECT_EQ(Invalid(s).rfind("linux.seccomp.syscalls[1].errnoRet: is only allowed", 0), 0u);
  s.linux->seccomp->syscalls[1] = SeccompSyscall{{}, "SCMP_ACT_KILL"};
  EXPECT_EQ(Invalid(s), "linux.seccomp.syscalls[1].names: must not be empty");
  for (const char* a :
       {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG"}) {
    s.linux->seccomp->syscalls[1] = SeccompSyscall{{"mount"}, a};
    EXPECT_EQ(Invalid(s), "(valid)") << a;
  }
}

TEST(OciValidate, SeccompArgsArchesAndNotify) {
  Spec s = Valid();
  s.linux->seccomp.emplace();
  s.linux->seccomp->default_action = "SCMP_ACT_ALLOW";
  SeccompSyscall call{{"personality"}, "SCMP_ACT_ERRNO", 1, {SeccompArg{0, 8, 0, "SCMP_CMP_EQ"}}};
  s.linux->seccomp->syscalls = {call};
  EXPECT_EQ(Invalid(s), "(valid)");
  s.linux->seccomp->syscalls[0].args[0].op = "SCMP_CMP_EQUALS";
  EXPECT_EQ(Invalid(s),
            "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_EQUALS\"");
  s.linux->seccomp->syscalls[0].args[0] = SeccompArg{6, 8, 0, "SCMP_CMP_EQ"};
  EXPECT_EQ(Invalid(s), "linux.seccomp.syscalls[0].args[0].index: 6 is not below 6");
  s.linux->seccomp->syscalls = {SeccompSyscall{{"mount"}, "SCMP_ACT_NOTIFY"}};
  EXPECT_EQ(Invalid(s), "linux.seccomp.listenerPath: required when a syscall uses SCMP_ACT_NOTIFY");
  s.linux->seccomp->listener_path = "agent.sock";
  EXPECT_EQ(Invalid(s), "linux.seccomp.listenerPath: must be an absolute path, got \"agent.sock\"");
  s.linux->seccomp->listener_path = "/run/agent.sock";
  EXPECT_EQ(Invalid(s), "(valid)");
  s.linux->seccomp->architectures = {"SCMP_ARCH_X86_64", "x86"};
  EXPECT_EQ(Invalid(s), "linux.seccomp.architectures[1]: \"x86\" is not an SCMP_ARCH_* name");
}

TEST(OciValidate, Personality) {
  Spec s = Valid();
  s.linux->personality = Personality{"LINUX32", {}};
  EXPECT_EQ(Invalid(s), "(valid)");
  s.linux->personality->domain = "BSD";
  EXPECT_EQ(Invalid(s),
            "linux.personality.domain: unknown domain \"BSD\" (expected LINUX or LINUX32)");
}

TEST(OciValidate, ParsedFullConfigIsValid) {
  auto r = ParseSpec(R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}})");
  ASSERT_TRUE(r.ok()) << r.error().Message();
  Status st = ValidateSpec(*r);
  EXPECT_TRUE(st.ok()) << st.error().Message();
}

}  // namespace
}  // namespace skiff::oci
