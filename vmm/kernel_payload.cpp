#include "vmm/kernel_payload.h"

#include <lz4.h>
#include <lzma.h>
#include <sys/mman.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <initializer_list>

#include "common/size.h"

namespace tandem::vmm {
namespace {

bool startsWith(std::span<const std::uint8_t> bytes, std::initializer_list<std::uint8_t> magic) {
  return bytes.size() >= magic.size() && std::equal(magic.begin(), magic.end(), bytes.begin());
}

std::uint32_t littleEndian32(const std::uint8_t* at) {
  return std::uint32_t{at[0]} | std::uint32_t{at[1]} << 8 | std::uint32_t{at[2]} << 16 |
         std::uint32_t{at[3]} << 24;
}

// LZ4's legacy frame, which the kernel's build writes (lz4 -l): the magic, then blocks, each a
// little-endian compressed length and that many bytes. A repeated magic starts another frame.
constexpr std::uint32_t kLz4LegacyMagic = 0x184c2102;

// Decompresses into `out`, which has room for exactly the declared size; returns the bytes made.
using Decoder = Result<std::size_t> (*)(std::span<const std::uint8_t> payload,
                                        std::span<std::uint8_t> out);

Result<std::size_t> inflateGzip(std::span<const std::uint8_t> payload,
                                std::span<std::uint8_t> out) {
  z_stream stream{};
  // 16 + MAX_WBITS: a gzip header and trailer around the deflate stream.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    return Error("zlib could not start a gzip decoder", ENOMEM);
  }
  stream.next_in = const_cast<Bytef*>(payload.data());
  stream.avail_in = static_cast<uInt>(std::min<std::size_t>(payload.size(), UINT_MAX));
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size(), UINT_MAX));
  int status = inflate(&stream, Z_FINISH);
  std::size_t made = stream.total_out;
  std::string message = stream.msg != nullptr ? stream.msg : "";
  inflateEnd(&stream);
  if (status != Z_STREAM_END) {
    return Error(
        "gzip: " +
            (message.empty() ? "the stream ends early or overflows its declared size" : message),
        EINVAL);
  }
  return made;
}

Result<std::size_t> decodeXz(std::span<const std::uint8_t> payload, std::span<std::uint8_t> out) {
  lzma_stream stream = LZMA_STREAM_INIT;
  // No LZMA_CONCATENATED: the decoder stops at the end of the one stream, before the size suffix.
  if (lzma_stream_decoder(&stream, UINT64_MAX, 0) != LZMA_OK) {
    return Error("liblzma could not start an xz decoder", ENOMEM);
  }
  stream.next_in = payload.data();
  stream.avail_in = payload.size();
  stream.next_out = out.data();
  stream.avail_out = out.size();
  lzma_ret status = lzma_code(&stream, LZMA_FINISH);
  std::size_t made = stream.total_out;
  lzma_end(&stream);
  if (status != LZMA_STREAM_END) {
    return Error("xz: liblzma error " + std::to_string(static_cast<int>(status)) +
                     " (corrupt, truncated, or larger than its declared size)",
                 EINVAL);
  }
  return made;
}

Result<std::size_t> decodeZstd(std::span<const std::uint8_t> payload, std::span<std::uint8_t> out) {
  // Only the first frame: the size suffix after it is not zstd.
  std::size_t frame = ZSTD_findFrameCompressedSize(payload.data(), payload.size());
  if (ZSTD_isError(frame)) {
    return Error(std::string("zstd: ") + ZSTD_getErrorName(frame), EINVAL);
  }
  std::size_t made = ZSTD_decompress(out.data(), out.size(), payload.data(), frame);
  if (ZSTD_isError(made)) {
    return Error(std::string("zstd: ") + ZSTD_getErrorName(made), EINVAL);
  }
  return made;
}

Result<std::size_t> decodeLz4Legacy(std::span<const std::uint8_t> payload,
                                    std::span<std::uint8_t> out) {
  std::size_t at = 0;
  std::size_t made = 0;
  // What follows the last block is the 4-byte size suffix.
  while (payload.size() - at > sizeof(std::uint32_t)) {
    std::uint32_t length = littleEndian32(payload.data() + at);
    at += sizeof(length);
    if (length == kLz4LegacyMagic) {
      continue;
    }
    if (length > payload.size() - at || length > INT_MAX) {
      return Error("lz4: block at byte " + std::to_string(at) + " runs past the payload", EINVAL);
    }
    int room = static_cast<int>(std::min<std::size_t>(out.size() - made, INT_MAX));
    int block = LZ4_decompress_safe(reinterpret_cast<const char*>(payload.data() + at),
                                    reinterpret_cast<char*>(out.data() + made),
                                    static_cast<int>(length), room);
    if (block < 0) {
      return Error("lz4: block at byte " + std::to_string(at) +
                       " is corrupt or larger than the declared size",
                   EINVAL);
    }
    made += static_cast<std::size_t>(block);
    at += length;
  }
  return made;
}

