// The vm suite: runs where /dev/kvm exists (a real host, or inside the emulated KVM host) and
// reports itself skipped elsewhere.
#include <linux/kvm.h>
#include <unistd.h>

#include <cstdio>

#include "tests/unit/unit_test.h"
#include "vmm/kvm.h"

static void opens_kvm_and_checks_the_api(void**) {
  auto kvm = tandem::vmm::Kvm::open();
  if (!kvm) {
    fail_msg("%s", kvm.error().describe().c_str());
  }
  assert_int_equal(kvm->apiVersion(), tandem::vmm::kKvmApiVersion);
  // Every x86 KVM the monitor targets has these; without them it cannot boot a guest.
  assert_true(*kvm->checkExtension(KVM_CAP_USER_MEMORY) > 0);
  assert_true(*kvm->checkExtension(KVM_CAP_IRQCHIP) > 0);
  assert_true(*kvm->vcpuMmapSize() >= static_cast<int>(sizeof(kvm_run)));
}

static void reports_a_missing_device(void**) {
  auto kvm = tandem::vmm::Kvm::open("/nonexistent/kvm");
  assert_false(kvm.ok());
  assert_non_null(std::strstr(kvm.error().describe().c_str(), "/nonexistent/kvm"));
}

int main() {
  if (::access("/dev/kvm", R_OK | W_OK) != 0) {
    std::printf(
        "SKIP: no usable /dev/kvm on this machine (the emulated KVM host runs this suite)\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(opens_kvm_and_checks_the_api),
      cmocka_unit_test(reports_a_missing_device),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
