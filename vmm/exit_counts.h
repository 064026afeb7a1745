// What the monitor counted itself: every exit that reached userspace, by reason, and port I/O
// by port, which is where a nested boot's time goes (platform-facts: 99 % port I/O).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace tandem::vmm {

struct ExitCounts {
  std::uint64_t total = 0;
  // By KVM_EXIT_* code; named only when reported, not on every exit.
  std::map<std::uint32_t, std::uint64_t> byReason;
  std::map<std::uint16_t, std::uint64_t> portWrites;
  std::map<std::uint16_t, std::uint64_t> portReads;
  std::map<std::uint64_t, std::uint64_t> mmioByAddress;

  void merge(const ExitCounts& other);
};

nlohmann::json toJson(const ExitCounts& counts);

}  // namespace tandem::vmm
