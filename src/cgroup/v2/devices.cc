// Devices on cgroup v2: there is no devices controller; a BPF_PROG_TYPE_CGROUP_DEVICE
// program attached to the cgroup decides each open/mknod. The instructions are assembled by
// hand, as runc's devicefilter and crun's ebpf.c do, so skiff needs no libbpf.
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "cgroup/v2/controllers.h"

namespace skiff::cgroup::v2 {

static_assert(sizeof(BpfInsn) == sizeof(struct bpf_insn));
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "BpfInsn.regs assumes dst_reg:4 first");

namespace {

BpfInsn Insn(uint8_t code, int dst, int src, int16_t off, int32_t imm) {
  return BpfInsn{code, static_cast<uint8_t>((dst & 0xf) | ((src & 0xf) << 4)), off, imm};
}
BpfInsn LdxW(int dst, int src, int16_t off) {
  return Insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
}
BpfInsn Alu32Imm(uint8_t op, int dst, int32_t imm) {
  return Insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
BpfInsn Mov32Reg(int dst, int src) { return Insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0); }
BpfInsn Mov64Imm(int dst, int32_t imm) { return Insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
BpfInsn JneImm(int dst, int32_t imm) { return Insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, 0, imm); }
BpfInsn JneReg(int dst, int src) { return Insn(BPF_JMP | BPF_JNE | BPF_X, dst, src, 0, 0); }
BpfInsn Exit() { return Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

int32_t AccessBits(const std::string& access) {
  int32_t bits = 0;
  for (char c : access.empty() ? std::string("rwm") : access) {
    if (c == 'r') bits |= BPF_DEVCG_ACC_READ;
    if (c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
    if (c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
  }
  return bits;
}

constexpr int32_t kAllAccess = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;

// One rule: each test jumps past the block when it does not match; a full match returns.
// Returns false when the rule matches every access (nothing after it can be reached).
bool AppendRule(const oci::DeviceRule& r, std::vector<BpfInsn>* prog) {
  std::vector<BpfInsn> b;
  std::vector<size_t> jumps;
  if (r.type == "c" || r.type == "b") {
    jumps.push_back(b.size());
    b.push_back(JneImm(2, r.type == "c" ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
  }
  int32_t acc = AccessBits(r.access);
  if (acc != kAllAccess) {  // the requested bits must all be in the rule's
    b.push_back(Mov32Reg(1, 3));
    b.push_back(Alu32Imm(BPF_AND, 1, acc));
    jumps.push_back(b.size());
    b.push_back(JneReg(1, 3));
  }
  if (r.major && *r.major >= 0) {
    jumps.push_back(b.size());
    b.push_back(JneImm(4, static_cast<int32_t>(*r.major)));
  }
  if (r.minor && *r.minor >= 0) {
    jumps.push_back(b.size());
    b.push_back(JneImm(5, static_cast<int32_t>(*r.minor)));
  }
  b.push_back(Mov64Imm(0, r.allow ? 1 : 0));
  b.push_back(Exit());
  for (size_t j : jumps) b[j].off = static_cast<int16_t>(b.size() - j - 1);
  prog->insert(prog->end(), b.begin(), b.end());
  return !jumps.empty();
}

}  // namespace

std::vector<BpfInsn> BuildDeviceProgram(const std::vector<oci::DeviceRule>& rules) {
  // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }, with
  // access_type = access << 16 | type. r2 = type, r3 = access, r4 = major, r5 = minor.
  std::vector<BpfInsn> prog = {
      LdxW(2, 1, 0), Alu32Imm(BPF_AND, 2, 0xffff),
      LdxW(3, 1, 0), Alu32Imm(BPF_RSH, 3, 16),
      LdxW(4, 1, 4), LdxW(5, 1, 8),
  };
  // The last matching rule wins (v1 semantics), so the rules go in reverse: the first block
  // that matches returns. Once a rule matches everything the rest is dead code.
  bool reachable = true;
  for (auto it = rules.rbegin(); it != rules.rend() && reachable; ++it) {
    reachable = AppendRule(*it, &prog);
  }
  if (reachable) {  // nothing matched: deny
    prog.push_back(Mov64Imm(0, 0));
    prog.push_back(Exit());
  }
  return prog;
}

static long Bpf(int cmd, union bpf_attr* attr) {
  return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static Result<UniqueFd> LoadProgram(const std::vector<BpfInsn>& prog) {
  static char log[16384];
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = reinterpret_cast<uint64_t>(prog.data());
  attr.insn_cnt = static_cast<uint32_t>(prog.size());
  attr.license = reinterpret_cast<uint64_t>("Apache");
  attr.log_buf = reinterpret_cast<uint64_t>(log);
  attr.log_size = sizeof log;
  attr.log_level = 1;
  log[0] = '\0';
  UniqueFd fd(static_cast<int>(Bpf(BPF_PROG_LOAD, &attr)));
  if (!fd) {
    Error e = Errno("bpf(BPF_PROG_LOAD) of the device filter (%zu insns)", prog.size());
    // The verifier's last line says why; the log is multi-line, the message is one line.
    std::string v(log);
    while (!v.empty() && v.back() == '\n') v.pop_back();
    if (!v.empty()) e.msg += ": verifier: " + v.substr(v.find_last_of('\n') + 1);
    return e;
  }
  return fd;
}

static Result<std::vector<uint32_t>> AttachedPrograms(int cgroup_fd) {
  std::vector<uint32_t> ids(64);
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.query.target_fd = cgroup_fd;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = reinterpret_cast<uint64_t>(ids.data());
  attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
  if (Bpf(BPF_PROG_QUERY, &attr) < 0) return Errno("bpf(BPF_PROG_QUERY)");
  ids.resize(attr.query.prog_cnt);
  return ids;
}

Status SetDevices(const CgroupDir& d, const std::vector<oci::DeviceRule>& rules) {
  UniqueFd prog = TRY(LoadProgram(BuildDeviceProgram(rules)).Wrap(d.path));
  std::vector<uint32_t> old = TRY(AttachedPrograms(d.fd).Wrap(d.path));
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.target_fd = d.fd;
  attr.attach_bpf_fd = prog.get();
  attr.attach_type = BPF_CGROUP_DEVICE;
  // ALLOW_MULTI: programs of the ancestors still run, and the old one can be detached after
  // the new one is in, with no window where the cgroup has no filter.
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, &attr) < 0) return Errno("bpf(BPF_PROG_ATTACH) to %s", d.path.c_str());
  for (uint32_t id : old) {
    union bpf_attr get;
    memset(&get, 0, sizeof get);
    get.prog_id = id;
    UniqueFd old_fd(static_cast<int>(Bpf(BPF_PROG_GET_FD_BY_ID, &get)));
    if (!old_fd) continue;  // already gone
    memset(&attr, 0, sizeof attr);
    attr.target_fd = d.fd;
    attr.attach_bpf_fd = old_fd.get();
    attr.attach_type = BPF_CGROUP_DEVICE;
    if (Bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT) {
      return Errno("bpf(BPF_PROG_DETACH) of program %u from %s", id, d.path.c_str());
    }
  }
  return Ok();
}

}  // namespace skiff::cgroup::v2
