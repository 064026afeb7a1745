#include "vmm/virtio/vsock.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string>
#include <vector>

#include "common/unix_socket.h"
#include "tests/unit/queue_driver.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using tandem::UniqueFd;
using tandem::vmm::GuestMemory;
using namespace tandem::vmm::virtio;

namespace {

constexpr std::uint64_t kRam = 1 << 20;
constexpr std::uint64_t kReceiveRings = 0x1000;
constexpr std::uint64_t kTransmitRings = 0x4000;
constexpr std::uint64_t kEventRings = 0x7000;
constexpr std::uint64_t kReceiveBuffers = 0x10000;
constexpr std::uint64_t kTransmitBuffers = 0x40000;
constexpr std::uint32_t kReceiveBufferBytes = 4096 + kVsockHeaderBytes;
constexpr std::uint16_t kSize = 16;
constexpr std::uint16_t kWrite = 2;
constexpr std::uint16_t kNext = 1;
constexpr std::uint64_t kGuestCid = 3;

struct Packet {
  VsockHeader header;
  std::string payload;
};

struct Setup {
  std::string socketPath;
  GuestMemory memory = std::move(GuestMemory::create(kRam, false)).value();
  QueueDriver receive{memory, kReceiveRings, kSize};
  QueueDriver transmit{memory, kTransmitRings, kSize};
  QueueDriver events{memory, kEventRings, kSize};
  std::unique_ptr<VsockDevice> device;
  int interrupts = 0;
  std::uint16_t receivedSeen = 0;
  std::uint16_t transmitSlot = 0;

  explicit Setup(const std::string& directory,
                 std::chrono::milliseconds pendingTimeout = VsockDevice::kPendingTimeout)
      : socketPath(directory + "/vsock.sock") {
    auto listener = tandem::listenUnixSocket(socketPath);
    assert_true(listener.ok());
    auto created =
        VsockDevice::create(kGuestCid, std::move(listener).value(), socketPath, pendingTimeout);
    assert_true(created.ok());
    device = std::move(created).value();
    std::vector<Virtqueue> queues;
    queues.push_back(receive.queue(true));
    queues.push_back(transmit.queue(true));
    queues.push_back(events.queue(true));
    assert_true(
        device->activate(std::move(queues), kFeatureVersion1, [this] { ++interrupts; }).ok());
  }

  // Receive buffers 0..count-1, each one device-writable descriptor.
  void giveReceiveBuffers(std::uint16_t count, std::uint32_t bytes = kReceiveBufferBytes) {
    for (std::uint16_t n = 0; n < count; ++n) {
      std::uint16_t slot = receive.availIndex % kSize;
      receive.descriptor(slot, {kReceiveBuffers + 0x2000 * std::uint64_t{slot}, bytes, kWrite, 0});
      receive.offer(slot);
    }
    device->notify(VsockDevice::kReceiveQueue);
  }

  // Runs the host side until nothing changes for `waitMs`.
  void serve(int waitMs = 50) {
    for (int i = 0; i < 8; ++i) {
      pollfd fd{device->hostFd(), POLLIN, 0};
      if (::poll(&fd, 1, waitMs) <= 0) break;
      device->serviceHost();
    }
  }

  // The packets the device delivered since the last call.
  std::vector<Packet> delivered() {
    std::vector<Packet> packets;
    for (; receivedSeen != receive.usedIndex(); ++receivedSeen) {
      std::uint32_t head = receive.usedHead(receivedSeen % kSize);
      std::uint32_t length = receive.usedLength(receivedSeen % kSize);
      assert_true(length >= kVsockHeaderBytes);
      const std::uint8_t* bytes =
          memory.hostBase() + kReceiveBuffers + 0x2000 * std::uint64_t{head};
      Packet packet;
      packet.header = decodeVsockHeader(
          std::span<const std::uint8_t, kVsockHeaderBytes>(bytes, kVsockHeaderBytes));
      assert_int_equal(packet.header.len, length - kVsockHeaderBytes);
      packet.payload.assign(reinterpret_cast<const char*>(bytes) + kVsockHeaderBytes,
                            packet.header.len);
      packets.push_back(packet);
    }
    return packets;
  }

