#include "common/image/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <memory>

#include "common/bytes.h"
#include "common/file.h"

namespace tandem::image {

namespace {

constexpr std::string_view kPartialSuffix = ".partial";

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using DirHandle = std::unique_ptr<DIR, DirCloser>;

Status lockExclusive(int fd, const std::string& path) {
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      return Error::fromErrno("cannot lock " + path);
    }
  }
  return okStatus();
}

// Whether `fd` is still the file named `path`. A writer that waited for the lock may find the
// file it opened already committed (renamed into blobs/) or abandoned (unlinked); writing to it
// then would change a stored blob or vanish, so it must open the name again.
Result<bool> isStillNamed(int fd, const std::string& path) {
  struct stat held {};
  struct stat named {};
  if (::fstat(fd, &held) != 0) {
    return Error::fromErrno("cannot inspect " + path);
  }
  if (::lstat(path.c_str(), &named) != 0) {
    if (errno == ENOENT) {
      return false;
    }
    return Error::fromErrno("cannot inspect " + path);
  }
  return held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

Status syncDirectory(const std::string& dir) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, openPath(dir, O_RDONLY | O_DIRECTORY));
  if (::fsync(fd.get()) != 0) {
    return Error::fromErrno("cannot flush directory " + dir);
  }
  return okStatus();
}

Result<DirHandle> openDirectory(const std::string& dir) {
  DIR* raw = ::opendir(dir.c_str());
  if (raw == nullptr) {
    return Error::fromErrno("cannot list " + dir);
  }
  return DirHandle(raw);
}

std::string dirnameOf(const std::string& path) {
  return path.substr(0, path.rfind('/'));
}

}  // namespace

BlobWriter::BlobWriter(Digest expected, std::optional<std::uint64_t> expectedSize, IngestMode mode,
                       std::string partialPath, std::string blobPath)
    : expected_(std::move(expected)),
      expectedSize_(expectedSize),
      mode_(mode),
      partialPath_(std::move(partialPath)),
      blobPath_(std::move(blobPath)) {}

BlobWriter::BlobWriter(BlobWriter&& other) noexcept = default;

BlobWriter::~BlobWriter() {
  if (!fd_.valid()) {
    return;
  }
  if (mode_ == IngestMode::kFromStart) {
    removePartial();
  } else {
    releaseLock();
  }
}

void BlobWriter::removePartial() {
  // Unlinked while the lock is still held, so a waiting writer sees the name gone and starts
  // a fresh file rather than appending to this one.
  if (fd_.valid()) {
    ::unlink(partialPath_.c_str());
    releaseLock();
  }
}

void BlobWriter::releaseLock() {
  // Unlocked explicitly rather than by close(): a child forked meanwhile shares the open file
  // description, and the lock would live as long as its copy of the fd.
  ::flock(fd_.get(), LOCK_UN);
  fd_.reset();
}

Status BlobWriter::resume() {
  TANDEM_ASSIGN_OR_RETURN(std::uint64_t existing, regularFileSize(fd_.get(), partialPath_));
  if (expectedSize_ && existing > *expectedSize_) {
    // Longer than the blob can be, so it is no prefix of it.
    return restart();
  }
  // The hash state died with the process that wrote these bytes; the only way to continue the
  // SHA-256 is to feed it the bytes again.
  if (::lseek(fd_.get(), 0, SEEK_SET) < 0) {
    return Error::fromErrno("cannot rewind " + partialPath_);
  }
  TANDEM_TRY(readInChunks(fd_.get(), partialPath_ + " to resume it",
                          [&](std::span<const std::uint8_t> chunk) -> Status {
                            hash_.update(chunk);
                            size_ += chunk.size();
                            return okStatus();
                          }));
  resumeOffset_ = size_;
  return okStatus();
}

Status BlobWriter::restart() {
  if (alreadyStored_) {
    return okStatus();
  }
  if (!fd_.valid()) {
    return Error("cannot restart blob " + expected_.text() + ": its ingest has already ended");
  }
  if (::ftruncate(fd_.get(), 0) != 0) {
    return Error::fromErrno("cannot empty " + partialPath_);
  }
  if (::lseek(fd_.get(), 0, SEEK_SET) < 0) {
    return Error::fromErrno("cannot rewind " + partialPath_);
  }
  hash_ = Sha256();
  size_ = 0;
  resumeOffset_ = 0;
  broken_ = false;
  return okStatus();
}