Decoder decoderFor(PayloadFormat format) {
  switch (format) {
    case PayloadFormat::kGzip:
      return inflateGzip;
    case PayloadFormat::kXz:
      return decodeXz;
    case PayloadFormat::kZstd:
      return decodeZstd;
    case PayloadFormat::kLz4:
      return decodeLz4Legacy;
    default:
      return nullptr;
  }
}

}  // namespace

PayloadFormat payloadFormat(std::span<const std::uint8_t> payload) {
  if (startsWith(payload, {0x1f, 0x8b})) {
    return PayloadFormat::kGzip;
  }
  if (startsWith(payload, {'B', 'Z', 'h'})) {
    return PayloadFormat::kBzip2;
  }
  if (startsWith(payload, {0x5d, 0x00, 0x00})) {
    return PayloadFormat::kLzma;
  }
  if (startsWith(payload, {0xfd, '7', 'z', 'X', 'Z', 0x00})) {
    return PayloadFormat::kXz;
  }
  if (startsWith(payload, {0x89, 'L', 'Z', 'O'})) {
    return PayloadFormat::kLzo;
  }
  if (startsWith(payload, {0x02, 0x21, 0x4c, 0x18})) {
    return PayloadFormat::kLz4;
  }
  if (startsWith(payload, {0x28, 0xb5, 0x2f, 0xfd})) {
    return PayloadFormat::kZstd;
  }
  if (startsWith(payload, {0x7f, 'E', 'L', 'F'})) {
    return PayloadFormat::kElf;
  }
  return PayloadFormat::kUnknown;
}

std::string_view payloadFormatName(PayloadFormat format) {
  switch (format) {
    case PayloadFormat::kGzip:
      return "gzip";
    case PayloadFormat::kBzip2:
      return "bzip2";
    case PayloadFormat::kLzma:
      return "lzma";
    case PayloadFormat::kXz:
      return "xz";
    case PayloadFormat::kLzo:
      return "lzo";
    case PayloadFormat::kLz4:
      return "lz4";
    case PayloadFormat::kZstd:
      return "zstd";
    case PayloadFormat::kElf:
      return "uncompressed ELF";
    case PayloadFormat::kUnknown:
      break;
  }
  return "unknown";
}

std::uint32_t declaredDecompressedSize(std::span<const std::uint8_t> payload) {
  return payload.size() < sizeof(std::uint32_t)
             ? 0
             : littleEndian32(payload.data() + payload.size() - sizeof(std::uint32_t));
}

bool hostCanDecompress(PayloadFormat format) {
  return decoderFor(format) != nullptr;
}

Result<std::span<const std::uint8_t>> bzImagePayload(const BzImage& image,
                                                     std::span<const std::uint8_t> file,
                                                     const std::string& path) {
  const setup_header& header = image.header;
  // payload_offset and payload_length arrived with boot protocol 2.08.
  if (header.version < 0x0208 || header.payload_length == 0) {
    return std::span<const std::uint8_t>();
  }
  if (header.payload_offset > image.kernelSize ||
      header.payload_length > image.kernelSize - header.payload_offset) {
    return Error(path + ": its compressed kernel (" + std::to_string(header.payload_length) +
                     " bytes at offset " + std::to_string(header.payload_offset) +
                     ") runs past the end of the file; the image is truncated",
                 ENOEXEC);
  }
  return file.subspan(image.kernelOffset + header.payload_offset, header.payload_length);
}

Result<DecompressedKernel> decompressPayload(std::span<const std::uint8_t> payload,
                                             std::uint64_t maxBytes, const std::string& path) {
  PayloadFormat format = payloadFormat(payload);
  Decoder decode = decoderFor(format);
  if (decode == nullptr) {
    return Error(path + ": tandem does not decompress " + std::string(payloadFormatName(format)) +
                     " kernels",
                 ENOTSUP);
  }
  auto corrupt = [&](const std::string& why) {
    return Error(path + ": its " + std::string(payloadFormatName(format)) +
                     " compressed kernel is corrupt: " + why,
                 ENOEXEC);
  };
  if (payload.size() < sizeof(std::uint32_t)) {
    return corrupt("shorter than its size suffix");
  }
  std::uint32_t declared = declaredDecompressedSize(payload);
  if (declared == 0 || declared > maxBytes) {
    return corrupt("it declares " + formatSize(declared) + " decompressed, where the kernel's " +
                   formatSize(maxBytes) + " init_size bounds it");
  }
  // 2 MiB-aligned and hugepage-advised: the buffer is written once, in full, so large pages
  // save thousands of page faults.
  constexpr std::size_t kHugePage = 2u << 20;
  TANDEM_ASSIGN_OR_RETURN(
      MappedRegion out,
      MappedRegion::mapAligned("the decompressed kernel", declared, kHugePage,
                               PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS));
  ::madvise(out.data(), out.size(), MADV_HUGEPAGE);
  auto made = decode(payload, {out.data(), declared});
  if (!made) {
    return corrupt(made.error().message());
  }
  if (*made != declared) {
    return corrupt("it decompresses to " + std::to_string(*made) + " bytes, not the " +
                   std::to_string(declared) + " it declares");
  }
  return DecompressedKernel{std::move(out), declared};
}

}  // namespace tandem::vmm
