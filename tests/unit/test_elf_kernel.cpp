#include "vmm/elf_kernel.h"

#include <elf.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/synthetic_vmlinux.h"
#include "tests/unit/unit_test.h"

using tandem::vmm::ElfKernel;
using tandem::vmm::ElfSegment;
using tandem::vmm::isElf;
using tandem::vmm::kXenElfNotePhys32Entry;
using tandem::vmm::parseElfKernel;

namespace {

const std::string kPath = "/images/vmlinux-under-test";

ElfKernel parsed(const std::vector<std::uint8_t>& file) {
  auto kernel = parseElfKernel(file, kPath);
  if (!kernel.ok()) {
    fail_msg("%s", kernel.error().message().c_str());
  }
  return *kernel;
}

void expectRejected(const std::vector<std::uint8_t>& file, const char* why) {
  auto kernel = parseElfKernel(file, kPath);
  assert_false(kernel.ok());
  assert_int_equal(kernel.error().errnum(), ENOEXEC);
  const std::string& message = kernel.error().message();
  assert_non_null(strstr(message.c_str(), kPath.c_str()));
  if (strstr(message.c_str(), why) == nullptr) {
    fail_msg("expected \"%s\" in: %s", why, message.c_str());
  }
}

void expectSegment(const ElfSegment& segment, std::uint64_t guestAddress, std::uint64_t fileOffset,
                   std::uint64_t fileSize, std::uint64_t memorySize) {
  assert_int_equal(segment.guestAddress, guestAddress);
  assert_int_equal(segment.fileOffset, fileOffset);
  assert_int_equal(segment.fileSize, fileSize);
  assert_int_equal(segment.memorySize, memorySize);
}

void expectNoPvhEntry(const std::vector<std::uint8_t>& file) {
  const ElfKernel kernel = parsed(file);
  assert_false(kernel.pvhEntry.has_value());
  assert_int_equal(kernel.entry, kElfEntry);
}

}  // namespace

static void reads_entry_and_segments(void**) {
  const ElfKernel kernel = parsed(vmlinux());
  assert_int_equal(kernel.entry, kElfEntry);
  assert_true(kernel.pvhEntry.has_value());
  assert_int_equal(*kernel.pvhEntry, kPvhEntry);
  assert_int_equal(kernel.lowestAddress, 0x1000000);
  assert_int_equal(kernel.segments.size(), 2);
  expectSegment(kernel.segments[0], 0x1000000, kTextOffset, 0x200, 0x3000);
  expectSegment(kernel.segments[1], 0x2000000, kDataOffset, 0x100, 0x100);
  assert_int_equal(kernel.highestAddress, 0x2000100);
}

// Linux's note holds a pointer-sized value; a 32-bit build's is 4 bytes.
static void reads_a_4_byte_entry(void**) {
  assert_int_equal(*parsed(vmlinux(withEntryNote(otherNotes(), 4))).pvhEntry, kPvhEntry);
}

static void entry_note_alone(void**) {
  assert_int_equal(*parsed(vmlinux(entryNote(8))).pvhEntry, kPvhEntry);
}

static void highest_address_is_the_highest_segments_end(void**) {
  auto file = vmlinux();
  editProgram(file, 0, [](Elf64_Phdr& p) { p.p_memsz = 0x2000000; });
  assert_int_equal(parsed(file).highestAddress, 0x3000000);
}

static void recognises_elf(void**) {
  assert_true(isElf(vmlinux()));
  const std::uint8_t magicOnly[] = {0x7f, 'E', 'L', 'F'};
  assert_true(isElf(magicOnly));
  const std::uint8_t bzImageStart[] = {0xea, 0x05, 0x00, 0xc0};
  assert_false(isElf(bzImageStart));
  assert_false(isElf(std::span<const std::uint8_t>(magicOnly, 3)));
  assert_false(isElf({}));
}

static void rejects_a_truncated_header(void**) {
  auto file = vmlinux();
  file.resize(sizeof(Elf64_Ehdr) - 1);
  expectRejected(file, "truncated ELF header");
  expectRejected({}, "truncated ELF header");
}