  // The guest transmits one packet, its length the payload's unless set; `split` puts the header's
  // last bytes in a second buffer.
  void guestSends(VsockHeader header, const std::string& payload = "", bool split = false) {
    std::uint16_t slot = static_cast<std::uint16_t>((transmitSlot++ % (kSize / 2)) * 2);
    std::uint64_t address = kTransmitBuffers + 0x10000 * static_cast<std::uint64_t>(slot / 2);
    if (header.len == 0) {
      header.len = static_cast<std::uint32_t>(payload.size());
    }
    std::array<std::uint8_t, kVsockHeaderBytes> bytes;
    encodeVsockHeader(header, bytes);
    assert_true(memory.write(address, bytes).ok());
    assert_true(
        memory
            .write(address + kVsockHeaderBytes,
                   std::span(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()))
            .ok());
    auto total = static_cast<std::uint32_t>(kVsockHeaderBytes + payload.size());
    if (split) {
      transmit.descriptor(slot, {address, 20, kNext, static_cast<std::uint16_t>(slot + 1)});
      transmit.descriptor(slot + 1, {address + 20, total - 20, 0, 0});
    } else {
      transmit.descriptor(slot, {address, total, 0, 0});
    }
    transmit.offer(slot);
    device->notify(VsockDevice::kTransmitQueue);
  }

