// The device allowlist as v1 rule strings and as the cgroup v2 BPF program. The program is run
// here by a small interpreter of the instructions it uses, and, as root, by the kernel itself.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "common/device_rules.h"
#include "common/file.h"
#include "tests/unit/unit_test.h"

using tandem::defaultDeviceRules;
using tandem::deviceFilterProgram;
using tandem::DeviceRule;
using tandem::toV1Rule;

namespace {

// Runs the subset of eBPF the filter uses over a bpf_cgroup_dev_ctx.
std::uint64_t interpret(const std::vector<bpf_insn>& program, std::uint32_t type,
                        std::uint32_t access, std::uint32_t major, std::uint32_t minor) {
  std::uint32_t ctx[3] = {access << 16 | type, major, minor};
  std::uint64_t reg[11] = {};
  for (std::size_t pc = 0; pc < program.size(); ++pc) {
    const bpf_insn& insn = program[pc];
    switch (insn.code) {
      case BPF_LDX | BPF_W | BPF_MEM:
        assert_int_equal(insn.src_reg, BPF_REG_1);
        reg[insn.dst_reg] = ctx[insn.off / 4];
        break;
      case BPF_ALU64 | BPF_MOV | BPF_X:
        reg[insn.dst_reg] = reg[insn.src_reg];
        break;
      case BPF_ALU64 | BPF_MOV | BPF_K:
        reg[insn.dst_reg] = static_cast<std::uint64_t>(static_cast<std::int64_t>(insn.imm));
        break;
      case BPF_ALU64 | BPF_AND | BPF_K:
        reg[insn.dst_reg] &= static_cast<std::uint64_t>(static_cast<std::int64_t>(insn.imm));
        break;
      case BPF_ALU64 | BPF_RSH | BPF_K:
        reg[insn.dst_reg] >>= insn.imm;
        break;
      case BPF_JMP | BPF_JNE | BPF_K:
        if (reg[insn.dst_reg] != static_cast<std::uint64_t>(static_cast<std::int64_t>(insn.imm))) {
          pc += static_cast<std::size_t>(insn.off);
          assert_true(pc < program.size());
        }
        break;
      case BPF_JMP | BPF_EXIT:
        return reg[BPF_REG_0];
      default:
        fail_msg("unexpected opcode 0x%x at %zu", insn.code, pc);
    }
  }
  fail_msg("the program ran off its end");
  return 0;
}

constexpr std::uint32_t kChar = BPF_DEVCG_DEV_CHAR;
constexpr std::uint32_t kBlock = BPF_DEVCG_DEV_BLOCK;
constexpr std::uint32_t kRead = BPF_DEVCG_ACC_READ;
constexpr std::uint32_t kWrite = BPF_DEVCG_ACC_WRITE;
constexpr std::uint32_t kMknod = BPF_DEVCG_ACC_MKNOD;

}  // namespace

static void v1_rules_are_runc_strings(void**) {
  assert_string_equal(toV1Rule({'c', 1, 3, "rwm"}).c_str(), "c 1:3 rwm");
  assert_string_equal(toV1Rule({'b', -1, -1, "m"}).c_str(), "b *:* m");
  assert_string_equal(toV1Rule({'c', 136, -1, "rwm"}).c_str(), "c 136:* rwm");
}

static void program_allows_the_minimal_dev_only(void**) {
  auto program = deviceFilterProgram(defaultDeviceRules());
  assert_true(program.size() < 4096);
  assert_int_equal(interpret(program, kChar, kRead | kWrite, 1, 3), 1);    // null
  assert_int_equal(interpret(program, kChar, kRead, 1, 9), 1);             // urandom
  assert_int_equal(interpret(program, kChar, kRead | kWrite, 136, 7), 1);  // a pty
  assert_int_equal(interpret(program, kBlock, kMknod, 8, 0), 1);           // mknod only
  assert_int_equal(interpret(program, kBlock, kRead, 8, 0), 0);            // the host's disk
  assert_int_equal(interpret(program, kBlock, kRead | kMknod, 8, 0), 0);
  assert_int_equal(interpret(program, kChar, kRead, 1, 1), 0);      // /dev/mem
  assert_int_equal(interpret(program, kChar, kWrite, 10, 232), 0);  // /dev/kvm
  assert_int_equal(interpret(program, kChar, kRead, 4, 1), 0);      // a host tty
}

static void an_empty_allowlist_denies_everything(void**) {
  auto program = deviceFilterProgram({});
  assert_int_equal(interpret(program, kChar, kMknod, 1, 3), 0);
}

static void partial_access_is_not_widened(void**) {
  std::vector<DeviceRule> rules{{'c', 1, 3, "r"}};
  auto program = deviceFilterProgram(rules);
  assert_int_equal(interpret(program, kChar, kRead, 1, 3), 1);
  assert_int_equal(interpret(program, kChar, kRead | kWrite, 1, 3), 0);
  assert_int_equal(interpret(program, kChar, kRead, 1, 4), 0);
  assert_int_equal(interpret(program, kBlock, kRead, 1, 3), 0);
}

// As root, on a host with a cgroup2 tree: the kernel accepts the program and enforces it.
static void kernel_enforces_the_filter(void**) {
  const std::string unified =
      tandem::isDirectory("/sys/fs/cgroup/unified") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
  if (geteuid() != 0 || !tandem::pathExists(unified + "/cgroup.procs")) {
    std::printf("SKIP: needs root and a cgroup2 hierarchy\n");
    skip();
  }
  std::string cgroup = unified + "/tandem-device-test-" + std::to_string(getpid());
  assert_int_equal(mkdir(cgroup.c_str(), 0755), 0);
  auto attached = tandem::attachDeviceFilter(cgroup, deviceFilterProgram(defaultDeviceRules()));
  if (!attached) {
    rmdir(cgroup.c_str());
    fail_msg("%s", attached.error().describe().c_str());
  }
  std::fflush(nullptr);
  pid_t child = fork();
  if (child == 0) {
    if (!tandem::writeExistingFile(cgroup + "/cgroup.procs", std::to_string(getpid()))) _exit(10);
    int null = open("/dev/null", O_RDWR);
    if (null < 0) _exit(11);
    std::string node = "/tmp/tandem-device-test-mem-" + std::to_string(getpid());
    // /dev/mem's numbers: mknod is allowed, opening is not.
    if (mknod(node.c_str(), S_IFCHR | 0600, makedev(1, 1)) != 0) _exit(12);
    int mem = open(node.c_str(), O_RDONLY);
    int err = errno;
    unlink(node.c_str());
    _exit(mem < 0 && err == EPERM ? 0 : 13);
  }
  int status = 0;
  waitpid(child, &status, 0);
  rmdir(cgroup.c_str());
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(v1_rules_are_runc_strings),
      cmocka_unit_test(program_allows_the_minimal_dev_only),
      cmocka_unit_test(an_empty_allowlist_denies_everything),
      cmocka_unit_test(partial_access_is_not_widened),
      cmocka_unit_test(kernel_enforces_the_filter),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
