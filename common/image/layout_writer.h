// Writing an OCI image layout (image-spec, image-layout.md): oci-layout, index.json, the blobs
// under blobs/sha256/, and optionally a docker `manifest.json` beside them, as `docker save` has
// written since 25.0 so that tools that only know the older archive read it too. The output is a
// new folder or a tar of one; either appears complete or not at all. tandem-mkimage and
// `tandem save` both write through here, so there is one reproducible tar layout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/image/digest.h"
#include "common/image/oci.h"
#include "common/image/reference.h"
#include "common/result.h"

namespace tandem::image {

inline constexpr std::string_view kOciLayoutFile = R"({"imageLayoutVersion":"1.0.0"})";

// A file or folder beside an output, removed when this is destroyed unless release()d: whatever
// way a write fails, nothing half-written is left.
class Scratch {
 public:
  explicit Scratch(std::string path) : path_(std::move(path)) {}
  Scratch(Scratch&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  Scratch& operator=(Scratch&&) = delete;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch();

  // A new, empty folder <output>.tmp-XXXXXX (mode 0700 until published).
  static Result<Scratch> folderBeside(const std::string& output);

  const std::string& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

struct LayoutBlob {
  Digest digest;
  std::string source;  // a file holding exactly the blob's bytes
};

struct LayoutFiles {
  Index index;
  std::optional<std::string> dockerManifest;  // manifest.json, when set
  // In any order; a digest listed twice is written once.
  std::vector<LayoutBlob> blobs;
};

// "blobs/sha256/<hex>": where a layout keeps a blob, relative to its root.
std::string layoutBlobName(const Digest& digest);

// The index.json entry that names `manifest` `name`: the full reference in both annotations,
// since tandem load and containerd read the whole of it, and umoci and skopeo's oci: transport
// find an image by the ref.name they are given, which may hold a ':'.
Descriptor namedIndexEntry(Descriptor manifest, const std::optional<Reference>& name);

// A new folder at `output`, refused if anything is there already. Blobs are hard-linked from
// their sources where the filesystem allows it, copied otherwise.
Status writeLayoutFolder(const LayoutFiles& files, const std::string& output);

// A tar replacing `output`, made beside it and renamed into place once flushed. Every entry is
// owned by 0:0 with `epoch` as mtime, in a fixed order (oci-layout, index.json, manifest.json,
// blobs/, blobs/sha256/, the blobs by digest), so the same files give the same bytes.
Status writeLayoutTar(const LayoutFiles& files, const std::string& output, std::int64_t epoch);
// The same tar, written to an open fd (stdout); `shownAs` names it in errors.
Status writeLayoutTarTo(const LayoutFiles& files, int fd, const std::string& shownAs,
                        std::int64_t epoch);

}  // namespace tandem::image
