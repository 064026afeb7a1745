#include "vmm/virtio/block.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"
#include "vmm/disk_spec.h"

using tandem::UniqueFd;
using namespace tandem::vmm::virtio;

namespace {

constexpr std::uint64_t kDiskSectors = 16;

// A disk file of 16 sectors, sector N filled with byte N.
std::string makeDisk(void** state, std::uint64_t bytes = kDiskSectors * kSectorBytes) {
  std::string path = tempDir(state) + "/disk.img";
  std::string content(bytes, '\0');
  for (std::uint64_t i = 0; i < bytes; ++i) content[i] = static_cast<char>(i / kSectorBytes);
  assert_true(tandem::writeFile(path, content).ok());
  return path;
}

std::shared_ptr<BlockDevice> openDisk(const std::string& path, bool readOnly,
                                      const std::string& layer = {}) {
  auto backing = tandem::vmm::openDisk({.path = path, .readOnly = readOnly, .layerPath = layer});
  assert_true(backing.ok());
  auto device = BlockDevice::open(std::move(backing).value(), readOnly, "tandem-disk-0");
  assert_true(device.ok());
  return *device;
}

// A request as a driver lays it out, in plain host buffers (the device only sees spans).
struct Request {
  std::uint8_t header[16] = {};
  std::vector<std::uint8_t> data;
  std::uint8_t status = 0xee;

