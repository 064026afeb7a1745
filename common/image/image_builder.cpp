#include "common/image/image_builder.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <utility>

#include "common/file.h"
#include "common/image/layer_writer.h"

namespace tandem::image {

namespace {

constexpr std::string_view kOciLayoutFile = R"({"imageLayoutVersion":"1.0.0"})";

// A folder or file beside the output, removed unless the build finished with it.
class Scratch {
 public:
  explicit Scratch(std::string path) : path_(std::move(path)) {}
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (!path_.empty()) {
      (void)removeTree(path_);
    }
  }
  const std::string& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

std::string parentOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

struct ArchiveWriteFree {
  void operator()(archive* writer) const { archive_write_free(writer); }
};
struct ArchiveEntryFree {
  void operator()(archive_entry* entry) const { archive_entry_free(entry); }
};

Status writeBlob(const std::string& layout, const Digest& digest, std::string_view bytes) {
  return writeFile(layout + "/blobs/sha256/" + digest.hex(), bytes, 0644);
}

struct LayerBlob {
  Descriptor descriptor;
  Digest diffId;
};

Result<LayerBlob> writeLayer(const std::string& layout, const std::string& folder,
                             std::size_t position, const LayerWriteOptions& options) {
  std::string partial = layout + "/blobs/sha256/layer-" + std::to_string(position) + ".partial";
  WrittenLayer written;
  {
    TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, openPath(partial, O_WRONLY | O_CREAT | O_EXCL, 0644));
    TANDEM_ASSIGN_OR_RETURN(written, writeFolderLayer(folder, fd.get(), options));
  }
  // Two identical folders make one blob, listed twice.
  if (::rename(partial.c_str(), (layout + "/blobs/sha256/" + written.blob.hex()).c_str()) != 0) {
    return Error::fromErrno("cannot name the layer blob of " + folder);
  }
  LayerBlob layer;
  layer.descriptor.mediaType = std::string(media_type::kOciLayerGzip);
  layer.descriptor.digest = written.blob;
  layer.descriptor.size = static_cast<std::int64_t>(written.blobSize);
  layer.diffId = written.diffId;
  return layer;
}

// The layout's files in a fixed order, each owned by 0:0 with the epoch as mtime, so that the
// tar is as reproducible as its blobs.
Status tarLayout(const std::string& layout, const std::vector<Digest>& blobs, int outFd,
                 std::int64_t epoch, const std::string& output) {
  std::unique_ptr<archive, ArchiveWriteFree> writer(archive_write_new());
  if (!writer || archive_write_set_format_pax_restricted(writer.get()) != ARCHIVE_OK ||
      archive_write_open_fd(writer.get(), outFd) != ARCHIVE_OK) {
    return Error("cannot start writing " + output);
  }
  auto add = [&](const std::string& name, bool directory) -> Status {
    std::unique_ptr<archive_entry, ArchiveEntryFree> entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_mode(entry.get(), directory ? (S_IFDIR | 0755) : (S_IFREG | 0644));
    archive_entry_set_mtime(entry.get(), epoch, 0);
    std::string content;
    if (!directory) {
      TANDEM_ASSIGN_OR_RETURN(content, readFile(layout + "/" + name));
      archive_entry_set_size(entry.get(), static_cast<la_int64_t>(content.size()));
    }
    if (archive_write_header(writer.get(), entry.get()) != ARCHIVE_OK ||
        (!content.empty() && archive_write_data(writer.get(), content.data(), content.size()) !=
                                 static_cast<la_ssize_t>(content.size()))) {
      return Error("cannot write " + name + " into " + output + ": " +
                   archive_error_string(writer.get()));
    }
    return okStatus();
  };
  TANDEM_TRY(add("oci-layout", false));
  TANDEM_TRY(add("index.json", false));
  TANDEM_TRY(add("blobs", true));
  TANDEM_TRY(add("blobs/sha256", true));
  for (const auto& digest : blobs) {
    TANDEM_TRY(add("blobs/sha256/" + digest.hex(), false));
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) {
    return Error("cannot finish " + output + ": " + archive_error_string(writer.get()));
  }
  return okStatus();
}

Status publishTar(const std::string& layout, const std::vector<Digest>& blobs,
                  const std::string& output, std::int64_t epoch) {
  std::string templ = output + ".tmp-XXXXXX";
  int raw = ::mkostemp(templ.data(), O_CLOEXEC);
  if (raw < 0) {
    return Error::fromErrno("cannot create a file beside " + output);
  }
  UniqueFd fd(raw);
  Scratch file(templ);
  TANDEM_TRY(tarLayout(layout, blobs, fd.get(), epoch, output));
  if (::fchmod(fd.get(), 0644) != 0 || ::fsync(fd.get()) != 0) {
    return Error::fromErrno("cannot flush " + templ);
  }
  if (::rename(templ.c_str(), output.c_str()) != 0) {
    return Error::fromErrno("cannot rename " + templ + " to " + output);
  }
  file.release();
  return okStatus();
}

}  // namespace

