// The initramfs a microVM boots: the workload's root filesystem first (a prebuilt archive, read
// straight into guest memory, or a folder packed at boot; nothing when the root is a disk), then a
// second archive holding tandem's guest init and the workload's description. The kernel unpacks
// both in that order, so nothing in the rootfs can replace tandem's own files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/initrd_source.h"

namespace tandem::vmm {

struct WorkloadInitrdParts {
  std::string rootfsArchive;    // a newc cpio file; or else
  std::string rootfsDirectory;  // a folder, packed at boot; or else
  bool rootfsOnDisk = false;    // none: the guest mounts its root from a disk
  std::string guestInitPath;
  std::string description;  // the workload as JSON
};

class WorkloadInitrd final : public InitrdSource {
 public:
  static Result<WorkloadInitrd> create(WorkloadInitrdParts parts);

  std::uint64_t maxBytes() const override;
  // Reads the rootfs archive and the guest init from where create() opened them, so it may be
  // called only once.
  Result<std::uint64_t> writeTo(std::span<std::uint8_t> target) const override;

 private:
  WorkloadInitrd() = default;
  // One of the two is empty: the rootfs is a prebuilt archive or a packed folder.
  std::uint64_t rootfsBytes() const { return rootfsArchiveBytes_ + packedRootfs_.size(); }
  std::uint64_t tandemArchiveMaxBytes() const;

  UniqueFd rootfsArchive_;
  std::string rootfsArchivePath_;
  std::uint64_t rootfsArchiveBytes_ = 0;
  std::vector<std::uint8_t> packedRootfs_;
  UniqueFd guestInit_;
  std::string guestInitPath_;
  std::uint64_t guestInitBytes_ = 0;
  std::string description_;
};

}  // namespace tandem::vmm
