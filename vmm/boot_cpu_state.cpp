#include "vmm/boot_cpu_state.h"

#include <cstring>

#include "vmm/x86_layout.h"

namespace tandem::vmm {
namespace {

constexpr std::uint64_t kCr0ProtectionEnable = 1ull << 0;
constexpr std::uint64_t kCr0ExtensionType = 1ull << 4;
constexpr std::uint64_t kCr0Paging = 1ull << 31;
constexpr std::uint64_t kCr4Pae = 1ull << 5;
constexpr std::uint64_t kEferLongModeEnable = 1ull << 8;
constexpr std::uint64_t kEferLongModeActive = 1ull << 10;

constexpr std::uint64_t kPagePresent = 1ull << 0;
constexpr std::uint64_t kPageWritable = 1ull << 1;
constexpr std::uint64_t kPageHuge = 1ull << 7;
constexpr std::uint64_t kEntriesPerTable = 512;
constexpr std::uint64_t kHugePageSize = 2ull << 20;

// SDM vol. 4, MSR indices.
constexpr std::uint32_t kMsrTsc = 0x10;
constexpr std::uint32_t kMsrSysenterCs = 0x174;
constexpr std::uint32_t kMsrSysenterEsp = 0x175;
constexpr std::uint32_t kMsrSysenterEip = 0x176;
constexpr std::uint32_t kMsrMiscEnable = 0x1a0;
constexpr std::uint32_t kMsrMtrrDefType = 0x2ff;
constexpr std::uint32_t kMsrStar = 0xc0000081;
constexpr std::uint32_t kMsrLstar = 0xc0000082;
constexpr std::uint32_t kMsrCstar = 0xc0000083;
constexpr std::uint32_t kMsrSyscallMask = 0xc0000084;
constexpr std::uint32_t kMsrKernelGsBase = 0xc0000102;
constexpr std::uint64_t kMiscEnableFastStrings = 1;
// MTRRs enabled, default type write-back: without it a guest maps all of RAM uncached.
constexpr std::uint64_t kMtrrEnableWriteBack = (1ull << 11) | 6;

// SDM vol. 3, 11.5.1: LVT registers' offsets and delivery-mode field.
constexpr std::size_t kApicLvt0 = 0x350;
constexpr std::size_t kApicLvt1 = 0x360;
constexpr std::uint32_t kDeliveryModeMask = 0x700;
constexpr std::uint32_t kDeliveryModeExtInt = 0x700;
constexpr std::uint32_t kDeliveryModeNmi = 0x400;

}  // namespace

std::uint64_t gdtEntry(std::uint16_t flags, std::uint32_t base, std::uint32_t limit) {
  return ((std::uint64_t{base} & 0xff000000u) << 32) | ((std::uint64_t{flags} & 0xf0ffu) << 40) |
         ((std::uint64_t{limit} & 0x000f0000u) << 32) |
         ((std::uint64_t{base} & 0x00ffffffu) << 16) | (std::uint64_t{limit} & 0x0000ffffu);
}

kvm_segment segmentFromGdtEntry(std::uint64_t entry, std::uint16_t index) {
  kvm_segment segment{};
  segment.base = ((entry >> 16) & 0x00ffffff) | (((entry >> 56) & 0xff) << 24);
  std::uint32_t limit =
      static_cast<std::uint32_t>((entry & 0xffff) | (((entry >> 48) & 0xf) << 16));
  segment.g = (entry >> 55) & 1;
  // With G set the limit counts 4 KiB pages; KVM wants it in bytes.
  segment.limit = segment.g ? (limit << 12) | 0xfff : limit;
  segment.selector = static_cast<std::uint16_t>(index * 8);
  segment.type = (entry >> 40) & 0xf;
  segment.s = (entry >> 44) & 1;
  segment.dpl = (entry >> 45) & 3;
  segment.present = (entry >> 47) & 1;
  segment.avl = (entry >> 52) & 1;
  segment.l = (entry >> 53) & 1;
  segment.db = (entry >> 54) & 1;
  segment.unusable = segment.present ? 0 : 1;
  return segment;
}

std::array<std::uint64_t, 4> bootGdt(EntryMode mode) {
  std::uint16_t code = mode == EntryMode::kLongMode64 ? kCode64Flags : kCode32Flags;
  return {0, gdtEntry(code, 0, 0xfffff), gdtEntry(kDataFlags, 0, 0xfffff),
          gdtEntry(kTssFlags, 0, 0xfffff)};
}

Status writeIdentityPageTables(const GuestMemory& memory) {
  constexpr std::uint64_t kDirectories =
      x86::kIdentityMappedBytes / (kHugePageSize * kEntriesPerTable);
  TANDEM_TRY(memory.writeObject<std::uint64_t>(x86::kPml4Address,
                                               x86::kPdptAddress | kPagePresent | kPageWritable));
  for (std::uint64_t directory = 0; directory < kDirectories; ++directory) {
    std::uint64_t directoryAddress = x86::kPdAddress + directory * 4096;
    TANDEM_TRY(memory.writeObject<std::uint64_t>(x86::kPdptAddress + directory * 8,
                                                 directoryAddress | kPagePresent | kPageWritable));
    std::array<std::uint64_t, kEntriesPerTable> entries;
    for (std::uint64_t i = 0; i < kEntriesPerTable; ++i) {
      std::uint64_t address = (directory * kEntriesPerTable + i) * kHugePageSize;
      entries[i] = address | kPagePresent | kPageWritable | kPageHuge;
    }
    TANDEM_TRY(memory.writeObject(directoryAddress, entries));
  }
  return okStatus();
}

Status writeDescriptorTables(const GuestMemory& memory, EntryMode mode) {
  TANDEM_TRY(memory.writeObject(x86::kGdtAddress, bootGdt(mode)));
  return memory.writeObject<std::uint64_t>(x86::kIdtAddress, 0);
}

void setBootSregs(kvm_sregs& sregs, EntryMode mode) {
  auto gdt = bootGdt(mode);
  sregs.gdt.base = x86::kGdtAddress;
  sregs.gdt.limit = sizeof(gdt) - 1;
  sregs.idt.base = x86::kIdtAddress;
  sregs.idt.limit = sizeof(std::uint64_t) - 1;
  sregs.cs = segmentFromGdtEntry(gdt[kCodeIndex], kCodeIndex);
  kvm_segment data = segmentFromGdtEntry(gdt[kDataIndex], kDataIndex);
  sregs.ds = data;
  sregs.es = data;
  sregs.fs = data;
  sregs.gs = data;
  sregs.ss = data;
  sregs.tr = segmentFromGdtEntry(gdt[kTssIndex], kTssIndex);
  if (mode == EntryMode::kLongMode64) {
    sregs.cr0 |= kCr0ProtectionEnable | kCr0Paging;
    sregs.cr3 = x86::kPml4Address;
    sregs.cr4 |= kCr4Pae;
    sregs.efer |= kEferLongModeEnable | kEferLongModeActive;
  } else {
    // PVH (xen/include/public/arch-x86/hvm/start_info.h): protected mode, paging off, CR4 0.
    sregs.cr0 = (sregs.cr0 | kCr0ProtectionEnable | kCr0ExtensionType) & ~kCr0Paging;
    sregs.cr4 = 0;
    sregs.efer = 0;
  }
}

kvm_regs bootRegs(EntryMode mode, std::uint64_t entry, std::uint64_t bootInfoAddress) {
  kvm_regs regs{};
  regs.rflags = 0x2;  // bit 1 is reserved and always set; interrupts off
  regs.rip = entry;
  if (mode == EntryMode::kLongMode64) {
    regs.rsp = x86::kBootStackPointer;
    regs.rbp = x86::kBootStackPointer;
    regs.rsi = bootInfoAddress;
  } else {
    regs.rbx = bootInfoAddress;
  }
  return regs;
}

kvm_fpu bootFpu() {
  kvm_fpu fpu{};
  fpu.fcw = 0x37f;     // x87 reset value: all exceptions masked, 64-bit precision
  fpu.mxcsr = 0x1f80;  // SSE reset value: all exceptions masked
  return fpu;
}

std::vector<kvm_msr_entry> bootMsrs() {
  auto msr = [](std::uint32_t index, std::uint64_t value) {
    kvm_msr_entry entry{};
    entry.index = index;
    entry.data = value;
    return entry;
  };
  return {
      msr(kMsrSysenterCs, 0),
      msr(kMsrSysenterEsp, 0),
      msr(kMsrSysenterEip, 0),
      msr(kMsrStar, 0),
      msr(kMsrCstar, 0),
      msr(kMsrKernelGsBase, 0),
      msr(kMsrSyscallMask, 0),
      msr(kMsrLstar, 0),
      // Every vCPU's TSC written at once lets KVM treat them as synchronised.
      msr(kMsrTsc, 0),
      msr(kMsrMiscEnable, kMiscEnableFastStrings),
      msr(kMsrMtrrDefType, kMtrrEnableWriteBack),
  };
}

void setLapicLintModes(kvm_lapic_state& lapic) {
  auto setMode = [&](std::size_t offset, std::uint32_t mode) {
    std::uint32_t value;
    std::memcpy(&value, lapic.regs + offset, sizeof(value));
    value = (value & ~kDeliveryModeMask) | mode;
    std::memcpy(lapic.regs + offset, &value, sizeof(value));
  };
  setMode(kApicLvt0, kDeliveryModeExtInt);
  setMode(kApicLvt1, kDeliveryModeNmi);
}

}  // namespace tandem::vmm