std::string rfc3339(std::int64_t seconds) {
  time_t time = static_cast<time_t>(seconds);
  struct tm parts {};
  ::gmtime_r(&time, &parts);
  char text[32];
  std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return std::string(text, length);
}

Result<BuiltImage> buildImage(const ImageBuildSpec& spec, const std::string& output,
                              LayoutFormat format) {
  if (spec.layerFolders.empty()) {
    return Error("an image needs at least one layer folder", EINVAL);
  }
  if (spec.layerFolders.size() > kMaxLayers) {
    return Error("an image can have at most " + std::to_string(kMaxLayers) + " layers", EINVAL);
  }
  if (format == LayoutFormat::kFolder && pathExists(output)) {
    return Error(output + " exists already; remove it or choose another output", EEXIST);
  }
  std::string templ = output + ".tmp-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return Error::fromErrno("cannot create a folder beside " + output + " (does " +
                            parentOf(output) + " exist?)");
  }
  Scratch layout(templ);
  TANDEM_TRY(makeDirectories(layout.path() + "/blobs/sha256"));

  BuiltImage built;
  LayerWriteOptions layerOptions{.epoch = spec.epoch, .rootOwned = spec.rootOwned};
  for (std::size_t i = 0; i < spec.layerFolders.size(); ++i) {
    TANDEM_ASSIGN_OR_RETURN(LayerBlob layer,
                            writeLayer(layout.path(), spec.layerFolders[i], i, layerOptions));
    built.layers.push_back(std::move(layer.descriptor));
    built.diffIds.push_back(layer.diffId);
  }

  ImageConfig config;
  config.platform = hostPlatform();
  config.created = rfc3339(spec.epoch);
  config.defaults = spec.defaults;
  config.diffIds = built.diffIds;
  std::string configBytes = serializeImageConfig(config);
  built.config = Digest::ofText(configBytes);
  TANDEM_TRY(writeBlob(layout.path(), built.config, configBytes));

  Manifest manifest;
  manifest.mediaType = std::string(media_type::kOciManifest);
  manifest.config.mediaType = std::string(media_type::kOciConfig);
  manifest.config.digest = built.config;
  manifest.config.size = static_cast<std::int64_t>(configBytes.size());
  manifest.layers = built.layers;
  std::string manifestBytes = serializeManifest(manifest);
  built.manifest.mediaType = manifest.mediaType;
  built.manifest.digest = Digest::ofText(manifestBytes);
  built.manifest.size = static_cast<std::int64_t>(manifestBytes.size());
  built.manifest.platform = config.platform;
  TANDEM_TRY(writeBlob(layout.path(), built.manifest.digest, manifestBytes));

  Index index;
  index.mediaType = std::string(media_type::kOciIndex);
  Descriptor entry = built.manifest;
  if (spec.tag) {
    entry.annotations[std::string(annotation::kRefName)] = spec.tag->text();
    entry.annotations[std::string(annotation::kContainerdName)] = spec.tag->text();
  }
  index.manifests.push_back(std::move(entry));
  TANDEM_TRY(writeFile(layout.path() + "/index.json", serializeIndex(index)));
  TANDEM_TRY(writeFile(layout.path() + "/oci-layout", kOciLayoutFile));

  if (format == LayoutFormat::kFolder) {
    if (::chmod(layout.path().c_str(), 0755) != 0 ||
        ::rename(layout.path().c_str(), output.c_str()) != 0) {
      return Error::fromErrno("cannot rename " + layout.path() + " to " + output);
    }
    layout.release();
    return built;
  }
  std::vector<Digest> blobs = {built.config, built.manifest.digest};
  for (const auto& layer : built.layers) {
    blobs.push_back(layer.digest);
  }
  std::sort(blobs.begin(), blobs.end());
  blobs.erase(std::unique(blobs.begin(), blobs.end()), blobs.end());
  TANDEM_TRY(publishTar(layout.path(), blobs, output, spec.epoch));
  return built;
}

}  // namespace tandem::image
