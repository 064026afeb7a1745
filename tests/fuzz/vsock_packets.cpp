// The virtio-vsock device under a hostile guest and hostile host clients: packets with any
// header (spoofed addresses, unknown operations, lengths that disagree with the buffers, credit
// lies), split or not, receive buffers offered or withheld, rings rewritten underneath, host
// clients sending any handshake line, and a host service that accepts the guest's connections
// and talks back. The device must keep its bounds: no host access outside guest RAM, and
// every call returns.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/unix_socket.h"
#include "tests/fuzz/guest_ram.h"
#include "tests/split_queue_driver.h"
#include "vmm/virtio/vsock.h"

using namespace tandem;
using namespace tandem::vmm::virtio;

namespace {

constexpr std::uint16_t kSize = 16;
constexpr std::uint64_t kGuestCid = 3;
constexpr std::uint32_t kListeningHostPort = 1000;
constexpr std::uint64_t kReceiveBuffers = 0x1000;
constexpr std::uint32_t kReceiveBufferBytes = 0x800;
constexpr std::uint64_t kTransmitBuffers = 0x8000;
constexpr std::uint32_t kTransmitBufferBytes = 0x1000;

// The host side: the device's socket folder under /tmp, removed at the process's exit.
struct Host {
  std::string folder;
  std::string socketPath;
  UniqueFd service;  // listens at socketPath_1000, as a host program the guest dials

  Host() {
    char templ[] = "/tmp/tandem-fuzz-vsock-XXXXXX";
    fuzzCheck(::mkdtemp(templ) != nullptr, "a socket folder can be made under /tmp");
    folder = templ;
    socketPath = folder + "/v.sock";
    auto listening = listenUnixSocket(socketPath + "_" + std::to_string(kListeningHostPort), 64);
    fuzzCheck(listening.ok(), "the host service listens");
    service = std::move(listening).value();
  }
  ~Host() { (void)removeTree(folder); }
};

const Host& host() {
  static const Host setup;
  return setup;
}

struct Guest {
  SplitQueueDriver receive{&fuzzGuestRam(), {kSize, 0x0000, 0x0100, 0x0200}};
  SplitQueueDriver transmit{&fuzzGuestRam(), {kSize, 0x0400, 0x0500, 0x0600}};
  SplitQueueDriver events{&fuzzGuestRam(), {kSize, 0x0800, 0x0900, 0x0a00}};

  Status start(VsockDevice& device) {
    std::vector<Virtqueue> queues;
    for (const SplitQueueDriver* ring : {&receive, &transmit, &events}) {
      TANDEM_ASSIGN_OR_RETURN(auto queue, Virtqueue::create(fuzzGuestRam(), ring->layout, true));
      queues.push_back(std::move(queue));
    }
    return device.activate(std::move(queues), kFeatureVersion1 | kFeatureEventIndex, [] {});
  }

  void offerReceiveBuffers(FuzzInput& input) {
    std::uint32_t count = 1 + input.below(8);
    for (std::uint32_t n = 0; n < count; ++n) {
      auto slot = static_cast<std::uint16_t>(receive.availIndex % 8);
      std::uint32_t bytes =
          input.take<std::uint8_t>() < 240 ? kReceiveBufferBytes : input.take<std::uint32_t>();
      // A write outside RAM is dropped: the layout may be hostile.
      (void)receive.descriptor(slot, {kReceiveBuffers + kReceiveBufferBytes * std::uint64_t{slot},
                                      bytes, kDescWrite, 0});
      (void)receive.offer(slot);
    }
  }

