#include "common/image/layer_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "common/file.h"
#include "common/log.h"
#include "common/unique_fd.h"

namespace tandem::image {

namespace {

constexpr std::size_t kChunk = 64 * 1024;

// Hashes the tar, compresses it, hashes the result and writes it out. gzip through zlib's own
// wrapper (windowBits + 16) writes a header with mtime 0, no name and the OS byte of the
// machine's zlib build, which is "Unix" on every platform tandem runs on.
class GzipHashSink {
 public:
  explicit GzipHashSink(int outFd) : outFd_(outFd) {}
  GzipHashSink(const GzipHashSink&) = delete;
  GzipHashSink& operator=(const GzipHashSink&) = delete;
  ~GzipHashSink() {
    if (started_) {
      ::deflateEnd(&stream_);
    }
  }

  Status start() {
    if (::deflateInit2(&stream_, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
      return Error("cannot start the gzip compressor: " +
                   std::string(stream_.msg != nullptr ? stream_.msg : "out of memory"));
    }
    started_ = true;
    return okStatus();
  }

  Status write(std::span<const std::uint8_t> bytes) {
    tarHash_.update(bytes);
    return deflateSome(bytes, Z_NO_FLUSH);
  }

  Status finish() { return deflateSome({}, Z_FINISH); }

  Digest tarDigest() { return tarHash_.finish(); }
  Digest blobDigest() { return blobHash_.finish(); }
  std::uint64_t blobSize() const { return blobSize_; }

 private:
  Status deflateSome(std::span<const std::uint8_t> bytes, int flush) {
    // zlib's interface is not const-correct; it never writes through next_in.
    stream_.next_in = const_cast<Bytef*>(bytes.data());
    stream_.avail_in = static_cast<uInt>(bytes.size());
    std::array<std::uint8_t, kChunk> out;
    int rc = Z_OK;
    do {
      stream_.next_out = out.data();
      stream_.avail_out = static_cast<uInt>(out.size());
      rc = ::deflate(&stream_, flush);
      if (rc == Z_STREAM_ERROR) {
        return Error("the gzip compressor failed");
      }
      std::span<const std::uint8_t> produced(out.data(), out.size() - stream_.avail_out);
      if (!produced.empty()) {
        blobHash_.update(produced);
        blobSize_ += produced.size();
        TANDEM_TRY(writeAll(outFd_, produced, "the layer file"));
      }
    } while (stream_.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    return okStatus();
  }

  int outFd_;
  z_stream stream_{};
  bool started_ = false;
  Sha256 tarHash_;
  Sha256 blobHash_;
  std::uint64_t blobSize_ = 0;
};

struct ArchiveWriteFree {
  void operator()(archive* writer) const { archive_write_free(writer); }
};
struct ArchiveEntryFree {
  void operator()(archive_entry* entry) const { archive_entry_free(entry); }
};
struct DirClose {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using ArchiveEntryPtr = std::unique_ptr<archive_entry, ArchiveEntryFree>;

// libarchive's write callback: a failure is kept for the caller, whose message is better than
// libarchive's "write callback failed".
struct SinkClient {
  GzipHashSink* sink;
  std::optional<Error> error;
};

la_ssize_t writeToSink(archive*, void* client, const void* buffer, size_t length) {
  auto* state = static_cast<SinkClient*>(client);
  auto status = state->sink->write({static_cast<const std::uint8_t*>(buffer), length});
  if (!status) {
    state->error = std::move(status).error();
    return -1;
  }
  return static_cast<la_ssize_t>(length);
}

class FolderPacker {
 public:
  FolderPacker(std::string root, archive* writer, const LayerWriteOptions& options,
               SinkClient& client)
      : root_(std::move(root)), writer_(writer), options_(options), client_(client) {}

  Status packRoot() {
    TANDEM_ASSIGN_OR_RETURN(UniqueFd rootFd,
                            openPath(root_, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    struct stat st {};
    if (::fstat(rootFd.get(), &st) != 0) {
      return Error::fromErrno("cannot stat " + root_);
    }
    rootDevice_ = st.st_dev;
    return packDirectory(std::move(rootFd), "");
  }

  std::uint64_t entries() const { return entries_; }
  std::uint64_t skipped() const { return skipped_; }

 private:
  Result<std::vector<std::string>> sortedNames(const UniqueFd& dirFd, const std::string& where) {
    // fdopendir takes the fd; a duplicate leaves dirFd for the *at() calls.
    int copy = ::fcntl(dirFd.get(), F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      return Error::fromErrno("cannot duplicate the fd of " + where);
    }
    std::unique_ptr<DIR, DirClose> dir(::fdopendir(copy));
    if (!dir) {
      ::close(copy);
      return Error::fromErrno("cannot read the directory " + where);
    }
    std::vector<std::string> names;
    errno = 0;
    while (dirent* item = ::readdir(dir.get())) {
      std::string_view name = item->d_name;
      if (name != "." && name != "..") {
        names.emplace_back(name);
      }
      errno = 0;
    }
    if (errno != 0) {
      return Error::fromErrno("cannot read the directory " + where);
    }
    // std::string compares as unsigned char: bytewise, whatever the locale.
    std::sort(names.begin(), names.end());
    return names;
  }

  Status packDirectory(UniqueFd dirFd, const std::string& prefix) {
    std::string where = prefix.empty() ? root_ : root_ + "/" + prefix;
    TANDEM_ASSIGN_OR_RETURN(auto names, sortedNames(dirFd, where));
    for (const auto& name : names) {
      std::string path = prefix + name;
      struct stat st {};
      if (::fstatat(dirFd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return Error::fromErrno("cannot stat " + root_ + "/" + path);
      }
      TANDEM_TRY(packEntry(dirFd, name, path, st));
    }
    return okStatus();
  }

  Status packEntry(const UniqueFd& dirFd, const std::string& name, const std::string& path,
                   const struct stat& st) {
    std::string fullPath = root_ + "/" + path;
    if (S_ISSOCK(st.st_mode)) {
      spdlog::warn("skipping the socket {}: a tar cannot hold one", fullPath);
      ++skipped_;
      return okStatus();
    }
    ArchiveEntryPtr entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), path.c_str());
    archive_entry_set_mode(entry.get(), st.st_mode);
    archive_entry_set_uid(entry.get(), options_.rootOwned ? 0 : st.st_uid);
    archive_entry_set_gid(entry.get(), options_.rootOwned ? 0 : st.st_gid);
    archive_entry_set_mtime(entry.get(), std::min<std::int64_t>(st.st_mtime, options_.epoch), 0);
    TANDEM_TRY(addXattrs(entry.get(), fullPath));

    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto [it, first] = links_.try_emplace({st.st_dev, st.st_ino}, path);
      if (!first) {
        archive_entry_set_hardlink(entry.get(), it->second.c_str());
        archive_entry_set_size(entry.get(), 0);
        return writeHeader(entry.get(), fullPath);
      }
    }

    if (S_ISREG(st.st_mode)) {
      archive_entry_set_size(entry.get(), st.st_size);
      TANDEM_TRY(writeHeader(entry.get(), fullPath));
      return writeContent(dirFd, name, fullPath, st);
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
      ssize_t length = ::readlinkat(dirFd.get(), name.c_str(), target.data(), target.size());
      if (length < 0) {
        return Error::fromErrno("cannot read the symlink " + fullPath);
      }
      if (static_cast<std::size_t>(length) >= target.size()) {
        return Error("the symlink " + fullPath + " changed while it was read");
      }
      target.resize(static_cast<std::size_t>(length));
      archive_entry_set_symlink(entry.get(), target.c_str());
      return writeHeader(entry.get(), fullPath);
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      archive_entry_set_rdevmajor(entry.get(), major(st.st_rdev));
      archive_entry_set_rdevminor(entry.get(), minor(st.st_rdev));
      return writeHeader(entry.get(), fullPath);
    }
    if (S_ISFIFO(st.st_mode)) {
      return writeHeader(entry.get(), fullPath);
    }
    // A directory.
    TANDEM_TRY(writeHeader(entry.get(), fullPath));
    if (st.st_dev != rootDevice_) {
      spdlog::warn("{} is a mount point: stored as an empty directory", fullPath);
      return okStatus();
    }
    int fd = ::openat(dirFd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      return Error::fromErrno("cannot open the directory " + fullPath);
    }
    return packDirectory(UniqueFd(fd), path + "/");
  }

  // Sorted by name: the kernel lists them in whatever order the filesystem keeps.
  Status addXattrs(archive_entry* entry, const std::string& fullPath) {
    ssize_t size = ::llistxattr(fullPath.c_str(), nullptr, 0);
    if (size < 0) {
      if (errno == ENOTSUP) {
        return okStatus();
      }
      return Error::fromErrno("cannot list the xattrs of " + fullPath);
    }
    std::string list(static_cast<std::size_t>(size), '\0');
    size = ::llistxattr(fullPath.c_str(), list.data(), list.size());
    if (size < 0) {
      return Error::fromErrno("cannot list the xattrs of " + fullPath);
    }
    list.resize(static_cast<std::size_t>(size));
    std::vector<std::string> names;
    for (std::size_t at = 0; at < list.size();) {
      std::string name = list.c_str() + at;
      at += name.size() + 1;
      // overlayfs's bookkeeping of the folder it came from; the unpacker refuses it in a layer.
      if (name.starts_with("trusted.overlay.")) {
        spdlog::warn("skipping the overlayfs xattr {} of {}", name, fullPath);
        continue;
      }
      names.push_back(std::move(name));
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      ssize_t length = ::lgetxattr(fullPath.c_str(), name.c_str(), nullptr, 0);
      std::string value(length > 0 ? static_cast<std::size_t>(length) : 0, '\0');
      if (length >= 0) {
        length = ::lgetxattr(fullPath.c_str(), name.c_str(), value.data(), value.size());
      }
      if (length < 0) {
        return Error::fromErrno("cannot read the xattr " + name + " of " + fullPath);
      }
      value.resize(static_cast<std::size_t>(length));
      archive_entry_xattr_add_entry(entry, name.c_str(), value.data(), value.size());
    }
    return okStatus();
  }

  Status writeHeader(archive_entry* entry, const std::string& fullPath) {
    ++entries_;
    if (archive_write_header(writer_, entry) != ARCHIVE_OK) {
      return archiveError("cannot add " + fullPath + " to the layer");
    }
    return okStatus();
  }

  Status writeContent(const UniqueFd& dirFd, const std::string& name, const std::string& fullPath,
                      const struct stat& listed) {
    int raw = ::openat(dirFd.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (raw < 0) {
      return Error::fromErrno("cannot open " + fullPath);
    }
    UniqueFd fd(raw);
    struct stat opened {};
    if (::fstat(fd.get(), &opened) != 0) {
      return Error::fromErrno("cannot stat " + fullPath);
    }
    if (opened.st_ino != listed.st_ino || opened.st_dev != listed.st_dev) {
      return Error(fullPath + " was replaced while the layer was written; retry on a quiet folder");
    }
    std::vector<std::uint8_t> buffer(kChunk);
    std::uint64_t left = static_cast<std::uint64_t>(listed.st_size);
    while (left > 0) {
      ssize_t got = ::read(fd.get(), buffer.data(), std::min<std::uint64_t>(left, buffer.size()));
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got < 0) {
        return Error::fromErrno("cannot read " + fullPath);
      }
      if (got == 0) {
        return Error(fullPath + " shrank while the layer was written; retry on a quiet folder");
      }
      if (archive_write_data(writer_, buffer.data(), static_cast<std::size_t>(got)) != got) {
        return archiveError("cannot add " + fullPath + " to the layer");
      }
      left -= static_cast<std::uint64_t>(got);
    }
    return okStatus();
  }

  Error archiveError(const std::string& what) {
    if (client_.error) {
      return std::move(*client_.error).context(what);
    }
    const char* reason = archive_error_string(writer_);
    return Error(what + ": " + (reason != nullptr ? reason : "libarchive failed"));
  }

  std::string root_;
  archive* writer_;
  const LayerWriteOptions& options_;
  SinkClient& client_;
  dev_t rootDevice_ = 0;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  std::uint64_t entries_ = 0;
  std::uint64_t skipped_ = 0;
};

}  // namespace

Result<WrittenLayer> writeFolderLayer(const std::string& folder, int outFd,
                                      const LayerWriteOptions& options) {
  GzipHashSink sink(outFd);
  TANDEM_TRY(sink.start());
  SinkClient client{&sink, std::nullopt};
  std::unique_ptr<archive, ArchiveWriteFree> writer(archive_write_new());
  if (!writer) {
    return Error("cannot allocate a tar writer", ENOMEM);
  }
  // pax_restricted writes plain ustar headers unless an entry needs more (a long name, an
  // xattr, a big id), which is what docker and buildkit layers look like.
  if (archive_write_set_format_pax_restricted(writer.get()) != ARCHIVE_OK ||
      archive_write_open2(writer.get(), &client, nullptr, writeToSink, nullptr, nullptr) !=
          ARCHIVE_OK) {
    return Error(std::string("cannot start the tar writer: ") + archive_error_string(writer.get()));
  }
  FolderPacker packer(folder, writer.get(), options, client);
  TANDEM_TRY(packer.packRoot().context("layer from " + folder));
  if (archive_write_close(writer.get()) != ARCHIVE_OK) {
    if (client.error) {
      return std::move(*client.error).context("layer from " + folder);
    }
    return Error("cannot finish the layer from " + folder + ": " +
                 archive_error_string(writer.get()));
  }
  TANDEM_TRY(sink.finish().context("layer from " + folder));
  WrittenLayer layer;
  layer.diffId = sink.tarDigest();
  layer.blob = sink.blobDigest();
  layer.blobSize = sink.blobSize();
  layer.entries = packer.entries();
  layer.skipped = packer.skipped();
  return layer;
}

}  // namespace tandem::image
