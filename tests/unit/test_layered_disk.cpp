#include "vmm/layered_disk.h"

#include <sys/stat.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using tandem::vmm::LayeredDisk;

namespace {

// A base of `bytes` bytes where byte i is i * 7 + i / 4096 (mod 256): no two nearby chunks alike.
std::string makeBase(void** state, std::uint64_t bytes) {
  std::string content(bytes, '\0');
  for (std::uint64_t i = 0; i < bytes; ++i) content[i] = static_cast<char>(i * 7 + i / 4096);
  std::string path = tempDir(state) + "/base.ext4";
  assert_true(tandem::writeFile(path, content).ok());
  return path;
}

std::string layerOf(void** state) {
  return tempDir(state) + "/layer.img";
}

std::unique_ptr<LayeredDisk> openLayered(void** state, const std::string& base) {
  auto disk = LayeredDisk::open(base, layerOf(state));
  if (!disk) fail_msg("%s", disk.error().describe().c_str());
  return std::move(disk).value();
}

std::vector<std::uint8_t> readAll(LayeredDisk& disk) {
  std::vector<std::uint8_t> bytes(disk.bytes());
  assert_true(disk.read(0, bytes).ok());
  return bytes;
}

std::vector<std::uint8_t> fileBytes(const std::string& path) {
  auto text = tandem::readFile(path);
  assert_true(text.ok());
  return {text->begin(), text->end()};
}

// The model the disk must match: the base's bytes with every write applied in order.
struct Expected {
  std::vector<std::uint8_t> bytes;
  void write(std::uint64_t offset, const std::vector<std::uint8_t>& data) {
    std::copy(data.begin(), data.end(), bytes.begin() + static_cast<std::ptrdiff_t>(offset));
  }
};

void a_fresh_layer_reads_as_the_base(void** state) {
  std::string base = makeBase(state, 10 * 4096 + 1000);
  auto disk = openLayered(state, base);
  assert_int_equal(disk->bytes(), 10 * 4096 + 1000);
  assert_int_equal(disk->layerChunks(), 0);
  assert_true(readAll(*disk) == fileBytes(base));
  struct stat info {};
  assert_int_equal(::stat(layerOf(state).c_str(), &info), 0);
  assert_int_equal(info.st_size, 10 * 4096 + 1000);
  assert_true(info.st_blocks == 0);  // sparse until written
}

// Writes of every shape: inside one chunk, across chunk borders, whole chunks, the short last
// chunk, and over chunks already in the layer. The disk reads back the model; the base file
// never changes.
void writes_land_in_the_layer_and_read_back(void** state) {
  std::uint64_t bytes = 12 * 4096 + 512;
  std::string base = makeBase(state, bytes);
  std::vector<std::uint8_t> original = fileBytes(base);
  auto disk = openLayered(state, base);
  assert_int_equal(disk->chunkBytes() % 4096, 0);
  Expected expected{original};
  struct Write {
    std::uint64_t offset;
    std::uint64_t length;
    std::uint8_t fill;
  };
  const Write writes[] = {
      {512, 512, 0x11},                   // part of chunk 0
      {4096 - 512, 1024, 0x22},           // across chunks 0 and 1
      {2 * 4096, 3 * 4096, 0x33},         // whole chunks 2..4
      {5 * 4096 + 1024, 2 * 4096, 0x44},  // partial, whole and partial
      {12 * 4096, 512, 0x55},             // the short last chunk, whole
      {1024, 512, 0x66},                  // again inside chunk 0, now in the layer
      {bytes - 512, 512, 0x77},
  };
  for (const Write& w : writes) {
    std::vector<std::uint8_t> data(w.length, w.fill);
    assert_true(disk->write(w.offset, data).ok());
    expected.write(w.offset, data);
    assert_true(readAll(*disk) == expected.bytes);
  }
  assert_true(fileBytes(base) == original);
  assert_true(disk->flush().ok());
  // Chunks 0..7 and 12 (the last); 8..11 were never touched.
  if (disk->chunkBytes() == 4096) {
    assert_int_equal(disk->layerChunks(), 9);
  }
  // Unaligned reads across layer and base agree with the model.
  std::vector<std::uint8_t> middle(3 * 4096 + 100);
  assert_true(disk->read(4096 + 7, middle).ok());
  assert_memory_equal(middle.data(), expected.bytes.data() + 4096 + 7, middle.size());
}

void a_reopened_layer_keeps_its_writes(void** state) {
  std::string base = makeBase(state, 16 * 4096);
  Expected expected{fileBytes(base)};
  {
    auto disk = openLayered(state, base);
    std::vector<std::uint8_t> data(700, 0xab);
    assert_true(disk->write(3 * 4096 + 100, data).ok());
    expected.write(3 * 4096 + 100, data);
    std::vector<std::uint8_t> whole(4096, 0xcd);
    assert_true(disk->write(9 * 4096, whole).ok());
    expected.write(9 * 4096, whole);
    assert_true(disk->flush().ok());
  }
  auto again = openLayered(state, base);
  assert_true(readAll(*again) == expected.bytes);
  if (again->chunkBytes() == 4096) {
    assert_int_equal(again->layerChunks(), 2);
  }
}

// A chunk that holds zeros because the guest wrote zeros is still the layer's, not the base's.
void written_zeros_are_not_holes(void** state) {
  std::string base = makeBase(state, 4 * 4096);
  Expected expected{fileBytes(base)};
  {
    auto disk = openLayered(state, base);
    std::vector<std::uint8_t> zeros(4096, 0);
    assert_true(disk->write(4096, zeros).ok());
    expected.write(4096, zeros);
  }
  auto again = openLayered(state, base);
  assert_true(readAll(*again) == expected.bytes);
}

void a_layer_of_another_size_is_refused(void** state) {
  std::string base = makeBase(state, 4 * 4096);
  assert_true(tandem::writeFile(layerOf(state), std::string(3 * 4096, 'x')).ok());
  auto disk = LayeredDisk::open(base, layerOf(state));
  assert_false(disk.ok());
  assert_non_null(std::strstr(disk.error().message().c_str(), "another disk"));
  assert_false(LayeredDisk::open(tempDir(state) + "/missing.ext4", layerOf(state)).ok());
  assert_false(LayeredDisk::open(base, tempDir(state)).ok());
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(a_fresh_layer_reads_as_the_base, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(writes_land_in_the_layer_and_read_back, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_reopened_layer_keeps_its_writes, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(written_zeros_are_not_holes, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(a_layer_of_another_size_is_refused, makeTempDir,
                                      removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
