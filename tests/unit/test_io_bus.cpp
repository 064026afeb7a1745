#include "vmm/io_bus.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "tests/unit/unit_test.h"

using tandem::vmm::IoBus;
using tandem::vmm::IoHandler;

namespace {

struct Access {
  bool write;
  std::uint64_t offset;
  std::vector<std::uint8_t> data;
};

// Records every access; reads answer with `fill`.
class RecordingHandler : public IoHandler {
 public:
  explicit RecordingHandler(std::uint8_t fill) : fill_(fill) {}

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override {
    std::fill(data.begin(), data.end(), fill_);
    accesses.push_back({false, offset, {data.begin(), data.end()}});
  }
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    accesses.push_back({true, offset, {data.begin(), data.end()}});
  }

  std::vector<Access> accesses;

 private:
  std::uint8_t fill_;
};

void expectOverlap(IoBus& bus, std::uint64_t base, std::uint64_t length, const char* other) {
  auto status = bus.add(base, length, std::make_shared<RecordingHandler>(0), "newcomer");
  assert_false(status.ok());
  assert_int_equal(status.error().errnum(), EEXIST);
  assert_non_null(strstr(status.error().message().c_str(), "newcomer"));
  assert_non_null(strstr(status.error().message().c_str(), other));
}

// COM1 at 0x3f8..0x3ff and the i8042 at 0x60..0x64.
struct Bus {
  Bus() {
    assert_true(bus.add(0x3f8, 8, com1, "com1").ok());
    assert_true(bus.add(0x60, 5, i8042, "i8042").ok());
  }
  IoBus bus;
  std::shared_ptr<RecordingHandler> com1 = std::make_shared<RecordingHandler>(0x11);
  std::shared_ptr<RecordingHandler> i8042 = std::make_shared<RecordingHandler>(0x22);
};

}  // namespace

static void rejects_overlaps_from_either_side(void**) {
  Bus devices;
  expectOverlap(devices.bus, 0x3f8, 8, "com1");
  expectOverlap(devices.bus, 0x3f8, 1, "com1");
  // Starting below and reaching into it, starting inside and reaching past it.
  expectOverlap(devices.bus, 0x3f0, 9, "com1");
  expectOverlap(devices.bus, 0x3ff, 4, "com1");
  expectOverlap(devices.bus, 0x3fa, 2, "com1");
  // Covering it whole.
  expectOverlap(devices.bus, 0x300, 0x200, "com1");
  expectOverlap(devices.bus, 0x64, 1, "i8042");
  expectOverlap(devices.bus, 0x5f, 2, "i8042");
}

static void accepts_adjacent_ranges(void**) {
  Bus devices;
  auto handler = std::make_shared<RecordingHandler>(0);
  assert_true(devices.bus.add(0x3f0, 8, handler, "below").ok());
  assert_true(devices.bus.add(0x400, 1, handler, "above").ok());
  assert_true(devices.bus.add(0x65, 0x3f0 - 0x65, handler, "between").ok());
}

static void rejects_an_empty_range(void**) {
  IoBus bus;
  auto status = bus.add(0x80, 0, std::make_shared<RecordingHandler>(0), "empty");
  assert_false(status.ok());
  assert_int_equal(status.error().errnum(), EINVAL);
}

static void dispatches_relative_offsets(void**) {
  Bus devices;
  std::uint8_t value[1] = {};
  assert_true(devices.bus.read(0x3fd, value));
  assert_int_equal(value[0], 0x11);
  const std::uint8_t word[4] = {1, 2, 3, 4};
  assert_true(devices.bus.write(0x3f8, word));
  assert_true(devices.bus.write(0x64, std::span<const std::uint8_t>(word, 1)));

  assert_int_equal(devices.com1->accesses.size(), 2);
  assert_false(devices.com1->accesses[0].write);
  assert_int_equal(devices.com1->accesses[0].offset, 5);
  assert_int_equal(devices.com1->accesses[0].data.size(), 1);
  assert_true(devices.com1->accesses[1].write);
  assert_int_equal(devices.com1->accesses[1].offset, 0);
  assert_true(devices.com1->accesses[1].data == std::vector<std::uint8_t>({1, 2, 3, 4}));

  assert_int_equal(devices.i8042->accesses.size(), 1);
  assert_int_equal(devices.i8042->accesses[0].offset, 4);
  assert_true(devices.i8042->accesses[0].data == std::vector<std::uint8_t>({1}));
}

static void first_and_last_addresses_belong_to_the_device(void**) {
  Bus devices;
  std::uint8_t value[1];
  assert_true(devices.bus.read(0x3f8, value));
  assert_true(devices.bus.read(0x3ff, value));
  assert_int_equal(devices.com1->accesses.back().offset, 7);
}

static void unclaimed_addresses_return_false(void**) {
  Bus devices;
  for (std::uint64_t address : {0x0ull, 0x5full, 0x65ull, 0x3f7ull, 0x400ull, ~0ull}) {
    std::uint8_t value[2] = {0xab, 0xcd};
    assert_false(devices.bus.read(address, value));
    // The caller decides what an unclaimed read returns.
    assert_int_equal(value[0], 0xab);
    assert_int_equal(value[1], 0xcd);
    assert_false(devices.bus.write(address, value));
  }
  assert_true(devices.com1->accesses.empty());
  assert_true(devices.i8042->accesses.empty());
}

static void an_empty_bus_claims_nothing(void**) {
  IoBus bus;
  std::uint8_t value[1];
  assert_false(bus.read(0x3f8, value));
  assert_false(bus.write(0, value));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rejects_overlaps_from_either_side),
      cmocka_unit_test(accepts_adjacent_ranges),
      cmocka_unit_test(rejects_an_empty_range),
      cmocka_unit_test(dispatches_relative_offsets),
      cmocka_unit_test(first_and_last_addresses_belong_to_the_device),
      cmocka_unit_test(unclaimed_addresses_return_false),
      cmocka_unit_test(an_empty_bus_claims_nothing),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
