#include "vmm/workload_initrd.h"

#include <fcntl.h>

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "common/file.h"
#include "vmm/cpio_writer.h"
#include "vmm/guest_protocol.h"

namespace tandem::vmm {
namespace {

constexpr const char* kTandemDirectory = "/.tandem";

// Archives are concatenated at 4-byte boundaries: the kernel skips the zeros between them.
std::uint64_t alignedTo4(std::uint64_t bytes) {
  return (bytes + 3) & ~std::uint64_t{3};
}

}  // namespace

Result<WorkloadInitrd> WorkloadInitrd::create(WorkloadInitrdParts parts) {
  WorkloadInitrd initrd;
  if (!parts.rootfsArchive.empty()) {
    TANDEM_ASSIGN_OR_RETURN(initrd.rootfsArchive_,
                            openPath(parts.rootfsArchive, O_RDONLY | O_CLOEXEC));
    TANDEM_ASSIGN_OR_RETURN(
        initrd.rootfsArchiveBytes_,
        regularFileSize(initrd.rootfsArchive_.get(), parts.rootfsArchive).context("initramfs"));
    initrd.rootfsArchivePath_ = std::move(parts.rootfsArchive);
  } else if (!parts.rootfsDirectory.empty()) {
    VectorSink sink(initrd.packedRootfs_);
    CpioWriter rootfs(sink);
    TANDEM_TRY(rootfs.appendTree(parts.rootfsDirectory, ""));
    TANDEM_TRY(rootfs.finish());
  } else if (!parts.rootfsOnDisk) {
    return Error("a microVM needs a root filesystem: give --rootfs DIR or --initramfs FILE",
                 EINVAL);
  }
  TANDEM_ASSIGN_OR_RETURN(initrd.guestInit_, openPath(parts.guestInitPath, O_RDONLY | O_CLOEXEC));
  TANDEM_ASSIGN_OR_RETURN(
      initrd.guestInitBytes_,
      regularFileSize(initrd.guestInit_.get(), parts.guestInitPath).context("tandem's guest init"));
  initrd.guestInitPath_ = std::move(parts.guestInitPath);
  initrd.description_ = std::move(parts.description);
  return initrd;
}

std::uint64_t WorkloadInitrd::tandemArchiveMaxBytes() const {
  return cpioEntryMaxBytes(std::strlen(kTandemDirectory), 0) +
         cpioEntryMaxBytes(std::strlen(guest::kInitPath), guestInitBytes_) +
         cpioEntryMaxBytes(std::strlen(guest::kWorkloadPath), description_.size()) +
         cpioEntryMaxBytes(std::strlen(kCpioTrailerName), 0);
}

std::uint64_t WorkloadInitrd::maxBytes() const {
  return alignedTo4(rootfsBytes()) + tandemArchiveMaxBytes();
}

Result<std::uint64_t> WorkloadInitrd::writeTo(std::span<std::uint8_t> target) const {
  if (target.size() < maxBytes()) {
    return Error("the initramfs does not fit the room placed for it", ENOSPC);
  }
  if (rootfsArchive_) {
    TANDEM_TRY(readExactly(rootfsArchive_.get(), target.first(rootfsArchiveBytes_),
                           "the initramfs " + rootfsArchivePath_));
  } else {
    std::copy(packedRootfs_.begin(), packedRootfs_.end(), target.begin());
  }
  std::uint64_t offset = alignedTo4(rootfsBytes());
  std::fill(target.begin() + static_cast<long>(rootfsBytes()),
            target.begin() + static_cast<long>(offset), 0);
  SpanSink sink(target.subspan(offset));
  CpioWriter extra(sink);
  TANDEM_TRY(extra.addDirectory(kTandemDirectory, {0700}));
  TANDEM_TRY(extra.addOpenFile(guest::kInitPath, guestInit_.get(), guestInitPath_, {0700}));
  TANDEM_TRY(extra.addFile(guest::kWorkloadPath, bytesOf(description_), {0600}));
  TANDEM_TRY(extra.finish());
  return offset + sink.written();
}

}  // namespace tandem::vmm
