// KVM's binary statistics (KVM_GET_STATS_FD, Documentation/virt/kvm/api.rst 4.133): the
// exits KVM handled itself as well as those it passed to us, per vCPU.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "common/result.h"

namespace tandem::vmm {

// Cumulative single-value counters by name ("exits", "io_exits", "halt_exits", ...). A file
// that contradicts its own header (offsets or sizes out of range) is an error.
Result<std::map<std::string, std::uint64_t>> parseKvmStats(std::span<const std::uint8_t> file);

// Reads a whole stats fd and parses it.
Result<std::map<std::string, std::uint64_t>> readKvmStats(int statsFd);

}  // namespace tandem::vmm