  VsockHeader fromGuest(std::uint32_t guestPort, std::uint32_t hostPort, VsockOp op) const {
    return VsockHeader{.srcCid = kGuestCid,
                       .dstCid = kVsockHostCid,
                       .srcPort = guestPort,
                       .dstPort = hostPort,
                       .op = op,
                       .bufAlloc = 64 * 1024,
                       .fwdCnt = 0};
  }
};

std::string readSome(int fd) {
  pollfd ready{fd, POLLIN, 0};
  if (::poll(&ready, 1, 1000) <= 0) return "<timeout>";
  char buffer[4096];
  ssize_t n = ::read(fd, buffer, sizeof buffer);
  return n < 0 ? "<error>" : std::string(buffer, static_cast<std::size_t>(n));
}

// A host client connected to guest port `port` through the device: the guest accepts.
struct HostConnection {
  UniqueFd client;
  std::uint32_t hostPort = 0;
};

HostConnection connectFromHost(Setup& setup, std::uint32_t port) {
  auto client = tandem::connectUnixSocket(setup.socketPath);
  assert_true(client.ok());
  std::string line = "CONNECT " + std::to_string(port) + "\n";
  assert_int_equal(::write(client->get(), line.data(), line.size()), line.size());
  setup.serve();
  auto packets = setup.delivered();
  assert_int_equal(packets.size(), 1);
  const VsockHeader& request = packets[0].header;
  assert_int_equal(static_cast<int>(request.op), static_cast<int>(VsockOp::kRequest));
  assert_int_equal(request.srcCid, kVsockHostCid);
  assert_int_equal(request.dstCid, kGuestCid);
  assert_int_equal(request.dstPort, port);
  assert_true(request.srcPort >= VsockDevice::kFirstEphemeralPort);
  assert_int_equal(request.bufAlloc, VsockDevice::kConnectionBuffer);
  setup.guestSends(setup.fromGuest(port, request.srcPort, VsockOp::kResponse));
  std::string ok = readSome(client->get());
  assert_string_equal(ok.c_str(), ("OK " + std::to_string(request.srcPort) + "\n").c_str());
  return {std::move(client).value(), request.srcPort};
}

void configHoldsTheGuestCid(void** state) {
  Setup setup(tempDir(state));
  std::uint8_t config[8];
  setup.device->readConfig(0, config);
  assert_int_equal(config[0], kGuestCid);
  assert_int_equal(config[7], 0);
}

void hostConnectsAndBytesFlowBothWays(void** state) {
  Setup setup(tempDir(state));
  setup.giveReceiveBuffers(8);
  HostConnection host = connectFromHost(setup, 52);

  assert_int_equal(::write(host.client.get(), "ping", 4), 4);
  setup.serve();
  auto packets = setup.delivered();
  assert_int_equal(packets.size(), 1);
  assert_int_equal(static_cast<int>(packets[0].header.op), static_cast<int>(VsockOp::kData));
  assert_string_equal(packets[0].payload.c_str(), "ping");
  assert_true(setup.interrupts > 0);

  // A header split over two buffers is one header.
  setup.guestSends(setup.fromGuest(52, host.hostPort, VsockOp::kData), "pong", true);
  assert_string_equal(readSome(host.client.get()).c_str(), "pong");
  assert_int_equal(setup.device->counters().bytesToHost, 4);
  assert_int_equal(setup.device->counters().bytesToGuest, 4);
}

void bytesSentRightAfterTheConnectLineReachTheGuest(void** state) {
  Setup setup(tempDir(state));
  setup.giveReceiveBuffers(8);
  auto client = tandem::connectUnixSocket(setup.socketPath);
  assert_true(client.ok());
  std::string both = "CONNECT 9\nearly";
  assert_int_equal(::write(client->get(), both.data(), both.size()), both.size());
  setup.serve();
  auto packets = setup.delivered();
  assert_int_equal(packets.size(), 1);
  setup.guestSends(setup.fromGuest(9, packets[0].header.srcPort, VsockOp::kResponse));
  setup.serve();
  packets = setup.delivered();
  assert_int_equal(packets.size(), 1);
  assert_string_equal(packets[0].payload.c_str(), "early");
}

void aGuestThatRefusesClosesTheHostClient(void** state) {
  Setup setup(tempDir(state));
  setup.giveReceiveBuffers(4);
  auto client = tandem::connectUnixSocket(setup.socketPath);
  assert_true(client.ok());
  assert_int_equal(::write(client->get(), "CONNECT 7\n", 10), 10);
  setup.serve();
  auto packets = setup.delivered();
  assert_int_equal(packets.size(), 1);
  setup.guestSends(setup.fromGuest(7, packets[0].header.srcPort, VsockOp::kReset));
  assert_string_equal(readSome(client->get()).c_str(), "");
}

void aClientWithoutAConnectLineIsDropped(void** state) {
  Setup setup(tempDir(state));
  setup.giveReceiveBuffers(4);
  auto client = tandem::connectUnixSocket(setup.socketPath);
  assert_true(client.ok());
  assert_int_equal(::write(client->get(), "GET / HTTP/1.0\n", 15), 15);
  setup.serve();
  assert_string_equal(readSome(client->get()).c_str(), "");
  assert_int_equal(setup.delivered().size(), 0);
}

void silentClientsAndGuestsTimeOut(void** state) {
  Setup setup(tempDir(state), std::chrono::milliseconds(300));
  setup.giveReceiveBuffers(4);
  auto silent = tandem::connectUnixSocket(setup.socketPath);
  assert_true(silent.ok());
  auto unanswered = tandem::connectUnixSocket(setup.socketPath);
  assert_true(unanswered.ok());
  assert_int_equal(::write(unanswered->get(), "CONNECT 7\n", 10), 10);
  setup.serve(20);
  auto packets = setup.delivered();
  // The guest never answers, and the first client never speaks: both are closed once the
  // timeout passes, and the guest's half of the request is reset.
  setup.serve(600);
  assert_string_equal(readSome(silent->get()).c_str(), "");
  assert_string_equal(readSome(unanswered->get()).c_str(), "");
  for (Packet& packet : setup.delivered()) packets.push_back(packet);
  assert_int_equal(packets.size(), 2);
  assert_int_equal(static_cast<int>(packets[0].header.op), static_cast<int>(VsockOp::kRequest));
  assert_int_equal(static_cast<int>(packets[1].header.op), static_cast<int>(VsockOp::kReset));
  assert_int_equal(packets[1].header.srcPort, packets[0].header.srcPort);
  // A connection the guest accepted in time is not touched by the timer.
  HostConnection live = connectFromHost(setup, 9);
  setup.serve(600);
  setup.guestSends(setup.fromGuest(9, live.hostPort, VsockOp::kData), "still here");
  assert_string_equal(readSome(live.client.get()).c_str(), "still here");
}

void guestConnectsToAHostListener(void** state) {
  Setup setup(tempDir(state));
  setup.giveReceiveBuffers(8);
  auto listener = tandem::listenUnixSocket(setup.socketPath + "_77");
  assert_true(listener.ok());
  setup.guestSends(setup.fromGuest(5000, 77, VsockOp::kRequest));
  auto packets = setup.delivered();
  assert_int_equal(packets.size(), 1);
  assert_int_equal(static_cast<int>(packets[0].header.op), static_cast<int>(VsockOp::kResponse));
  assert_int_equal(packets[0].header.srcPort, 77);
  assert_int_equal(packets[0].header.dstPort, 5000);

  UniqueFd accepted(::accept(listener->get(), nullptr, nullptr));
  assert_true(accepted.valid());
  setup.guestSends(setup.fromGuest(5000, 77, VsockOp::kData), "hi host");
  assert_string_equal(readSome(accepted.get()).c_str(), "hi host");

  // Nothing listens on port 78: the guest is refused.
  setup.guestSends(setup.fromGuest(5001, 78, VsockOp::kRequest));
  packets = setup.delivered();
  assert_int_equal(packets.size(), 1);
  assert_int_equal(static_cast<int>(packets[0].header.op), static_cast<int>(VsockOp::kReset));
}

void hostDataWaitsForGuestCredit(void** state) {
  Setup setup(tempDir(state));
  setup.giveReceiveBuffers(8);
  auto client = tandem::connectUnixSocket(setup.socketPath);
  assert_true(client.ok());
  assert_int_equal(::write(client->get(), "CONNECT 3\n", 10), 10);
  setup.serve();
  std::uint32_t hostPort = setup.delivered()[0].header.srcPort;
  VsockHeader response = setup.fromGuest(3, hostPort, VsockOp::kResponse);
  response.bufAlloc = 4;  // a guest with room for 4 bytes
  setup.guestSends(response);
  readSome(client->get());

  assert_int_equal(::write(client->get(), "abcdefgh", 8), 8);
  setup.serve();
  auto packets = setup.delivered();
  assert_int_equal(packets.size(), 1);
  assert_string_equal(packets[0].payload.c_str(), "abcd");
  setup.serve();
  assert_int_equal(setup.delivered().size(), 0);

  VsockHeader update = setup.fromGuest(3, hostPort, VsockOp::kCreditUpdate);
  update.bufAlloc = 4;
  update.fwdCnt = 4;
  setup.guestSends(update);
  setup.serve();
  packets = setup.delivered();
  assert_int_equal(packets.size(), 1);
  assert_string_equal(packets[0].payload.c_str(), "efgh");
}

void guestCloseEndsTheHostStreamAndIsReset(void** state) {
  Setup setup(tempDir(state));
  setup.giveReceiveBuffers(8);
  HostConnection host = connectFromHost(setup, 52);
  setup.guestSends(setup.fromGuest(52, host.hostPort, VsockOp::kData), "last words");
  VsockHeader shutdown = setup.fromGuest(52, host.hostPort, VsockOp::kShutdown);
  shutdown.flags = kVsockShutdownSend | kVsockShutdownReceive;
  setup.guestSends(shutdown);
  assert_string_equal(readSome(host.client.get()).c_str(), "last words");
  assert_string_equal(readSome(host.client.get()).c_str(), "");
  auto packets = setup.delivered();
  assert_int_equal(packets.size(), 1);
  assert_int_equal(static_cast<int>(packets[0].header.op), static_cast<int>(VsockOp::kReset));
}

void hostCloseShutsTheGuestSideDown(void** state) {
  Setup setup(tempDir(state));
  setup.giveReceiveBuffers(8);
  HostConnection host = connectFromHost(setup, 52);
  assert_int_equal(::write(host.client.get(), "bye", 3), 3);
  host.client.reset();
  setup.serve();
  auto packets = setup.delivered();
  assert_int_equal(packets.size(), 2);
  assert_string_equal(packets[0].payload.c_str(), "bye");
  assert_int_equal(static_cast<int>(packets[1].header.op), static_cast<int>(VsockOp::kShutdown));
  assert_int_equal(packets[1].header.flags, kVsockShutdownSend | kVsockShutdownReceive);
}

void hostilePacketsAreRefused(void** state) {
  Setup setup(tempDir(state));
  setup.giveReceiveBuffers(8);
  HostConnection host = connectFromHost(setup, 52);

  // Shorter than a header.
  std::uint64_t address = kTransmitBuffers + 0x80000;
  assert_true(setup.memory.write(address, std::vector<std::uint8_t>(10, 0)).ok());
  setup.transmit.descriptor(15, {address, 10, 0, 0});
  setup.transmit.offer(15);
  setup.device->notify(VsockDevice::kTransmitQueue);
  assert_int_equal(setup.device->counters().malformedPackets, 1);

  // Spoofed source: another VM's CID.
  VsockHeader spoofed = setup.fromGuest(52, host.hostPort, VsockOp::kData);
  spoofed.srcCid = 4;
  setup.guestSends(spoofed, "x");
  assert_int_equal(setup.device->counters().malformedPackets, 2);
  assert_int_equal(setup.device->counters().bytesToHost, 0);

  // Data for a connection that does not exist: reset, nothing written anywhere.
  setup.guestSends(setup.fromGuest(53, host.hostPort, VsockOp::kData), "stray");
  auto packets = setup.delivered();
  assert_int_equal(packets.size(), 1);
  assert_int_equal(static_cast<int>(packets[0].header.op), static_cast<int>(VsockOp::kReset));
  assert_int_equal(packets[0].header.dstPort, 53);

  // A length past the chain's end ends the connection.
  VsockHeader overlong = setup.fromGuest(52, host.hostPort, VsockOp::kData);
  overlong.len = 1000;
  setup.guestSends(overlong, "short");
  packets = setup.delivered();
  assert_int_equal(packets.size(), 1);
  assert_int_equal(static_cast<int>(packets[0].header.op), static_cast<int>(VsockOp::kReset));
  assert_string_equal(readSome(host.client.get()).c_str(), "");
}

void aGuestPastItsCreditIsReset(void** state) {
  Setup setup(tempDir(state));
  setup.giveReceiveBuffers(8);
  HostConnection host = connectFromHost(setup, 52);
  // The host client reads nothing, so the device's buffer fills: 64 KiB packets beyond the
  // socket's own buffer and the credit granted.
  std::string chunk(VsockDevice::kMaxPayload, 'z');
  for (int i = 0; i < 16 && setup.device->counters().resets == 0; ++i) {
    setup.guestSends(setup.fromGuest(52, host.hostPort, VsockOp::kData), chunk);
  }
  assert_int_equal(setup.device->counters().resets, 1);
  auto packets = setup.delivered();
  assert_true(!packets.empty());
  assert_int_equal(static_cast<int>(packets.back().header.op), static_cast<int>(VsockOp::kReset));
}

// Packets with random fields, lengths and split points, among live connections: the device may
// reset connections and drop packets, but it keeps serving, never returns a receive chain with
// more bytes than it holds, and a well-behaved connection opened afterwards still works.
void randomPacketsLeaveTheDeviceWorking(void** state) {
  Setup setup(tempDir(state));
  setup.giveReceiveBuffers(kSize);
  HostConnection host = connectFromHost(setup, 52);
  std::uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1103515245 + 12345;
    return seed >> 8;
  };
  const VsockOp ops[] = {VsockOp::kInvalid,      VsockOp::kRequest,      VsockOp::kResponse,
                         VsockOp::kReset,        VsockOp::kShutdown,     VsockOp::kData,
                         VsockOp::kCreditUpdate, VsockOp::kCreditRequest};
  for (int i = 0; i < 2000; ++i) {
    VsockHeader header = setup.fromGuest(next() % 4 == 0 ? next() : 52,
                                         next() % 2 ? host.hostPort : next(), ops[next() % 8]);
    if (next() % 8 == 0) header.srcCid = next();
    if (next() % 8 == 0) header.type = static_cast<std::uint16_t>(next());
    header.flags = next() % 4;
    header.bufAlloc = next();
    header.fwdCnt = next();
    std::string payload(next() % 300, 'p');
    if (next() % 4 == 0) header.len = next();
    setup.guestSends(header, payload, next() % 2);
    setup.serve(0);
    for (std::uint16_t used = setup.receivedSeen; used != setup.receive.usedIndex(); ++used) {
      assert_true(setup.receive.usedLength(used % kSize) <= kReceiveBufferBytes);
    }
    setup.receivedSeen = setup.receive.usedIndex();
    // Give back what the device used, as a driver refilling its ring does.
    while (static_cast<std::uint16_t>(setup.receive.availIndex - setup.receive.usedIndex()) <
           kSize) {
      std::uint16_t slot = setup.receive.availIndex % kSize;
      setup.receive.descriptor(
          slot, {kReceiveBuffers + 0x2000 * std::uint64_t{slot}, kReceiveBufferBytes, kWrite, 0});
      setup.receive.offer(slot);
    }
    setup.device->notify(VsockDevice::kReceiveQueue);
  }
  setup.delivered();
  HostConnection again = connectFromHost(setup, 60);
  setup.guestSends(setup.fromGuest(60, again.hostPort, VsockOp::kData), "still here");
  assert_string_equal(readSome(again.client.get()).c_str(), "still here");
}

