// What a virtio-blk disk reads and writes: a host file as it is, or a read-only base under a
// writable layer (layered_disk.h). Offsets and lengths are checked against bytes() by the caller.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::vmm {

class DiskBacking {
 public:
  virtual ~DiskBacking() = default;
  virtual std::uint64_t bytes() const = 0;
  virtual Status read(std::uint64_t offset, std::span<std::uint8_t> into) = 0;
  virtual Status write(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
  // Makes every completed write durable.
  virtual Status flush() = 0;
  // Where the disk's bytes live, for messages.
  virtual const std::string& describe() const = 0;
};

// A regular host file, read and written in place.
class FileBacking final : public DiskBacking {
 public:
  // `file` is open for reading, and for writing unless the disk is read-only.
  static Result<std::unique_ptr<FileBacking>> open(UniqueFd file, std::string path);

  std::uint64_t bytes() const override { return bytes_; }
  Status read(std::uint64_t offset, std::span<std::uint8_t> into) override;
  Status write(std::uint64_t offset, std::span<const std::uint8_t> data) override;
  Status flush() override;
  const std::string& describe() const override { return path_; }

 private:
  FileBacking(UniqueFd file, std::string path, std::uint64_t bytes)
      : file_(std::move(file)), path_(std::move(path)), bytes_(bytes) {}

  UniqueFd file_;
  std::string path_;
  std::uint64_t bytes_;
};

}  // namespace tandem::vmm
