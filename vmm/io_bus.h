// Devices as handlers on an address bus (one for x86 port I/O, one for MMIO): the vCPU loop
// turns each exit into a read or write here, and a unit test can drive any device the same way.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "common/result.h"

namespace tandem::vmm {

class IoHandler {
 public:
  virtual ~IoHandler() = default;
  // `offset` is relative to the handler's base address.
  virtual void read(std::uint64_t offset, std::span<std::uint8_t> data) = 0;
  virtual void write(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
};

class IoBus {
 public:
  // Fails when the range overlaps one already registered.
  Status add(std::uint64_t base, std::uint64_t length, std::shared_ptr<IoHandler> handler,
             std::string name);

  // False when no handler covers `address`: the caller decides what an unclaimed access means.
  bool read(std::uint64_t address, std::span<std::uint8_t> data) const;
  bool write(std::uint64_t address, std::span<const std::uint8_t> data) const;

 private:
  struct Range {
    std::uint64_t length;
    std::shared_ptr<IoHandler> handler;
    std::string name;
  };
  const std::pair<const std::uint64_t, Range>* find(std::uint64_t address) const;

  std::map<std::uint64_t, Range> ranges_;  // by base address
};

}  // namespace tandem::vmm