void receiveChainsTheDeviceCannotUseAreReturnedEmpty(void** state) {
  Setup setup(tempDir(state));
  // Too small for a header, then one fine buffer.
  setup.receive.descriptor(0, {kReceiveBuffers, 16, kWrite, 0});
  setup.receive.offer(0);
  setup.receive.descriptor(1, {kReceiveBuffers + 0x2000, kReceiveBufferBytes, kWrite, 0});
  setup.receive.offer(1);
  setup.device->notify(VsockDevice::kReceiveQueue);
  auto client = tandem::connectUnixSocket(setup.socketPath);
  assert_true(client.ok());
  assert_int_equal(::write(client->get(), "CONNECT 1\n", 10), 10);
  setup.serve();
  assert_int_equal(setup.receive.usedIndex(), 2);
  assert_int_equal(setup.receive.usedHead(0), 0);
  assert_int_equal(setup.receive.usedLength(0), 0);
  assert_int_equal(setup.receive.usedHead(1), 1);
  assert_int_equal(setup.receive.usedLength(1), kVsockHeaderBytes);
}

}  // namespace

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(configHoldsTheGuestCid, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(hostConnectsAndBytesFlowBothWays, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(bytesSentRightAfterTheConnectLineReachTheGuest, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(aGuestThatRefusesClosesTheHostClient, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(silentClientsAndGuestsTimeOut, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(aClientWithoutAConnectLineIsDropped, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(guestConnectsToAHostListener, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(hostDataWaitsForGuestCredit, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(guestCloseEndsTheHostStreamAndIsReset, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(hostCloseShutsTheGuestSideDown, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(hostilePacketsAreRefused, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(aGuestPastItsCreditIsReset, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(randomPacketsLeaveTheDeviceWorking, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(receiveChainsTheDeviceCannotUseAreReturnedEmpty, makeTempDir,
                                      removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
