#include "vmm/cpuid.h"

#include <algorithm>

#include "tests/unit/unit_test.h"

using tandem::vmm::cpuidForVcpu;
using tandem::vmm::VcpuCpuidConfig;

namespace {

using Table = std::vector<kvm_cpuid_entry2>;

constexpr std::uint32_t kIndexed = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

kvm_cpuid_entry2 leaf(std::uint32_t function, std::uint32_t index, std::uint32_t eax,
                      std::uint32_t ebx, std::uint32_t ecx, std::uint32_t edx,
                      std::uint32_t flags = 0) {
  kvm_cpuid_entry2 entry{};
  entry.function = function;
  entry.index = index;
  entry.flags = flags;
  entry.eax = eax;
  entry.ebx = ebx;
  entry.ecx = ecx;
  entry.edx = edx;
  return entry;
}

// Leaf 0 registers EBX, EDX, ECX spelling the vendor, little-endian.
constexpr std::uint32_t kGenu = 0x756e6547, kIneI = 0x49656e69, kNtel = 0x6c65746e;
constexpr std::uint32_t kAuth = 0x68747541, kEnti = 0x69746e65, kCAmd = 0x444d4163;
// "KVMKVMKVM\0\0\0".
constexpr std::uint32_t kKvmK = 0x4b4d564b, kVmKv = 0x564b4d56, kM = 0x0000004d;

// Leaf 1 as KVM hands it out: TSC-deadline (ECX[24]) and hypervisor (ECX[31]) clear, HTT
// (EDX[28]) as the host has it, a host APIC id and count in EBX that must not survive.
constexpr std::uint32_t kLeaf1Eax = 0x000906ea;
constexpr std::uint32_t kLeaf1Ebx = 0x07100800;  // APIC id 7, 16 logical, CLFLUSH 8 x 8 bytes
constexpr std::uint32_t kLeaf1Ecx = 0x76fa3203;
constexpr std::uint32_t kLeaf1Edx = 0x1f8bfbff;

// Deterministic cache parameters (leaf 4 / 0x8000001d) of a host with 2 threads per core and 16
// threads on the L3: type in [4:0], level in [7:5], sharing-1 in [25:14], cores-1 in [31:26].
constexpr std::uint32_t kL1dEax = 0x1c004121;
constexpr std::uint32_t kL1iEax = 0x1c004122;
constexpr std::uint32_t kL2Eax = 0x1c004143;
constexpr std::uint32_t kL3Eax = 0x1c03c163;
constexpr std::uint32_t kCacheEbx = 0x01c0003f, kCacheEcx = 0x3f, kCacheEdx = 0x1;

void addCaches(Table& table, std::uint32_t function) {
  const std::uint32_t eaxes[] = {kL1dEax, kL1iEax, kL2Eax, kL3Eax, 0};
  for (std::uint32_t i = 0; i < 5; ++i) {
    table.push_back(leaf(function, i, eaxes[i], eaxes[i] ? kCacheEbx : 0, eaxes[i] ? kCacheEcx : 0,
                         eaxes[i] ? kCacheEdx : 0, kIndexed));
  }
}

void addCommonTail(Table& table) {
  table.push_back(leaf(0x40000000, 0, 0x40000001, kKvmK, kVmKv, kM));
  table.push_back(leaf(0x40000001, 0, 0x01007afb, 0, 0, 0));
  // "Tandem Test CPU @ 2.00GHz", the brand string a host passes through.
  table.push_back(leaf(0x80000002, 0, 0x646e6154, 0x54206d65, 0x20747365, 0x20555043));
  table.push_back(leaf(0x80000003, 0, 0x2e322040, 0x48473030, 0x0000007a, 0));
  table.push_back(leaf(0x80000004, 0, 0, 0, 0, 0));
}

Table intelTable() {
  Table table;
  table.push_back(leaf(0, 0, 0x1f, kGenu, kNtel, kIneI));
  table.push_back(leaf(1, 0, kLeaf1Eax, kLeaf1Ebx, kLeaf1Ecx, kLeaf1Edx));
  addCaches(table, 4);
  table.push_back(leaf(6, 0, 0x77, 0x2, 0x9, 0x0));
  table.push_back(leaf(0xb, 0, 0, 0, 0, 0, kIndexed));
  table.push_back(leaf(0x1f, 0, 0, 0, 0, 0, kIndexed));
  table.push_back(leaf(0x80000000, 0, 0x80000008, 0, 0, 0));
  table.push_back(leaf(0x80000008, 0, 0x3027, 0, 0, 0));
  addCommonTail(table);
  return table;
}

Table amdTable() {
  Table table;
  table.push_back(leaf(0, 0, 0x10, kAuth, kCAmd, kEnti));
  table.push_back(leaf(1, 0, 0x00a00f11, kLeaf1Ebx, kLeaf1Ecx, kLeaf1Edx));
  // AMD reserves leaf 4; a made-up one shows the Intel rules stay off.
  addCaches(table, 4);
  table.push_back(leaf(6, 0, 0x4, 0, 0, 0));
  table.push_back(leaf(0xb, 0, 0, 0, 0, 0, kIndexed));
  table.push_back(leaf(0x80000000, 0, 0x80000021, 0, 0, 0));
  table.push_back(leaf(0x80000008, 0, 0x3030, 0x1, 0x0000700f, 0));
  addCaches(table, 0x8000001d);
  table.push_back(leaf(0x8000001e, 0, 0, 0, 0, 0));
  addCommonTail(table);
  return table;
}

Table filtered(const Table& supported, unsigned index, unsigned count, bool tscDeadline = true) {
  auto result =
      cpuidForVcpu(supported, {.index = index, .count = count, .tscDeadlineTimer = tscDeadline});
  assert_true(result.ok());
  return *result;
}

const kvm_cpuid_entry2& find(const Table& table, std::uint32_t function, std::uint32_t index = 0) {
  auto it = std::find_if(table.begin(), table.end(), [&](const kvm_cpuid_entry2& entry) {
    return entry.function == function && entry.index == index;
  });
  assert_true(it != table.end());
  return *it;
}

std::size_t countOf(const Table& table, std::uint32_t function) {
  return std::count_if(table.begin(), table.end(),
                       [&](const kvm_cpuid_entry2& entry) { return entry.function == function; });
}

void assertSame(const kvm_cpuid_entry2& got, const kvm_cpuid_entry2& want) {
  assert_int_equal(got.flags, want.flags);
  assert_int_equal(got.eax, want.eax);
  assert_int_equal(got.ebx, want.ebx);
  assert_int_equal(got.ecx, want.ecx);
  assert_int_equal(got.edx, want.edx);
}

void checkLeaf1(const Table& supported, unsigned index) {
  const auto out = filtered(supported, index, 4);
  const auto& in = find(supported, 1);
  const auto& got = find(out, 1);
  assert_int_equal(got.eax, in.eax);
  assert_int_equal(got.ebx >> 24, index);
  assert_int_equal((got.ebx >> 16) & 0xff, 4);
  assert_int_equal(got.ebx & 0xffff, in.ebx & 0xffff);
  assert_int_equal(got.ecx, in.ecx | (1u << 31) | (1u << 24));
  assert_int_equal(got.edx, in.edx | (1u << 28));
}

void checkTopologyLeaf(const Table& out, std::uint32_t function, unsigned index, unsigned count,
                       unsigned shift) {
  assert_int_equal(countOf(out, function), 2);
  const auto& smt = find(out, function, 0);
  assert_int_equal(smt.flags, kIndexed);
  assert_int_equal(smt.eax, 0);
  assert_int_equal(smt.ebx, 1);
  assert_int_equal(smt.ecx, 0x100);
  assert_int_equal(smt.edx, index);
  const auto& core = find(out, function, 1);
  assert_int_equal(core.flags, kIndexed);
  assert_int_equal(core.eax, shift);
  assert_int_equal(core.ebx, count);
  assert_int_equal(core.ecx, 0x201);
  assert_int_equal(core.edx, index);
}

// L1 and L2 private to the core (sharing 0), L3 shared by all 4; other fields kept.
void checkCacheSharing(const Table& in, const Table& out, std::uint32_t function, bool coresField) {
  const std::uint32_t sharing[] = {0, 0, 0, 3};
  for (std::uint32_t i = 0; i < 4; ++i) {
    const auto& before = find(in, function, i);
    const auto& after = find(out, function, i);
    assert_int_equal(after.eax & 0x3fff, before.eax & 0x3fff);
    assert_int_equal((after.eax >> 14) & 0xfff, sharing[i]);
    assert_int_equal(after.eax >> 26, coresField ? 3 : before.eax >> 26);
    assert_int_equal(after.ebx, before.ebx);
    assert_int_equal(after.ecx, before.ecx);
    assert_int_equal(after.edx, before.edx);
  }
  assertSame(find(out, function, 4), find(in, function, 4));
}

void checkPassThrough(const Table& in, const Table& out) {
  for (std::uint32_t function :
       {0x0u, 0x40000000u, 0x40000001u, 0x80000000u, 0x80000002u, 0x80000003u, 0x80000004u}) {
    assertSame(find(out, function), find(in, function));
  }
  assert_int_equal(countOf(out, 0x40000010), 0);
}

}  // namespace