Status BlobWriter::write(std::span<const std::uint8_t> bytes) {
  if (alreadyStored_) {
    return okStatus();
  }
  if (!fd_.valid()) {
    return Error("cannot write blob " + expected_.text() + ": its ingest has already ended");
  }
  if (broken_) {
    return Error("cannot write blob " + expected_.text() + ": an earlier write to " + partialPath_ +
                 " failed; begin the ingest again");
  }
  if (expectedSize_ && bytes.size() > *expectedSize_ - size_) {
    return Error("blob " + expected_.text() + " would grow past the " +
                     std::to_string(*expectedSize_) + " bytes its descriptor gives (it has " +
                     std::to_string(size_) + ", " + std::to_string(bytes.size()) +
                     " more arrived); the source sends more than the image says",
                 EFBIG);
  }
  Status written = writeAll(fd_.get(), bytes, partialPath_);
  if (!written) {
    broken_ = true;
    return written;
  }
  hash_.update(bytes);
  size_ += bytes.size();
  return okStatus();
}

Status BlobWriter::write(std::string_view bytes) {
  return write(bytesOf(bytes));
}

Status BlobWriter::commit() {
  if (alreadyStored_) {
    return okStatus();
  }
  if (!fd_.valid()) {
    return Error("cannot commit blob " + expected_.text() + ": its ingest has already ended");
  }
  if (broken_) {
    return Error("cannot commit blob " + expected_.text() + ": an earlier write to " +
                 partialPath_ + " failed; begin the ingest again");
  }
  if (expectedSize_ && size_ != *expectedSize_) {
    removePartial();
    return Error("blob " + expected_.text() + " has " + std::to_string(size_) +
                     " bytes where its descriptor gives " + std::to_string(*expectedSize_) +
                     "; the partial file was removed, fetch the blob again",
                 EBADMSG);
  }
  Digest actual = hash_.finish();
  if (actual != expected_) {
    removePartial();
    return Error("blob content does not match its digest: expected " + expected_.text() + ", got " +
                     actual.text() + " over " + std::to_string(size_) +
                     " bytes; the partial file was removed, fetch the blob again",
                 EBADMSG);
  }
  // Flushed before the rename: after a crash the name must never point at a file whose data
  // did not reach the disk.
  if (::fsync(fd_.get()) != 0) {
    return Error::fromErrno("cannot flush " + partialPath_);
  }
  // Read-only, as content-addressed data must never change in place.
  if (::fchmod(fd_.get(), 0444) != 0) {
    return Error::fromErrno("cannot make " + partialPath_ + " read-only");
  }
  if (::rename(partialPath_.c_str(), blobPath_.c_str()) != 0) {
    Error failed = Error::fromErrno("cannot move " + partialPath_ + " to " + blobPath_);
    // Writable again, so that a resumable download can reopen it as it resumes.
    (void)::fchmod(fd_.get(), 0600);
    return failed;
  }
  // The lock goes only now, so a writer waiting for it finds the blob stored.
  releaseLock();
  return syncDirectory(dirnameOf(blobPath_));
}

Result<BlobStore> BlobStore::create(std::string root) {
  while (root.size() > 1 && root.back() == '/') {
    root.pop_back();
  }
  if (root.empty()) {
    return Error("the image store needs a root folder; none was given");
  }
  BlobStore store(std::move(root));
  TANDEM_TRY(makeDirectories(store.blobsDir(), 0700).context("cannot set up the image store"));
  TANDEM_TRY(makeDirectories(store.ingestDir(), 0700).context("cannot set up the image store"));
  return store;
}

std::string BlobStore::path(const Digest& digest) const {
  return blobsDir() + "/" + digest.hex();
}

