#include "vmm/virtio/block.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "common/log.h"

namespace tandem::vmm::virtio {
namespace {

constexpr std::size_t kHeaderBytes = 16;
constexpr std::size_t kIdBytes = 20;

struct Header {
  std::uint32_t type;
  std::uint32_t reserved;
  std::uint64_t sector;
};
static_assert(sizeof(Header) == kHeaderBytes);

// A request's buffers seen as the spec lays them out: the header at the start of the readable
// bytes, the data after it (a write) or in the writable bytes (a read), the status byte last.
struct Request {
  Header header{};
  std::vector<std::span<std::uint8_t>> data;
  std::uint64_t dataBytes = 0;
  std::uint8_t* status = nullptr;
};

// Adds `bytes` to a request's data, as part of the previous span when it follows it in host
// memory: a guest's physically contiguous pages are, and each span costs a system call.
void appendData(std::vector<std::span<std::uint8_t>>& data, std::span<std::uint8_t> bytes) {
  if (!data.empty() && data.back().data() + data.back().size() == bytes.data()) {
    data.back() = {data.back().data(), data.back().size() + bytes.size()};
  } else {
    data.push_back(bytes);
  }
}

// Splits `buffers` after `skip` bytes into spans; how many bytes were skipped.
std::uint64_t spansAfter(const std::vector<ChainBuffer>& buffers, std::uint64_t skip,
                         std::vector<std::span<std::uint8_t>>& out) {
  std::uint64_t skipped = 0;
  for (const ChainBuffer& buffer : buffers) {
    std::span<std::uint8_t> bytes = buffer.bytes;
    std::uint64_t drop = std::min<std::uint64_t>(skip - skipped, bytes.size());
    skipped += drop;
    if (drop < bytes.size()) {
      appendData(out, bytes.subspan(drop));
    }
  }
  return skipped;
}

std::optional<Request> parse(const DescriptorChain& chain) {
  Request request;
  if (chain.writable.empty() || chain.readableBytes() < kHeaderBytes) {
    return std::nullopt;
  }
  auto* header = reinterpret_cast<std::uint8_t*>(&request.header);
  std::size_t copied = 0;
  for (const ChainBuffer& buffer : chain.readable) {
    std::size_t take = std::min(kHeaderBytes - copied, buffer.bytes.size());
    std::memcpy(header + copied, buffer.bytes.data(), take);
    copied += take;
    if (copied == kHeaderBytes) break;
  }
  std::span<std::uint8_t> last = chain.writable.back().bytes;
  request.status = &last.back();
  if (request.header.type == kBlockOut) {
    spansAfter(chain.readable, kHeaderBytes, request.data);
  } else {
    for (std::size_t i = 0; i < chain.writable.size(); ++i) {
      std::span<std::uint8_t> bytes = chain.writable[i].bytes;
      if (i + 1 == chain.writable.size()) bytes = bytes.first(bytes.size() - 1);
      if (!bytes.empty()) appendData(request.data, bytes);
    }
  }
  for (const auto& span : request.data) request.dataBytes += span.size();
  return request;
}

}  // namespace

Result<std::shared_ptr<BlockDevice>> BlockDevice::open(std::unique_ptr<DiskBacking> disk,
                                                       bool readOnly, std::string id) {
  if (disk->bytes() < kSectorBytes) {
    return Error("the disk " + disk->describe() + " holds less than one 512-byte sector", EINVAL);
  }
  id.resize(std::min(id.size(), kIdBytes));
  std::uint64_t sectors = disk->bytes() / kSectorBytes;
  return std::shared_ptr<BlockDevice>(
      new BlockDevice(std::move(disk), readOnly, std::move(id), sectors));
}

std::uint64_t BlockDevice::features() const {
  return kBlockFeatureFlush | kBlockFeatureSegmentMax | (readOnly_ ? kBlockFeatureReadOnly : 0);
}

void BlockDevice::readConfig(std::uint64_t offset, std::span<std::uint8_t> data) const {
  // struct virtio_blk_config: the capacity in sectors, size_max (none), then seg_max: the data
  // buffers one request may have, all a chain holds but its header and status. Without it Linux
  // sends one buffer per request, and an O_DIRECT read of 1 MiB became 256 requests of 4 KiB.
  // The rest reads as zero.
  std::uint8_t config[16] = {};
  std::memcpy(config, &sectors_, sizeof sectors_);
  std::uint32_t segmentMax = kQueueSize - 2;
  std::memcpy(config + 12, &segmentMax, sizeof segmentMax);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < sizeof config ? config[offset + i] : 0;
  }
}

