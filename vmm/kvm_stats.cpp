#include "vmm/kvm_stats.h"

#include <linux/kvm.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace tandem::vmm {
namespace {

// kvm_stats_desc as C lays it out: its name is a __DECLARE_FLEX_ARRAY, which C++ sizes
// differently, so the fixed part is read field by field from its C offsets.
struct StatsDescriptor {
  std::uint32_t flags;
  std::int16_t exponent;
  std::uint16_t size;
  std::uint32_t offset;
  std::uint32_t bucketSize;
};
constexpr std::size_t kDescriptorFixedBytes = 16;
static_assert(sizeof(StatsDescriptor) == kDescriptorFixedBytes);

}  // namespace

Result<std::map<std::string, std::uint64_t>> parseKvmStats(std::span<const std::uint8_t> file) {
  auto malformed = [](const std::string& why) {
    return Error("KVM statistics are malformed: " + why, EINVAL);
  };
  kvm_stats_header header;
  if (file.size() < sizeof(header)) {
    return malformed("shorter than their header");
  }
  std::memcpy(&header, file.data(), sizeof(header));
  std::uint64_t descriptorSize = kDescriptorFixedBytes + std::uint64_t{header.name_size};
  if (header.name_size == 0 || header.desc_offset > file.size() ||
      descriptorSize * header.num_desc > file.size() - header.desc_offset) {
    return malformed("descriptors out of range");
  }
  std::map<std::string, std::uint64_t> counters;
  for (std::uint32_t i = 0; i < header.num_desc; ++i) {
    const std::uint8_t* at = file.data() + header.desc_offset + i * descriptorSize;
    StatsDescriptor descriptor;
    std::memcpy(&descriptor, at, sizeof(descriptor));
    std::uint64_t dataAt = std::uint64_t{header.data_offset} + descriptor.offset;
    if (dataAt > file.size() ||
        std::uint64_t{descriptor.size} * sizeof(std::uint64_t) > file.size() - dataAt) {
      return malformed("data of statistic " + std::to_string(i) + " out of range");
    }
    if ((descriptor.flags & KVM_STATS_TYPE_MASK) != KVM_STATS_TYPE_CUMULATIVE ||
        descriptor.size != 1) {
      continue;
    }
    const char* name = reinterpret_cast<const char*>(at + kDescriptorFixedBytes);
    std::uint64_t value;
    std::memcpy(&value, file.data() + dataAt, sizeof(value));
    counters[std::string(name, strnlen(name, header.name_size))] = value;
  }
  return counters;
}

Result<std::map<std::string, std::uint64_t>> readKvmStats(int statsFd) {
  std::vector<std::uint8_t> file;
  std::uint8_t chunk[16384];
  for (;;) {
    ssize_t n = ::pread(statsFd, chunk, sizeof(chunk), static_cast<off_t>(file.size()));
    if (n < 0) {
      return Error::fromErrno("reading KVM statistics");
    }
    if (n == 0) {
      break;
    }
    file.insert(file.end(), chunk, chunk + n);
  }
  return parseKvmStats(file);
}

}  // namespace tandem::vmm
