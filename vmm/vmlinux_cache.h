// Decompressed guest kernels, kept on disk so that a bzImage's payload is decompressed once per
// kernel file rather than at every boot: decompressing costs far more than copying (LZ4 of a
// 16 MiB vmlinux takes about half a second inside the emulated KVM host, reading it back from
// the page cache a few milliseconds).
//
// An entry is keyed by the kernel file's identity (device, inode, size, change time), as make
// keys by timestamps: any write to the file changes its ctime, so a rebuilt kernel never meets
// its predecessor's entry. Entries are written to a temporary name and renamed into place, so a
// reader sees a whole entry or none, and each is checked against the size the payload declares
// before use. The oldest entries beyond kVmlinuxCacheEntries are removed.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <span>
#include <string>

#include "common/result.h"
#include "vmm/kernel_payload.h"

namespace tandem::vmm {

inline constexpr std::size_t kVmlinuxCacheEntries = 8;

struct KernelFileIdentity {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t changeSeconds = 0;
  std::int64_t changeNanoseconds = 0;

  static KernelFileIdentity of(const struct stat& info);
};

class VmlinuxCache {
 public:
  explicit VmlinuxCache(std::string directory) : directory_(std::move(directory)) {}

  // The vmlinux in `payload`, from an entry for `kernel` when one is there and whole, else
  // decompressed (decompressPayload's checks and errors) and stored. A cache that cannot be
  // written to costs only the store: the kernel still boots.
  Result<DecompressedKernel> vmlinux(const KernelFileIdentity& kernel,
                                     std::span<const std::uint8_t> payload, std::uint64_t maxBytes,
                                     const std::string& path) const;

  // Where the entry for `kernel` lives.
  std::string entryPath(const KernelFileIdentity& kernel) const;

 private:
  void store(const std::string& entry, const DecompressedKernel& vmlinux) const;
  void prune() const;

  std::string directory_;
};

}  // namespace tandem::vmm
