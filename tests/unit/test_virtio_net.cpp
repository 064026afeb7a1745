#include "vmm/virtio/net.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "tests/unit/queue_driver.h"
#include "tests/unit/unit_test.h"

using tandem::UniqueFd;
using tandem::vmm::GuestMemory;
using namespace tandem::vmm::virtio;

namespace {

constexpr std::uint64_t kRam = 1 << 20;
constexpr std::uint64_t kReceiveRings = 0x1000;
constexpr std::uint64_t kTransmitRings = 0x4000;
constexpr std::uint64_t kBuffers = 0x10000;
constexpr std::uint16_t kSize = 16;
constexpr std::uint16_t kWrite = 2;
constexpr std::uint16_t kNext = 1;

// One end of a datagram socket pair as the device's port; the test holds the other, the host's
// side of the wire.
struct SocketPort : FramePort {
  UniqueFd end;
  std::string name = "test socket";
  bool* checksum;
  explicit SocketPort(int fd, bool* checksumAccepted) : end(fd), checksum(checksumAccepted) {}
  int fd() const override { return end.get(); }
  tandem::Status acceptOffloads(bool acceptChecksum, bool, bool) override {
    *checksum = acceptChecksum;
    return tandem::okStatus();
  }
  const std::string& describe() const override { return name; }
};

struct Setup {
  GuestMemory memory = std::move(GuestMemory::create(kRam, false)).value();
  QueueDriver receive{memory, kReceiveRings, kSize};
  QueueDriver transmit{memory, kTransmitRings, kSize};
  UniqueFd host;
  bool checksumAccepted = false;
  int interrupts = 0;
  int wakes = 0;
  std::unique_ptr<NetDevice> device;

  explicit Setup(std::uint64_t features = kFeatureVersion1 | kNetFeatureMergeableBuffers |
                                          kNetFeatureGuestChecksum) {
    int fds[2];
    assert_int_equal(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, fds), 0);
    host.reset(fds[1]);
    device = std::make_unique<NetDevice>(std::make_unique<SocketPort>(fds[0], &checksumAccepted),
                                         MacAddress{0x02, 0x54, 0, 0, 0, 7}, [this] { ++wakes; });
    std::vector<Virtqueue> queues;
    queues.push_back(receive.queue(true));
    queues.push_back(transmit.queue(true));
    assert_true(device->activate(std::move(queues), features, [this] { ++interrupts; }).ok());
  }

  // Receive buffer n: one device-writable descriptor of `bytes` at its own address.
  void giveReceiveBuffer(std::uint16_t n, std::uint32_t bytes) {
    receive.descriptor(n, {kBuffers + 0x2000 * std::uint64_t{n}, bytes, kWrite, 0});
    receive.offer(n);
  }
  std::uint8_t* receiveBuffer(std::uint16_t n) {
    return memory.hostBase() + kBuffers + 0x2000 * std::uint64_t{n};
  }
  void hostSends(const std::vector<std::uint8_t>& frame) {
    assert_int_equal(::send(host.get(), frame.data(), frame.size(), 0), frame.size());
  }
};

// A virtio-net header (all zero: no offloads) and `payload` bytes counting up from `first`.
std::vector<std::uint8_t> frame(std::size_t payload, std::uint8_t first = 0) {
  std::vector<std::uint8_t> bytes(kNetHeaderBytes + payload, 0);
  std::iota(bytes.begin() + kNetHeaderBytes, bytes.end(), first);
  return bytes;
}

void the_config_space_holds_the_mac_and_link_up(void**) {
  Setup setup;
  std::uint8_t config[10];
  setup.device->readConfig(0, config);
  const std::uint8_t expected[10] = {0x02, 0x54, 0, 0, 0, 7, 1, 0, 0, 0};
  assert_memory_equal(config, expected, sizeof expected);
  assert_true(setup.checksumAccepted);
  assert_int_equal(setup.device->type(), 1);
  assert_true(setup.device->features() & kNetFeatureMergeableBuffers);
}

