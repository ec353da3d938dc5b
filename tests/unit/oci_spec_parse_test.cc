#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>

#include "oci/spec.h"

namespace skiff::oci {
namespace {

// Every field of spec.h, with values unlike the defaults, so that a field the parser skips
// shows up as a failed expectation.
constexpr const char* kFullConfig = R"json({
  "ociVersion": "1.2.0",
  "process": {
    "terminal": true,
    "consoleSize": {"height": 25, "width": 80},
    "user": {"uid": 1000, "gid": 1001, "umask": 18, "additionalGids": [5, 6]},
    "args": ["/bin/sh", "-c", "echo hi"],
    "commandLine": "sh.exe",
    "env": ["PATH=/usr/bin:/bin", "TERM=xterm"],
    "cwd": "/work",
    "capabilities": {
      "bounding": ["CAP_KILL", "CAP_CHOWN"],
      "effective": ["CAP_KILL"],
      "inheritable": ["CAP_SETUID"],
      "permitted": ["CAP_KILL", "CAP_SETGID"],
      "ambient": ["CAP_NET_RAW"]
    },
    "rlimits": [
      {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024},
      {"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 0}
    ],
    "noNewPrivileges": true,
    "apparmorProfile": "skiff-default",
    "oomScoreAdj": -500,
    "selinuxLabel": "system_u:system_r:container_t:s0:c1,c2",
    "unknownProcessField": {"ignored": true}
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "box",
  "domainname": "example.org",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/data", "type": "none", "source": "/srv/data",
     "options": ["rbind", "ro"],
     "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
     "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 1000}]}
  ],
  "hooks": {
    "prestart": [{"path": "/usr/bin/prestart"}],
    "createRuntime": [{"path": "/usr/bin/netns", "args": ["netns", "up"],
                       "env": ["A=1"], "timeout": 5}],
    "createContainer": [{"path": "/usr/bin/cc"}],
    "startContainer": [{"path": "/usr/bin/sc"}],
    "poststart": [{"path": "/usr/bin/ps1"}, {"path": "/usr/bin/ps2"}],
    "poststop": [{"path": "/usr/bin/cleanup", "timeout": 30}]
  },
  "annotations": {"org.example.key": "value", "com.example.other": ""},
  "linux": {
    "namespaces": [
      {"type": "pid"}, {"type": "network", "path": "/var/run/netns/n1"}, {"type": "mount"},
      {"type": "ipc"}, {"type": "uts"}, {"type": "user"}, {"type": "cgroup"}, {"type": "time"}
    ],
    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1},
                    {"containerID": 1, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 1001, "size": 1}],
    "timeOffsets": {"monotonic": {"secs": -3600, "nanosecs": 500},
                    "boottime": {"secs": 86400}},
    "devices": [
      {"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 438,
       "uid": 0, "gid": 0},
      {"type": "p", "path": "/dev/fifo"}
    ],
    "cgroupsPath": "/skiff/c1",
    "resources": {
      "devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}
      ],
      "memory": {"limit": 536870912, "reservation": 268435456, "swap": -1, "kernel": 1024,
                 "kernelTCP": 2048, "swappiness": 60, "disableOOMKiller": true,
                 "useHierarchy": false, "checkBeforeUpdate": true},
      "cpu": {"shares": 1024, "quota": 50000, "burst": 10000, "period": 100000,
              "realtimeRuntime": 950000, "realtimePeriod": 1000000, "cpus": "0-1",
              "mems": "0", "idle": 1},
      "pids": {"limit": -1},
      "blockIO": {
        "weight": 500, "leafWeight": 300,
        "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 100},
                         {"major": 8, "minor": 16}],
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
        "throttleWriteBpsDevice": [{"major": 8, "minor": 1, "rate": 2097152}],
        "throttleReadIOPSDevice": [{"major": 8, "minor": 2, "rate": 100}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 3, "rate": 200}]
      },
      "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
      "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
      "unified": {"memory.high": "max", "io.weight": "default 100"},
      "rdma": {"mlx5_1": {"hcaHandles": 3}}
    },
    "rootfsPropagation": "rslave",
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
      "flags": ["SECCOMP_FILTER_FLAG_LOG"],
      "listenerPath": "/run/seccomp.sock",
      "listenerMetadata": "meta",
      "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
         "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"},
                  {"index": 1, "value": 255, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["mount"], "action": "SCMP_ACT_NOTIFY"}
      ]
    },
    "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "4096"},
    "maskedPaths": ["/proc/kcore", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys"],
    "mountLabel": "system_u:object_r:container_file_t:s0",
    "personality": {"domain": "LINUX32", "flags": ["UNAME26"]},
    "intelRdt": {"closID": "ignored"}
  },
  "solaris": {"ignored": true}
})json";