Status BlockDevice::activate(std::vector<Virtqueue> queues, std::uint64_t,
                             UsedBufferInterrupt interrupt) {
  if (queues.size() != 1) {
    return Error("virtio-blk has one queue, not " + std::to_string(queues.size()), EINVAL);
  }
  std::lock_guard lock(mutex_);
  queue_.emplace(std::move(queues.front()));
  interrupt_ = std::move(interrupt);
  return okStatus();
}

std::uint32_t BlockDevice::serve(const DescriptorChain& chain) {
  std::optional<Request> request = parse(chain);
  if (!request) {
    spdlog::debug("virtio-blk {}: a request without a header or a status byte", path());
    return 0;
  }
  const Header& header = request->header;
  auto finish = [&](std::uint8_t status, std::uint64_t dataWritten) {
    *request->status = status;
    return static_cast<std::uint32_t>(dataWritten + 1);
  };
  switch (header.type) {
    case kBlockIn:
    case kBlockOut: {
      bool write = header.type == kBlockOut;
      std::uint64_t count = request->dataBytes / kSectorBytes;
      if (request->dataBytes % kSectorBytes != 0 || header.sector > sectors_ ||
          count > sectors_ - header.sector) {
        spdlog::debug(
            "virtio-blk {}: {} of {} bytes at sector {} is outside the disk's {} "
            "sectors or not whole sectors",
            path(), write ? "write" : "read", request->dataBytes, header.sector, sectors_);
        return finish(kBlockIoError, 0);
      }
      if (write && readOnly_) {
        return finish(kBlockIoError, 0);
      }
      std::uint64_t offset = header.sector * kSectorBytes;
      for (std::span<std::uint8_t> span : request->data) {
        Status done = write ? disk_->write(offset, span) : disk_->read(offset, span);
        if (!done) {
          spdlog::warn("virtio-blk: {}", done.error().describe());
          return finish(kBlockIoError, 0);
        }
        offset += span.size();
      }
      return finish(kBlockOk, write ? 0 : request->dataBytes);
    }
    case kBlockFlush:
      if (!readOnly_) {
        if (Status flushed = disk_->flush(); !flushed) {
          spdlog::warn("virtio-blk: {}", flushed.error().describe());
          return finish(kBlockIoError, 0);
        }
      }
      return finish(kBlockOk, 0);
    case kBlockGetId: {
      std::uint64_t written = 0;
      for (std::span<std::uint8_t> span : request->data) {
        for (std::uint8_t& byte : span) {
          if (written == kIdBytes) break;
          byte = written < id_.size() ? static_cast<std::uint8_t>(id_[written]) : 0;
          ++written;
        }
      }
      return finish(kBlockOk, written);
    }
    default:
      return finish(kBlockUnsupported, 0);
  }
}

void BlockDevice::notify(std::uint16_t index) {
  std::lock_guard lock(mutex_);
  if (index != 0 || !queue_) {
    return;
  }
  auto interrupt = queue_->serveAvailable(
      [this](const DescriptorChain& chain) { return serve(chain); },
      [this](const std::string& problem) { spdlog::debug("virtio-blk {}: {}", path(), problem); });
  if (!interrupt) {
    spdlog::warn("virtio-blk {}: {}; the queue stops until the driver resets it", path(),
                 interrupt.error().message());
    queue_.reset();
    return;
  }
  if (*interrupt) {
    interrupt_();
  }
}

void BlockDevice::reset() {
  std::lock_guard lock(mutex_);
  queue_.reset();
  interrupt_ = nullptr;
}

}  // namespace tandem::vmm::virtio
