#include "vmm/layered_disk.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "common/file.h"

namespace tandem::vmm {
namespace {

constexpr std::uint64_t kMinChunkBytes = 4096;
constexpr std::uint64_t kMaxChunkBytes = 1 << 20;

}  // namespace

LayeredDisk::LayeredDisk(UniqueFd base, UniqueFd layer, std::string basePath, std::string layerPath,
                         std::uint64_t bytes, std::uint64_t chunkBytes)
    : base_(std::move(base)),
      layer_(std::move(layer)),
      basePath_(std::move(basePath)),
      layerPath_(std::move(layerPath)),
      description_(basePath_ + " under the layer " + layerPath_),
      bytes_(bytes),
      chunkBytes_(chunkBytes),
      map_(((bytes + chunkBytes - 1) / chunkBytes + 63) / 64, 0),
      chunk_(chunkBytes) {}

Result<std::unique_ptr<LayeredDisk>> LayeredDisk::open(const std::string& basePath,
                                                       const std::string& layerPath) {
  UniqueFd base(::open(basePath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!base) {
    return Error::fromErrno("cannot open the base disk " + basePath);
  }
  TANDEM_ASSIGN_OR_RETURN(std::uint64_t bytes, regularFileSize(base.get(), basePath));
  UniqueFd layer(::open(layerPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!layer) {
    return Error::fromErrno("cannot open or create the disk layer " + layerPath);
  }
  struct stat info {};
  if (::fstat(layer.get(), &info) != 0) {
    return Error::fromErrno("cannot stat the disk layer " + layerPath);
  }
  if (!S_ISREG(info.st_mode)) {
    return Error("the disk layer " + layerPath + " is not a regular file", EINVAL);
  }
  auto layerBytes = static_cast<std::uint64_t>(info.st_size);
  bool fresh = layerBytes == 0;
  if (fresh) {
    if (::ftruncate(layer.get(), static_cast<off_t>(bytes)) != 0) {
      return Error::fromErrno("cannot size the disk layer " + layerPath + " to " +
                              std::to_string(bytes) + " bytes");
    }
  } else if (layerBytes != bytes) {
    return Error("the disk layer " + layerPath + " is " + std::to_string(layerBytes) +
                     " bytes but its base " + basePath + " is " + std::to_string(bytes) +
                     ": it was made over another disk; remove it to start a fresh layer",
                 EINVAL);
  }
  // A chunk must be at least the layer file system's allocation unit, else SEEK_DATA could not
  // tell a written chunk from its unwritten neighbour.
  auto blockBytes = static_cast<std::uint64_t>(info.st_blksize);
  if (!std::has_single_bit(blockBytes) || blockBytes > kMaxChunkBytes) {
    return Error("the file system of the disk layer " + layerPath + " allocates in blocks of " +
                     std::to_string(blockBytes) + " bytes; a layer needs a power of two up to " +
                     std::to_string(kMaxChunkBytes),
                 EINVAL);
  }
  std::uint64_t chunkBytes = std::max(kMinChunkBytes, blockBytes);
  std::unique_ptr<LayeredDisk> disk(
      new LayeredDisk(std::move(base), std::move(layer), basePath, layerPath, bytes, chunkBytes));
  if (!fresh) {
    TANDEM_TRY(disk->loadLayerMap());
  }
  return disk;
}

Status LayeredDisk::loadLayerMap() {
  struct stat info {};
  if (::fstat(layer_.get(), &info) != 0) {
    return Error::fromErrno("cannot stat the disk layer " + layerPath_);
  }
  auto allocated = static_cast<std::uint64_t>(info.st_blocks) * 512;
  auto offset = static_cast<off_t>(0);
  auto end = static_cast<off_t>(bytes_);
  std::uint64_t dataBytes = 0;
  while (offset < end) {
    off_t data = ::lseek(layer_.get(), offset, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;
    if (data < 0) {
      return Error::fromErrno("cannot find the written parts of the disk layer " + layerPath_);
    }
    off_t hole = ::lseek(layer_.get(), data, SEEK_HOLE);
    if (hole < 0) {
      return Error::fromErrno("cannot find the written parts of the disk layer " + layerPath_);
    }
    markInLayer(static_cast<std::uint64_t>(data), static_cast<std::uint64_t>(hole));
    dataBytes += static_cast<std::uint64_t>(hole - data);
    offset = hole;
  }
  // A file system without hole reporting calls the whole file data, sparse or not.
  if (dataBytes == bytes_ && allocated + chunkBytes_ < bytes_) {
    return Error("the file system of the disk layer " + layerPath_ +
                     " does not report holes (SEEK_HOLE), so the written chunks cannot be told "
                     "apart; keep layers on ext4, xfs, btrfs or tmpfs",
                 EOPNOTSUPP);
  }
  return okStatus();
}

std::uint64_t LayeredDisk::layerChunks() const {
  std::uint64_t count = 0;
  for (std::uint64_t word : map_) count += static_cast<std::uint64_t>(std::popcount(word));
  return count;
}

void LayeredDisk::markInLayer(std::uint64_t firstByte, std::uint64_t endByte) {
  if (endByte <= firstByte) return;
  std::uint64_t last = std::min(endByte, bytes_) - 1;
  for (std::uint64_t chunk = firstByte / chunkBytes_; chunk <= last / chunkBytes_; ++chunk) {
    map_[chunk / 64] |= std::uint64_t{1} << (chunk % 64);
  }
}

Status LayeredDisk::read(std::uint64_t offset, std::span<std::uint8_t> into) {
  while (!into.empty()) {
    bool layered = inLayer(offset / chunkBytes_);
    std::uint64_t limit = offset + into.size();
    std::uint64_t runEnd = (offset / chunkBytes_ + 1) * chunkBytes_;
    while (runEnd < limit && inLayer(runEnd / chunkBytes_) == layered) runEnd += chunkBytes_;
    std::size_t take = static_cast<std::size_t>(std::min(runEnd, limit) - offset);
    TANDEM_TRY(readExactlyAt(layered ? layer_.get() : base_.get(), into.first(take), offset,
                             layered ? layerPath_ : basePath_));
    into = into.subspan(take);
    offset += take;
  }
  return okStatus();
}

std::uint64_t LayeredDisk::directRunEnd(std::uint64_t offset, std::uint64_t limit) const {
  std::uint64_t runEnd = offset;
  while (runEnd < limit) {
    std::uint64_t chunk = runEnd / chunkBytes_;
    std::uint64_t chunkStart = chunk * chunkBytes_;
    std::uint64_t chunkEnd = std::min(chunkStart + chunkBytes_, bytes_);
    std::uint64_t pieceEnd = std::min(chunkEnd, limit);
    bool whole = runEnd == chunkStart && pieceEnd == chunkEnd;
    if (!whole && !inLayer(chunk)) break;
    runEnd = pieceEnd;
  }
  return runEnd;
}

Status LayeredDisk::copyUpAndWrite(std::uint64_t offset, std::span<const std::uint8_t> piece) {
  std::uint64_t chunkStart = offset / chunkBytes_ * chunkBytes_;
  std::uint64_t chunkEnd = std::min(chunkStart + chunkBytes_, bytes_);
  std::span<std::uint8_t> buffer(chunk_.data(), static_cast<std::size_t>(chunkEnd - chunkStart));
  TANDEM_TRY(readExactlyAt(base_.get(), buffer, chunkStart, basePath_));
  std::memcpy(buffer.data() + (offset - chunkStart), piece.data(), piece.size());
  TANDEM_TRY(writeExactlyAt(layer_.get(), buffer, chunkStart, layerPath_));
  markInLayer(chunkStart, chunkEnd);
  return okStatus();
}

Status LayeredDisk::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  while (!data.empty()) {
    std::uint64_t limit = offset + data.size();
    std::uint64_t runEnd = directRunEnd(offset, limit);
    std::size_t take;
    if (runEnd > offset) {
      take = static_cast<std::size_t>(runEnd - offset);
      TANDEM_TRY(writeExactlyAt(layer_.get(), data.first(take), offset, layerPath_));
      markInLayer(offset, runEnd);
    } else {
      std::uint64_t chunkEnd = std::min((offset / chunkBytes_ + 1) * chunkBytes_, bytes_);
      take = static_cast<std::size_t>(std::min(chunkEnd, limit) - offset);
      TANDEM_TRY(copyUpAndWrite(offset, data.first(take)));
    }
    data = data.subspan(take);
    offset += take;
  }
  return okStatus();
}

Status LayeredDisk::flush() {
  if (::fdatasync(layer_.get()) != 0) {
    return Error::fromErrno("cannot flush the disk layer " + layerPath_);
  }
  return okStatus();
}

}  // namespace tandem::vmm
