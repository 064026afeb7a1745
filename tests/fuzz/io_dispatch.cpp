// A guest's port I/O and MMIO as the VMM meets them: kvm_run pages with any exit (a port access
// of any size, count and data offset, an MMIO access of any length and address), decoded and
// served on the buses of a machine like tandem's: both UARTs, the i8042, the status port, and
// virtio-mmio windows for an entropy device and a disk over a memory file, whose drivers a
// hostile guest programs through the registers with queues in its RAM. Every exit must be
// served in bounded time, and nothing may touch memory outside kvm_run and guest RAM.
#include <linux/kvm.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "common/unique_fd.h"
#include "tests/fuzz/guest_ram.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/serial_8250.h"
#include "vmm/devices/status_port.h"
#include "vmm/disk_backing.h"
#include "vmm/exit_dispatch.h"
#include "vmm/guest_protocol.h"
#include "vmm/vcpu_exit.h"
#include "vmm/virtio/block.h"
#include "vmm/virtio/entropy.h"
#include "vmm/virtio/virtio_mmio.h"

using namespace tandem;
using namespace tandem::vmm;

namespace {

constexpr std::uint64_t kFirstWindow = 0xd0000000;
constexpr std::size_t kRunPage = 4096;
constexpr std::uint64_t kDiskBytes = 64 * 1024;

struct Platform {
  DeviceBuses buses;
  std::vector<std::shared_ptr<virtio::MmioTransport>> transports;
};

std::shared_ptr<virtio::Device> fuzzDisk(bool readOnly) {
  UniqueFd file(::memfd_create("fuzz-disk", MFD_CLOEXEC));
  fuzzCheck(file.valid() && ::ftruncate(file.get(), kDiskBytes) == 0,
            "a memory file backs the disk");
  auto backing = FileBacking::open(std::move(file), "fuzz-disk");
  fuzzCheck(backing.ok(), "the disk's backing opens");
  auto disk = virtio::BlockDevice::open(std::move(backing).value(), readOnly, "fuzz");
  fuzzCheck(disk.ok(), "the disk opens");
  return std::move(disk).value();
}

Platform makePlatform(bool readOnlyDisk) {
  Platform platform;
  auto& ports = platform.buses.ports;
  auto serial = [] { return std::make_shared<Serial8250>([](std::uint8_t) {}, [] {}, [] {}); };
  std::shared_ptr<Serial8250> stdio = serial();
  std::vector<std::uint8_t> stdin(64, 'x');
  (void)stdio->pushInput(stdin);
  fuzzCheck(
      ports.add(guest::kStdioUartBase, kSerialRegisterCount, stdio, "COM1").ok() &&
          ports.add(guest::kConsoleUartBase, kSerialRegisterCount, serial(), "COM2").ok() &&
          ports
              .add(kI8042DataPort, kI8042CommandPort - kI8042DataPort + 1,
                   std::make_shared<I8042>([] {}), "i8042")
              .ok() &&
          ports
              .add(guest::kStatusPort, sizeof(std::uint32_t),
                   std::make_shared<StatusPort>([](guest::StatusKind, std::uint8_t) {}), "status")
              .ok(),
      "the legacy devices have their ports");
  std::vector<std::shared_ptr<virtio::Device>> devices = {std::make_shared<virtio::EntropyDevice>(),
                                                          fuzzDisk(readOnlyDisk)};
  for (std::size_t i = 0; i < devices.size(); ++i) {
    auto transport = std::make_shared<virtio::MmioTransport>(devices[i], fuzzGuestRam(), [] {});
    fuzzCheck(platform.buses.mmio
                  .add(kFirstWindow + i * virtio::kMmioWindowBytes, virtio::kMmioWindowBytes,
                       transport, "virtio")
                  .ok(),
              "each virtio device has its window");
    platform.transports.push_back(std::move(transport));
  }
  return platform;
}

// An address near a device most of the time, anywhere otherwise.
std::uint64_t mmioAddress(FuzzInput& input, std::size_t windows) {
  if (input.take<std::uint8_t>() < 240) {
    return kFirstWindow + input.below(windows) * virtio::kMmioWindowBytes +
           input.take<std::uint16_t>() % (virtio::kMmioWindowBytes + 8);
  }
  return input.take<std::uint64_t>();
}

std::uint16_t portAddress(FuzzInput& input) {
  static constexpr std::uint16_t kNear[] = {guest::kStdioUartBase, guest::kConsoleUartBase,
                                            kI8042DataPort, guest::kStatusPort};
  if (input.take<std::uint8_t>() < 240) {
    return static_cast<std::uint16_t>(kNear[input.below(4)] + input.below(9));
  }
  return input.take<std::uint16_t>();
}

void checkInsideRun(const std::uint8_t* page, std::span<const std::uint8_t> data) {
  fuzzCheck(data.empty() || (data.data() >= page && data.data() + data.size() <= page + kRunPage),
            "an exit's data lies inside kvm_run");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput input(data, size);
  Platform platform = makePlatform(input.take<std::uint8_t>() & 1);
  loadGuestRam(input.bytes(input.take<std::uint16_t>()));
  alignas(kvm_run) std::uint8_t page[kRunPage];
  auto* run = reinterpret_cast<kvm_run*>(page);
  UnclaimedAccess ignored = [](const char*, std::uint64_t, bool, std::size_t) {};

  for (int step = 0; step < 512 && !input.empty(); ++step) {
    std::fill(std::begin(page), std::end(page), 0);
    std::uint8_t kind = input.take<std::uint8_t>();
    if (kind < 96) {
      run->exit_reason = KVM_EXIT_IO;
      run->io.direction = (kind & 1) ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
      run->io.port = portAddress(input);
      bool plausible = input.take<std::uint8_t>() < 224;
      run->io.size = plausible ? std::uint8_t(1u << input.below(3)) : input.take<std::uint8_t>();
      run->io.count = plausible ? 1 + input.below(4) : input.take<std::uint32_t>();
      run->io.data_offset = plausible ? sizeof(kvm_run) : input.take<std::uint64_t>();
      if (run->io.data_offset < kRunPage) {
        auto bytes = input.bytes(std::min<std::size_t>(kRunPage - run->io.data_offset, 16));
        std::copy(bytes.begin(), bytes.end(), page + run->io.data_offset);
      }
    } else if (kind < 224) {
      run->exit_reason = KVM_EXIT_MMIO;
      run->mmio.is_write = kind & 1;
      run->mmio.phys_addr = mmioAddress(input, platform.transports.size());
      run->mmio.len =
          input.take<std::uint8_t>() < 224 ? 1u << input.below(4) : input.take<std::uint32_t>();
      auto bytes = input.bytes(sizeof(run->mmio.data));
      std::copy(bytes.begin(), bytes.end(), run->mmio.data);
    } else if (kind < 240) {  // the guest rewrites its RAM under the devices
      std::uint64_t address = input.take<std::uint16_t>() % kFuzzGuestRam;
      (void)fuzzGuestRam().write(address, input.bytes(input.take<std::uint8_t>()));
      continue;
    } else {  // a notification arriving through an ioeventfd rather than an exit
      platform.transports[input.below(platform.transports.size())]->queueNotified(
          input.take<std::uint8_t>());
      continue;
    }
    VcpuExit exit = decodeExit(*run, kRunPage);
    if (auto* io = std::get_if<PortIoExit>(&exit)) {
      checkInsideRun(page, io->data);
      servePortIo(platform.buses.ports, *io, ignored);
    } else if (auto* mmio = std::get_if<MmioExit>(&exit)) {
      checkInsideRun(page, mmio->data);
      serveMmio(platform.buses.mmio, *mmio, ignored);
    }
  }
  return 0;
}
