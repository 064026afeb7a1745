#include "vmm/virtio/virtqueue.h"

#include <cstring>

#include "tests/unit/unit_test.h"

using tandem::vmm::GuestMemory;
using tandem::vmm::virtio::kDescIndirect;
using tandem::vmm::virtio::kDescNext;
using tandem::vmm::virtio::kDescWrite;
using tandem::vmm::virtio::PoppedChain;
using tandem::vmm::virtio::QueueLayout;
using tandem::vmm::virtio::Virtqueue;

namespace {

constexpr std::uint64_t kRam = 1 << 20;
constexpr std::uint16_t kSize = 8;
constexpr std::uint64_t kDesc = 0x1000;
constexpr std::uint64_t kAvail = 0x2000;
constexpr std::uint64_t kUsed = 0x3000;
constexpr std::uint64_t kIndirect = 0x4000;
constexpr std::uint64_t kData = 0x10000;

struct Descriptor {
  std::uint64_t address;
  std::uint32_t length;
  std::uint16_t flags;
  std::uint16_t next;
};

// A driver's side of one queue in a small guest RAM, written field by field as a guest would.
struct Driver {
  GuestMemory memory = std::move(GuestMemory::create(kRam, false)).value();
  std::uint16_t availIndex = 0;

  void descriptor(std::uint64_t table, std::uint16_t index, Descriptor d) {
    assert_true(memory.writeObject(table + 16 * std::uint64_t{index}, d).ok());
  }
  void offer(std::uint16_t head) {
    assert_true(
        memory.writeObject(kAvail + 4 + 2 * static_cast<std::uint64_t>(availIndex % kSize), head)
            .ok());
    ++availIndex;
    assert_true(memory.writeObject(kAvail + 2, availIndex).ok());
  }
  Virtqueue queue(bool eventIndex = false) {
    auto queue = Virtqueue::create(memory, {kSize, kDesc, kAvail, kUsed}, eventIndex);
    assert_true(queue.ok());
    return std::move(queue).value();
  }
  template <class T>
  T read(std::uint64_t address) {
    return *memory.readObject<T>(address);
  }
};

PoppedChain popOk(Virtqueue& queue) {
  auto popped = queue.pop();
  assert_true(popped.ok());
  return std::move(popped).value();
}

void expectMalformed(Driver& driver, const char* problem) {
  Virtqueue queue = driver.queue();
  PoppedChain popped = popOk(queue);
  if (popped.kind != PoppedChain::Kind::kMalformed) {
    fail_msg("expected a malformed chain (%s)", problem);
  }
  if (std::strstr(popped.problem.c_str(), problem) == nullptr) {
    fail_msg("problem \"%s\" does not mention \"%s\"", popped.problem.c_str(), problem);
  }
  assert_true(popped.chain.readable.empty() && popped.chain.writable.empty());
  // A refused chain is still returned, so that the driver does not wait for it.
  assert_true(queue.pushUsed(popped.chain.head, 0).ok());
  assert_int_equal(driver.read<std::uint16_t>(kUsed + 2), 1);
}

void a_request_chain_is_split_into_readable_and_writable(void**) {
  Driver driver;
  driver.descriptor(kDesc, 3, {kData, 16, kDescNext, 5});
  driver.descriptor(kDesc, 5, {kData + 0x100, 512, kDescNext | kDescWrite, 1});
  driver.descriptor(kDesc, 1, {kData + 0x400, 1, kDescWrite, 0});
  driver.offer(3);
  Virtqueue queue = driver.queue();
  PoppedChain popped = popOk(queue);
  assert_true(popped.kind == PoppedChain::Kind::kChain);
  assert_int_equal(popped.chain.head, 3);
  assert_int_equal(popped.chain.readable.size(), 1);
  assert_int_equal(popped.chain.writable.size(), 2);
  assert_int_equal(popped.chain.readableBytes(), 16);
  assert_int_equal(popped.chain.writableBytes(), 513);
  assert_ptr_equal(popped.chain.writable[0].bytes.data(), driver.memory.hostBase() + kData + 0x100);
  // Nothing more is available.
  assert_true(popOk(queue).kind == PoppedChain::Kind::kEmpty);

  assert_true(queue.pushUsed(3, 513).ok());
  assert_int_equal(driver.read<std::uint16_t>(kUsed + 2), 1);
  assert_int_equal(driver.read<std::uint32_t>(kUsed + 4), 3);
  assert_int_equal(driver.read<std::uint32_t>(kUsed + 8), 513);
}

void a_loop_is_refused(void**) {
  Driver driver;
  driver.descriptor(kDesc, 0, {kData, 16, kDescNext, 1});
  driver.descriptor(kDesc, 1, {kData + 0x100, 16, kDescNext, 0});
  driver.offer(0);
  expectMalformed(driver, "loops");
}

void a_self_loop_is_refused(void**) {
  Driver driver;
  driver.descriptor(kDesc, 2, {kData, 16, kDescNext, 2});
  driver.offer(2);
  expectMalformed(driver, "loops");
}

void an_address_outside_ram_is_refused(void**) {
  Driver driver;
  driver.descriptor(kDesc, 0, {kRam - 8, 16, 0, 0});
  driver.offer(0);
  expectMalformed(driver, "outside the guest");
}

void an_address_that_wraps_is_refused(void**) {
  Driver driver;
  driver.descriptor(kDesc, 0, {~std::uint64_t{0} - 4, 0x1000, kDescWrite, 0});
  driver.offer(0);
  expectMalformed(driver, "outside the guest");
}

void a_zero_length_is_refused(void**) {
  Driver driver;
  driver.descriptor(kDesc, 0, {kData, 16, kDescNext, 1});
  driver.descriptor(kDesc, 1, {kData + 0x100, 0, kDescWrite, 0});
  driver.offer(0);
  expectMalformed(driver, "length 0");
}

void overlapping_buffers_are_refused(void**) {
  Driver driver;
  driver.descriptor(kDesc, 0, {kData, 64, kDescNext, 1});
  driver.descriptor(kDesc, 1, {kData + 32, 64, kDescWrite, 0});
  driver.offer(0);
  expectMalformed(driver, "overlap");
}

void a_next_index_past_the_table_is_refused(void**) {
  Driver driver;
  driver.descriptor(kDesc, 0, {kData, 16, kDescNext, kSize});
  driver.offer(0);
  expectMalformed(driver, "continues to descriptor 8");
}

void readable_after_writable_is_refused(void**) {
  Driver driver;
  driver.descriptor(kDesc, 0, {kData, 16, kDescNext | kDescWrite, 1});
  driver.descriptor(kDesc, 1, {kData + 0x100, 16, 0, 0});
  driver.offer(0);
  expectMalformed(driver, "follows a device-writable");
}

void an_indirect_table_is_followed(void**) {
  Driver driver;
  driver.descriptor(kDesc, 4, {kIndirect, 3 * 16, kDescIndirect, 0});
  driver.descriptor(kIndirect, 0, {kData, 16, kDescNext, 2});
  driver.descriptor(kIndirect, 2, {kData + 0x100, 16, kDescNext, 1});
  driver.descriptor(kIndirect, 1, {kData + 0x200, 4096, kDescWrite, 0});
  driver.offer(4);
  Virtqueue queue = driver.queue();
  PoppedChain popped = popOk(queue);
  assert_true(popped.kind == PoppedChain::Kind::kChain);
  assert_int_equal(popped.chain.head, 4);
  assert_int_equal(popped.chain.readable.size(), 2);
  assert_int_equal(popped.chain.writableBytes(), 4096);
}

void malformed_indirect_tables_are_refused(void**) {
  struct Case {
    Descriptor head;
    const char* problem;
  } cases[] = {
      {{kIndirect, 24, kDescIndirect, 0}, "not a whole number"},
      {{kIndirect, 0, kDescIndirect, 0}, "not a whole number"},
      {{kIndirect, 32, kDescIndirect | kDescNext, 1}, "both INDIRECT and NEXT"},
      {{kRam - 16, 32, kDescIndirect, 0}, "indirect table"},
  };
  for (const Case& c : cases) {
    Driver driver;
    driver.descriptor(kDesc, 0, c.head);
    driver.descriptor(kIndirect, 0, {kData, 16, 0, 0});
    driver.descriptor(kIndirect, 1, {kData + 0x100, 16, 0, 0});
    driver.offer(0);
    expectMalformed(driver, c.problem);
  }
}

void a_nested_indirect_table_is_refused(void**) {
  Driver driver;
  driver.descriptor(kDesc, 0, {kIndirect, 16, kDescIndirect, 0});
  driver.descriptor(kIndirect, 0, {kIndirect + 0x100, 16, kDescIndirect, 0});
  driver.offer(0);
  expectMalformed(driver, "from inside one");
}

void a_loop_inside_an_indirect_table_is_refused(void**) {
  Driver driver;
  driver.descriptor(kDesc, 0, {kIndirect, 2 * 16, kDescIndirect, 0});
  driver.descriptor(kIndirect, 0, {kData, 16, kDescNext, 1});
  driver.descriptor(kIndirect, 1, {kData + 0x100, 16, kDescNext, 0});
  driver.offer(0);
  expectMalformed(driver, "loops");
}

void a_head_past_the_ring_breaks_the_queue(void**) {
  Driver driver;
  driver.offer(kSize + 3);
  Virtqueue queue = driver.queue();
  auto popped = queue.pop();
  assert_false(popped.ok());
  assert_non_null(std::strstr(popped.error().message().c_str(), "names descriptor 11"));
}

void an_available_index_too_far_ahead_breaks_the_queue(void**) {
  Driver driver;
  std::uint16_t ahead = kSize + 1;
  assert_true(driver.memory.writeObject(kAvail + 2, ahead).ok());
  Virtqueue queue = driver.queue();
  auto popped = queue.pop();
  assert_false(popped.ok());
  assert_non_null(std::strstr(popped.error().message().c_str(), "9 entries ahead"));
}

void bad_layouts_are_refused(void**) {
  Driver driver;
  for (QueueLayout layout :
       {QueueLayout{6, kDesc, kAvail, kUsed}, QueueLayout{0, kDesc, kAvail, kUsed},
        QueueLayout{kSize, kDesc + 8, kAvail, kUsed}, QueueLayout{kSize, kDesc, kAvail + 1, kUsed},
        QueueLayout{kSize, kDesc, kAvail, kUsed + 2}, QueueLayout{kSize, kDesc, kAvail, kRam - 16},
        QueueLayout{kSize, kRam, kAvail, kUsed}}) {
    assert_false(Virtqueue::create(driver.memory, layout, true).ok());
  }
}

void indexes_wrap_at_65536(void**) {
  Driver driver;
  driver.descriptor(kDesc, 0, {kData, 16, kDescWrite, 0});
  Virtqueue queue = driver.queue();
  for (int round = 0; round < 70000; ++round) {
    driver.offer(0);
    PoppedChain popped = popOk(queue);
    assert_true(popped.kind == PoppedChain::Kind::kChain);
    assert_true(queue.pushUsed(0, 16).ok());
  }
  assert_int_equal(driver.read<std::uint16_t>(kUsed + 2), 70000 % 65536);
  assert_true(popOk(queue).kind == PoppedChain::Kind::kEmpty);
}

void event_index_decides_interrupts(void**) {
  Driver driver;
  driver.descriptor(kDesc, 0, {kData, 16, kDescWrite, 0});
  Virtqueue queue = driver.queue(true);
  const std::uint64_t usedEvent = kAvail + 4 + 2 * kSize;
  // The driver wants an interrupt once used idx passes 1 (used_event = 1).
  assert_true(driver.memory.writeObject(usedEvent, std::uint16_t{1}).ok());
  driver.offer(0);
  popOk(queue);
  assert_true(queue.pushUsed(0, 1).ok());
  assert_false(*queue.needsInterrupt());  // used idx 1: event 1 not yet crossed
  driver.offer(0);
  popOk(queue);
  assert_true(queue.pushUsed(0, 1).ok());
  assert_true(*queue.needsInterrupt());   // used idx 2 crossed event 1
  assert_false(*queue.needsInterrupt());  // nothing new since
  // avail_event tells the driver where the device wants its next notification.
  assert_true(queue.requestNotification().ok());
  assert_int_equal(driver.read<std::uint16_t>(kUsed + 4 + 8 * kSize), 2);
}

void no_interrupt_flag_without_event_index(void**) {
  Driver driver;
  driver.descriptor(kDesc, 0, {kData, 16, kDescWrite, 0});
  Virtqueue queue = driver.queue(false);
  driver.offer(0);
  popOk(queue);
  assert_true(queue.pushUsed(0, 1).ok());
  assert_true(*queue.needsInterrupt());
  assert_true(driver.memory.writeObject(kAvail, std::uint16_t{1}).ok());
  driver.offer(0);
  popOk(queue);
  assert_true(queue.pushUsed(0, 1).ok());
  assert_false(*queue.needsInterrupt());
  assert_false(queue.pushUsed(kSize, 0).ok());
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_request_chain_is_split_into_readable_and_writable),
      cmocka_unit_test(a_loop_is_refused),
      cmocka_unit_test(a_self_loop_is_refused),
      cmocka_unit_test(an_address_outside_ram_is_refused),
      cmocka_unit_test(an_address_that_wraps_is_refused),
      cmocka_unit_test(a_zero_length_is_refused),
      cmocka_unit_test(overlapping_buffers_are_refused),
      cmocka_unit_test(a_next_index_past_the_table_is_refused),
      cmocka_unit_test(readable_after_writable_is_refused),
      cmocka_unit_test(an_indirect_table_is_followed),
      cmocka_unit_test(malformed_indirect_tables_are_refused),
      cmocka_unit_test(a_nested_indirect_table_is_refused),
      cmocka_unit_test(a_loop_inside_an_indirect_table_is_refused),
      cmocka_unit_test(a_head_past_the_ring_breaks_the_queue),
      cmocka_unit_test(an_available_index_too_far_ahead_breaks_the_queue),
      cmocka_unit_test(bad_layouts_are_refused),
      cmocka_unit_test(indexes_wrap_at_65536),
      cmocka_unit_test(event_index_decides_interrupts),
      cmocka_unit_test(no_interrupt_flag_without_event_index),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
