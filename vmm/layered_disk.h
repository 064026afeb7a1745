// A disk whose bytes start as a read-only base file's and whose writes land in a layer file, in
// whole chunks: the base is never written, so one image's disk serves every workload booted from
// it, each with a layer of its own, the way firecracker-containerd gives each microVM a
// device-mapper snapshot. A write covering part of a chunk not yet in the layer copies that chunk
// up from the base first.
//
// The layer is a sparse file of the base's size. The chunks it holds are the ones its file system
// has allocated (SEEK_DATA), so a layer opened again, for a restarted workload, reads back what
// was written to it; a file system that cannot report holes is refused, since it would make every
// chunk look written.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/disk_backing.h"

namespace tandem::vmm {

class LayeredDisk final : public DiskBacking {
 public:
  // Opens `basePath` read-only, and `layerPath` read-write, creating it when missing. An
  // existing layer must have the base's size: else it belongs to another base.
  static Result<std::unique_ptr<LayeredDisk>> open(const std::string& basePath,
                                                   const std::string& layerPath);

  std::uint64_t bytes() const override { return bytes_; }
  Status read(std::uint64_t offset, std::span<std::uint8_t> into) override;
  Status write(std::uint64_t offset, std::span<const std::uint8_t> data) override;
  Status flush() override;
  const std::string& describe() const override { return description_; }

  std::uint64_t chunkBytes() const { return chunkBytes_; }
  // How many chunks the layer holds.
  std::uint64_t layerChunks() const;

 private:
  LayeredDisk(UniqueFd base, UniqueFd layer, std::string basePath, std::string layerPath,
              std::uint64_t bytes, std::uint64_t chunkBytes);

  Status loadLayerMap();
  bool inLayer(std::uint64_t chunk) const { return (map_[chunk / 64] >> (chunk % 64)) & 1; }
  void markInLayer(std::uint64_t firstByte, std::uint64_t endByte);
  // The end of the longest run from `offset` (before `limit`) that can go to the layer as it is:
  // chunks the run covers whole, or that the layer holds already.
  std::uint64_t directRunEnd(std::uint64_t offset, std::uint64_t limit) const;
  Status copyUpAndWrite(std::uint64_t offset, std::span<const std::uint8_t> piece);

  UniqueFd base_;
  UniqueFd layer_;
  std::string basePath_;
  std::string layerPath_;
  std::string description_;
  std::uint64_t bytes_;
  std::uint64_t chunkBytes_;
  std::vector<std::uint64_t> map_;   // a bit a chunk: set when the layer holds it
  std::vector<std::uint8_t> chunk_;  // the copy-up buffer
};

}  // namespace tandem::vmm
