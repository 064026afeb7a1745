#include "vmm/elf_kernel.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

namespace tandem::vmm {
namespace {

constexpr std::uint64_t align4(std::uint64_t value) {
  return (value + 3) & ~std::uint64_t{3};
}

// The PVH entry from a PT_NOTE segment's notes, each: namesz, descsz, type, name, desc.
std::optional<std::uint64_t> findPvhEntry(std::span<const std::uint8_t> notes) {
  while (notes.size() >= sizeof(Elf64_Nhdr)) {
    Elf64_Nhdr header;
    std::memcpy(&header, notes.data(), sizeof(header));
    std::uint64_t nameAt = sizeof(header);
    std::uint64_t descAt = nameAt + align4(header.n_namesz);
    std::uint64_t next = descAt + align4(header.n_descsz);
    if (next > notes.size()) {
      return std::nullopt;
    }
    bool xen = header.n_namesz == 4 && std::memcmp(notes.data() + nameAt, "Xen", 4) == 0;
    if (xen && header.n_type == kXenElfNotePhys32Entry &&
        (header.n_descsz == 4 || header.n_descsz == 8)) {
      std::uint64_t value = 0;
      std::memcpy(&value, notes.data() + descAt, header.n_descsz);
      return value;
    }
    notes = notes.subspan(next);
  }
  return std::nullopt;
}

}  // namespace

bool isElf(std::span<const std::uint8_t> file) {
  return file.size() >= SELFMAG && std::memcmp(file.data(), ELFMAG, SELFMAG) == 0;
}

Result<ElfKernel> parseElfKernel(std::span<const std::uint8_t> file, const std::string& path) {
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
  ElfKernel kernel;
  kernel.entry = header.e_entry;
  kernel.lowestAddress = UINT64_MAX;
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr program;
    std::memcpy(&program, file.data() + header.e_phoff + i * sizeof(Elf64_Phdr), sizeof(program));
    if (program.p_offset > file.size() || program.p_filesz > file.size() - program.p_offset) {
      return invalid("segment " + std::to_string(i) + " extends past the end of the file");
    }
    if (program.p_type == PT_NOTE && !kernel.pvhEntry) {
      kernel.pvhEntry = findPvhEntry(file.subspan(program.p_offset, program.p_filesz));
    } else if (program.p_type == PT_LOAD) {
      if (program.p_filesz > program.p_memsz || program.p_paddr > UINT64_MAX - program.p_memsz) {
        return invalid("segment " + std::to_string(i) + " has inconsistent sizes");
      }
      kernel.segments.push_back(
          {program.p_paddr, program.p_offset, program.p_filesz, program.p_memsz});
      kernel.lowestAddress = std::min(kernel.lowestAddress, program.p_paddr);
      kernel.highestAddress = std::max(kernel.highestAddress, program.p_paddr + program.p_memsz);
    }
  }
  if (kernel.segments.empty()) {
    return invalid("no loadable segments");
  }
  return kernel;
}

Status loadElfSegments(const GuestMemory& memory, const ElfKernel& kernel,
                       std::span<const std::uint8_t> file) {
  for (const auto& segment : kernel.segments) {
    TANDEM_ASSIGN_OR_RETURN(auto target, memory.slice(segment.guestAddress, segment.memorySize));
    auto source = file.subspan(segment.fileOffset, segment.fileSize);
    std::copy(source.begin(), source.end(), target.begin());
    std::fill(target.begin() + static_cast<long>(segment.fileSize), target.end(), 0);
  }
  return okStatus();
}

}  // namespace tandem::vmm
