// Checks the KVM wrappers against a real /dev/kvm. Built static without CMocka, so it runs
// inside the emulated KVM host, which holds no shared libraries. cases.sh runs it there.
#include <linux/kvm.h>

#include <cstdio>
#include <cstring>

#include "vmm/kvm.h"

namespace {

int failures = 0;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "FAIL: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  auto kvm = tandem::vmm::Kvm::open();
  if (!kvm) {
    std::fprintf(stderr, "FAIL: %s\n", kvm.error().describe().c_str());
    return 1;
  }
  check(kvm->apiVersion() == tandem::vmm::kKvmApiVersion, "API version 12");
  // Every x86 KVM the monitor targets has these; without them it cannot boot a guest.
  for (int capability : {KVM_CAP_USER_MEMORY, KVM_CAP_IRQCHIP, KVM_CAP_IRQFD, KVM_CAP_PIT2,
                         KVM_CAP_IMMEDIATE_EXIT}) {
    auto present = kvm->checkExtension(capability);
    check(present && *present > 0, "a capability the VMM needs");
  }
  auto runSize = kvm->vcpuMmapSize();
  check(runSize && *runSize >= static_cast<int>(sizeof(kvm_run)), "kvm_run fits its mapping");
  auto cpuid = kvm->supportedCpuid();
  check(cpuid && cpuid->size() > 10, "KVM_GET_SUPPORTED_CPUID lists leaves");
  auto vm = kvm->createVm();
  check(vm.ok(), "KVM_CREATE_VM");

  auto missing = tandem::vmm::Kvm::open("/nonexistent/kvm");
  check(!missing && std::strstr(missing.error().describe().c_str(), "/nonexistent/kvm"),
        "a missing device is named in the error");
  if (failures == 0) {
    std::puts("KVM wrappers: all checks passed");
  }
  return failures == 0 ? 0 : 1;
}