TEST(OciParse, FullConfigProcess) {
  auto r = ParseSpec(kFullConfig);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  const Spec& s = *r;
  EXPECT_EQ(s.oci_version, "1.2.0");
  ASSERT_TRUE(s.process);
  const Process& p = *s.process;
  EXPECT_TRUE(p.terminal);
  ASSERT_TRUE(p.console_size);
  EXPECT_EQ(p.console_size->height, 25u);
  EXPECT_EQ(p.console_size->width, 80u);
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.gid, 1001u);
  EXPECT_EQ(p.user.umask, 18u);
  EXPECT_EQ(p.user.additional_gids, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(p.args, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(p.command_line, "sh.exe");
  EXPECT_EQ(p.env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "TERM=xterm"}));
  EXPECT_EQ(p.cwd, "/work");
  ASSERT_TRUE(p.capabilities);
  EXPECT_EQ(p.capabilities->bounding, (std::vector<std::string>{"CAP_KILL", "CAP_CHOWN"}));
  EXPECT_EQ(p.capabilities->effective, (std::vector<std::string>{"CAP_KILL"}));
  EXPECT_EQ(p.capabilities->inheritable, (std::vector<std::string>{"CAP_SETUID"}));
  EXPECT_EQ(p.capabilities->permitted, (std::vector<std::string>{"CAP_KILL", "CAP_SETGID"}));
  EXPECT_EQ(p.capabilities->ambient, (std::vector<std::string>{"CAP_NET_RAW"}));
  ASSERT_EQ(p.rlimits.size(), 2u);
  EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(p.rlimits[0].hard, 4096u);
  EXPECT_EQ(p.rlimits[0].soft, 1024u);
  EXPECT_EQ(p.rlimits[1].hard, UINT64_MAX);
  EXPECT_EQ(p.rlimits[1].soft, 0u);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(p.apparmor_profile, "skiff-default");
  EXPECT_EQ(p.oom_score_adj, -500);
  EXPECT_EQ(p.selinux_label, "system_u:system_r:container_t:s0:c1,c2");
}

