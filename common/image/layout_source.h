// The files of an image archive as the importer reads them: an OCI image layout (a folder, or a
// tar of one) or a `docker save` archive. Names come from the archive's own documents
// (index.json, manifest.json), which are untrusted: every name is cleaned and can only reach a
// file inside the folder or the archive.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::image {

class LayoutSource {
 public:
  // A folder is read in place. A tar archive (plain, gzip, zstd or xz) is read once, its regular
  // files copied into a fresh folder under `scratchParent`, which the source removes when it is
  // destroyed; symlinks and hardlinks between its files (old `docker save` archives link
  // repeated layers) are followed inside the archive.
  static Result<LayoutSource> open(const std::string& path, const std::string& scratchParent);

  LayoutSource(LayoutSource&&) noexcept = default;
  LayoutSource& operator=(LayoutSource&&) noexcept = default;
  ~LayoutSource();

  const std::string& path() const { return path_; }
  bool has(std::string_view name) const;
  // A regular file of the layout, by its name relative to the layout's root.
  Result<UniqueFd> openFile(std::string_view name) const;
  // A small document (index.json, a config): refused beyond `maxBytes`.
  Result<std::string> readDocument(std::string_view name, std::size_t maxBytes) const;

 private:
  LayoutSource() = default;
  Status copyOutOfArchive(int archiveFd);

  std::string path_;
  UniqueFd folder_;      // the folder, or the scratch folder of a tar
  std::string scratch_;  // empty for a folder
  // tar only: cleaned name in the archive -> file name in the scratch folder
  std::map<std::string, std::string> archived_;
};

}  // namespace tandem::image