static void rejects_other_elf_flavours(void**) {
  auto elf32 = vmlinux();
  editHeader(elf32, [](Elf64_Ehdr& h) { h.e_ident[EI_CLASS] = ELFCLASS32; });
  expectRejected(elf32, "64-bit x86-64");

  auto bigEndian = vmlinux();
  editHeader(bigEndian, [](Elf64_Ehdr& h) { h.e_ident[EI_DATA] = ELFDATA2MSB; });
  expectRejected(bigEndian, "64-bit x86-64");

  for (Elf64_Half machine : {EM_386, EM_AARCH64, EM_NONE}) {
    auto other = vmlinux();
    editHeader(other, [&](Elf64_Ehdr& h) { h.e_machine = machine; });
    expectRejected(other, "64-bit x86-64");
  }
}

static void rejects_program_headers_outside_the_file(void**) {
  const std::vector<std::function<void(Elf64_Ehdr&)>> edits = {
      [](Elf64_Ehdr& h) { h.e_phoff = kFileSize + 1; },
      [](Elf64_Ehdr& h) { h.e_phoff = kFileSize - kProgramCount * sizeof(Elf64_Phdr) + 1; },
      [](Elf64_Ehdr& h) { h.e_phoff = UINT64_MAX; },
      [](Elf64_Ehdr& h) { h.e_phnum = 0xffff; },
      // A table read with the wrong stride would misread every header.
      [](Elf64_Ehdr& h) { h.e_phentsize = sizeof(Elf64_Phdr) + 8; },
      [](Elf64_Ehdr& h) { h.e_phentsize = sizeof(Elf32_Phdr); },
  };
  for (const auto& edit : edits) {
    auto file = vmlinux();
    editHeader(file, edit);
    expectRejected(file, "program headers outside the file");
  }
}

static void accepts_program_headers_ending_the_file(void**) {
  auto file = vmlinux();
  std::vector<std::uint8_t> table(
      file.begin() + sizeof(Elf64_Ehdr),
      file.begin() + sizeof(Elf64_Ehdr) + kProgramCount * sizeof(Elf64_Phdr));
  file.insert(file.end(), table.begin(), table.end());
  editHeader(file, [](Elf64_Ehdr& h) { h.e_phoff = kFileSize; });
  assert_int_equal(*parsed(file).pvhEntry, kPvhEntry);
}

static void rejects_segments_past_the_end_of_the_file(void**) {
  const std::vector<std::function<void(Elf64_Phdr&)>> edits = {
      [](Elf64_Phdr& p) { p.p_offset = kFileSize + 1; },
      [](Elf64_Phdr& p) { p.p_filesz = kFileSize - p.p_offset + 1; },
      [](Elf64_Phdr& p) { p.p_offset = UINT64_MAX - 0xff; },
      // offset + filesz wraps around to inside the file.
      [](Elf64_Phdr& p) { p.p_filesz = UINT64_MAX - p.p_offset + 2; },
  };
  for (std::size_t index : {std::size_t{0}, kNoteProgram}) {
    for (const auto& edit : edits) {
      auto file = vmlinux();
      editProgram(file, index, [&](Elf64_Phdr& p) {
        // Room in memory for any file size: only the file's bounds are wrong.
        p.p_memsz = UINT64_MAX / 2;
        edit(p);
      });
      expectRejected(file, "extends past the end of the file");
    }
  }
}

static void rejects_inconsistent_segment_sizes(void**) {
  auto fileLarger = vmlinux();
  editProgram(fileLarger, 0, [](Elf64_Phdr& p) { p.p_memsz = p.p_filesz - 1; });
  expectRejected(fileLarger, "inconsistent sizes");

  auto wraps = vmlinux();
  editProgram(wraps, 2, [](Elf64_Phdr& p) {
    p.p_paddr = 0xfffffffffffff000;
    p.p_memsz = 0x1000;
  });
  expectRejected(wraps, "inconsistent sizes");
}

