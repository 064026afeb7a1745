// A vmlinux made in memory, laid out as the kernel's link does (ELF header, program headers,
// notes, segments), for the tests of the ELF kernel parser, the PVH loader and the bzImage
// payload decompressor.
#pragma once

#include <elf.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "vmm/elf_kernel.h"

namespace {

// The synthetic vmlinux: header, four program headers, the notes, then two segments' bytes,
// the second ending the file.
inline constexpr std::size_t kProgramCount = 4;
inline constexpr std::size_t kNotesOffset = 0x200;
inline constexpr std::size_t kTextOffset = 0x1000;
inline constexpr std::size_t kDataOffset = 0x1200;
inline constexpr std::size_t kFileSize = 0x1300;
inline constexpr std::size_t kNoteProgram = 1;
// The PVH entry (its note) and the 64-bit entry (e_entry, physical as in Linux's link).
inline constexpr std::uint64_t kPvhEntry = 0x1000abc;
inline constexpr std::uint64_t kElfEntry = 0x1000000;

// One note: namesz, descsz, type, then name and desc, each padded to 4 bytes. Not inlined: GCC
// 12 inlined into some callers warns of out-of-bounds copies that cannot happen.
[[gnu::noinline]] inline std::vector<std::uint8_t> note(const std::string& name, std::uint32_t type,
                                                        const std::vector<std::uint8_t>& desc) {
  auto padded = [](std::size_t size) { return (size + 3) & ~std::size_t{3}; };
  Elf64_Nhdr header{static_cast<Elf64_Word>(name.size() + 1), static_cast<Elf64_Word>(desc.size()),
                    type};
  const std::size_t descAt = sizeof(header) + padded(name.size() + 1);
  std::vector<std::uint8_t> bytes(descAt + padded(desc.size()), 0);
  std::memcpy(bytes.data(), &header, sizeof(header));
  std::memcpy(bytes.data() + sizeof(header), name.data(), name.size());
  std::copy(desc.begin(), desc.end(), bytes.begin() + static_cast<long>(descAt));
  return bytes;
}

inline std::vector<std::uint8_t> littleEndian(std::uint64_t value, std::size_t size) {
  std::vector<std::uint8_t> bytes(size);
  // Bytes past the 8 of `value` stay zero.
  for (std::size_t i = 0; i < std::min<std::size_t>(size, sizeof(value)); ++i) {
    bytes[i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
  return bytes;
}

inline std::vector<std::uint8_t> entryNote(std::size_t descSize) {
  return note("Xen", tandem::vmm::kXenElfNotePhys32Entry, littleEndian(kPvhEntry, descSize));
}

// What precedes the PVH note in a real vmlinux: other owners' notes, with names of lengths
// that need padding, and Xen notes of other types.
inline std::vector<std::uint8_t> otherNotes() {
  std::vector<std::uint8_t> notes =
      note("GNU", NT_GNU_BUILD_ID, std::vector<std::uint8_t>(20, 0x5a));
  auto linuxVersion = note("Linux", 0x100, littleEndian(0x060100, 4));
  notes.insert(notes.end(), linuxVersion.begin(), linuxVersion.end());
  // XEN_ELFNOTE_ENTRY, the PV entry point: not the one PVH wants.
  auto xenEntry = note("Xen", 1, littleEndian(0xffffffff81000000, 8));
  notes.insert(notes.end(), xenEntry.begin(), xenEntry.end());
  return notes;
}

inline std::vector<std::uint8_t> withEntryNote(std::vector<std::uint8_t> notes,
                                               std::size_t descSize) {
  auto entry = entryNote(descSize);
  notes.insert(notes.end(), entry.begin(), entry.end());
  return notes;
}

inline Elf64_Phdr program(std::uint32_t type, std::uint64_t offset, std::uint64_t fileSize,
                          std::uint64_t physical, std::uint64_t memorySize) {
  Elf64_Phdr program{};
  program.p_type = type;
  program.p_flags = PF_R;
  program.p_offset = offset;
  program.p_filesz = fileSize;
  program.p_paddr = physical;
  // Linux links at the kernel's virtual address; only the physical one matters here.
  program.p_vaddr = physical == 0 ? 0 : 0xffffffff80000000 + physical;
  program.p_memsz = memorySize;
  return program;
}

inline std::vector<std::uint8_t> vmlinux(const std::vector<std::uint8_t>& notes) {
  std::vector<std::uint8_t> file(kFileSize, 0);
  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = ET_EXEC;
  header.e_machine = EM_X86_64;
  header.e_version = EV_CURRENT;
  header.e_entry = kElfEntry;
  header.e_phoff = sizeof(Elf64_Ehdr);
  header.e_ehsize = sizeof(Elf64_Ehdr);
  header.e_phentsize = sizeof(Elf64_Phdr);
  header.e_phnum = kProgramCount;
  std::memcpy(file.data(), &header, sizeof(header));

  const Elf64_Phdr programs[kProgramCount] = {
      program(PT_LOAD, kTextOffset, 0x200, 0x1000000, 0x3000),
      program(PT_NOTE, kNotesOffset, notes.size(), 0, notes.size()),
      program(PT_LOAD, kDataOffset, 0x100, 0x2000000, 0x100),
      program(PT_GNU_STACK, 0, 0, 0, 0),
  };
  std::memcpy(file.data() + sizeof(header), programs, sizeof(programs));
  std::copy(notes.begin(), notes.end(), file.begin() + kNotesOffset);
  return file;
}

inline std::vector<std::uint8_t> vmlinux() {
  return vmlinux(withEntryNote(otherNotes(), 8));
}

inline void editHeader(std::vector<std::uint8_t>& file,
                       const std::function<void(Elf64_Ehdr&)>& edit) {
  Elf64_Ehdr header;
  std::memcpy(&header, file.data(), sizeof(header));
  edit(header);
  std::memcpy(file.data(), &header, sizeof(header));
}

inline void editProgram(std::vector<std::uint8_t>& file, std::size_t index,
                        const std::function<void(Elf64_Phdr&)>& edit) {
  std::uint8_t* at = file.data() + sizeof(Elf64_Ehdr) + index * sizeof(Elf64_Phdr);
  Elf64_Phdr program;
  std::memcpy(&program, at, sizeof(program));
  edit(program);
  std::memcpy(at, &program, sizeof(program));
}

}  // namespace
