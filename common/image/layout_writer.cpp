#include "common/image/layout_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "common/file.h"

namespace tandem::image {

namespace {

std::string parentOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

// By digest, each once: the tar's order must not depend on the caller's.
std::vector<LayoutBlob> sortedBlobs(const LayoutFiles& files) {
  std::vector<LayoutBlob> blobs = files.blobs;
  std::sort(blobs.begin(), blobs.end(),
            [](const LayoutBlob& a, const LayoutBlob& b) { return a.digest < b.digest; });
  blobs.erase(
      std::unique(blobs.begin(), blobs.end(),
                  [](const LayoutBlob& a, const LayoutBlob& b) { return a.digest == b.digest; }),
      blobs.end());
  return blobs;
}

Status copyFile(const std::string& source, const std::string& target) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd in, openPath(source, O_RDONLY | O_CLOEXEC));
  TANDEM_ASSIGN_OR_RETURN(UniqueFd out,
                          openPath(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  return readInChunks(in.get(), source, [&](std::span<const std::uint8_t> chunk) {
    return writeAll(out.get(), chunk, target);
  });
}

// A hard link costs no space and no time; the store may be on another filesystem (EXDEV), or
// fs.protected_hardlinks may refuse a link to a file this user does not own (EPERM).
Status linkOrCopy(const std::string& source, const std::string& target) {
  if (::link(source.c_str(), target.c_str()) == 0) {
    return okStatus();
  }
  if (errno != EXDEV && errno != EPERM) {
    return Error::fromErrno("cannot link " + source + " to " + target);
  }
  return copyFile(source, target);
}

struct ArchiveWriteFree {
  void operator()(archive* writer) const { archive_write_free(writer); }
};
struct ArchiveEntryFree {
  void operator()(archive_entry* entry) const { archive_entry_free(entry); }
};

class LayoutTar {
 public:
  LayoutTar(std::string shownAs, std::int64_t epoch)
      : writer_(archive_write_new()), shownAs_(std::move(shownAs)), epoch_(epoch) {}

  Status open(int fd) {
    // libarchive pads the last block of stdout and of pipes to 10 KiB but not of a regular
    // file; fixing it makes `save > file` and `save -o file` the same bytes.
    if (!writer_ || archive_write_set_format_pax_restricted(writer_.get()) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(writer_.get(), 1) != ARCHIVE_OK ||
        archive_write_open_fd(writer_.get(), fd) != ARCHIVE_OK) {
      return Error("cannot start writing " + shownAs_);
    }
    return okStatus();
  }

  Status addFolder(const std::string& name) { return header(name, S_IFDIR | 0755, 0); }

  Status addText(const std::string& name, std::string_view text) {
    TANDEM_TRY(header(name, S_IFREG | 0644, text.size()));
    return data(name, text.data(), text.size());
  }

  // Streamed in chunks: a layer can be far bigger than memory.
  Status addFile(const std::string& name, const std::string& source) {
    TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, openPath(source, O_RDONLY | O_CLOEXEC));
    TANDEM_ASSIGN_OR_RETURN(std::uint64_t size, regularFileSize(fd.get(), source));
    TANDEM_TRY(header(name, S_IFREG | 0644, size));
    std::uint64_t written = 0;
    TANDEM_TRY(readInChunks(fd.get(), source, [&](std::span<const std::uint8_t> chunk) -> Status {
      if (written + chunk.size() > size) {
        return Error(source + " grew while it was written into " + shownAs_);
      }
      written += chunk.size();
      return data(name, chunk.data(), chunk.size());
    }));
    if (written != size) {
      return Error(source + " shrank while it was written into " + shownAs_);
    }
    return okStatus();
  }

  Status finish() {
    if (archive_write_close(writer_.get()) != ARCHIVE_OK) {
      return Error("cannot finish " + shownAs_ + ": " + archive_error_string(writer_.get()));
    }
    return okStatus();
  }

 private:
  Status header(const std::string& name, mode_t mode, std::uint64_t size) {
    std::unique_ptr<archive_entry, ArchiveEntryFree> entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_mode(entry.get(), mode);
    archive_entry_set_mtime(entry.get(), epoch_, 0);
    if (S_ISREG(mode)) {
      archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
    }
    if (archive_write_header(writer_.get(), entry.get()) != ARCHIVE_OK) {
      return failed(name);
    }
    return okStatus();
  }

  Status data(const std::string& name, const void* bytes, std::size_t size) {
    if (size != 0 &&
        archive_write_data(writer_.get(), bytes, size) != static_cast<la_ssize_t>(size)) {
      return failed(name);
    }
    return okStatus();
  }

  Error failed(const std::string& name) const {
    const char* reason = archive_error_string(writer_.get());
    return Error("cannot write " + name + " into " + shownAs_ + ": " +
                 (reason != nullptr ? reason : "unknown error"));
  }

  std::unique_ptr<archive, ArchiveWriteFree> writer_;
  std::string shownAs_;
  std::int64_t epoch_;
};

}  // namespace

