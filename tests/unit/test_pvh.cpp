#include "vmm/pvh.h"

#include <elf.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "tests/unit/unit_test.h"
#include "vmm/x86_layout.h"

using tandem::vmm::e820Map;
using tandem::vmm::E820Type;
using tandem::vmm::ElfSegment;
using tandem::vmm::GuestMemory;
using tandem::vmm::InitrdPlacement;
using tandem::vmm::isElf;
using tandem::vmm::kXenElfNotePhys32Entry;
using tandem::vmm::parsePvhElf;
using tandem::vmm::PvhKernel;
using tandem::vmm::writePvhStartInfo;
namespace x86 = tandem::x86;

namespace {

const std::string kPath = "/images/vmlinux-under-test";

// The synthetic vmlinux: header, four program headers, the notes, then two segments' bytes,
// the second ending the file.
constexpr std::size_t kProgramCount = 4;
constexpr std::size_t kNotesOffset = 0x200;
constexpr std::size_t kTextOffset = 0x1000;
constexpr std::size_t kDataOffset = 0x1200;
constexpr std::size_t kFileSize = 0x1300;
constexpr std::size_t kNoteProgram = 1;
constexpr std::uint64_t kEntry = 0x1000abc;

// One note: namesz, descsz, type, then name and desc, each padded to 4 bytes.
std::vector<std::uint8_t> note(const std::string& name, std::uint32_t type,
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

std::vector<std::uint8_t> littleEndian(std::uint64_t value, std::size_t size) {
  std::vector<std::uint8_t> bytes(size);
  // Bytes past the 8 of `value` stay zero.
  for (std::size_t i = 0; i < std::min<std::size_t>(size, sizeof(value)); ++i) {
    bytes[i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
  return bytes;
}

std::vector<std::uint8_t> entryNote(std::size_t descSize) {
  return note("Xen", kXenElfNotePhys32Entry, littleEndian(kEntry, descSize));
}

// What precedes the PVH note in a real vmlinux: other owners' notes, with names of lengths
// that need padding, and Xen notes of other types.
std::vector<std::uint8_t> otherNotes() {
  std::vector<std::uint8_t> notes =
      note("GNU", NT_GNU_BUILD_ID, std::vector<std::uint8_t>(20, 0x5a));
  auto linuxVersion = note("Linux", 0x100, littleEndian(0x060100, 4));
  notes.insert(notes.end(), linuxVersion.begin(), linuxVersion.end());
  // XEN_ELFNOTE_ENTRY, the PV entry point: not the one PVH wants.
  auto xenEntry = note("Xen", 1, littleEndian(0xffffffff81000000, 8));
  notes.insert(notes.end(), xenEntry.begin(), xenEntry.end());
  return notes;
}

std::vector<std::uint8_t> withEntryNote(std::vector<std::uint8_t> notes, std::size_t descSize) {
  auto entry = entryNote(descSize);
  notes.insert(notes.end(), entry.begin(), entry.end());
  return notes;
}

Elf64_Phdr program(std::uint32_t type, std::uint64_t offset, std::uint64_t fileSize,
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

std::vector<std::uint8_t> vmlinux(const std::vector<std::uint8_t>& notes) {
  std::vector<std::uint8_t> file(kFileSize, 0);
  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = ET_EXEC;
  header.e_machine = EM_X86_64;
  header.e_version = EV_CURRENT;
  header.e_entry = 0xffffffff81000000;
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

std::vector<std::uint8_t> vmlinux() {
  return vmlinux(withEntryNote(otherNotes(), 8));
}

void editHeader(std::vector<std::uint8_t>& file, const std::function<void(Elf64_Ehdr&)>& edit) {
  Elf64_Ehdr header;
  std::memcpy(&header, file.data(), sizeof(header));
  edit(header);
  std::memcpy(file.data(), &header, sizeof(header));
}

void editProgram(std::vector<std::uint8_t>& file, std::size_t index,
                 const std::function<void(Elf64_Phdr&)>& edit) {
  std::uint8_t* at = file.data() + sizeof(Elf64_Ehdr) + index * sizeof(Elf64_Phdr);
  Elf64_Phdr program;
  std::memcpy(&program, at, sizeof(program));
  edit(program);
  std::memcpy(at, &program, sizeof(program));
}

PvhKernel parsed(const std::vector<std::uint8_t>& file) {
  auto kernel = parsePvhElf(file, kPath);
  if (!kernel.ok()) {
    fail_msg("%s", kernel.error().message().c_str());
  }
  return *kernel;
}

void expectRejected(const std::vector<std::uint8_t>& file, const char* why) {
  auto kernel = parsePvhElf(file, kPath);
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

// hvm_start_info version 1 (xen/include/public/arch-x86/hvm/start_info.h), by offset, so the
// test does not share the implementation's struct.
namespace start_info {
constexpr std::uint64_t kMagic = 0, kVersion = 4, kFlags = 8, kModuleCount = 12;
constexpr std::uint64_t kModuleList = 16, kCmdline = 24, kRsdp = 32, kMemmap = 40;
constexpr std::uint64_t kMemmapEntries = 48, kReserved = 52;
constexpr std::uint64_t kModuleSize = 32, kMemmapEntrySize = 24;
}  // namespace start_info

GuestMemory created(std::uint64_t bytes) {
  auto memory = GuestMemory::create(bytes, false);
  if (!memory.ok()) {
    fail_msg("%s", memory.error().describe().c_str());
  }
  return std::move(memory).value();
}

template <class T>
T at(const GuestMemory& memory, std::uint64_t address) {
  auto value = memory.readObject<T>(address);
  assert_true(value.ok());
  return *value;
}

// Stale bytes under the start info would show through any field left unwritten.
void dirtyStartInfoArea(const GuestMemory& memory) {
  std::memset(memory.hostBase() + x86::kPvhInfoAddress, 0xaa,
              x86::kBootParamsAddress - x86::kPvhInfoAddress);
}

}  // namespace

static void reads_entry_and_segments(void**) {
  const PvhKernel kernel = parsed(vmlinux());
  assert_int_equal(kernel.entry, kEntry);
  assert_int_equal(kernel.segments.size(), 2);
  expectSegment(kernel.segments[0], 0x1000000, kTextOffset, 0x200, 0x3000);
  expectSegment(kernel.segments[1], 0x2000000, kDataOffset, 0x100, 0x100);
  assert_int_equal(kernel.highestAddress, 0x2000100);
}

// Linux's note holds a pointer-sized value; a 32-bit build's is 4 bytes.
static void reads_a_4_byte_entry(void**) {
  assert_int_equal(parsed(vmlinux(withEntryNote(otherNotes(), 4))).entry, kEntry);
}

static void entry_note_alone(void**) {
  assert_int_equal(parsed(vmlinux(entryNote(8))).entry, kEntry);
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
  assert_int_equal(parsed(file).entry, kEntry);
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

static void rejects_a_kernel_without_the_pvh_note(void**) {
  auto noNotes = vmlinux();
  editProgram(noNotes, kNoteProgram, [](Elf64_Phdr& p) { p.p_type = PT_NULL; });
  expectRejected(noNotes, "CONFIG_PVH");

  expectRejected(vmlinux(otherNotes()), "CONFIG_PVH");
  expectRejected(vmlinux({}), "CONFIG_PVH");
}

static void ignores_notes_that_are_not_the_pvh_entry(void**) {
  const std::vector<std::uint8_t> impostors[] = {
      note("Xem", kXenElfNotePhys32Entry, littleEndian(kEntry, 8)),
      note("Xen2", kXenElfNotePhys32Entry, littleEndian(kEntry, 8)),
      note("Xe", kXenElfNotePhys32Entry, littleEndian(kEntry, 8)),
      note("Xen", kXenElfNotePhys32Entry + 1, littleEndian(kEntry, 8)),
      note("Xen", kXenElfNotePhys32Entry, littleEndian(kEntry, 2)),
      note("Xen", kXenElfNotePhys32Entry, littleEndian(kEntry, 16)),
  };
  for (const auto& impostor : impostors) {
    expectRejected(vmlinux(impostor), "CONFIG_PVH");
  }
}

static void rejects_a_truncated_note(void**) {
  const auto notes = withEntryNote(otherNotes(), 8);
  // Cut inside the entry's desc, inside its name, and inside its header.
  for (std::size_t cut : {std::size_t{4}, std::size_t{9}, std::size_t{22}}) {
    auto file = vmlinux(notes);
    editProgram(file, kNoteProgram, [&](Elf64_Phdr& p) { p.p_filesz -= cut; });
    expectRejected(file, "CONFIG_PVH");
  }
}

// Sizes that would run a note walk off its segment, or wrap its arithmetic.
static void survives_hostile_note_sizes(void**) {
  for (Elf64_Word size : {Elf64_Word{0xffffffff}, Elf64_Word{0xfffffffd}, Elf64_Word{0x1000}}) {
    auto badName = entryNote(8);
    std::memcpy(badName.data(), &size, sizeof(size));
    expectRejected(vmlinux(badName), "CONFIG_PVH");

    auto badDesc = entryNote(8);
    std::memcpy(badDesc.data() + 4, &size, sizeof(size));
    expectRejected(vmlinux(badDesc), "CONFIG_PVH");
  }
}

static void rejects_a_kernel_without_loadable_segments(void**) {
  auto file = vmlinux();
  editProgram(file, 0, [](Elf64_Phdr& p) { p.p_type = PT_NULL; });
  editProgram(file, 2, [](Elf64_Phdr& p) { p.p_type = PT_NULL; });
  expectRejected(file, "no loadable segments");
}

static void start_info_with_an_initrd(void**) {
  GuestMemory memory = created(64ull << 20);
  dirtyStartInfoArea(memory);
  const auto e820 = e820Map(memory.size());
  assert_true(writePvhStartInfo(memory, x86::kCmdlineAddress, {0x3000000, 0x12345}, e820).ok());

  const std::uint64_t info = x86::kPvhInfoAddress;
  assert_int_equal(at<std::uint32_t>(memory, info + start_info::kMagic), 0x336ec578);
  assert_int_equal(at<std::uint32_t>(memory, info + start_info::kVersion), 1);
  assert_int_equal(at<std::uint32_t>(memory, info + start_info::kFlags), 0);
  assert_int_equal(at<std::uint32_t>(memory, info + start_info::kModuleCount), 1);
  assert_int_equal(at<std::uint64_t>(memory, info + start_info::kModuleList),
                   x86::kPvhModuleAddress);
  assert_int_equal(at<std::uint64_t>(memory, info + start_info::kCmdline), x86::kCmdlineAddress);
  assert_int_equal(at<std::uint64_t>(memory, info + start_info::kRsdp), 0);
  assert_int_equal(at<std::uint64_t>(memory, info + start_info::kMemmap), x86::kPvhMemmapAddress);
  assert_int_equal(at<std::uint32_t>(memory, info + start_info::kMemmapEntries), e820.size());
  assert_int_equal(at<std::uint32_t>(memory, info + start_info::kReserved), 0);

  const std::uint64_t module = x86::kPvhModuleAddress;
  assert_int_equal(at<std::uint64_t>(memory, module), 0x3000000);
  assert_int_equal(at<std::uint64_t>(memory, module + 8), 0x12345);
  assert_int_equal(at<std::uint64_t>(memory, module + 16), 0);
  assert_int_equal(at<std::uint64_t>(memory, module + 24), 0);
  assert_true(module + start_info::kModuleSize <= x86::kPvhMemmapAddress);

  for (std::size_t i = 0; i < e820.size(); ++i) {
    const std::uint64_t entry = x86::kPvhMemmapAddress + i * start_info::kMemmapEntrySize;
    assert_int_equal(at<std::uint64_t>(memory, entry), e820[i].address);
    assert_int_equal(at<std::uint64_t>(memory, entry + 8), e820[i].size);
    assert_int_equal(at<std::uint32_t>(memory, entry + 16),
                     static_cast<std::uint32_t>(e820[i].type));
    assert_int_equal(at<std::uint32_t>(memory, entry + 20), 0);
  }
}

static void start_info_without_an_initrd(void**) {
  GuestMemory memory = created(64ull << 20);
  dirtyStartInfoArea(memory);
  assert_true(writePvhStartInfo(memory, x86::kCmdlineAddress, {}, e820Map(memory.size())).ok());
  assert_int_equal(at<std::uint32_t>(memory, x86::kPvhInfoAddress + start_info::kModuleCount), 0);
  assert_int_equal(at<std::uint64_t>(memory, x86::kPvhInfoAddress + start_info::kModuleList), 0);
}

static void start_info_memmap_stops_before_boot_params(void**) {
  GuestMemory memory = created(64ull << 20);
  memory.hostBase()[x86::kBootParamsAddress] = 0x5a;
  std::vector<tandem::vmm::E820Entry> e820(x86::kPvhMemmapMaxEntries,
                                           {0x100000000, 0x1000, E820Type::kReserved});
  assert_true(writePvhStartInfo(memory, 0, {}, e820).ok());
  const std::uint64_t last =
      x86::kPvhMemmapAddress + (e820.size() - 1) * start_info::kMemmapEntrySize;
  assert_int_equal(at<std::uint32_t>(memory, last + 16), 2);
  assert_int_equal(memory.hostBase()[x86::kBootParamsAddress], 0x5a);

  e820.push_back({});
  auto status = writePvhStartInfo(memory, 0, {}, e820);
  assert_false(status.ok());
  assert_int_equal(status.error().errnum(), E2BIG);
}

static void start_info_needs_its_memory(void**) {
  GuestMemory memory = created(x86::kPvhInfoAddress);
  assert_false(writePvhStartInfo(memory, 0, {0x3000000, 1}, e820Map(64ull << 20)).ok());
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
      cmocka_unit_test(rejects_a_kernel_without_the_pvh_note),
      cmocka_unit_test(ignores_notes_that_are_not_the_pvh_entry),
      cmocka_unit_test(rejects_a_truncated_note),
      cmocka_unit_test(survives_hostile_note_sizes),
      cmocka_unit_test(rejects_a_kernel_without_loadable_segments),
      cmocka_unit_test(start_info_with_an_initrd),
      cmocka_unit_test(start_info_without_an_initrd),
      cmocka_unit_test(start_info_memmap_stops_before_boot_params),
      cmocka_unit_test(start_info_needs_its_memory),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
