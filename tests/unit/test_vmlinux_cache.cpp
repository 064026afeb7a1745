#include "vmm/vmlinux_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/file.h"
#include "tests/unit/kernel_payloads.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using tandem::readFile;
using tandem::writeFile;
using tandem::vmm::KernelFileIdentity;
using tandem::vmm::kVmlinuxCacheEntries;
using tandem::vmm::VmlinuxCache;

namespace {

const std::string kPath = "/boot/bzImage-under-test";
constexpr std::uint64_t kRoomy = 64u << 20;

std::vector<std::uint8_t> vmlinuxBytes(std::uint8_t seed) {
  std::vector<std::uint8_t> bytes(20000);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::uint8_t>(seed + i / 3);
  }
  return bytes;
}

KernelFileIdentity identity(std::uint64_t inode) {
  return {0x803, inode, 2167808, 1795443744, 123456789};
}

std::vector<std::uint8_t> fetched(const VmlinuxCache& cache, const KernelFileIdentity& kernel,
                                  const std::vector<std::uint8_t>& payload) {
  auto vmlinux = cache.vmlinux(kernel, payload, kRoomy, kPath);
  if (!vmlinux.ok()) {
    fail_msg("%s", vmlinux.error().describe().c_str());
  }
  auto bytes = vmlinux->bytes();
  return {bytes.begin(), bytes.end()};
}

// A payload that declares the right size but decompresses to nothing: only a cache hit can
// answer it.
std::vector<std::uint8_t> undecodable(std::size_t declared) {
  std::vector<std::uint8_t> payload = {0x02, 0x21, 0x4c, 0x18, 0xff, 0xff, 0xff, 0x7f};
  appendLittleEndian32(payload, static_cast<std::uint32_t>(declared));
  return payload;
}

std::string cacheDir(void** state) {
  return tempDir(state) + "/vmlinux";
}

}  // namespace

static void stores_what_it_decompresses(void** state) {
  VmlinuxCache cache(cacheDir(state));
  const auto data = vmlinuxBytes(1);
  assert_true(fetched(cache, identity(1), lz4Legacy(data)) == data);

  std::string entry = cache.entryPath(identity(1));
  auto stored = readFile(entry);
  assert_true(stored.ok());
  assert_true(std::vector<std::uint8_t>(stored->begin(), stored->end()) == data);
  struct stat info {};
  assert_int_equal(::stat(entry.c_str(), &info), 0);
  assert_int_equal(info.st_mode & 07777, 0600);
  assert_int_equal(::stat(cacheDir(state).c_str(), &info), 0);
  assert_int_equal(info.st_mode & 07777, 0700);
}

static void answers_from_the_cache_for_the_same_file(void** state) {
  VmlinuxCache cache(cacheDir(state));
  const auto data = vmlinuxBytes(2);
  fetched(cache, identity(2), lz4Legacy(data));
  assert_true(fetched(cache, identity(2), undecodable(data.size())) == data);
}

// Any change to the kernel file changes its identity, and so its entry.
static void another_file_is_decompressed_anew(void** state) {
  VmlinuxCache cache(cacheDir(state));
  const auto data = vmlinuxBytes(3);
  fetched(cache, identity(3), lz4Legacy(data));
  KernelFileIdentity rewritten = identity(3);
  rewritten.changeNanoseconds += 1;
  assert_false(cache.vmlinux(rewritten, undecodable(data.size()), kRoomy, kPath).ok());
  KernelFileIdentity resized = identity(3);
  resized.size += 1;
  assert_false(cache.vmlinux(resized, undecodable(data.size()), kRoomy, kPath).ok());
  assert_string_not_equal(cache.entryPath(rewritten).c_str(), cache.entryPath(identity(3)).c_str());
}

static void a_damaged_entry_is_replaced(void** state) {
  VmlinuxCache cache(cacheDir(state));
  const auto data = vmlinuxBytes(4);
  fetched(cache, identity(4), lz4Legacy(data));
  std::string entry = cache.entryPath(identity(4));
  assert_true(writeFile(entry, "truncated", 0600).ok());
  // Not the cached fragment, and not accepted from a payload that cannot be read either.
  assert_false(cache.vmlinux(identity(4), undecodable(data.size()), kRoomy, kPath).ok());
  assert_true(fetched(cache, identity(4), lz4Legacy(data)) == data);
  auto stored = readFile(entry);
  assert_true(stored.ok());
  assert_int_equal(stored->size(), data.size());
}

static void an_unwritable_cache_still_boots(void** state) {
  std::string blocker = tempDir(state) + "/not-a-folder";
  assert_true(writeFile(blocker, "x").ok());
  VmlinuxCache cache(blocker + "/vmlinux");
  const auto data = vmlinuxBytes(5);
  assert_true(fetched(cache, identity(5), lz4Legacy(data)) == data);
}

static void keeps_only_the_newest_entries(void** state) {
  VmlinuxCache cache(cacheDir(state));
  const std::size_t made = kVmlinuxCacheEntries + 3;
  for (std::size_t i = 0; i < made; ++i) {
    fetched(cache, identity(100 + i), lz4Legacy(vmlinuxBytes(static_cast<std::uint8_t>(i))));
    // Ages set apart by a second each, so that the order does not hang on timestamp precision.
    timespec times[2] = {{static_cast<time_t>(1000000 + i), 0},
                         {static_cast<time_t>(1000000 + i), 0}};
    assert_int_equal(::utimensat(AT_FDCWD, cache.entryPath(identity(100 + i)).c_str(), times, 0),
                     0);
  }
  // The pruning after the last store saw all but the last entry's new age; one more store
  // settles it.
  fetched(cache, identity(200), lz4Legacy(vmlinuxBytes(99)));
  std::size_t left = 0;
  for (std::size_t i = 0; i < made; ++i) {
    bool present = ::access(cache.entryPath(identity(100 + i)).c_str(), F_OK) == 0;
    left += present ? 1 : 0;
    if (i < made - kVmlinuxCacheEntries + 1) {
      assert_false(present);
    }
  }
  assert_int_equal(left, kVmlinuxCacheEntries - 1);
  assert_int_equal(::access(cache.entryPath(identity(200)).c_str(), F_OK), 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(stores_what_it_decompresses, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(answers_from_the_cache_for_the_same_file, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(another_file_is_decompressed_anew, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_damaged_entry_is_replaced, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(an_unwritable_cache_still_boots, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(keeps_only_the_newest_entries, makeTempDir, removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