TEST(OciParse, FullConfigRootMountsHooksAnnotations) {
  auto r = ParseSpec(kFullConfig);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  const Spec& s = *r;
  ASSERT_TRUE(s.root);
  EXPECT_EQ(s.root->path, "rootfs");
  EXPECT_TRUE(s.root->readonly);
  EXPECT_EQ(s.hostname, "box");
  EXPECT_EQ(s.domainname, "example.org");

  ASSERT_EQ(s.mounts.size(), 2u);
  EXPECT_EQ(s.mounts[0].destination, "/proc");
  EXPECT_EQ(s.mounts[0].type, "proc");
  EXPECT_EQ(s.mounts[0].source, "proc");
  EXPECT_TRUE(s.mounts[0].options.empty());
  const Mount& m = s.mounts[1];
  EXPECT_EQ(m.options, (std::vector<std::string>{"rbind", "ro"}));
  ASSERT_EQ(m.uid_mappings.size(), 1u);
  EXPECT_EQ(m.uid_mappings[0].container_id, 0u);
  EXPECT_EQ(m.uid_mappings[0].host_id, 100000u);
  EXPECT_EQ(m.uid_mappings[0].size, 65536u);
  ASSERT_EQ(m.gid_mappings.size(), 1u);
  EXPECT_EQ(m.gid_mappings[0].host_id, 200000u);
  EXPECT_EQ(m.gid_mappings[0].size, 1000u);

  ASSERT_TRUE(s.hooks);
  const Hooks& h = *s.hooks;
  ASSERT_EQ(h.prestart.size(), 1u);
  EXPECT_EQ(h.prestart[0].path, "/usr/bin/prestart");
  EXPECT_FALSE(h.prestart[0].timeout);
  ASSERT_EQ(h.create_runtime.size(), 1u);
  EXPECT_EQ(h.create_runtime[0].path, "/usr/bin/netns");
  EXPECT_EQ(h.create_runtime[0].args, (std::vector<std::string>{"netns", "up"}));
  EXPECT_EQ(h.create_runtime[0].env, (std::vector<std::string>{"A=1"}));
  EXPECT_EQ(h.create_runtime[0].timeout, 5);
  ASSERT_EQ(h.create_container.size(), 1u);
  EXPECT_EQ(h.create_container[0].path, "/usr/bin/cc");
  ASSERT_EQ(h.start_container.size(), 1u);
  EXPECT_EQ(h.start_container[0].path, "/usr/bin/sc");
  ASSERT_EQ(h.poststart.size(), 2u);
  EXPECT_EQ(h.poststart[1].path, "/usr/bin/ps2");
  ASSERT_EQ(h.poststop.size(), 1u);
  EXPECT_EQ(h.poststop[0].timeout, 30);

  EXPECT_EQ(s.annotations.size(), 2u);
  EXPECT_EQ(s.annotations.at("org.example.key"), "value");
  EXPECT_EQ(s.annotations.at("com.example.other"), "");
}

TEST(OciParse, FullConfigLinux) {
  auto r = ParseSpec(kFullConfig);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  ASSERT_TRUE(r->linux);
  const Linux& l = *r->linux;
  ASSERT_EQ(l.namespaces.size(), 8u);
  EXPECT_EQ(l.namespaces[0].type, "pid");
  EXPECT_EQ(l.namespaces[0].path, "");
  EXPECT_EQ(l.namespaces[1].type, "network");
  EXPECT_EQ(l.namespaces[1].path, "/var/run/netns/n1");
  EXPECT_EQ(l.namespaces[7].type, "time");
  EXPECT_TRUE(r->HasNamespace("cgroup"));
  ASSERT_EQ(l.uid_mappings.size(), 2u);
  EXPECT_EQ(l.uid_mappings[1].container_id, 1u);
  EXPECT_EQ(l.uid_mappings[1].host_id, 100000u);
  EXPECT_EQ(l.uid_mappings[1].size, 65536u);
  ASSERT_EQ(l.gid_mappings.size(), 1u);
  EXPECT_EQ(l.gid_mappings[0].host_id, 1001u);
  ASSERT_EQ(l.time_offsets.size(), 2u);
  EXPECT_EQ(l.time_offsets.at("monotonic").secs, -3600);
  EXPECT_EQ(l.time_offsets.at("monotonic").nanosecs, 500u);
  EXPECT_EQ(l.time_offsets.at("boottime").secs, 86400);
  EXPECT_EQ(l.time_offsets.at("boottime").nanosecs, 0u);
  ASSERT_EQ(l.devices.size(), 2u);
  EXPECT_EQ(l.devices[0].type, "c");
  EXPECT_EQ(l.devices[0].path, "/dev/fuse");
  EXPECT_EQ(l.devices[0].major, 10);
  EXPECT_EQ(l.devices[0].minor, 229);
  EXPECT_EQ(l.devices[0].file_mode, 0666u);
  EXPECT_EQ(l.devices[0].uid, 0u);
  EXPECT_EQ(l.devices[0].gid, 0u);
  EXPECT_EQ(l.devices[1].type, "p");
  EXPECT_FALSE(l.devices[1].file_mode);
  EXPECT_FALSE(l.devices[1].uid);
  EXPECT_EQ(l.cgroups_path, "/skiff/c1");
  EXPECT_TRUE(l.resources);  // checked field by field in OciParse.Resources*
  EXPECT_EQ(l.rootfs_propagation, "rslave");
  EXPECT_EQ(l.sysctl.at("net.ipv4.ip_forward"), "1");
  EXPECT_EQ(l.sysctl.at("kernel.shmmax"), "4096");
  EXPECT_EQ(l.masked_paths, (std::vector<std::string>{"/proc/kcore", "/sys/firmware"}));
  EXPECT_EQ(l.readonly_paths, (std::vector<std::string>{"/proc/sys"}));
  EXPECT_EQ(l.mount_label, "system_u:object_r:container_file_t:s0");
  ASSERT_TRUE(l.personality);
  EXPECT_EQ(l.personality->domain, "LINUX32");
  EXPECT_EQ(l.personality->flags, (std::vector<std::string>{"UNAME26"}));
}