static void intel_leaf1_vcpu0_and_3(void**) {
  checkLeaf1(intelTable(), 0);
  checkLeaf1(intelTable(), 3);
}

static void amd_leaf1_vcpu0_and_3(void**) {
  checkLeaf1(amdTable(), 0);
  checkLeaf1(amdTable(), 3);
}

static void leaf1_single_vcpu_without_tsc_deadline(void**) {
  const auto out = filtered(intelTable(), 0, 1, false);
  const auto& got = find(out, 1);
  assert_int_equal((got.ebx >> 16) & 0xff, 1);
  assert_int_equal(got.ecx, kLeaf1Ecx | (1u << 31));
  assert_int_equal(got.edx, kLeaf1Edx & ~(1u << 28));
}

static void intel_extended_topology(void**) {
  const auto in = intelTable();
  for (unsigned index : {0u, 3u}) {
    const auto out = filtered(in, index, 4);
    checkTopologyLeaf(out, 0xb, index, 4, 2);
    checkTopologyLeaf(out, 0x1f, index, 4, 2);
    assert_int_equal(out.size(), in.size() + 2);
  }
  checkTopologyLeaf(filtered(in, 0, 1), 0xb, 0, 1, 0);
  checkTopologyLeaf(filtered(in, 2, 3), 0xb, 2, 3, 2);
}

