#include "common/device_rules.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "common/file.h"

namespace tandem {

const std::vector<DeviceRule>& defaultDeviceRules() {
  static const std::vector<DeviceRule> rules{
      {'c', -1, -1, "m"}, {'b', -1, -1, "m"}, {'c', 1, 3, "rwm"},    {'c', 1, 5, "rwm"},
      {'c', 1, 7, "rwm"}, {'c', 1, 8, "rwm"}, {'c', 1, 9, "rwm"},    {'c', 5, 0, "rwm"},
      {'c', 5, 1, "rwm"}, {'c', 5, 2, "rwm"}, {'c', 136, -1, "rwm"}, {'c', 10, 200, "rwm"},
  };
  return rules;
}

std::string toV1Rule(const DeviceRule& rule) {
  auto number = [](int n) { return n < 0 ? std::string("*") : std::to_string(n); };
  return std::string(1, rule.type) + " " + number(rule.major) + ":" + number(rule.minor) + " " +
         rule.access;
}

namespace {

constexpr bpf_insn load32(int dst, int src, short offset) {
  return {BPF_LDX | BPF_W | BPF_MEM, static_cast<__u8>(dst), static_cast<__u8>(src), offset, 0};
}
constexpr bpf_insn move64(int dst, int src) {
  return {BPF_ALU64 | BPF_MOV | BPF_X, static_cast<__u8>(dst), static_cast<__u8>(src), 0, 0};
}
constexpr bpf_insn andImm(int dst, int imm) {
  return {BPF_ALU64 | BPF_AND | BPF_K, static_cast<__u8>(dst), 0, 0, imm};
}
constexpr bpf_insn shiftRight(int dst, int imm) {
  return {BPF_ALU64 | BPF_RSH | BPF_K, static_cast<__u8>(dst), 0, 0, imm};
}
constexpr bpf_insn jumpIfNotEqual(int dst, int imm, short offset) {
  return {BPF_JMP | BPF_JNE | BPF_K, static_cast<__u8>(dst), 0, offset, imm};
}
constexpr bpf_insn moveImm(int dst, int imm) {
  return {BPF_ALU64 | BPF_MOV | BPF_K, static_cast<__u8>(dst), 0, 0, imm};
}
constexpr bpf_insn exitProgram() {
  return {BPF_JMP | BPF_EXIT, 0, 0, 0, 0};
}

int accessBits(const std::string& access) {
  int bits = 0;
  for (char c : access) {
    bits |= c == 'm'   ? BPF_DEVCG_ACC_MKNOD
            : c == 'r' ? BPF_DEVCG_ACC_READ
            : c == 'w' ? BPF_DEVCG_ACC_WRITE
                       : 0;
  }
  return bits;
}

}  // namespace

std::vector<bpf_insn> deviceFilterProgram(const std::vector<DeviceRule>& rules) {
  // struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }
  std::vector<bpf_insn> program{
      load32(BPF_REG_2, BPF_REG_1, 0), move64(BPF_REG_3, BPF_REG_2),
      andImm(BPF_REG_3, 0xffff),        // r3: device type
      shiftRight(BPF_REG_2, 16),        // r2: requested access
      load32(BPF_REG_4, BPF_REG_1, 4),  // r4: major
      load32(BPF_REG_5, BPF_REG_1, 8),  // r5: minor
  };
  for (const auto& rule : rules) {
    // Each rule is a block that falls through to the next rule on any mismatch; the jump
    // offsets count the instructions left in the block.
    std::vector<bpf_insn> block;
    block.push_back(
        jumpIfNotEqual(BPF_REG_3, rule.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0));
    block.push_back(move64(BPF_REG_0, BPF_REG_2));
    block.push_back(andImm(BPF_REG_0, ~accessBits(rule.access)));
    block.push_back(jumpIfNotEqual(BPF_REG_0, 0, 0));  // asks for more than the rule grants
    if (rule.major >= 0) block.push_back(jumpIfNotEqual(BPF_REG_4, rule.major, 0));
    if (rule.minor >= 0) block.push_back(jumpIfNotEqual(BPF_REG_5, rule.minor, 0));
    block.push_back(moveImm(BPF_REG_0, 1));
    block.push_back(exitProgram());
    for (std::size_t i = 0; i < block.size(); ++i) {
      if (block[i].code == (BPF_JMP | BPF_JNE | BPF_K)) {
        block[i].off = static_cast<short>(block.size() - i - 1);
      }
    }
    program.insert(program.end(), block.begin(), block.end());
  }
  program.push_back(moveImm(BPF_REG_0, 0));
  program.push_back(exitProgram());
  return program;
}

Status attachDeviceFilter(const std::string& cgroupDir, const std::vector<bpf_insn>& program) {
  static const char kLicense[] = "Apache-2.0";
  bpf_attr load{};
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<__u64>(program.data());
  load.insn_cnt = static_cast<__u32>(program.size());
  load.license = reinterpret_cast<__u64>(kLicense);
  UniqueFd prog(static_cast<int>(::syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load)));
  if (!prog) {
    return Error::fromErrno("cannot load the device filter for " + cgroupDir +
                            " (cgroup v2 enforces device access with BPF)");
  }
  TANDEM_ASSIGN_OR_RETURN(UniqueFd dir, openPath(cgroupDir, O_RDONLY | O_DIRECTORY));
  bpf_attr attach{};
  attach.target_fd = static_cast<__u32>(dir.get());
  attach.attach_bpf_fd = static_cast<__u32>(prog.get());
  attach.attach_type = BPF_CGROUP_DEVICE;
  if (::syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach) != 0) {
    return Error::fromErrno("cannot attach the device filter to " + cgroupDir);
  }
  return okStatus();
}

}  // namespace tandem