void a_sent_frame_reaches_the_port_whole(void**) {
  Setup setup;
  std::vector<std::uint8_t> sent = frame(300, 5);
  // Header and payload in two buffers, as Linux's driver sends them.
  std::memcpy(setup.memory.hostBase() + kBuffers, sent.data(), kNetHeaderBytes);
  std::memcpy(setup.memory.hostBase() + kBuffers + 0x100, sent.data() + kNetHeaderBytes, 300);
  setup.transmit.descriptor(0, {kBuffers, kNetHeaderBytes, kNext, 1});
  setup.transmit.descriptor(1, {kBuffers + 0x100, 300, 0, 0});
  setup.transmit.offer(0);
  setup.device->notify(NetDevice::kTransmitQueue);

  std::vector<std::uint8_t> got(2000);
  ssize_t n = ::recv(setup.host.get(), got.data(), got.size(), 0);
  assert_int_equal(n, sent.size());
  assert_memory_equal(got.data(), sent.data(), sent.size());
  assert_int_equal(setup.transmit.usedIndex(), 1);
  assert_int_equal(setup.transmit.usedHead(0), 0);
  assert_int_equal(setup.interrupts, 1);
  assert_int_equal(setup.device->counters().interrupts, 1);
  assert_int_equal(setup.device->counters().sentFrames, 1);
  assert_int_equal(setup.device->counters().sentBytes, 300);
}

void a_frame_too_short_for_a_header_is_not_sent(void**) {
  Setup setup;
  setup.transmit.descriptor(0, {kBuffers, 6, 0, 0});
  setup.transmit.offer(0);
  setup.device->notify(NetDevice::kTransmitQueue);
  std::uint8_t byte;
  assert_int_equal(::recv(setup.host.get(), &byte, 1, 0), -1);
  assert_int_equal(setup.transmit.usedIndex(), 1);  // returned all the same
  assert_int_equal(setup.device->counters().sendErrors, 1);
}

void a_received_frame_spreads_over_mergeable_buffers(void**) {
  Setup setup;
  for (std::uint16_t n = 0; n < 4; ++n) setup.giveReceiveBuffer(n, 1024);
  setup.device->notify(NetDevice::kReceiveQueue);
  std::vector<std::uint8_t> sent = frame(1400, 9);
  setup.hostSends(sent);
  setup.device->receive();

  // Two buffers hold the 1412 bytes; the device took only as many as the largest frame needs.
  assert_int_equal(setup.receive.usedIndex(), 2);
  assert_int_equal(setup.receive.usedLength(0), 1024);
  assert_int_equal(setup.receive.usedLength(1), kNetHeaderBytes + 1400 - 1024);
  std::vector<std::uint8_t> got;
  for (std::uint16_t n = 0; n < 2; ++n) {
    auto head = static_cast<std::uint16_t>(setup.receive.usedHead(n));
    got.insert(got.end(), setup.receiveBuffer(head),
               setup.receiveBuffer(head) + setup.receive.usedLength(n));
  }
  // num_buffers says 2; the rest of the header and the payload are as sent.
  assert_int_equal(got[kNetNumBuffersOffset], 2);
  got[kNetNumBuffersOffset] = 0;
  assert_true(got == sent);
  assert_int_equal(setup.interrupts, 1);

  // The third buffer was given back and takes the next frame.
  setup.hostSends(frame(10));
  setup.device->receive();
  assert_int_equal(setup.receive.usedIndex(), 3);
  assert_int_equal(setup.receive.usedHead(2), 2);
  assert_int_equal(setup.receive.usedLength(2), kNetHeaderBytes + 10);
  assert_int_equal(setup.receiveBuffer(2)[kNetNumBuffersOffset], 1);
  assert_int_equal(setup.device->counters().receivedFrames, 2);
  // The counter follows the interrupts the device raised, whatever the guest asked for.
  assert_int_equal(setup.device->counters().interrupts,
                   static_cast<std::uint64_t>(setup.interrupts));
}

void without_room_the_port_waits_for_buffers(void**) {
  Setup setup;
  // 1 KiB is less than the largest frame (1530 bytes): the device must not start a frame it may
  // have to cut.
  setup.giveReceiveBuffer(0, 1024);
  setup.hostSends(frame(100));
  assert_true(setup.device->receiveFd() >= 0);
  setup.device->receive();
  assert_int_equal(setup.receive.usedIndex(), 0);
  assert_int_equal(setup.device->receiveFd(), -1);
  // With event indexes, the device asked to hear of the next buffer.
  assert_int_equal(setup.receive.availEvent(), 1);

  setup.giveReceiveBuffer(1, 1024);
  setup.device->notify(NetDevice::kReceiveQueue);
  assert_int_equal(setup.wakes, 1);
  assert_true(setup.device->receiveFd() >= 0);
  setup.device->receive();
  assert_int_equal(setup.receive.usedIndex(), 1);
  assert_int_equal(setup.receive.usedLength(0), kNetHeaderBytes + 100);
}