Scratch::~Scratch() {
  if (!path_.empty()) {
    (void)removeTree(path_);
  }
}

Result<Scratch> Scratch::folderBeside(const std::string& output) {
  std::string templ = output + ".tmp-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return Error::fromErrno("cannot create a folder beside " + output + " (does " +
                            parentOf(output) + " exist?)");
  }
  return Scratch(std::move(templ));
}

std::string layoutBlobName(const Digest& digest) {
  return "blobs/sha256/" + digest.hex();
}

Descriptor namedIndexEntry(Descriptor manifest, const std::optional<Reference>& name) {
  if (name) {
    manifest.annotations[std::string(annotation::kRefName)] = name->text();
    manifest.annotations[std::string(annotation::kContainerdName)] = name->text();
  }
  return manifest;
}

Status writeLayoutFolder(const LayoutFiles& files, const std::string& output) {
  if (pathExists(output)) {
    return Error(output + " exists already; remove it or choose another output", EEXIST);
  }
  TANDEM_ASSIGN_OR_RETURN(Scratch layout, Scratch::folderBeside(output));
  TANDEM_TRY(makeDirectories(layout.path() + "/blobs/sha256"));
  for (const auto& blob : sortedBlobs(files)) {
    TANDEM_TRY(linkOrCopy(blob.source, layout.path() + "/" + layoutBlobName(blob.digest)));
  }
  TANDEM_TRY(writeFile(layout.path() + "/index.json", serializeIndex(files.index)));
  TANDEM_TRY(writeFile(layout.path() + "/oci-layout", kOciLayoutFile));
  if (files.dockerManifest) {
    TANDEM_TRY(writeFile(layout.path() + "/manifest.json", *files.dockerManifest));
  }
  if (::chmod(layout.path().c_str(), 0755) != 0) {
    return Error::fromErrno("cannot open up " + layout.path());
  }
  // NOREPLACE: a folder someone made at `output` meanwhile is theirs, not to be replaced.
  // (NFS, among others, knows no NOREPLACE: there only the check above guards it.)
  int renamed =
      ::renameat2(AT_FDCWD, layout.path().c_str(), AT_FDCWD, output.c_str(), RENAME_NOREPLACE);
  if (renamed != 0 && errno == EINVAL) {
    renamed = ::rename(layout.path().c_str(), output.c_str());
  }
  if (renamed != 0) {
    return Error::fromErrno("cannot rename " + layout.path() + " to " + output);
  }
  layout.release();
  return okStatus();
}

Status writeLayoutTarTo(const LayoutFiles& files, int fd, const std::string& shownAs,
                        std::int64_t epoch) {
  LayoutTar tar(shownAs, epoch);
  TANDEM_TRY(tar.open(fd));
  TANDEM_TRY(tar.addText("oci-layout", kOciLayoutFile));
  TANDEM_TRY(tar.addText("index.json", serializeIndex(files.index)));
  if (files.dockerManifest) {
    TANDEM_TRY(tar.addText("manifest.json", *files.dockerManifest));
  }
  TANDEM_TRY(tar.addFolder("blobs"));
  TANDEM_TRY(tar.addFolder("blobs/sha256"));
  for (const auto& blob : sortedBlobs(files)) {
    TANDEM_TRY(tar.addFile(layoutBlobName(blob.digest), blob.source));
  }
  return tar.finish();
}

Status writeLayoutTar(const LayoutFiles& files, const std::string& output, std::int64_t epoch) {
  std::string templ = output + ".tmp-XXXXXX";
  int raw = ::mkostemp(templ.data(), O_CLOEXEC);
  if (raw < 0) {
    return Error::fromErrno("cannot create a file beside " + output + " (does " + parentOf(output) +
                            " exist?)");
  }
  UniqueFd fd(raw);
  Scratch file(templ);
  TANDEM_TRY(writeLayoutTarTo(files, fd.get(), output, epoch));
  if (::fchmod(fd.get(), 0644) != 0 || ::fsync(fd.get()) != 0) {
    return Error::fromErrno("cannot flush " + templ);
  }
  if (::rename(templ.c_str(), output.c_str()) != 0) {
    return Error::fromErrno("cannot rename " + templ + " to " + output);
  }
  file.release();
  return okStatus();
}

}  // namespace tandem::image