  Request(std::uint32_t type, std::uint64_t sector, std::size_t dataBytes) : data(dataBytes, 0) {
    std::memcpy(header, &type, 4);
    std::memcpy(header + 8, &sector, 8);
  }
  DescriptorChain chain(bool write) {
    DescriptorChain chain;
    chain.readable.push_back({0, {header, sizeof header}});
    if (!data.empty()) {
      (write ? chain.readable : chain.writable).push_back({0, {data.data(), data.size()}});
    }
    chain.writable.push_back({0, {&status, 1}});
    return chain;
  }
};

void a_write_reads_back_and_lands_in_the_file(void** state) {
  std::string path = makeDisk(state);
  auto disk = openDisk(path, false);
  Request write(kBlockOut, 3, 2 * kSectorBytes);
  std::fill(write.data.begin(), write.data.end(), 0xab);
  assert_int_equal(disk->serve(write.chain(true)), 1);
  assert_int_equal(write.status, kBlockOk);

  Request read(kBlockIn, 2, 3 * kSectorBytes);
  assert_int_equal(disk->serve(read.chain(false)), 3 * kSectorBytes + 1);
  assert_int_equal(read.status, kBlockOk);
  assert_int_equal(read.data[0], 2);                // sector 2 untouched
  assert_int_equal(read.data[kSectorBytes], 0xab);  // sector 3 written
  assert_int_equal(read.data[3 * kSectorBytes - 1], 0xab);
  auto content = tandem::readFile(path);
  assert_int_equal(static_cast<std::uint8_t>((*content)[3 * kSectorBytes]), 0xab);
  assert_int_equal(static_cast<std::uint8_t>((*content)[5 * kSectorBytes]), 5);
}

void requests_outside_the_disk_fail(void** state) {
  auto disk = openDisk(makeDisk(state), false);
  for (std::uint64_t sector : {kDiskSectors - 1, kDiskSectors, kDiskSectors + 1, ~std::uint64_t{0},
                               ~std::uint64_t{0} / kSectorBytes}) {
    Request read(kBlockIn, sector, 2 * kSectorBytes);
    std::fill(read.data.begin(), read.data.end(), 0x11);
    assert_int_equal(disk->serve(read.chain(false)), 1);
    assert_int_equal(read.status, kBlockIoError);
    assert_int_equal(read.data[0], 0x11);  // nothing was read into it
  }
  Request partial(kBlockOut, 0, 100);  // not a whole sector
  assert_int_equal(disk->serve(partial.chain(true)), 1);
  assert_int_equal(partial.status, kBlockIoError);
}

void a_read_only_disk_refuses_writes(void** state) {
  std::string path = makeDisk(state);
  auto disk = openDisk(path, true);
  assert_true(disk->features() & kBlockFeatureReadOnly);
  Request write(kBlockOut, 0, kSectorBytes);
  std::fill(write.data.begin(), write.data.end(), 0xcd);
  disk->serve(write.chain(true));
  assert_int_equal(write.status, kBlockIoError);
  assert_int_equal(static_cast<std::uint8_t>((*tandem::readFile(path))[0]), 0);
  Request flush(kBlockFlush, 0, 0);
  disk->serve(flush.chain(false));
  assert_int_equal(flush.status, kBlockOk);
}

void flush_id_and_unknown_requests(void** state) {
  auto disk = openDisk(makeDisk(state), false);
  Request flush(kBlockFlush, 0, 0);
  assert_int_equal(disk->serve(flush.chain(false)), 1);
  assert_int_equal(flush.status, kBlockOk);

  Request id(kBlockGetId, 0, 20);
  std::fill(id.data.begin(), id.data.end(), 0xff);
  assert_int_equal(disk->serve(id.chain(false)), 21);
  assert_int_equal(id.status, kBlockOk);
  assert_memory_equal(id.data.data(), "tandem-disk-0\0\0\0\0\0\0\0", 20);

  Request odd(99, 0, 0);
  disk->serve(odd.chain(false));
  assert_int_equal(odd.status, kBlockUnsupported);
}

void malformed_requests_are_not_served(void** state) {
  auto disk = openDisk(makeDisk(state), false);
  Request noStatus(kBlockIn, 0, kSectorBytes);
  DescriptorChain chain = noStatus.chain(false);
  chain.writable.clear();
  assert_int_equal(disk->serve(chain), 0);

  Request shortHeader(kBlockIn, 0, 0);
  DescriptorChain truncated;
  truncated.readable.push_back({0, {shortHeader.header, 8}});
  truncated.writable.push_back({0, {&shortHeader.status, 1}});
  assert_int_equal(disk->serve(truncated), 0);
  assert_int_equal(shortHeader.status, 0xee);
}

void a_header_and_status_may_share_or_split_buffers(void** state) {
  auto disk = openDisk(makeDisk(state), false);
  // The header over two buffers, the status byte at the end of the data buffer.
  std::uint8_t header[16] = {};
  std::uint64_t sector = 7;
  std::memcpy(header + 8, &sector, 8);  // type 0: a read
  std::vector<std::uint8_t> dataAndStatus(kSectorBytes + 1, 0);
  DescriptorChain chain;
  chain.readable.push_back({0, {header, 5}});
  chain.readable.push_back({0, {header + 5, 11}});
  chain.writable.push_back({0, {dataAndStatus.data(), dataAndStatus.size()}});
  assert_int_equal(disk->serve(chain), kSectorBytes + 1);
  assert_int_equal(dataAndStatus[0], 7);
  assert_int_equal(dataAndStatus[kSectorBytes], kBlockOk);
}

void the_capacity_and_segment_limit_are_in_the_config_space(void** state) {
  auto disk = openDisk(makeDisk(state, kDiskSectors * kSectorBytes + 100), false);
  std::uint64_t capacity = 0;
  disk->readConfig(0, {reinterpret_cast<std::uint8_t*>(&capacity), 8});
  assert_int_equal(capacity, kDiskSectors);  // a partial last sector is not offered
  assert_true(disk->features() & kBlockFeatureSegmentMax);
  std::uint32_t segmentMax = 0;
  disk->readConfig(12, {reinterpret_cast<std::uint8_t*>(&segmentMax), 4});
  assert_int_equal(segmentMax, BlockDevice::kQueueSize - 2);
  std::uint8_t beyond[4] = {1, 1, 1, 1};
  disk->readConfig(0x100, beyond);
  assert_int_equal(beyond[0] | beyond[3], 0);
}

void unusable_disks_are_refused(void** state) {
  std::string tiny = makeDisk(state, 100);
  auto backing = tandem::vmm::openDisk({.path = tiny, .readOnly = true});
  assert_true(backing.ok());
  auto small = BlockDevice::open(std::move(backing).value(), true, "");
  assert_false(small.ok());
  assert_non_null(std::strstr(small.error().message().c_str(), "less than one"));
  assert_false(tandem::vmm::openDisk({.path = tempDir(state), .readOnly = true}).ok());
  assert_false(tandem::vmm::openDisk({.path = tempDir(state) + "/missing"}).ok());
}

// Through a layer, the device serves the same bytes; the base file keeps its own.
void a_layered_disk_writes_only_its_layer(void** state) {
  std::string base = makeDisk(state);
  std::string layer = tempDir(state) + "/layer.img";
  auto disk = openDisk(base, false, layer);
  Request write(kBlockOut, 9, kSectorBytes);
  std::fill(write.data.begin(), write.data.end(), 0x5a);
  disk->serve(write.chain(true));
  assert_int_equal(write.status, kBlockOk);
  Request read(kBlockIn, 8, 3 * kSectorBytes);
  disk->serve(read.chain(false));
  assert_int_equal(read.status, kBlockOk);
  assert_int_equal(read.data[0], 8);
  assert_int_equal(read.data[kSectorBytes], 0x5a);
  assert_int_equal(read.data[2 * kSectorBytes], 10);
  assert_int_equal(static_cast<std::uint8_t>((*tandem::readFile(base))[9 * kSectorBytes]), 9);
  assert_int_equal(static_cast<std::uint8_t>((*tandem::readFile(layer))[9 * kSectorBytes]), 0x5a);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(a_write_reads_back_and_lands_in_the_file, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(requests_outside_the_disk_fail, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(a_read_only_disk_refuses_writes, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(flush_id_and_unknown_requests, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(malformed_requests_are_not_served, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_header_and_status_may_share_or_split_buffers, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(the_capacity_and_segment_limit_are_in_the_config_space, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(unusable_disks_are_refused, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(a_layered_disk_writes_only_its_layer, makeTempDir,
                                      removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
