#include "vmm/pvh.h"

#include <elf.h>

#include <cstring>

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

constexpr std::uint64_t align4(std::uint64_t value) {
  return (value + 3) & ~std::uint64_t{3};
}

// Finds the PVH entry in a PT_NOTE segment's notes, each: namesz, descsz, type, name, desc.
bool findPvhEntry(std::span<const std::uint8_t> notes, std::uint64_t& entry) {
  while (notes.size() >= sizeof(Elf64_Nhdr)) {
    Elf64_Nhdr header;
    std::memcpy(&header, notes.data(), sizeof(header));
    std::uint64_t nameAt = sizeof(header);
    std::uint64_t descAt = nameAt + align4(header.n_namesz);
    std::uint64_t next = descAt + align4(header.n_descsz);
    if (next > notes.size()) {
      return false;
    }
    bool xen = header.n_namesz == 4 && std::memcmp(notes.data() + nameAt, "Xen", 4) == 0;
    if (xen && header.n_type == kXenElfNotePhys32Entry &&
        (header.n_descsz == 4 || header.n_descsz == 8)) {
      std::uint64_t value = 0;
      std::memcpy(&value, notes.data() + descAt, header.n_descsz);
      entry = value;
      return true;
    }
    notes = notes.subspan(next);
  }
  return false;
}

}  // namespace

bool isElf(std::span<const std::uint8_t> file) {
  return file.size() >= SELFMAG && std::memcmp(file.data(), ELFMAG, SELFMAG) == 0;
}

Result<PvhKernel> parsePvhElf(std::span<const std::uint8_t> file, const std::string& path) {
  auto invalid = [&](const std::string& why) {
    return Error(path + " is not a bootable x86-64 ELF kernel: " + why, ENOEXEC);
  };
  Elf64_Ehdr header;
  if (file.size() < sizeof(header)) {
    return invalid("truncated ELF header");
  }
  std::memcpy(&header, file.data(), sizeof(header));
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB ||
      header.e_machine != EM_X86_64) {
    return invalid("not a little-endian 64-bit x86-64 ELF");
  }
  if (header.e_phentsize != sizeof(Elf64_Phdr) || header.e_phoff > file.size() ||
      std::uint64_t{header.e_phnum} * sizeof(Elf64_Phdr) > file.size() - header.e_phoff) {
    return invalid("program headers outside the file");
  }
  PvhKernel kernel;
  bool haveEntry = false;
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr program;
    std::memcpy(&program, file.data() + header.e_phoff + i * sizeof(Elf64_Phdr), sizeof(program));
    if (program.p_offset > file.size() || program.p_filesz > file.size() - program.p_offset) {
      return invalid("segment " + std::to_string(i) + " extends past the end of the file");
    }
    if (program.p_type == PT_NOTE && !haveEntry) {
      haveEntry = findPvhEntry(file.subspan(program.p_offset, program.p_filesz), kernel.entry);
    } else if (program.p_type == PT_LOAD) {
      if (program.p_filesz > program.p_memsz || program.p_paddr > UINT64_MAX - program.p_memsz) {
        return invalid("segment " + std::to_string(i) + " has inconsistent sizes");
      }
      kernel.segments.push_back(
          {program.p_paddr, program.p_offset, program.p_filesz, program.p_memsz});
      kernel.highestAddress = std::max(kernel.highestAddress, program.p_paddr + program.p_memsz);
    }
  }
  if (!haveEntry) {
    return invalid(
        "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); build it with CONFIG_PVH=y, "
        "or boot its bzImage instead");
  }
  if (kernel.segments.empty()) {
    return invalid("no loadable segments");
  }
  return kernel;
}

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
