#include "common/image/layout_source.h"

#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

#include <spdlog/spdlog.h>
#include "common/file.h"
#include "common/image/layer_paths.h"
#include "common/image/tar_reader.h"

namespace tandem::image {

namespace {

// Symlinks inside an archive are followed at most this deep, as the kernel's own limit.
constexpr int kMaxLinkDepth = 40;

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// `target` of a symlink at `linkPath`, as a path from the archive's root, or "" if it leaves
// the archive or is absolute: archives are moved between machines, so an absolute link means
// nothing inside one.
std::string resolveLinkTarget(const std::string& linkPath, std::string_view target) {
  if (target.empty() || target.front() == '/') {
    return "";
  }
  std::vector<std::string> parts;
  auto dir = splitParent(linkPath).parent;
  for (std::string_view text : {dir, target}) {
    std::size_t start = 0;
    while (start <= text.size()) {
      auto end = text.find('/', start);
      auto part = text.substr(start, end == std::string_view::npos ? end : end - start);
      if (part == "..") {
        if (parts.empty()) {
          return "";
        }
        parts.pop_back();
      } else if (!part.empty() && part != ".") {
        parts.emplace_back(part);
      }
      if (end == std::string_view::npos) {
        break;
      }
      start = end + 1;
    }
  }
  std::string out;
  for (const auto& part : parts) {
    out += (out.empty() ? "" : "/") + part;
  }
  return out;
}

Result<UniqueFd> openBeneath(int dirFd, const std::string& name, const std::string& shownAs) {
  struct open_how how {};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, dirFd, name.c_str(), &how, sizeof how));
  if (fd < 0) {
    if (errno == EXDEV) {
      return Error("the image names " + shownAs + ", which leads outside it through a symlink");
    }
    return Error::fromErrno("cannot open " + shownAs);
  }
  UniqueFd file(fd);
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) {
    return Error::fromErrno("cannot stat " + shownAs);
  }
  if (!S_ISREG(info.st_mode)) {
    return Error(shownAs + " is not a regular file");
  }
  return file;
}

}  // namespace

Result<LayoutSource> LayoutSource::open(const std::string& path, const std::string& scratchParent) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, openPath(path, O_RDONLY | O_CLOEXEC | O_NOCTTY));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    return Error::fromErrno("cannot stat " + path);
  }
  LayoutSource source;
  source.path_ = path;
  if (S_ISDIR(info.st_mode)) {
    source.folder_ = std::move(fd);
    return source;
  }
  if (!S_ISREG(info.st_mode)) {
    return Error(path + " is neither a folder nor an archive file");
  }
  TANDEM_TRY(makeDirectories(scratchParent, 0700));
  std::string templ = scratchParent + "/import-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return Error::fromErrno("cannot make a scratch folder under " + scratchParent);
  }
  source.scratch_ = templ;
  TANDEM_ASSIGN_OR_RETURN(source.folder_,
                          openPath(source.scratch_, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  TANDEM_TRY(source.copyOutOfArchive(fd.get()));
  return source;
}

LayoutSource::~LayoutSource() {
  if (scratch_.empty()) {
    return;
  }
  if (auto status = removeTree(scratch_); !status.ok()) {
    spdlog::warn("cannot remove the import scratch folder {}: {}", scratch_,
                 status.error().describe());
  }
}

Status LayoutSource::copyOutOfArchive(int archiveFd) {
  TANDEM_ASSIGN_OR_RETURN(ArchiveReader reader, openTarStream(archiveFd, path_));
  std::map<std::string, std::string> symlinks;
  std::map<std::string, std::string> hardlinks;
  std::size_t count = 0;
  for (;;) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(reader.get(), &entry);
    if (rc == ARCHIVE_EOF) {
      break;
    }
    if (rc < ARCHIVE_WARN) {
      return archiveError(reader.get(), path_ + " is truncated or corrupt");
    }
    const char* raw = archive_entry_pathname(entry);
    auto name = cleanEntryPath(raw != nullptr ? raw : "");
    if (!name.ok()) {
      return std::move(name).error().context("image archive " + path_);
    }
    if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
      TANDEM_ASSIGN_OR_RETURN(std::string target, cleanEntryPath(link));
      hardlinks[*name] = target;
      continue;
    }
    auto type = archive_entry_filetype(entry);
    if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      symlinks[*name] = resolveLinkTarget(*name, target != nullptr ? target : "");
      continue;
    }
    if (type != AE_IFREG) {
      continue;  // folders and anything else carry no image content
    }
    std::string local = std::to_string(count++);
    TANDEM_ASSIGN_OR_RETURN(UniqueFd out, openPath(scratch_ + "/" + local,
                                                   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    for (;;) {
      const void* block = nullptr;
      std::size_t size = 0;
      la_int64_t offset = 0;
      int data = archive_read_data_block(reader.get(), &block, &size, &offset);
      if (data == ARCHIVE_EOF) {
        break;
      }
      if (data < ARCHIVE_WARN) {
        return archiveError(reader.get(), path_ + " is truncated or corrupt in " + quoted(*name));
      }
      if (::pwrite(out.get(), block, size, offset) != static_cast<ssize_t>(size)) {
        return Error::fromErrno("cannot copy " + quoted(*name) + " of " + path_ + " to " +
                                scratch_);
      }
    }
    archived_[*name] = local;
  }
  for (const auto& [name, target] : hardlinks) {
    if (auto it = archived_.find(target); it != archived_.end()) {
      archived_[name] = it->second;
    }
  }
  for (const auto& [name, first] : symlinks) {
    std::string target = first;
    for (int depth = 0; depth < kMaxLinkDepth && !target.empty(); ++depth) {
      if (auto it = archived_.find(target); it != archived_.end()) {
        archived_[name] = it->second;
        break;
      }
      auto next = symlinks.find(target);
      target = next == symlinks.end() ? "" : next->second;
    }
  }
  return {};
}

bool LayoutSource::has(std::string_view name) const {
  auto cleaned = cleanEntryPath(name);
  if (!cleaned.ok()) {
    return false;
  }
  if (scratch_.empty()) {
    return openBeneath(folder_.get(), *cleaned, *cleaned).ok();
  }
  return archived_.contains(*cleaned);
}

Result<UniqueFd> LayoutSource::openFile(std::string_view name) const {
  auto cleaned = cleanEntryPath(name);
  if (!cleaned.ok()) {
    return std::move(cleaned).error().context("image " + path_);
  }
  std::string shownAs = quoted(*cleaned) + " in " + path_;
  if (scratch_.empty()) {
    return openBeneath(folder_.get(), *cleaned, shownAs);
  }
  auto it = archived_.find(*cleaned);
  if (it == archived_.end()) {
    return Error("the image archive " + path_ + " has no file " + quoted(*cleaned), ENOENT);
  }
  return openBeneath(folder_.get(), it->second, shownAs);
}

Result<std::string> LayoutSource::readDocument(std::string_view name, std::size_t maxBytes) const {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, openFile(name));
  TANDEM_ASSIGN_OR_RETURN(std::uint64_t size, regularFileSize(fd.get(), std::string(name)));
  if (size > maxBytes) {
    return Error(quoted(name) + " in " + path_ + " is " + std::to_string(size) +
                 " bytes; documents over " + std::to_string(maxBytes) + " bytes are refused");
  }
  return readFile(fd.get(), std::string(name));
}

}  // namespace tandem::image
