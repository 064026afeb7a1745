// Which devices a container may use: the same allowlist for cgroup v1's devices controller
// (as rule strings) and for cgroup v2, which has no such controller and enforces a BPF program
// attached to the cgroup instead. Without it, a container holding CAP_MKNOD could create and
// open the host's disks.
#pragma once

#include <linux/bpf.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem {

struct DeviceRule {
  char type = 'c';     // 'c' character, 'b' block
  int major = -1;      // -1: any
  int minor = -1;      // -1: any
  std::string access;  // any of "r", "w", "m"
};

// runc's default allowlist: mknod of anything (not its use), and the minimal /dev's nodes.
const std::vector<DeviceRule>& defaultDeviceRules();

// "c 1:3 rwm", as v1's devices.allow takes it.
std::string toV1Rule(const DeviceRule& rule);

// A BPF_PROG_TYPE_CGROUP_DEVICE program that allows exactly `rules` and denies the rest.
std::vector<bpf_insn> deviceFilterProgram(const std::vector<DeviceRule>& rules);

// Loads `program` and attaches it to the cgroup v2 directory `cgroupDir`. The kernel keeps it
// attached until the cgroup is removed.
Status attachDeviceFilter(const std::string& cgroupDir, const std::vector<bpf_insn>& program);

}  // namespace tandem
