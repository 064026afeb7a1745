#include "vmm/mp_table.h"

#include <string>
#include <string_view>

namespace tandem::vmm {
namespace {

// MP spec 1.4, table 4-3.
enum class EntryType : std::uint8_t {
  kProcessor = 0,
  kBus = 1,
  kIoapic = 2,
  kIoInterrupt = 3,
  kLocalInterrupt = 4,
};

// Table 4-11.
enum class InterruptType : std::uint8_t {
  kInt = 0,  // vectored by the APIC
  kNmi = 1,
  kExtInt = 3,  // vectored by an 8259
};

constexpr std::size_t kFloatingPointerSize = 16;
// Offsets patched once the table is complete (tables 4-1 and 4-2).
constexpr std::size_t kFloatingPointerChecksum = 10;
constexpr std::size_t kHeaderLength = 4;
constexpr std::size_t kHeaderChecksum = 7;
constexpr std::size_t kHeaderEntryCount = 34;

// "1.4" is written as 4 (tables 4-1 and 4-2); Linux accepts 1 or 4.
constexpr std::uint8_t kSpecRevision = 4;
// Bits 0-7 of the version registers KVM's in-kernel LAPIC and IOAPIC report
// (arch/x86/kvm/lapic.c: APIC_VERSION, arch/x86/kvm/ioapic.h: IOAPIC_VERSION_ID).
constexpr std::uint8_t kLapicVersion = 0x14;
constexpr std::uint8_t kIoapicVersion = 0x11;
// Table 4-4: EN and BP.
constexpr std::uint8_t kCpuEnabled = 1 << 0;
constexpr std::uint8_t kCpuBootstrap = 1 << 1;
// Table 4-9: EN.
constexpr std::uint8_t kIoapicEnabled = 1 << 0;
// Tables 4-5 and 4-6: family 6, FPU (bit 0) and an on-chip APIC (bit 9). Linux reads neither
// field (only the APIC id and the flags), and every vCPU is the same CPU, so a plain P6-class
// signature says enough.
constexpr std::uint32_t kCpuSignature = 6 << 8;
constexpr std::uint32_t kCpuFeatures = (1u << 0) | (1u << 9);

constexpr std::uint8_t kIsaBusId = 0;
// Every pin of KVM's IOAPIC: the 16 ISA lines, and 8 more that tandem's virtio devices use.
constexpr unsigned kIoapicPins = 24;
// PO = 00 and EL = 00, "conforms to specifications of bus" (tables 4-10 and 4-12): on ISA that is
// active high and edge-triggered, and Linux reads it so (arch/x86/kernel/apic/io_apic.c:
// default_ISA_polarity, default_ISA_trigger). It is also how KVM delivers these lines: its PIT
// and irqfds raise a line and lower it again, a rising edge to an IOAPIC pin left at its
// active-high polarity.
constexpr std::uint16_t kBusDefaultPolarityAndTrigger = 0;
constexpr std::uint8_t kAllLocalApics = 0xff;

// Appends little-endian fields, the byte order of every MP structure.
class LittleEndianWriter {
 public:
  explicit LittleEndianWriter(std::vector<std::uint8_t>& bytes) : bytes_(bytes) {}

  void u8(std::uint8_t value) { bytes_.push_back(value); }
  void u16(std::uint16_t value) {
    u8(value & 0xff);
    u8(value >> 8);
  }
  void u32(std::uint32_t value) {
    u16(value & 0xffff);
    u16(value >> 16);
  }
  // MP strings are fixed-width ASCII, blank-filled (tables 4-2 and 4-8).
  void text(std::string_view value, std::size_t width) {
    for (std::size_t i = 0; i < width; ++i) {
      u8(i < value.size() ? value[i] : ' ');
    }
  }