  void sendPacket(FuzzInput& input, std::uint16_t slot) {
    VsockHeader header;
    std::uint8_t shape = input.take<std::uint8_t>();
    header.srcCid = (shape & 1) ? input.take<std::uint64_t>() : kGuestCid;
    header.dstCid = (shape & 2) ? input.take<std::uint64_t>() : kVsockHostCid;
    header.srcPort = input.take<std::uint16_t>();
    header.dstPort = (shape & 4) ? input.take<std::uint32_t>() : kListeningHostPort;
    header.type = (shape & 8) ? input.take<std::uint16_t>() : kVsockTypeStream;
    header.op = static_cast<VsockOp>(input.below(9));
    header.flags = input.below(4);
    header.bufAlloc = input.take<std::uint32_t>();
    header.fwdCnt = input.take<std::uint32_t>();
    auto payload =
        input.bytes(input.take<std::uint16_t>() % (kTransmitBufferBytes - kVsockHeaderBytes));
    header.len =
        (shape & 16) ? input.take<std::uint32_t>() : static_cast<std::uint32_t>(payload.size());

    std::uint64_t address = kTransmitBuffers + kTransmitBufferBytes * std::uint64_t{slot};
    std::array<std::uint8_t, kVsockHeaderBytes> bytes;
    encodeVsockHeader(header, bytes);
    (void)fuzzGuestRam().write(address, bytes);
    (void)fuzzGuestRam().write(address + kVsockHeaderBytes, payload);
    auto total = static_cast<std::uint32_t>(kVsockHeaderBytes + payload.size());
    auto head = static_cast<std::uint16_t>(2 * slot);
    if (shape & 32) {  // the header split over two buffers
      std::uint32_t first = input.below(total + 1);
      (void)transmit.descriptor(head,
                                {address, first, kDescNext, static_cast<std::uint16_t>(head + 1)});
      (void)transmit.descriptor(static_cast<std::uint16_t>(head + 1),
                                {address + first, total - first, 0, 0});
    } else {
      (void)transmit.descriptor(head, {address, total, 0, 0});
    }
    (void)transmit.offer(head);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput input(data, size);
  const Host& hostSide = host();
  std::string socketPath = hostSide.socketPath;
  ::unlink(socketPath.c_str());
  auto listener = listenUnixSocket(socketPath);
  fuzzCheck(listener.ok(), "the device's socket listens");
  auto created = VsockDevice::create(kGuestCid, std::move(listener).value(), socketPath,
                                     std::chrono::milliseconds(50));
  fuzzCheck(created.ok(), "the device is made");
  std::unique_ptr<VsockDevice> device = std::move(created).value();
  loadGuestRam({});
  Guest guest;
  fuzzCheck(guest.start(*device).ok(), "the device starts");

  std::vector<UniqueFd> hostStreams;
  std::uint16_t transmitSlot = 0;
  for (int step = 0; step < 128 && !input.empty(); ++step) {
    switch (input.take<std::uint8_t>() % 8) {
      case 0:
        guest.sendPacket(input, transmitSlot++ % (kSize / 2));
        device->notify(VsockDevice::kTransmitQueue);
        break;
      case 1:
        guest.offerReceiveBuffers(input);
        device->notify(VsockDevice::kReceiveQueue);
        break;
      case 2:
        device->serviceHost();
        break;
      case 3: {  // the guest rewrites its rings or buffers
        std::uint64_t address = input.take<std::uint16_t>() % kFuzzGuestRam;
        (void)fuzzGuestRam().write(address, input.bytes(input.take<std::uint8_t>()));
        break;
      }
      case 4: {  // a host client dials the guest with any handshake line
        auto client = connectUnixSocket(socketPath, true);
        if (client) {
          auto line = input.bytes(input.take<std::uint8_t>() % 32);
          (void)::send(client->get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          hostStreams.push_back(std::move(client).value());
        }
        break;
      }
      case 5: {  // the host service accepts a guest's connection
        int accepted =
            ::accept4(hostSide.service.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (accepted >= 0) {
          hostStreams.emplace_back(accepted);
        }
        break;
      }
      case 6:  // a host stream talks, reads, or hangs up
        if (!hostStreams.empty()) {
          UniqueFd& stream = hostStreams[input.below(hostStreams.size())];
          std::array<std::uint8_t, 4096> buffer{};
          auto bytes = input.bytes(input.take<std::uint16_t>() % buffer.size());
          switch (input.below(3)) {
            case 0:
              (void)::send(stream.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
              break;
            case 1:
              (void)::recv(stream.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
              break;
            default:
              stream = UniqueFd();
          }
        }
        break;
      case 7:  // the driver resets the device and starts it again
        device->reset();
        guest = Guest();
        loadGuestRam({});
        (void)guest.start(*device);
        break;
    }
  }
  while (true) {  // accept what the guest dialled, so the next run starts clean
    UniqueFd stale(
        ::accept4(hostSide.service.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!stale.valid()) {
      break;
    }
  }
  return 0;
}