static void amd_extended_topology(void**) {
  const auto in = amdTable();
  for (unsigned index : {0u, 3u}) {
    const auto out = filtered(in, index, 4);
    checkTopologyLeaf(out, 0xb, index, 4, 2);
    assert_int_equal(countOf(out, 0x1f), 0);
    assert_int_equal(out.size(), in.size() + 1);
  }
}

static void intel_deterministic_cache_parameters(void**) {
  const auto in = intelTable();
  checkCacheSharing(in, filtered(in, 0, 4), 4, true);
  checkCacheSharing(in, filtered(in, 3, 4), 4, true);
}

static void amd_cache_topology(void**) {
  const auto in = amdTable();
  for (unsigned index : {0u, 3u}) {
    const auto out = filtered(in, index, 4);
    checkCacheSharing(in, out, 0x8000001d, false);
    for (std::uint32_t i = 0; i < 5; ++i) {
      assertSame(find(out, 4, i), find(in, 4, i));
    }
  }
}

static void amd_thread_count_and_extended_apic_id(void**) {
  const auto in = amdTable();
  for (unsigned index : {0u, 3u}) {
    const auto out = filtered(in, index, 4);
    const auto& sizes = find(out, 0x80000008);
    assert_int_equal(sizes.eax, 0x3030);
    assert_int_equal(sizes.ebx, 0x1);
    assert_int_equal(sizes.ecx, 0x2003);  // ApicIdCoreIdSize 2, NC 3
    assert_int_equal(sizes.edx, 0);
    const auto& ids = find(out, 0x8000001e);
    assert_int_equal(ids.eax, index);
    assert_int_equal(ids.ebx, index);
    assert_int_equal(ids.ecx, 0);
    assert_int_equal(ids.edx, 0);
  }
  const auto alone = filtered(in, 0, 1);
  const auto& single = find(alone, 0x80000008);
  assert_int_equal(single.ecx, 0);
}

static void intel_keeps_amd_leaves(void**) {
  const auto in = intelTable();
  assertSame(find(filtered(in, 3, 4), 0x80000008), find(in, 0x80000008));
}

static void power_management_reduced_to_arat(void**) {
  for (const auto& in : {intelTable(), amdTable()}) {
    const kvm_cpuid_entry2 got = find(filtered(in, 3, 4), 6);  // a copy: the table is a temporary
    assert_int_equal(got.eax, 0x4);
    assert_int_equal(got.ebx, 0);
    assert_int_equal(got.ecx, 0);
    assert_int_equal(got.edx, 0);
  }
}

static void paravirt_leaves_and_brand_pass_through(void**) {
  for (const auto& in : {intelTable(), amdTable()}) {
    checkPassThrough(in, filtered(in, 0, 4));
    checkPassThrough(in, filtered(in, 3, 4));
  }
}

static void rejects_bad_inputs(void**) {
  const auto in = intelTable();
  assert_false(cpuidForVcpu(in, {.index = 0, .count = 0}).ok());
  assert_false(cpuidForVcpu(in, {.index = 0, .count = 256}).ok());
  assert_false(cpuidForVcpu(in, {.index = 4, .count = 4}).ok());
  assert_true(cpuidForVcpu(in, {.index = 254, .count = 255}).ok());
  Table noLeaf1 = in;
  noLeaf1.erase(std::remove_if(noLeaf1.begin(), noLeaf1.end(),
                               [](const kvm_cpuid_entry2& entry) { return entry.function == 1; }),
                noLeaf1.end());
  assert_false(cpuidForVcpu(noLeaf1, {.index = 0, .count = 1}).ok());
  assert_false(cpuidForVcpu({}, {.index = 0, .count = 1}).ok());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(intel_leaf1_vcpu0_and_3),
      cmocka_unit_test(amd_leaf1_vcpu0_and_3),
      cmocka_unit_test(leaf1_single_vcpu_without_tsc_deadline),
      cmocka_unit_test(intel_extended_topology),
      cmocka_unit_test(amd_extended_topology),
      cmocka_unit_test(intel_deterministic_cache_parameters),
      cmocka_unit_test(amd_cache_topology),
      cmocka_unit_test(amd_thread_count_and_extended_apic_id),
      cmocka_unit_test(intel_keeps_amd_leaves),
      cmocka_unit_test(power_management_reduced_to_arat),
      cmocka_unit_test(paravirt_leaves_and_brand_pass_through),
      cmocka_unit_test(rejects_bad_inputs),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