bool BlobStore::has(const Digest& digest) const {
  struct stat info {};
  return ::lstat(path(digest).c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

Result<UniqueFd> BlobStore::open(const Digest& digest) const {
  auto fd = openPath(path(digest), O_RDONLY | O_NOFOLLOW);
  if (!fd && fd.error().errnum() == ENOENT) {
    return Error("blob " + digest.text() + " is not in the store (" + path(digest) +
                     "); pull or import its image again",
                 ENOENT);
  }
  return fd;
}

Result<std::uint64_t> BlobStore::size(const Digest& digest) const {
  struct stat info {};
  if (::lstat(path(digest).c_str(), &info) != 0) {
    if (errno == ENOENT) {
      return Error("blob " + digest.text() + " is not in the store (" + path(digest) +
                       "); pull or import its image again",
                   ENOENT);
    }
    return Error::fromErrno("cannot inspect " + path(digest));
  }
  if (!S_ISREG(info.st_mode)) {
    return Error(path(digest) + " is not a regular file; remove it and pull its image again");
  }
  return static_cast<std::uint64_t>(info.st_size);
}

Result<BlobWriter> BlobStore::beginIngest(const Digest& expected,
                                          std::optional<std::uint64_t> expectedSize,
                                          IngestMode mode) const {
  BlobWriter writer(expected, expectedSize, mode,
                    ingestDir() + "/" + expected.hex() + std::string(kPartialSuffix),
                    path(expected));
  for (;;) {
    if (has(expected)) {
      writer.alreadyStored_ = true;
      return writer;
    }
    TANDEM_ASSIGN_OR_RETURN(UniqueFd fd,
                            openPath(writer.partialPath_, O_RDWR | O_CREAT | O_NOFOLLOW, 0600));
    TANDEM_TRY(lockExclusive(fd.get(), writer.partialPath_));
    TANDEM_ASSIGN_OR_RETURN(bool current, isStillNamed(fd.get(), writer.partialPath_));
    if (current) {
      writer.fd_ = std::move(fd);
      break;
    }
  }
  // Stored between the check above and the lock: the partial just made is of no use.
  if (has(expected)) {
    writer.removePartial();
    writer.alreadyStored_ = true;
    return writer;
  }
  TANDEM_TRY(mode == IngestMode::kResumable ? writer.resume() : writer.restart());
  return writer;
}

Status BlobStore::ingestFromFd(int fd, const Digest& expected,
                               std::optional<std::uint64_t> expectedSize) const {
  TANDEM_ASSIGN_OR_RETURN(BlobWriter writer,
                          beginIngest(expected, expectedSize, IngestMode::kFromStart));
  if (writer.alreadyStored()) {
    return okStatus();
  }
  TANDEM_TRY(
      readInChunks(fd, "the source of blob " + expected.text(),
                   [&](std::span<const std::uint8_t> chunk) { return writer.write(chunk); }));
  return writer.commit();
}

Result<Digest> BlobStore::ingestBytes(std::span<const std::uint8_t> bytes,
                                      std::optional<Digest> expected) const {
  Digest digest = expected ? *expected : Digest::ofBytes(bytes);
  TANDEM_ASSIGN_OR_RETURN(BlobWriter writer,
                          beginIngest(digest, bytes.size(), IngestMode::kFromStart));
  TANDEM_TRY(writer.write(bytes));
  TANDEM_TRY(writer.commit());
  return digest;
}

Status BlobStore::remove(const Digest& digest) const {
  if (::unlink(path(digest).c_str()) != 0 && errno != ENOENT) {
    return Error::fromErrno("cannot remove blob " + path(digest));
  }
  return okStatus();
}

Result<std::vector<BlobInfo>> BlobStore::listBlobs() const {
  TANDEM_ASSIGN_OR_RETURN(DirHandle dir, openDirectory(blobsDir()));
  std::vector<BlobInfo> blobs;
  errno = 0;
  while (dirent* entry = ::readdir(dir.get())) {
    auto digest = Digest::parse("sha256:" + std::string(entry->d_name));
    struct stat info {};
    if (digest && ::fstatat(::dirfd(dir.get()), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(info.st_mode)) {
      blobs.push_back({*digest, static_cast<std::uint64_t>(info.st_size), info.st_mtim.tv_sec});
    }
    errno = 0;
  }
  if (errno != 0) {
    return Error::fromErrno("cannot list " + blobsDir());
  }
  std::sort(blobs.begin(), blobs.end(),
            [](const BlobInfo& a, const BlobInfo& b) { return a.digest < b.digest; });
  return blobs;
}

Result<PartialSweep> BlobStore::removeStalePartials(std::chrono::seconds olderThan) const {
  TANDEM_ASSIGN_OR_RETURN(DirHandle dir, openDirectory(ingestDir()));
  std::vector<std::string> names;
  errno = 0;
  while (dirent* entry = ::readdir(dir.get())) {
    std::string_view name = entry->d_name;
    if (name.ends_with(kPartialSuffix)) {
      names.emplace_back(name);
    }
    errno = 0;
  }
  if (errno != 0) {
    return Error::fromErrno("cannot list " + ingestDir());
  }
  PartialSweep sweep;
  std::int64_t now = std::time(nullptr);
  for (const auto& name : names) {
    std::string partial = ingestDir() + "/" + name;
    int raw = ::openat(::dirfd(dir.get()), name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (raw < 0) {
      continue;  // gone meanwhile: committed or abandoned by its writer
    }
    UniqueFd fd(raw);
    // A writer holds its partial locked for as long as it runs: skip it, however old it is.
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      continue;
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0 || now - info.st_mtim.tv_sec < olderThan.count()) {
      continue;
    }
    TANDEM_ASSIGN_OR_RETURN(bool current, isStillNamed(fd.get(), partial));
    if (!current) {
      continue;
    }
    if (::unlink(partial.c_str()) != 0) {
      if (errno == ENOENT) {
        continue;
      }
      return Error::fromErrno("cannot remove stale partial file " + partial);
    }
    ++sweep.files;
    sweep.bytes += static_cast<std::uint64_t>(info.st_size);
  }
  return sweep;
}

}  // namespace tandem::image
