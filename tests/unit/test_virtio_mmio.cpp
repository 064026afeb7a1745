#include "vmm/virtio/virtio_mmio.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "tests/unit/unit_test.h"
#include "vmm/virtio/entropy.h"

using tandem::vmm::GuestMemory;
using namespace tandem::vmm::virtio;

namespace {

constexpr std::uint64_t kRam = 1 << 20;
constexpr std::uint64_t kDesc = 0x1000;
constexpr std::uint64_t kAvail = 0x2000;
constexpr std::uint64_t kUsed = 0x3000;
constexpr std::uint64_t kBuffer = 0x8000;
constexpr std::uint16_t kSize = 8;

// Linux's virtio_mmio driver, as far as bringing up one virtio-rng queue goes, against the
// transport and a real entropy device.
struct Guest {
  GuestMemory memory = std::move(GuestMemory::create(kRam, false)).value();
  int interrupts = 0;
  MmioTransport transport{std::make_shared<EntropyDevice>(), memory, [this] { ++interrupts; }};

  std::uint32_t reg(std::uint64_t offset) {
    std::uint8_t bytes[4];
    transport.read(offset, bytes);
    std::uint32_t value;
    std::memcpy(&value, bytes, 4);
    return value;
  }
  void set(std::uint64_t offset, std::uint32_t value) {
    std::uint8_t bytes[4];
    std::memcpy(bytes, &value, 4);
    transport.write(offset, bytes);
  }
  void negotiate(std::uint64_t features) {
    set(0x070, kStatusAcknowledge);
    set(0x070, kStatusAcknowledge | kStatusDriver);
    set(0x024, 0);
    set(0x020, static_cast<std::uint32_t>(features));
    set(0x024, 1);
    set(0x020, static_cast<std::uint32_t>(features >> 32));
    set(0x070, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  }
  void placeQueue(std::uint16_t size, std::uint64_t desc) {
    set(0x030, 0);
    set(0x038, size);
    set(0x080, static_cast<std::uint32_t>(desc));
    set(0x084, static_cast<std::uint32_t>(desc >> 32));
    set(0x090, kAvail);
    set(0x094, 0);
    set(0x0a0, kUsed);
    set(0x0a4, 0);
    set(0x044, 1);
  }
  void start() {
    set(0x070, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  }
  void offerBuffer(std::uint16_t availIndex, std::uint32_t length) {
    struct {
      std::uint64_t address;
      std::uint32_t length;
      std::uint16_t flags;
      std::uint16_t next;
    } descriptor{kBuffer, length, 2 /* WRITE */, 0};
    assert_true(memory.writeObject(kDesc, descriptor).ok());
    assert_true(memory
                    .writeObject(kAvail + 4 + 2 * static_cast<std::uint64_t>(availIndex % kSize),
                                 std::uint16_t{0})
                    .ok());
    assert_true(memory.writeObject(kAvail + 2, static_cast<std::uint16_t>(availIndex + 1)).ok());
  }
  std::uint16_t usedIndex() { return *memory.readObject<std::uint16_t>(kUsed + 2); }
};

void the_device_identifies_itself(void**) {
  Guest guest;
  assert_int_equal(guest.reg(0x000), 0x74726976);
  assert_int_equal(guest.reg(0x004), 2);
  assert_int_equal(guest.reg(0x008), 4);
  guest.set(0x014, 1);
  assert_true(guest.reg(0x010) & 1);  // VERSION_1 is bit 32
  guest.set(0x014, 0);
  assert_true(guest.reg(0x010) & (1u << 29));  // EVENT_IDX
  guest.set(0x030, 0);
  assert_int_equal(guest.reg(0x034), EntropyDevice::kQueueSize);
  guest.set(0x030, 1);
  assert_int_equal(guest.reg(0x034), 0);  // no second queue
  assert_string_equal(mmioCommandLine(0xd0000000, 5).c_str(), "virtio_mmio.device=4K@0xd0000000:5");
}

void random_bytes_reach_the_guest(void**) {
  for (bool eventIndex : {false, true}) {
    Guest guest;
    guest.negotiate(kFeatureVersion1 | (eventIndex ? kFeatureEventIndex : 0));
    assert_true(guest.reg(0x070) & kStatusFeaturesOk);
    guest.placeQueue(kSize, kDesc);
    assert_int_equal(guest.reg(0x044), 1);
    guest.start();
    assert_int_equal(guest.reg(0x070) & kStatusNeedsReset, 0);

    guest.offerBuffer(0, 64);
    guest.set(kMmioQueueNotify, 0);
    assert_int_equal(guest.usedIndex(), 1);
    assert_int_equal(*guest.memory.readObject<std::uint32_t>(kUsed + 8), 64);
    auto bytes = *guest.memory.slice(kBuffer, 64);
    bool allZero = std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
    assert_false(allZero);
    assert_int_equal(guest.interrupts, 1);
    assert_int_equal(guest.reg(0x060), 1);
    guest.set(0x064, 1);
    assert_int_equal(guest.reg(0x060), 0);
  }
}

void unoffered_features_are_refused(void**) {
  Guest guest;
  guest.negotiate(kFeatureVersion1 | (1ull << 40));
  assert_int_equal(guest.reg(0x070) & kStatusFeaturesOk, 0);
  assert_non_null(std::strstr(guest.transport.problem().c_str(), "did not offer"));

  Guest legacy;
  legacy.negotiate(kFeatureEventIndex);  // no VERSION_1: a legacy driver
  assert_int_equal(legacy.reg(0x070) & kStatusFeaturesOk, 0);
}

void a_misplaced_queue_needs_a_reset(void**) {
  Guest guest;
  guest.negotiate(kFeatureVersion1);
  guest.placeQueue(kSize, kDesc + 4);  // descriptors must be 16-byte aligned
  assert_int_equal(guest.reg(0x044), 0);
  assert_true(guest.reg(0x070) & kStatusNeedsReset);
  assert_non_null(std::strstr(guest.transport.problem().c_str(), "aligned"));

  Guest outside;
  outside.negotiate(kFeatureVersion1);
  outside.placeQueue(kSize, kRam - 16);
  assert_true(outside.reg(0x070) & kStatusNeedsReset);

  Guest tooBig;
  tooBig.negotiate(kFeatureVersion1);
  tooBig.placeQueue(512, kDesc);
  assert_true(tooBig.reg(0x070) & kStatusNeedsReset);
  assert_non_null(std::strstr(tooBig.transport.problem().c_str(), "exceeds the maximum 256"));
}

void starting_without_a_ready_queue_needs_a_reset(void**) {
  Guest guest;
  guest.negotiate(kFeatureVersion1);
  guest.start();
  assert_true(guest.reg(0x070) & kStatusNeedsReset);
  guest.offerBuffer(0, 16);
  guest.set(kMmioQueueNotify, 0);
  assert_int_equal(guest.usedIndex(), 0);
}

void a_reset_forgets_everything(void**) {
  Guest guest;
  guest.negotiate(kFeatureVersion1);
  guest.placeQueue(kSize, kDesc);
  guest.start();
  guest.set(0x070, 0);
  assert_int_equal(guest.reg(0x070), 0);
  assert_int_equal(guest.reg(0x044), 0);
  guest.offerBuffer(0, 16);
  guest.set(kMmioQueueNotify, 0);
  assert_int_equal(guest.usedIndex(), 0);
  assert_int_equal(guest.interrupts, 0);
}

void odd_accesses_and_early_notifies_do_nothing(void**) {
  Guest guest;
  std::uint8_t two[2] = {0xff, 0xff};
  guest.transport.read(0x000, two);
  assert_int_equal(two[0] | two[1], 0);
  guest.transport.write(0x070, two);  // a 2-byte status write
  assert_int_equal(guest.reg(0x070), 0);
  guest.offerBuffer(0, 16);
  guest.set(kMmioQueueNotify, 0);  // before DRIVER_OK
  assert_int_equal(guest.usedIndex(), 0);
  guest.negotiate(kFeatureVersion1);
  guest.placeQueue(kSize, kDesc);
  guest.set(0x038, 4);  // resizing a ready queue is ignored
  guest.start();
  guest.set(kMmioQueueNotify, 7);  // no such queue
  assert_int_equal(guest.usedIndex(), 0);
  guest.set(kMmioQueueNotify, 0);
  assert_int_equal(guest.usedIndex(), 1);
}

void a_corrupt_ring_stops_the_queue_not_the_vmm(void**) {
  Guest guest;
  guest.negotiate(kFeatureVersion1);
  guest.placeQueue(kSize, kDesc);
  guest.start();
  assert_true(guest.memory.writeObject(kAvail + 2, std::uint16_t{kSize + 5}).ok());
  guest.set(kMmioQueueNotify, 0);
  assert_int_equal(guest.usedIndex(), 0);
  assert_int_equal(guest.interrupts, 0);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_device_identifies_itself),
      cmocka_unit_test(random_bytes_reach_the_guest),
      cmocka_unit_test(unoffered_features_are_refused),
      cmocka_unit_test(a_misplaced_queue_needs_a_reset),
      cmocka_unit_test(starting_without_a_ready_queue_needs_a_reset),
      cmocka_unit_test(a_reset_forgets_everything),
      cmocka_unit_test(odd_accesses_and_early_notifies_do_nothing),
      cmocka_unit_test(a_corrupt_ring_stops_the_queue_not_the_vmm),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
