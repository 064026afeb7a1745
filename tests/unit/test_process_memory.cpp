#include "vmm/process_memory.h"

#include <sys/mman.h>

#include <cstring>

#include "tests/unit/unit_test.h"

using tandem::vmm::memoryOutside;
using tandem::vmm::MemoryUse;
using tandem::vmm::ownMemoryOutside;

namespace {

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kGuestStart = 0x7f0000000000;
constexpr std::uint64_t kGuestEnd = 0x7f0100000000;

// /proc/self/smaps of a VMM with 4 GiB of guest RAM, 1 GiB of it touched; cut down to the
// fields that matter plus the look-alikes (Pss_Dirty, SwapPss, ...) that must not count.
constexpr const char* kSmaps =
    "55d0c0000000-55d0c0052000 r-xp 00000000 08:02 173521                     /usr/bin/tandem\n"
    "Size:                328 kB\n"
    "KernelPageSize:        4 kB\n"
    "Rss:                 300 kB\n"
    "Pss:                 150 kB\n"
    "Pss_Dirty:            10 kB\n"
    "Shared_Clean:        300 kB\n"
    "Swap:                  0 kB\n"
    "SwapPss:              99 kB\n"
    "VmFlags: rd ex mr mw me dw\n"
    "7f0000000000-7f0100000000 rw-p 00000000 00:00 0 \n"
    "Size:            4194304 kB\n"
    "Rss:             1048576 kB\n"
    "Pss:             1048576 kB\n"
    "Pss_Anon:        1048576 kB\n"
    "AnonHugePages:   1048576 kB\n"
    "VmFlags: rd wr mr mw me ac sd\n"
    "7f0100000000-7f0100021000 rw-p 00000000 00:00 0 \n"
    "Rss:                 132 kB\n"
    "Pss:                 100 kB\n"
    "7f0100021000-7f0100200000 r-xp 00000000 08:02 2000   /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "Rss:                  40 kB\n"
    "Pss:                   5 kB\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
    "Rss:                   0 kB\n"
    "Pss:                   0 kB\n"
    "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n"
    "Rss:                  12 kB\n"
    "Pss:                  12 kB";

}  // namespace

// The guest's mapping is left out; the one starting exactly at its end is not.
static void leaves_out_the_guest_mapping(void**) {
  MemoryUse use = memoryOutside(kSmaps, kGuestStart, kGuestEnd);
  assert_int_equal(use.rssBytes, (300 + 132 + 40 + 0 + 12) * kKiB);
  assert_int_equal(use.pssBytes, (150 + 100 + 5 + 0 + 12) * kKiB);
}

static void counts_everything_with_an_empty_exclusion(void**) {
  MemoryUse use = memoryOutside(kSmaps, 0, 0);
  assert_int_equal(use.rssBytes, (300 + 1048576 + 132 + 40 + 0 + 12) * kKiB);
  assert_int_equal(use.pssBytes, (150 + 1048576 + 100 + 5 + 0 + 12) * kKiB);
}

static void exclusion_is_by_start_address(void**) {
  // Mappings starting inside [start, end) go, whatever their length.
  MemoryUse use = memoryOutside(kSmaps, kGuestStart, kGuestEnd + 1);
  assert_int_equal(use.rssBytes, (300 + 40 + 0 + 12) * kKiB);
  use = memoryOutside(kSmaps, 0, UINT64_MAX);
  assert_int_equal(use.rssBytes, 0);
  assert_int_equal(use.pssBytes, 0);
}

static void empty_text_is_nothing(void**) {
  MemoryUse use = memoryOutside("", 0, 0);
  assert_int_equal(use.rssBytes, 0);
  assert_int_equal(use.pssBytes, 0);
}

// On the live process: a touched 4 MiB mapping shows up unless it is the excluded one.
static void own_memory_leaves_out_a_mapping(void**) {
  constexpr std::size_t kSize = 4 << 20;
  // MAP_NORESERVE, as guest memory has: it keeps the kernel from merging this mapping into an
  // adjacent anonymous one (malloc's), which would move its smaps entry's start address away
  // from `start` and make the exclusion miss it.
  void* mapping = mmap(nullptr, kSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  assert_true(mapping != MAP_FAILED);
  std::memset(mapping, 1, kSize);
  auto start = reinterpret_cast<std::uint64_t>(mapping);

  auto without = ownMemoryOutside(start, start + kSize);
  auto with = ownMemoryOutside(0, 0);
  munmap(mapping, kSize);
  assert_true(without.ok());
  assert_true(with.ok());
  assert_true(without->rssBytes > 0);
  // Other mappings may move a little between the two reads; the mapping itself is 4 MiB.
  assert_true(with->rssBytes >= without->rssBytes + 3 * (1 << 20));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(leaves_out_the_guest_mapping),
      cmocka_unit_test(counts_everything_with_an_empty_exclusion),
      cmocka_unit_test(exclusion_is_by_start_address),
      cmocka_unit_test(empty_text_is_nothing),
      cmocka_unit_test(own_memory_leaves_out_a_mapping),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
