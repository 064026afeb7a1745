#include "vmm/kernel_payload.h"

#include <asm/bootparam.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/kernel_payloads.h"
#include "tests/unit/synthetic_bzimage.h"
#include "tests/unit/unit_test.h"

using tandem::vmm::BzImage;
using tandem::vmm::bzImagePayload;
using tandem::vmm::declaredDecompressedSize;
using tandem::vmm::decompressPayload;
using tandem::vmm::hostCanDecompress;
using tandem::vmm::PayloadFormat;
using tandem::vmm::payloadFormat;
using tandem::vmm::payloadFormatName;

namespace {

const std::string kPath = "/boot/bzImage-under-test";
constexpr std::uint64_t kRoomy = 64u << 20;

// Kernel-like content: runs that compress, and bytes that do not, so every decoder has both
// literals and matches to get right.
std::vector<std::uint8_t> content(std::size_t size) {
  std::vector<std::uint8_t> bytes(size);
  std::uint32_t state = 12345;
  for (std::size_t i = 0; i < size; ++i) {
    state = state * 1103515245 + 12345;
    bytes[i] = (i / 4096) % 2 == 0 ? static_cast<std::uint8_t>(i % 61)
                                   : static_cast<std::uint8_t>(state >> 16);
  }
  return bytes;
}

std::vector<std::uint8_t> decompressed(const std::vector<std::uint8_t>& payload) {
  auto out = decompressPayload(payload, kRoomy, kPath);
  if (!out.ok()) {
    fail_msg("%s", out.error().describe().c_str());
  }
  auto bytes = out->bytes();
  return {bytes.begin(), bytes.end()};
}

void expectCorrupt(const std::vector<std::uint8_t>& payload, const char* why,
                   std::uint64_t maxBytes = kRoomy) {
  auto out = decompressPayload(payload, maxBytes, kPath);
  assert_false(out.ok());
  assert_int_equal(out.error().errnum(), ENOEXEC);
  const std::string& message = out.error().message();
  assert_non_null(strstr(message.c_str(), kPath.c_str()));
  if (strstr(message.c_str(), why) == nullptr) {
    fail_msg("expected \"%s\" in: %s", why, message.c_str());
  }
}

std::vector<std::uint8_t> withSuffix(std::vector<std::uint8_t> payload, std::uint32_t size) {
  payload.resize(payload.size() - 4);
  appendLittleEndian32(payload, size);
  return payload;
}

}  // namespace

static void each_format_round_trips(void**) {
  const auto data = content(300000);
  assert_true(decompressed(gzipped(data)) == data);
  assert_true(decompressed(xzCompressed(data)) == data);
  assert_true(decompressed(zstdCompressed(data)) == data);
  assert_true(decompressed(lz4Legacy(data)) == data);
}

static void lz4_reads_many_blocks_and_a_restarted_stream(void**) {
  const auto data = content(100000);
  assert_true(decompressed(lz4Legacy(data, 4096)) == data);
  assert_true(decompressed(lz4Legacy(data, 4096, 7)) == data);
}

static void recognises_every_kernel_compression(void**) {
  const auto data = content(1000);
  assert_int_equal(payloadFormat(gzipped(data)), PayloadFormat::kGzip);
  assert_int_equal(payloadFormat(xzCompressed(data)), PayloadFormat::kXz);
  assert_int_equal(payloadFormat(zstdCompressed(data)), PayloadFormat::kZstd);
  assert_int_equal(payloadFormat(lz4Legacy(data)), PayloadFormat::kLz4);
  const std::vector<std::uint8_t> bzip2 = {'B', 'Z', 'h', '9'};
  const std::vector<std::uint8_t> lzma = {0x5d, 0x00, 0x00, 0x80};
  const std::vector<std::uint8_t> lzo = {0x89, 'L', 'Z', 'O', 0};
  const std::vector<std::uint8_t> elf = {0x7f, 'E', 'L', 'F', 2};
  assert_int_equal(payloadFormat(bzip2), PayloadFormat::kBzip2);
  assert_int_equal(payloadFormat(lzma), PayloadFormat::kLzma);
  assert_int_equal(payloadFormat(lzo), PayloadFormat::kLzo);
  assert_int_equal(payloadFormat(elf), PayloadFormat::kElf);
  assert_int_equal(payloadFormat({}), PayloadFormat::kUnknown);
  assert_string_equal(std::string(payloadFormatName(PayloadFormat::kLz4)).c_str(), "lz4");
  assert_string_equal(std::string(payloadFormatName(PayloadFormat::kBzip2)).c_str(), "bzip2");
}

static void only_some_formats_are_decompressed_here(void**) {
  for (auto format :
       {PayloadFormat::kGzip, PayloadFormat::kXz, PayloadFormat::kZstd, PayloadFormat::kLz4}) {
    assert_true(hostCanDecompress(format));
  }
  for (auto format : {PayloadFormat::kBzip2, PayloadFormat::kLzma, PayloadFormat::kLzo,
                      PayloadFormat::kElf, PayloadFormat::kUnknown}) {
    assert_false(hostCanDecompress(format));
  }
  const std::vector<std::uint8_t> bzip2 = {'B', 'Z', 'h', '9', 0, 0, 0, 0};
  auto out = decompressPayload(bzip2, kRoomy, kPath);
  assert_false(out.ok());
  assert_int_equal(out.error().errnum(), ENOTSUP);
}

