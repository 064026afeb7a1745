#include "vmm/exit_counts.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "vmm/vcpu_exit.h"

namespace tandem::vmm {
namespace {

template <class Key>
void mergeInto(std::map<Key, std::uint64_t>& into, const std::map<Key, std::uint64_t>& from) {
  for (const auto& [key, count] : from) {
    into[key] += count;
  }
}

template <class Key>
nlohmann::json byAddress(const std::map<Key, std::uint64_t>& counts) {
  auto json = nlohmann::json::object();
  for (const auto& [key, count] : counts) {
    json[fmt::format("{:#x}", key)] = count;
  }
  return json;
}

}  // namespace

void ExitCounts::merge(const ExitCounts& other) {
  total += other.total;
  mergeInto(byReason, other.byReason);
  mergeInto(portWrites, other.portWrites);
  mergeInto(portReads, other.portReads);
  mergeInto(mmioByAddress, other.mmioByAddress);
}

nlohmann::json toJson(const ExitCounts& counts) {
  auto byReason = nlohmann::json::object();
  for (const auto& [reason, count] : counts.byReason) {
    byReason[exitReasonName(reason)] = count;
  }
  return {{"total", counts.total},
          {"by_reason", byReason},
          {"port_writes", byAddress(counts.portWrites)},
          {"port_reads", byAddress(counts.portReads)},
          {"mmio", byAddress(counts.mmioByAddress)}};
}

}  // namespace tandem::vmm
