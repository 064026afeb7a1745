// Writes "newc" cpio archives, the format the Linux kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst): tandem-mkinitramfs packs a
// rootfs folder with it ahead of time, and the VMM appends a second, small archive (the guest
// init and the workload) at boot.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace tandem::vmm {

// Where archive bytes go. The VMM can implement one over guest memory and so write the archive
// straight into the initrd region, with no intermediate copy.
class CpioSink {
 public:
  virtual ~CpioSink() = default;
  virtual Status write(std::span<const std::uint8_t> bytes) = 0;
};

class VectorSink final : public CpioSink {
 public:
  explicit VectorSink(std::vector<std::uint8_t>& out) : out_(out) {}
  Status write(std::span<const std::uint8_t> bytes) override;

 private:
  std::vector<std::uint8_t>& out_;
};

// Into a fixed span, such as guest memory; running past its end is an error, not a write.
class SpanSink final : public CpioSink {
 public:
  explicit SpanSink(std::span<std::uint8_t> target) : target_(target) {}
  Status write(std::span<const std::uint8_t> bytes) override;
  std::size_t written() const { return written_; }

 private:
  std::span<std::uint8_t> target_;
  std::size_t written_ = 0;
};

class FdSink final : public CpioSink {
 public:
  // `path` only names the fd in error messages.
  FdSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Status write(std::span<const std::uint8_t> bytes) override;

 private:
  int fd_;
  std::string path_;
};

inline constexpr std::size_t kCpioHeaderBytes = 110;
// The name of the entry that ends an archive.
inline constexpr const char* kCpioTrailerName = "TRAILER!!!";

// The most bytes one entry can take: its header, then its name with a NUL and its
// content, each padded to 4 bytes. Enough to set room aside for an archive before writing it.
constexpr std::uint64_t cpioEntryMaxBytes(std::size_t nameBytes, std::uint64_t contentBytes) {
  return kCpioHeaderBytes + (nameBytes + 1 + 3) + (contentBytes + 3);
}

// Ownership and times of one entry; the file type comes from the method that adds it.
struct CpioAttributes {
  std::uint32_t permissions = 0644;  // 07777 bits only
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint32_t mtime = 0;  // seconds since the epoch
};

// Names are paths inside the archive: leading and trailing '/' are dropped ("/.tandem/init" is
// stored as ".tandem/init", as the kernel's gen_init_cpio does); empty, "." and ".." components
// are refused. Parent directories are not created implicitly: the kernel does not create them
// either, so add them first.
//
// Every entry starts 4-byte aligned relative to the start of this archive, and finish() leaves
// the total length a multiple of 4, so archives can be concatenated, as the kernel accepts.
class CpioWriter {
 public:
  explicit CpioWriter(CpioSink& sink) : sink_(sink) {}

  Status addDirectory(std::string_view name, const CpioAttributes& attributes);
  Status addFile(std::string_view name, std::span<const std::uint8_t> content,
                 const CpioAttributes& attributes);
  // The content of `hostPath` (following symlinks there), under the given attributes rather
  // than the host file's own.
  Status addFileFromPath(std::string_view name, const std::string& hostPath,
                         const CpioAttributes& attributes);
  // The same for a regular file already open as `fd`, read from its current offset; `hostPath`
  // names it in errors.
  Status addOpenFile(std::string_view name, int fd, const std::string& hostPath,
                     const CpioAttributes& attributes);
  Status addSymlink(std::string_view name, std::string_view target,
                    const CpioAttributes& attributes);
  Status addCharDevice(std::string_view name, unsigned major, unsigned minor,
                       const CpioAttributes& attributes);
  Status addBlockDevice(std::string_view name, unsigned major, unsigned minor,
                        const CpioAttributes& attributes);

  // Everything under `hostDir`, as found by lstat (symlinks are stored, never followed), with
  // modes, owners and mtimes kept, in sorted order so the archive is reproducible. An empty
  // `archivePrefix` puts the contents at the archive's root and leaves the root's own metadata
  // to the kernel; otherwise `archivePrefix` is added as a directory holding them. Hard links
  // within the tree stay hard links. Mount points are stored as empty directories, so a /proc or
  // /dev left mounted inside a rootfs folder cannot pull the host's files into the guest.
  Status appendTree(const std::string& hostDir, std::string_view archivePrefix);

  // The TRAILER!!! entry that ends the archive.
  Status finish();

  // Bytes written so far, and files, directories, links and nodes among them.
  std::uint64_t size() const { return offset_; }
  std::uint64_t entries() const { return entries_; }

 private:
  struct Entry;
  class TreeWalk;

  Status addEntry(const Entry& entry, std::span<const std::uint8_t> content);
  Status addNode(std::string_view name, std::uint32_t type, unsigned major, unsigned minor,
                 const CpioAttributes& attributes);
  Status addRegularFile(std::string normalized, int fd, const std::string& hostPath,
                        const CpioAttributes& attributes);
  Status addFileFromFd(const Entry& entry, int fd, const std::string& hostPath);
  Status writeHeader(const Entry& entry);
  Status writePadded(std::span<const std::uint8_t> bytes);
  Status pad();

  CpioSink& sink_;
  std::uint64_t offset_ = 0;
  std::uint64_t entries_ = 0;
  std::uint32_t nextInode_ = 1;
};

}  // namespace tandem::vmm
