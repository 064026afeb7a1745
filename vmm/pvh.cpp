#include "vmm/pvh.h"

#include "vmm/x86_layout.h"

namespace tandem::vmm {
namespace {

// start_info.h, version 1.
struct HvmStartInfo {
  std::uint32_t magic;
  std::uint32_t version;
  std::uint32_t flags;
  std::uint32_t moduleCount;
  std::uint64_t moduleListAddress;
  std::uint64_t cmdlineAddress;
  std::uint64_t rsdpAddress;
  std::uint64_t memmapAddress;
  std::uint32_t memmapEntries;
  std::uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56);

struct HvmModule {
  std::uint64_t address;
  std::uint64_t size;
  std::uint64_t cmdlineAddress;
  std::uint64_t reserved;
};
static_assert(sizeof(HvmModule) == 32);

struct HvmMemmapEntry {
  std::uint64_t address;
  std::uint64_t size;
  std::uint32_t type;
  std::uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24);

}  // namespace

Status writePvhStartInfo(const GuestMemory& memory, std::uint64_t cmdlineAddress,
                         const InitrdPlacement& initrd, const std::vector<E820Entry>& e820) {
  if (e820.size() > x86::kPvhMemmapMaxEntries) {
    return Error("too many memory map entries for PVH start info", E2BIG);
  }
  HvmStartInfo info{};
  info.magic = kHvmStartMagic;
  info.version = 1;
  info.cmdlineAddress = cmdlineAddress;
  info.memmapAddress = x86::kPvhMemmapAddress;
  info.memmapEntries = static_cast<std::uint32_t>(e820.size());
  if (initrd.size > 0) {
    info.moduleCount = 1;
    info.moduleListAddress = x86::kPvhModuleAddress;
    TANDEM_TRY(
        memory.writeObject(x86::kPvhModuleAddress, HvmModule{initrd.address, initrd.size, 0, 0}));
  }
  for (std::size_t i = 0; i < e820.size(); ++i) {
    HvmMemmapEntry entry{e820[i].address, e820[i].size, static_cast<std::uint32_t>(e820[i].type),
                         0};
    TANDEM_TRY(memory.writeObject(x86::kPvhMemmapAddress + i * sizeof(entry), entry));
  }
  return memory.writeObject(x86::kPvhInfoAddress, info);
}

}  // namespace tandem::vmm