TEST(OciParse, FullConfigSeccomp) {
  auto r = ParseSpec(kFullConfig);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  ASSERT_TRUE(r->linux && r->linux->seccomp);
  const Seccomp& sc = *r->linux->seccomp;
  EXPECT_EQ(sc.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(sc.default_errno_ret, 1u);
  EXPECT_EQ(sc.architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}));
  EXPECT_EQ(sc.flags, (std::vector<std::string>{"SECCOMP_FILTER_FLAG_LOG"}));
  EXPECT_EQ(sc.listener_path, "/run/seccomp.sock");
  EXPECT_EQ(sc.listener_metadata, "meta");
  ASSERT_EQ(sc.syscalls.size(), 3u);
  EXPECT_EQ(sc.syscalls[0].names, (std::vector<std::string>{"read", "write"}));
  EXPECT_EQ(sc.syscalls[0].action, "SCMP_ACT_ALLOW");
  EXPECT_FALSE(sc.syscalls[0].errno_ret);
  EXPECT_TRUE(sc.syscalls[0].args.empty());
  const SeccompSyscall& pers = sc.syscalls[1];
  EXPECT_EQ(pers.errno_ret, 38u);
  ASSERT_EQ(pers.args.size(), 2u);
  EXPECT_EQ(pers.args[0].index, 0u);
  EXPECT_EQ(pers.args[0].value, 8u);
  EXPECT_EQ(pers.args[0].op, "SCMP_CMP_EQ");
  EXPECT_EQ(pers.args[1].index, 1u);
  EXPECT_EQ(pers.args[1].value, 255u);
  EXPECT_EQ(pers.args[1].value_two, 4u);
  EXPECT_EQ(pers.args[1].op, "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(sc.syscalls[2].action, "SCMP_ACT_NOTIFY");
}

