// The hardware virtualization check reads VMX from CPUID leaf 1 and SVM from leaf 0x80000001.
#include "vmm/host_virtualization.h"

#include "tests/unit/unit_test.h"

using tandem::vmm::cpuOffersHardwareVirtualization;

namespace {

void vmx_or_svm_is_hardware_virtualization(void**) {
  assert_true(cpuOffersHardwareVirtualization(1u << 5, 0));
  assert_true(cpuOffersHardwareVirtualization(0, 1u << 2));
  assert_true(cpuOffersHardwareVirtualization(1u << 5, 1u << 2));
  // Neighbouring bits are other features: SMX (leaf 1 bit 6), CMP_LEGACY (0x80000001 bit 1).
  assert_false(cpuOffersHardwareVirtualization(0, 0));
  assert_false(cpuOffersHardwareVirtualization(~(1u << 5), ~(1u << 2)));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(vmx_or_svm_is_hardware_virtualization),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
