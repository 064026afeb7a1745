// virtio-blk (device type 2) over a host file or a layered disk (disk_backing.h): reads, writes,
// flushes and the disk's ID, one request per descriptor chain. Every request is checked against the
// disk's size before any I/O, and a read-only disk refuses writes; a bad request gets an error
// status, never a host access outside the file or the request's own buffers.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "vmm/disk_backing.h"
#include "vmm/virtio/device.h"

namespace tandem::vmm::virtio {

inline constexpr std::uint64_t kSectorBytes = 512;
inline constexpr std::uint64_t kBlockFeatureSegmentMax = 1ull << 2;
inline constexpr std::uint64_t kBlockFeatureReadOnly = 1ull << 5;
inline constexpr std::uint64_t kBlockFeatureFlush = 1ull << 9;

// The request types and statuses of the virtio-blk request header and footer.
inline constexpr std::uint32_t kBlockIn = 0;
inline constexpr std::uint32_t kBlockOut = 1;
inline constexpr std::uint32_t kBlockFlush = 4;
inline constexpr std::uint32_t kBlockGetId = 8;
inline constexpr std::uint8_t kBlockOk = 0;
inline constexpr std::uint8_t kBlockIoError = 1;
inline constexpr std::uint8_t kBlockUnsupported = 2;

class BlockDevice : public Device {
 public:
  static constexpr std::uint16_t kQueueSize = 256;

  // The backing's size, rounded down to whole sectors, is the disk's capacity. `id` is what
  // GET_ID answers (up to 20 bytes).
  static Result<std::shared_ptr<BlockDevice>> open(std::unique_ptr<DiskBacking> disk, bool readOnly,
                                                   std::string id);

  std::uint32_t type() const override { return 2; }
  std::uint64_t features() const override;
  std::vector<std::uint16_t> queueSizes() const override { return {kQueueSize}; }
  void readConfig(std::uint64_t offset, std::span<std::uint8_t> data) const override;
  void writeConfig(std::uint64_t, std::span<const std::uint8_t>) override {}
  Status activate(std::vector<Virtqueue> queues, std::uint64_t features,
                  UsedBufferInterrupt interrupt) override;
  void notify(std::uint16_t index) override;
  void reset() override;

  // One request, as the queue hands it over: the bytes written into its writable buffers,
  // status included. Public for the unit tests, which drive it without a transport.
  std::uint32_t serve(const DescriptorChain& chain);

 private:
  BlockDevice(std::unique_ptr<DiskBacking> disk, bool readOnly, std::string id,
              std::uint64_t sectors)
      : disk_(std::move(disk)), readOnly_(readOnly), id_(std::move(id)), sectors_(sectors) {}

  const std::string& path() const { return disk_->describe(); }

  std::unique_ptr<DiskBacking> disk_;
  bool readOnly_;
  std::string id_;
  std::uint64_t sectors_;
  std::mutex mutex_;
  std::optional<Virtqueue> queue_;
  UsedBufferInterrupt interrupt_;
};

}  // namespace tandem::vmm::virtio