void ExpectFullResources(const Resources& res) {
  ASSERT_EQ(res.devices.size(), 2u);
  EXPECT_FALSE(res.devices[0].allow);
  EXPECT_EQ(res.devices[0].type, "");
  EXPECT_FALSE(res.devices[0].major);  // wildcard
  EXPECT_FALSE(res.devices[0].minor);
  EXPECT_EQ(res.devices[0].access, "rwm");
  EXPECT_TRUE(res.devices[1].allow);
  EXPECT_EQ(res.devices[1].type, "c");
  EXPECT_EQ(res.devices[1].major, 10);
  EXPECT_EQ(res.devices[1].minor, 229);
  ASSERT_TRUE(res.memory);
  EXPECT_EQ(res.memory->limit, 536870912);
  EXPECT_EQ(res.memory->reservation, 268435456);
  EXPECT_EQ(res.memory->swap, -1);
  EXPECT_EQ(res.memory->kernel, 1024);
  EXPECT_EQ(res.memory->kernel_tcp, 2048);
  EXPECT_EQ(res.memory->swappiness, 60u);
  EXPECT_EQ(res.memory->disable_oom_killer, true);
  EXPECT_EQ(res.memory->use_hierarchy, false);
  EXPECT_EQ(res.memory->check_before_update, true);
  ASSERT_TRUE(res.cpu);
  EXPECT_EQ(res.cpu->shares, 1024u);
  EXPECT_EQ(res.cpu->quota, 50000);
  EXPECT_EQ(res.cpu->burst, 10000u);
  EXPECT_EQ(res.cpu->period, 100000u);
  EXPECT_EQ(res.cpu->realtime_runtime, 950000);
  EXPECT_EQ(res.cpu->realtime_period, 1000000u);
  EXPECT_EQ(res.cpu->cpus, "0-1");
  EXPECT_EQ(res.cpu->mems, "0");
  EXPECT_EQ(res.cpu->idle, 1);
  ASSERT_TRUE(res.pids);
  EXPECT_EQ(res.pids->limit, -1);
  ASSERT_TRUE(res.block_io);
  const BlockIO& b = *res.block_io;
  EXPECT_EQ(b.weight, 500);
  EXPECT_EQ(b.leaf_weight, 300);
  ASSERT_EQ(b.weight_device.size(), 2u);
  EXPECT_EQ(b.weight_device[0].major, 8);
  EXPECT_EQ(b.weight_device[0].weight, 600);
  EXPECT_EQ(b.weight_device[0].leaf_weight, 100);
  EXPECT_EQ(b.weight_device[1].minor, 16);
  EXPECT_FALSE(b.weight_device[1].weight);
  ASSERT_EQ(b.throttle_read_bps_device.size(), 1u);
  EXPECT_EQ(b.throttle_read_bps_device[0].rate, 1048576u);
  ASSERT_EQ(b.throttle_write_bps_device.size(), 1u);
  EXPECT_EQ(b.throttle_write_bps_device[0].minor, 1);
  EXPECT_EQ(b.throttle_write_bps_device[0].rate, 2097152u);
  ASSERT_EQ(b.throttle_read_iops_device.size(), 1u);
  EXPECT_EQ(b.throttle_read_iops_device[0].rate, 100u);
  ASSERT_EQ(b.throttle_write_iops_device.size(), 1u);
  EXPECT_EQ(b.throttle_write_iops_device[0].minor, 3);
  EXPECT_EQ(b.throttle_write_iops_device[0].rate, 200u);
  ASSERT_EQ(res.hugepage_limits.size(), 1u);
  EXPECT_EQ(res.hugepage_limits[0].page_size, "2MB");
  EXPECT_EQ(res.hugepage_limits[0].limit, 209715200u);
  ASSERT_TRUE(res.network);
  EXPECT_EQ(res.network->class_id, 1048577u);
  ASSERT_EQ(res.network->priorities.size(), 1u);
  EXPECT_EQ(res.network->priorities[0].first, "eth0");
  EXPECT_EQ(res.network->priorities[0].second, 500u);
  EXPECT_EQ(res.unified.size(), 2u);
  EXPECT_EQ(res.unified.at("io.weight"), "default 100");
}

TEST(OciParse, FullConfigResources) {
  auto r = ParseSpec(kFullConfig);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  ASSERT_TRUE(r->linux && r->linux->resources);
  ExpectFullResources(*r->linux->resources);
}

TEST(OciParse, MinimalConfigLeavesDefaults) {
  auto r = ParseSpec(R"({"ociVersion": "1.0.0"})");
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_FALSE(r->process);
  EXPECT_FALSE(r->root);
  EXPECT_FALSE(r->hooks);
  EXPECT_FALSE(r->linux);
  EXPECT_TRUE(r->mounts.empty());
}

TEST(OciParse, NullMeansAbsent) {
  auto r = ParseSpec(R"({"ociVersion": "1.0.0", "process": null, "mounts": null,
                         "linux": {"resources": {"memory": {"limit": null}}}})");
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_FALSE(r->process);
  ASSERT_TRUE(r->linux && r->linux->resources && r->linux->resources->memory);
  EXPECT_FALSE(r->linux->resources->memory->limit);
}

std::string ParseError(const std::string& json) {
  auto r = ParseSpec(json);
  if (r.ok()) return "(parsed)";
  EXPECT_EQ(r.error().code, 0);
  return r.error().Message();
}