// Without the note the kernel still parses: its 64-bit entry is what a bzImage's payload needs.
static void a_kernel_without_the_pvh_note_has_no_pvh_entry(void**) {
  auto noNotes = vmlinux();
  editProgram(noNotes, kNoteProgram, [](Elf64_Phdr& p) { p.p_type = PT_NULL; });
  expectNoPvhEntry(noNotes);

  expectNoPvhEntry(vmlinux(otherNotes()));
  expectNoPvhEntry(vmlinux({}));
}

static void ignores_notes_that_are_not_the_pvh_entry(void**) {
  const std::vector<std::uint8_t> impostors[] = {
      note("Xem", kXenElfNotePhys32Entry, littleEndian(kPvhEntry, 8)),
      note("Xen2", kXenElfNotePhys32Entry, littleEndian(kPvhEntry, 8)),
      note("Xe", kXenElfNotePhys32Entry, littleEndian(kPvhEntry, 8)),
      note("Xen", kXenElfNotePhys32Entry + 1, littleEndian(kPvhEntry, 8)),
      note("Xen", kXenElfNotePhys32Entry, littleEndian(kPvhEntry, 2)),
      note("Xen", kXenElfNotePhys32Entry, littleEndian(kPvhEntry, 16)),
  };
  for (const auto& impostor : impostors) {
    expectNoPvhEntry(vmlinux(impostor));
  }
}

static void ignores_a_truncated_note(void**) {
  const auto notes = withEntryNote(otherNotes(), 8);
  // Cut inside the entry's desc, inside its name, and inside its header.
  for (std::size_t cut : {std::size_t{4}, std::size_t{9}, std::size_t{22}}) {
    auto file = vmlinux(notes);
    editProgram(file, kNoteProgram, [&](Elf64_Phdr& p) { p.p_filesz -= cut; });
    expectNoPvhEntry(file);
  }
}

// Sizes that would run a note walk off its segment, or wrap its arithmetic.
static void survives_hostile_note_sizes(void**) {
  for (Elf64_Word size : {Elf64_Word{0xffffffff}, Elf64_Word{0xfffffffd}, Elf64_Word{0x1000}}) {
    auto badName = entryNote(8);
    std::memcpy(badName.data(), &size, sizeof(size));
    expectNoPvhEntry(vmlinux(badName));

    auto badDesc = entryNote(8);
    std::memcpy(badDesc.data() + 4, &size, sizeof(size));
    expectNoPvhEntry(vmlinux(badDesc));
  }
}

static void rejects_a_kernel_without_loadable_segments(void**) {
  auto file = vmlinux();
  editProgram(file, 0, [](Elf64_Phdr& p) { p.p_type = PT_NULL; });
  editProgram(file, 2, [](Elf64_Phdr& p) { p.p_type = PT_NULL; });
  expectRejected(file, "no loadable segments");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reads_entry_and_segments),
      cmocka_unit_test(reads_a_4_byte_entry),
      cmocka_unit_test(entry_note_alone),
      cmocka_unit_test(highest_address_is_the_highest_segments_end),
      cmocka_unit_test(recognises_elf),
      cmocka_unit_test(rejects_a_truncated_header),
      cmocka_unit_test(rejects_other_elf_flavours),
      cmocka_unit_test(rejects_program_headers_outside_the_file),
      cmocka_unit_test(accepts_program_headers_ending_the_file),
      cmocka_unit_test(rejects_segments_past_the_end_of_the_file),
      cmocka_unit_test(rejects_inconsistent_segment_sizes),
      cmocka_unit_test(a_kernel_without_the_pvh_note_has_no_pvh_entry),
      cmocka_unit_test(ignores_notes_that_are_not_the_pvh_entry),
      cmocka_unit_test(ignores_a_truncated_note),
      cmocka_unit_test(survives_hostile_note_sizes),
      cmocka_unit_test(rejects_a_kernel_without_loadable_segments),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
