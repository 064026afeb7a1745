// tandem-vmm: tandem's microVM monitor process. `tandem run --isolation vm` starts one per
// workload and supervises it; this process holds the monitor's code and nothing else, so its
// memory is the VMM's overhead and no image, registry or container code shares an address space
// with a guest. It can also be run by hand, given a workload description as tandem writes it.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/log.h"
#include "common/process.h"
#include "vmm/process_lockdown.h"
#include "vmm/thread_seccomp.h"
#include "vmm/vmm_invocation.h"
#include "vmm/workload_vm.h"

namespace {

constexpr const char* kUsage =
    "usage: tandem-vmm --kernel BZIMAGE --guest-init PATH --workload-fd N [--initramfs CPIO]\n"
    "                  [--kvm PATH] [--vmlinux-cache DIR] [--timeout-ms N] [--hugepages]\n"
    "                  [--root-disk PATH[:ro|:layer=LAYER]] [--disk "
    "PATH[:ro|:rw|:layer=LAYER]]...\n"
    "                  [--tap TAP[,bridge=BR][,mac=MAC][,host=CIDR][,guest=CIDR][,gateway=IP]]...\n"
    "                  [--vsock SOCKET] [--console] [--stats] [--seccomp enforce|log|off]\n"
    "                  [--jail UID:GID] [--result-fd N] [--parent-pidfd N] [--started-at-ns N]\n"
    "                  [--log-level LEVEL]\n"
    "       tandem-vmm --print-seccomp\n"
    "Runs the workload described (as tandem's workload JSON) on descriptor N in a microVM and\n"
    "exits with its code. With --result-fd, how it ended goes to that descriptor as JSON\n"
    "instead, for tandem to read. --jail confines it, once its devices are open, to namespaces\n"
    "of its own, an empty root holding only the vsock socket's folder, and user UID:GID (as\n"
    "root; start it as the first process of a new pid namespace for its own pids).\n"
    "--print-seccomp prints each thread's syscall allowlist.\n";

using tandem::Error;

int report(const tandem::vmm::VmmInvocation& invocation, const tandem::vmm::VmRun& run) {
  if (invocation.resultFd >= 0) {
    std::string json = tandem::vmm::vmRunToJson(run).dump();
    if (auto status = tandem::writeAll(invocation.resultFd, json, "tandem-vmm's result file");
        !status) {
      std::fprintf(stderr, "tandem-vmm: %s\n", status.error().describe().c_str());
      return tandem::kExitRuntimeError;
    }
  } else {
    if (!run.stats.is_null()) {
      std::cerr << run.stats.dump(2) << "\n";
    }
    if (!run.outcome) {
      std::fprintf(stderr, "tandem-vmm: %s\n", run.outcome.error().describe().c_str());
    }
  }
  return run.outcome ? run.outcome->exitCode() : tandem::kExitRuntimeError;
}

// Each thread's allowlist, as installed (with --stats, the main thread's also allows
// KVM_GET_STATS_FD), for comparison with Firecracker's.
nlohmann::json seccompListsJson() {
  using tandem::vmm::VmmThread;
  nlohmann::json lists = nlohmann::json::object();
  for (VmmThread thread : {VmmThread::kMain, VmmThread::kVcpu}) {
    auto allowed = tandem::vmm::threadSyscalls(thread, false);
    lists[tandem::vmm::vmmThreadName(thread)] = {{"syscall_count", allowed.names.size()},
                                                 {"syscalls", allowed.names},
                                                 {"ioctl_requests", allowed.ioctls}};
  }
  return lists;
}

}  // namespace

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
// In a sanitizer build: no leak check at exit. It stops the world with prctl, clone and ptrace,
// which the main thread's seccomp list refuses, so the VMM would end on a refused call instead.
extern "C" const char* __asan_default_options() {
  return "detect_leaks=0";
}
#endif
#endif

int main(int argc, char** argv) {
  tandem::initLogging("tandem-vmm");
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--print-seccomp") {
      std::cout << seccompListsJson().dump(2) << "\n";
      return 0;
    }
  }
  auto invocation = tandem::vmm::parseVmmArguments(args);
  if (!invocation) {
    std::fprintf(stderr, "tandem-vmm: %s\n%s", invocation.error().message().c_str(), kUsage);
    return tandem::kExitRuntimeError;
  }
  // A VM outlives nothing: the kernel kills this process when tandem is gone, and a tandem
  // already gone is checked after.
  if (auto watched = tandem::vmm::dieWithParent(invocation->parentPidfd); !watched) {
    std::fprintf(stderr, "tandem-vmm: %s\n", watched.error().describe().c_str());
    return tandem::kExitRuntimeError;
  }
  auto startedAt = invocation->startedAtNs ? std::chrono::steady_clock::time_point(
                                                 std::chrono::nanoseconds(*invocation->startedAtNs))
                                           : std::chrono::steady_clock::now();
  if (!invocation->logLevel.empty()) {
    if (auto status = tandem::setLogLevel(invocation->logLevel); !status) {
      std::fprintf(stderr, "tandem-vmm: %s\n", status.error().message().c_str());
      return tandem::kExitRuntimeError;
    }
  }
  auto text = tandem::readFile(invocation->workloadFd, "the workload description (--workload-fd)");
  tandem::Result<tandem::Workload> workload = Error("");
  if (!text) {
    workload = std::move(text).error();
  } else if (auto json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
             json.is_discarded()) {
    workload = Error("the workload description (--workload-fd) is not JSON", EINVAL);
  } else {
    workload = tandem::workloadFromJson(json);
  }
  if (!workload) {
    return report(*invocation, {std::move(workload).error(), nullptr});
  }
  int code = report(*invocation, tandem::vmm::runWorkloadVm(invocation->config, *workload,
                                                            startedAt, invocation->parentPidfd));
  spdlog::debug("the microVM is gone; exiting");
  return code;
}