TEST(OciParse, ErrorsNameTheField) {
  EXPECT_EQ(ParseError(R"({"ociVersion": 1})"), "ociVersion: expected a string");
  EXPECT_EQ(ParseError(R"({"process": {"user": {"uid": -1}}})"),
            "process.user.uid: expected an unsigned integer");
  EXPECT_EQ(ParseError(R"({"process": {"user": {"uid": "0"}}})"),
            "process.user.uid: expected an unsigned integer");
  EXPECT_EQ(ParseError(R"({"process": {"user": {"gid": 1.5}}})"),
            "process.user.gid: expected an unsigned integer");
  EXPECT_EQ(ParseError(R"({"linux": {"resources": {"memory": {"limit": "1G"}}}})"),
            "linux.resources.memory.limit: expected an integer");
  EXPECT_EQ(ParseError(R"({"mounts": [{}, {}, {}, {"destination": 7}]})"),
            "mounts[3].destination: expected a string");
  EXPECT_EQ(ParseError(R"({"process": {"args": ["sh", 1]}})"),
            "process.args[1]: expected a string");
  EXPECT_EQ(ParseError(R"({"process": {"terminal": "yes"}})"),
            "process.terminal: expected a boolean");
  EXPECT_EQ(ParseError(R"({"process": []})"), "process: expected an object");
  EXPECT_EQ(ParseError(R"({"mounts": {}})"), "mounts: expected an array");
  EXPECT_EQ(ParseError(R"({"annotations": {"a": 1}})"), "annotations.a: expected a string");
  EXPECT_EQ(ParseError(R"({"linux": {"timeOffsets": {"monotonic": {"secs": "x"}}}})"),
            "linux.timeOffsets.monotonic.secs: expected an integer");
  EXPECT_EQ(ParseError(R"({"linux": {"seccomp": {"syscalls": [{"args": [{"index": 0}]}]}}})"),
            "linux.seccomp.syscalls[0].args[0].value: required field is missing");
  EXPECT_EQ(ParseError(R"({"linux": {"uidMappings": [{"containerID": 0, "hostID": 1}]}})"),
            "linux.uidMappings[0].size: required field is missing");
  EXPECT_EQ(ParseError(R"({"process": {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1}]}})"),
            "process.rlimits[0].hard: required field is missing");
  EXPECT_EQ(ParseError(R"({"linux": {"resources": {"devices": [{"access": "rwm"}]}}})"),
            "linux.resources.devices[0].allow: required field is missing");
  EXPECT_EQ(ParseError(R"({"hooks": {"poststop": [{"path": "/x", "timeout": "5"}]}})"),
            "hooks.poststop[0].timeout: expected an integer");
  EXPECT_EQ(
      ParseError(R"({"linux": {"resources": {"network": {"priorities": [{"name": "lo"}]}}}})"),
      "linux.resources.network.priorities[0].priority: required field is missing");
  EXPECT_EQ(ParseError("[]"), "top level: expected an object");
}

TEST(OciParse, RangeErrors) {
  EXPECT_EQ(ParseError(R"({"process": {"user": {"uid": 4294967296}}})"),
            "process.user.uid: 4294967296 is out of range (at most 4294967295)");
  EXPECT_EQ(ParseError(R"({"linux": {"resources": {"blockIO": {"weight": 70000}}}})"),
            "linux.resources.blockIO.weight: 70000 is out of range (at most 65535)");
  EXPECT_EQ(ParseError(R"({"linux": {"resources": {"pids": {"limit": 9223372036854775808}}}})"),
            "linux.resources.pids.limit: 9223372036854775808 is out of range");
  EXPECT_EQ(ParseError(R"({"process": {"oomScoreAdj": 3000000000}})"),
            "process.oomScoreAdj: 3000000000 is out of range");
}

TEST(OciParse, InvalidJsonSaysWhere) {
  std::string msg = ParseError("{\"ociVersion\": \"1.0\",\n  oops}");
  EXPECT_EQ(msg.rfind("invalid JSON: parse error at line 2, column", 0), 0u) << msg;
  EXPECT_EQ(msg.find("[json.exception"), std::string::npos) << msg;
  EXPECT_EQ(ParseError("").rfind("invalid JSON:", 0), 0u);
}

