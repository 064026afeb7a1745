#include "vmm/vmlinux_cache.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "common/file.h"
#include "common/unique_fd.h"

namespace tandem::vmm {
namespace {

constexpr std::string_view kEntrySuffix = ".vmlinux";

// The entry at `entry` if it is there and `expectedSize` long, mapped with its pages populated
// in one go: copying out of it then takes no page faults.
std::optional<DecompressedKernel> readEntry(const std::string& entry, std::uint64_t expectedSize) {
  int raw = ::open(entry.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) {
    return std::nullopt;
  }
  UniqueFd fd(raw);
  auto size = regularFileSize(fd.get(), entry);
  if (!size || *size != expectedSize) {
    spdlog::debug("{}: not a whole cached vmlinux of {} bytes; decompressing again", entry,
                  expectedSize);
    return std::nullopt;
  }
  auto mapped = MappedRegion::map("the cached vmlinux " + entry, expectedSize, PROT_READ,
                                  MAP_PRIVATE | MAP_POPULATE, fd.get());
  if (!mapped) {
    spdlog::debug("{}", mapped.error().describe());
    return std::nullopt;
  }
  return DecompressedKernel{std::move(mapped).value(), expectedSize};
}

}  // namespace

KernelFileIdentity KernelFileIdentity::of(const struct stat& info) {
  return {static_cast<std::uint64_t>(info.st_dev), static_cast<std::uint64_t>(info.st_ino),
          static_cast<std::uint64_t>(info.st_size), info.st_ctim.tv_sec, info.st_ctim.tv_nsec};
}

std::string VmlinuxCache::entryPath(const KernelFileIdentity& kernel) const {
  return fmt::format("{}/{:x}-{:x}-{:x}-{:x}.{:09}{}", directory_, kernel.device, kernel.inode,
                     kernel.size, kernel.changeSeconds, kernel.changeNanoseconds, kEntrySuffix);
}

Result<DecompressedKernel> VmlinuxCache::vmlinux(const KernelFileIdentity& kernel,
                                                 std::span<const std::uint8_t> payload,
                                                 std::uint64_t maxBytes,
                                                 const std::string& path) const {
  std::string entry = entryPath(kernel);
  std::uint32_t declared = declaredDecompressedSize(payload);
  if (declared != 0 && declared <= maxBytes) {
    if (auto cached = readEntry(entry, declared)) {
      spdlog::debug("{}: vmlinux from the cache entry {}", path, entry);
      return std::move(*cached);
    }
  }
  TANDEM_ASSIGN_OR_RETURN(DecompressedKernel vmlinux, decompressPayload(payload, maxBytes, path));
  store(entry, vmlinux);
  return vmlinux;
}

void VmlinuxCache::store(const std::string& entry, const DecompressedKernel& vmlinux) const {
  if (auto made = makeDirectories(directory_, 0700); !made) {
    spdlog::debug("not caching the decompressed kernel: {}", made.error().describe());
    return;
  }
  // A name of this process's own, so that concurrent boots of one kernel never share a file.
  std::string temporary = fmt::format("{}.tmp-{}", entry, ::getpid());
  int raw = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (raw < 0) {
    spdlog::debug("not caching the decompressed kernel: cannot create {}: {}", temporary,
                  std::strerror(errno));
    return;
  }
  UniqueFd fd(raw);
  auto written = writeAll(fd.get(), vmlinux.bytes(), temporary);
  if (!written || ::rename(temporary.c_str(), entry.c_str()) != 0) {
    spdlog::debug("not caching the decompressed kernel in {}: {}", entry,
                  written ? std::strerror(errno) : written.error().describe());
    ::unlink(temporary.c_str());
    return;
  }
  prune();
}

void VmlinuxCache::prune() const {
  namespace fs = std::filesystem;
  std::vector<std::pair<fs::file_time_type, fs::path>> entries;
  std::error_code error;
  for (const auto& item : fs::directory_iterator(directory_, error)) {
    if (item.path().extension() == kEntrySuffix && item.is_regular_file(error)) {
      entries.emplace_back(item.last_write_time(error), item.path());
    }
  }
  if (entries.size() <= kVmlinuxCacheEntries) {
    return;
  }
  std::sort(entries.begin(), entries.end());
  for (std::size_t i = 0; i < entries.size() - kVmlinuxCacheEntries; ++i) {
    fs::remove(entries[i].second, error);
  }
}

}  // namespace tandem::vmm