void hostile_receive_chains_are_returned_empty(void**) {
  Setup setup;
  // A chain with a device-readable buffer, and one too small for the header, both first.
  setup.receive.descriptor(0, {kBuffers, 64, 0, 0});
  setup.receive.offer(0);
  setup.receive.descriptor(1, {kBuffers + 0x2000, 4, kWrite, 0});
  setup.receive.offer(1);
  // A chain pointing outside guest RAM.
  setup.receive.descriptor(2, {kRam - 16, 4096, kWrite, 0});
  setup.receive.offer(2);
  setup.giveReceiveBuffer(3, 2048);
  setup.hostSends(frame(40));
  setup.device->receive();
  assert_int_equal(setup.receive.usedIndex(), 4);
  for (std::uint16_t n = 0; n < 3; ++n) {
    assert_int_equal(setup.receive.usedHead(n), n);
    assert_int_equal(setup.receive.usedLength(n), 0);
  }
  assert_int_equal(setup.receive.usedHead(3), 3);
  assert_int_equal(setup.receive.usedLength(3), kNetHeaderBytes + 40);
}

void a_bad_chain_after_good_ones_is_left_for_the_next_frame(void**) {
  Setup setup;
  setup.giveReceiveBuffer(0, 1024);
  setup.receive.descriptor(1, {kBuffers, 64, 0, 0});  // readable: not for receiving
  setup.receive.offer(1);
  setup.giveReceiveBuffer(2, 2048);
  setup.hostSends(frame(20));
  setup.hostSends(frame(30));
  setup.device->receive();
  // The first frame took buffer 0 alone; then the bad chain came back empty and buffer 2 took
  // the second frame.
  assert_int_equal(setup.receive.usedIndex(), 3);
  assert_int_equal(setup.receive.usedHead(0), 0);
  assert_int_equal(setup.receive.usedLength(0), kNetHeaderBytes + 20);
  assert_int_equal(setup.receive.usedHead(1), 1);
  assert_int_equal(setup.receive.usedLength(1), 0);
  assert_int_equal(setup.receive.usedHead(2), 2);
  assert_int_equal(setup.receive.usedLength(2), kNetHeaderBytes + 30);
}

void without_mergeable_buffers_a_frame_takes_one_chain(void**) {
  Setup setup(kFeatureVersion1);
  assert_false(setup.checksumAccepted);
  setup.giveReceiveBuffer(0, 512);
  setup.giveReceiveBuffer(1, 512);
  setup.hostSends(frame(100));
  setup.device->receive();
  assert_int_equal(setup.receive.usedIndex(), 1);
  assert_int_equal(setup.receive.usedLength(0), kNetHeaderBytes + 100);
  assert_int_equal(setup.receiveBuffer(0)[kNetNumBuffersOffset], 1);
}

void a_closed_port_stops_receiving_instead_of_spinning(void**) {
  Setup setup;
  setup.giveReceiveBuffer(0, 2048);
  setup.host.reset();
  setup.device->receive();
  assert_int_equal(setup.device->receiveFd(), -1);
  assert_int_equal(setup.receive.usedIndex(), 0);
}

void a_reset_stops_both_queues(void**) {
  Setup setup;
  setup.device->reset();
  assert_int_equal(setup.device->receiveFd(), -1);
  setup.transmit.descriptor(0, {kBuffers, 64, 0, 0});
  setup.transmit.offer(0);
  setup.device->notify(NetDevice::kTransmitQueue);
  assert_int_equal(setup.transmit.usedIndex(), 0);
  std::uint8_t byte;
  assert_int_equal(::recv(setup.host.get(), &byte, 1, 0), -1);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_config_space_holds_the_mac_and_link_up),
      cmocka_unit_test(a_sent_frame_reaches_the_port_whole),
      cmocka_unit_test(a_frame_too_short_for_a_header_is_not_sent),
      cmocka_unit_test(a_received_frame_spreads_over_mergeable_buffers),
      cmocka_unit_test(without_room_the_port_waits_for_buffers),
      cmocka_unit_test(hostile_receive_chains_are_returned_empty),
      cmocka_unit_test(a_bad_chain_after_good_ones_is_left_for_the_next_frame),
      cmocka_unit_test(without_mergeable_buffers_a_frame_takes_one_chain),
      cmocka_unit_test(a_closed_port_stops_receiving_instead_of_spinning),
      cmocka_unit_test(a_reset_stops_both_queues),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