static void reads_the_declared_size(void**) {
  const auto data = content(5000);
  assert_int_equal(declaredDecompressedSize(lz4Legacy(data)), 5000);
  assert_int_equal(declaredDecompressedSize(gzipped(data)), 5000);
  const std::uint8_t short_[] = {1, 2, 3};
  assert_int_equal(declaredDecompressedSize(short_), 0);
}

// The size suffix bounds the output: a payload that makes more, or less, is corrupt.
static void refuses_a_size_that_disagrees(void**) {
  const auto data = content(50000);
  expectCorrupt(withSuffix(lz4Legacy(data), 49999), "corrupt");
  expectCorrupt(withSuffix(lz4Legacy(data), 50001), "decompresses to 50000 bytes");
  expectCorrupt(withSuffix(xzCompressed(data), 40000), "corrupt");
  expectCorrupt(withSuffix(zstdCompressed(data), 60000), "decompresses to 50000 bytes");
  expectCorrupt(withSuffix(gzipped(data), 10), "corrupt");
  expectCorrupt(withSuffix(lz4Legacy(data), 0), "declares");
}

static void refuses_more_than_init_size(void**) {
  const auto data = content(50000);
  expectCorrupt(lz4Legacy(data), "init_size", 49999);
}

static void refuses_truncated_and_damaged_payloads(void**) {
  const auto data = content(200000);
  for (const auto& payload :
       {gzipped(data), xzCompressed(data), zstdCompressed(data), lz4Legacy(data, 16384)}) {
    std::vector<std::uint8_t> cut(payload.begin(), payload.begin() + payload.size() / 2);
    appendLittleEndian32(cut, 200000);
    expectCorrupt(cut, "corrupt");

    auto damaged = payload;
    for (std::size_t i = 40; i < damaged.size() - 8; i += 97) {
      damaged[i] ^= 0x5a;
    }
    auto out = decompressPayload(damaged, kRoomy, kPath);
    // A damaged stream must either be refused or, where the format has no check of its own
    // (lz4), at least never yield more than the declared size.
    if (out.ok()) {
      assert_int_equal(out->size, 200000);
      assert_int_equal(payloadFormat(payload), PayloadFormat::kLz4);
    }
  }
  const std::vector<std::uint8_t> magicOnly = {0x02, 0x21, 0x4c, 0x18};
  expectCorrupt(magicOnly, "declares");
  const std::vector<std::uint8_t> tooShort = {0x1f, 0x8b, 8};
  expectCorrupt(tooShort, "shorter than its size suffix");
}

// A block length that points past the payload, or wraps, is refused before any read.
static void refuses_hostile_lz4_block_lengths(void**) {
  for (std::uint32_t length : {0x7fffffffu, 0xfffffff0u, 0x10000u}) {
    std::vector<std::uint8_t> payload;
    appendLittleEndian32(payload, 0x184c2102);
    appendLittleEndian32(payload, length);
    payload.insert(payload.end(), 64, 0x11);
    appendLittleEndian32(payload, 4096);
    expectCorrupt(payload, "runs past the payload");
  }
}

static void finds_the_payload_in_a_bzimage(void**) {
  const auto packed = lz4Legacy(content(10000));
  constexpr std::size_t kStub = 0x300;
  setup_header header = syntheticSetupHeader(4, kStub + packed.size());
  header.payload_offset = kStub;
  header.payload_length = static_cast<std::uint32_t>(packed.size());
  auto file = syntheticBzImage(header, kStub + packed.size());
  std::copy(packed.begin(), packed.end(), file.begin() + kernelOffsetFor(4) + kStub);
  BzImage image{header, kernelOffsetFor(4), kStub + packed.size(), 0x100000, 2047, UINT64_MAX};

  auto payload = bzImagePayload(image, file, kPath);
  assert_true(payload.ok());
  assert_int_equal(payload->size(), packed.size());
  assert_memory_equal(payload->data(), packed.data(), packed.size());

  image.header.payload_length += 1;
  auto overlong = bzImagePayload(image, file, kPath);
  assert_false(overlong.ok());
  assert_non_null(strstr(overlong.error().message().c_str(), "truncated"));

  image.header.payload_offset = 0xffffffff;
  assert_false(bzImagePayload(image, file, kPath).ok());

  // Before protocol 2.08 there are no payload fields: nothing to find, and no error.
  image.header.version = 0x0207;
  auto old = bzImagePayload(image, file, kPath);
  assert_true(old.ok());
  assert_true(old->empty());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(each_format_round_trips),
      cmocka_unit_test(lz4_reads_many_blocks_and_a_restarted_stream),
      cmocka_unit_test(recognises_every_kernel_compression),
      cmocka_unit_test(only_some_formats_are_decompressed_here),
      cmocka_unit_test(reads_the_declared_size),
      cmocka_unit_test(refuses_a_size_that_disagrees),
      cmocka_unit_test(refuses_more_than_init_size),
      cmocka_unit_test(refuses_truncated_and_damaged_payloads),
      cmocka_unit_test(refuses_hostile_lz4_block_lengths),
      cmocka_unit_test(finds_the_payload_in_a_bzimage),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