TEST(OciParse, LoadSpecReadsAFile) {
  char dir[] = "/tmp/skiff-oci-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/config.json";
  std::ofstream(path) << kFullConfig;
  auto r = LoadSpec(path);
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_EQ(r->hostname, "box");

  std::ofstream(path) << R"({"ociVersion": true})";
  auto bad = LoadSpec(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().Message(), path + ": ociVersion: expected a string");

  auto missing = LoadSpec(std::string(dir) + "/nope.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT);
  unlink(path.c_str());
  rmdir(dir);
}

TEST(OciParse, ResourcesAlone) {
  // The same object, read through the `update --resources` entry point.
  auto r = ParseResources(R"({
    "devices": [{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}],
    "memory": {"limit": 536870912, "reservation": 268435456, "swap": -1, "kernel": 1024,
               "kernelTCP": 2048, "swappiness": 60, "disableOOMKiller": true,
               "useHierarchy": false, "checkBeforeUpdate": true},
    "cpu": {"shares": 1024, "quota": 50000, "burst": 10000, "period": 100000,
            "realtimeRuntime": 950000, "realtimePeriod": 1000000, "cpus": "0-1", "mems": "0",
            "idle": 1},
    "pids": {"limit": -1},
    "blockIO": {"weight": 500, "leafWeight": 300,
      "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 100},
                       {"major": 8, "minor": 16}],
      "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
      "throttleWriteBpsDevice": [{"major": 8, "minor": 1, "rate": 2097152}],
      "throttleReadIOPSDevice": [{"major": 8, "minor": 2, "rate": 100}],
      "throttleWriteIOPSDevice": [{"major": 8, "minor": 3, "rate": 200}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
    "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
    "unified": {"memory.high": "max", "io.weight": "default 100"}
  })");
  ASSERT_TRUE(r.ok()) << r.error().Message();
  ExpectFullResources(*r);
}

TEST(OciParse, ResourcesAloneErrorsAreRelative) {
  auto r = ParseResources(R"({"memory": {"swap": "lots"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().Message(), "memory.swap: expected an integer");
  auto partial = ParseResources(R"({"cpu": {"quota": -1}})");
  ASSERT_TRUE(partial.ok()) << partial.error().Message();
  EXPECT_FALSE(partial->memory);
  EXPECT_EQ(partial->cpu->quota, -1);
  EXPECT_FALSE(partial->cpu->shares);
  auto shares = ParseResources(R"({"cpu": {"shares": -2}})");
  ASSERT_FALSE(shares.ok());
  EXPECT_EQ(shares.error().Message(), "cpu.shares: expected an unsigned integer");
}

TEST(OciParse, ProcessAlone) {
  auto r = ParseProcess(R"({"terminal": false, "user": {"uid": 5, "additionalGids": [7]},
                            "args": ["ls", "-l"], "env": ["A=b"], "cwd": "/tmp",
                            "capabilities": {"bounding": ["CAP_KILL"]},
                            "rlimits": [{"type": "RLIMIT_NPROC", "hard": 10, "soft": 5}],
                            "noNewPrivileges": true, "oomScoreAdj": 10})");
  ASSERT_TRUE(r.ok()) << r.error().Message();
  EXPECT_FALSE(r->terminal);
  EXPECT_FALSE(r->console_size);
  EXPECT_EQ(r->user.uid, 5u);
  EXPECT_EQ(r->user.gid, 0u);
  EXPECT_FALSE(r->user.umask);
  EXPECT_EQ(r->user.additional_gids, (std::vector<uint32_t>{7}));
  EXPECT_EQ(r->args, (std::vector<std::string>{"ls", "-l"}));
  EXPECT_EQ(r->cwd, "/tmp");
  ASSERT_TRUE(r->capabilities);
  EXPECT_EQ(r->capabilities->bounding, (std::vector<std::string>{"CAP_KILL"}));
  EXPECT_TRUE(r->capabilities->effective.empty());
  ASSERT_EQ(r->rlimits.size(), 1u);
  EXPECT_EQ(r->rlimits[0].soft, 5u);
  EXPECT_TRUE(r->no_new_privileges);
  EXPECT_EQ(r->oom_score_adj, 10);

  auto bad = ParseProcess(R"({"consoleSize": {"height": 1, "width": -1}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().Message(), "consoleSize.width: expected an unsigned integer");
}

}  // namespace
}  // namespace skiff::oci
