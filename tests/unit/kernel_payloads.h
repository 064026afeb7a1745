// Compressed kernel payloads made as Linux's build makes them (arch/x86/boot/compressed): the
// vmlinux compressed by one of the CONFIG_KERNEL_* tools, then the decompressed size as four
// little-endian bytes. gzip's own trailer ends with that size, so nothing is appended there.
#pragma once

#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "vmm/kernel_payload.h"

namespace {

inline void appendLittleEndian32(std::vector<std::uint8_t>& bytes, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) {
    bytes.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
}

inline std::vector<std::uint8_t> gzipped(std::span<const std::uint8_t> data) {
  z_stream stream{};
  deflateInit2(&stream, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::vector<std::uint8_t> out(deflateBound(&stream, data.size()));
  stream.next_in = const_cast<Bytef*>(data.data());
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// xz as scripts/xz_wrap.sh runs it: CRC32 check, the x86 BCJ filter, then LZMA2.
inline std::vector<std::uint8_t> xzCompressed(std::span<const std::uint8_t> data) {
  lzma_options_lzma options;
  lzma_lzma_preset(&options, 6);
  lzma_filter filters[] = {
      {LZMA_FILTER_X86, nullptr}, {LZMA_FILTER_LZMA2, &options}, {LZMA_VLI_UNKNOWN, nullptr}};
  std::vector<std::uint8_t> out(lzma_stream_buffer_bound(data.size()));
  std::size_t used = 0;
  if (lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, nullptr, data.data(), data.size(),
                                out.data(), &used, out.size()) != LZMA_OK) {
    used = 0;
  }
  out.resize(used);
  appendLittleEndian32(out, static_cast<std::uint32_t>(data.size()));
  return out;
}

inline std::vector<std::uint8_t> zstdCompressed(std::span<const std::uint8_t> data) {
  std::vector<std::uint8_t> out(ZSTD_compressBound(data.size()));
  out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 19));
  appendLittleEndian32(out, static_cast<std::uint32_t>(data.size()));
  return out;
}

// lz4 -l: the legacy magic, then blocks of at most `blockSize` input bytes, each led by its
// compressed length. `restartAt`, when set, repeats the magic before that block, as
// concatenated legacy streams do.
inline std::vector<std::uint8_t> lz4Legacy(std::span<const std::uint8_t> data,
                                           std::size_t blockSize = 8u << 20,
                                           std::size_t restartAt = 0) {
  std::vector<std::uint8_t> out;
  appendLittleEndian32(out, 0x184c2102);
  std::size_t block = 0;
  for (std::size_t at = 0; at < data.size(); at += blockSize, ++block) {
    if (restartAt != 0 && block == restartAt) {
      appendLittleEndian32(out, 0x184c2102);
    }
    int length = static_cast<int>(std::min(blockSize, data.size() - at));
    std::vector<char> compressed(static_cast<std::size_t>(LZ4_compressBound(length)));
    int made = LZ4_compress_default(reinterpret_cast<const char*>(data.data() + at),
                                    compressed.data(), length, static_cast<int>(compressed.size()));
    appendLittleEndian32(out, static_cast<std::uint32_t>(made));
    out.insert(out.end(), compressed.begin(), compressed.begin() + made);
  }
  appendLittleEndian32(out, static_cast<std::uint32_t>(data.size()));
  return out;
}

}  // namespace