 private:
  std::vector<std::uint8_t>& bytes_;
};

void patchU16(std::vector<std::uint8_t>& bytes, std::size_t offset, std::uint16_t value) {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = value >> 8;
}

// The byte that makes bytes[begin, end) sum to zero modulo 256, its checksum field still zero.
std::uint8_t checksum(const std::vector<std::uint8_t>& bytes, std::size_t begin, std::size_t end) {
  std::uint8_t sum = 0;
  for (std::size_t i = begin; i < end; ++i) {
    sum += bytes[i];
  }
  return static_cast<std::uint8_t>(-sum);
}

void writeIoInterrupt(LittleEndianWriter& out, std::uint8_t isaIrq, std::uint8_t ioapicId) {
  out.u8(static_cast<std::uint8_t>(EntryType::kIoInterrupt));
  out.u8(static_cast<std::uint8_t>(InterruptType::kInt));
  out.u16(kBusDefaultPolarityAndTrigger);
  out.u8(kIsaBusId);
  out.u8(isaIrq);
  out.u8(ioapicId);
  out.u8(isaIrq);  // the IOAPIC pin, see buildMpTable
}

void writeLocalInterrupt(LittleEndianWriter& out, InterruptType type, std::uint8_t lint) {
  out.u8(static_cast<std::uint8_t>(EntryType::kLocalInterrupt));
  out.u8(static_cast<std::uint8_t>(type));
  out.u16(kBusDefaultPolarityAndTrigger);
  out.u8(kIsaBusId);
  out.u8(0);
  out.u8(kAllLocalApics);
  out.u8(lint);
}

}  // namespace

Result<std::vector<std::uint8_t>> buildMpTable(unsigned cpuCount, std::uint64_t baseAddress) {
  if (cpuCount == 0) {
    return Error("an MP table needs at least one vCPU");
  }
  if (cpuCount > kMpTableApicIdLimit) {
    return Error("an MP table holds at most " + std::to_string(kMpTableApicIdLimit) +
                 " vCPUs (APIC ids below the IOAPIC's and 0xff), not " + std::to_string(cpuCount));
  }
  if (cpuCount > kMpTableMaxCpus) {
    return Error("the MP table for " + std::to_string(cpuCount) + " vCPUs takes " +
                 std::to_string(mpTableSize(cpuCount)) + " bytes, more than the " +
                 std::to_string(x86::kMpTableMaxBytes) + " reserved for it (at most " +
                 std::to_string(kMpTableMaxCpus) + " vCPUs)");
  }
  // Linux looks for the floating pointer on 16-byte boundaries (mpparse.c: smp_scan_config), and
  // its pointer to the configuration table is 32 bits wide (MP spec 1.4, table 4-1).
  if (baseAddress % 16 != 0 || baseAddress + mpTableSize(cpuCount) > (1ull << 32)) {
    return Error("cannot place an MP table at guest address " + std::to_string(baseAddress) +
                 ": it must be 16-byte aligned and below 4 GiB");
  }

  std::vector<std::uint8_t> table;
  table.reserve(mpTableSize(cpuCount));
  LittleEndianWriter out(table);
  const auto ioapicId = static_cast<std::uint8_t>(cpuCount);

  // Floating pointer structure, table 4-1.
  out.text("_MP_", 4);
  out.u32(static_cast<std::uint32_t>(baseAddress + kFloatingPointerSize));
  out.u8(1);  // length in 16-byte paragraphs
  out.u8(kSpecRevision);
  out.u8(0);  // checksum
  out.u8(0);  // feature byte 1: a configuration table follows, not a default configuration
  out.u8(0);  // feature byte 2, IMCRP clear: virtual wire mode, as there is no IMCR to program
  out.u8(0);
  out.u8(0);
  out.u8(0);

  // Configuration table header, table 4-2.
  out.text("PCMP", 4);
  out.u16(0);  // base table length
  out.u8(kSpecRevision);
  out.u8(0);  // checksum
  out.text("TANDEM", 8);
  out.text("TANDEM", 12);
  out.u32(0);  // no OEM table
  out.u16(0);
  out.u16(0);  // entry count
  out.u32(static_cast<std::uint32_t>(x86::kLapicAddress));
  out.u16(0);  // no extended table
  out.u8(0);
  out.u8(0);

  std::uint16_t entries = 0;
  for (unsigned cpu = 0; cpu < cpuCount; ++cpu, ++entries) {
    // Table 4-4.
    out.u8(static_cast<std::uint8_t>(EntryType::kProcessor));
    out.u8(static_cast<std::uint8_t>(cpu));
    out.u8(kLapicVersion);
    out.u8(kCpuEnabled | (cpu == 0 ? kCpuBootstrap : 0));
    out.u32(kCpuSignature);
    out.u32(kCpuFeatures);
    out.u32(0);
    out.u32(0);
  }

  // Table 4-7: the one bus the legacy devices' interrupts come from.
  out.u8(static_cast<std::uint8_t>(EntryType::kBus));
  out.u8(kIsaBusId);
  out.text("ISA", 6);
  ++entries;

  // Table 4-9.
  out.u8(static_cast<std::uint8_t>(EntryType::kIoapic));
  out.u8(ioapicId);
  out.u8(kIoapicVersion);
  out.u8(kIoapicEnabled);
  out.u32(static_cast<std::uint32_t>(x86::kIoapicAddress));
  ++entries;

  // IRQ n on IOAPIC pin n, the timer included (PC chipsets wire IRQ 0 to pin 2 instead): KVM's
  // default routing sends GSI n to IOAPIC pin n for n < 24, and to the 8259s for n < 16
  // (arch/x86/kvm/irq_comm.c: default_routing), and its PIT raises GSI 0. Lines 16 to 23 are
  // declared on the ISA bus too: Linux then takes their number as the IRQ and their polarity and
  // trigger as ISA's, the edge an irqfd makes.
  for (unsigned irq = 0; irq < kIoapicPins; ++irq, ++entries) {
    writeIoInterrupt(out, static_cast<std::uint8_t>(irq), ioapicId);
  }

  // Every LAPIC's LINT0 takes the 8259's ExtINT and LINT1 the NMI: the wiring of the spec's
  // default configurations (chapter 5), which Linux also assumes when it builds one
  // (arch/x86/kernel/mpparse.c: construct_default_ISA_mptable).
  writeLocalInterrupt(out, InterruptType::kExtInt, 0);
  writeLocalInterrupt(out, InterruptType::kNmi, 1);
  entries += 2;

  patchU16(table, kFloatingPointerSize + kHeaderLength,
           static_cast<std::uint16_t>(table.size() - kFloatingPointerSize));
  patchU16(table, kFloatingPointerSize + kHeaderEntryCount, entries);
  table[kFloatingPointerSize + kHeaderChecksum] =
      checksum(table, kFloatingPointerSize, table.size());
  table[kFloatingPointerChecksum] = checksum(table, 0, kFloatingPointerSize);
  return table;
}

}  // namespace tandem::vmm
