// The image verbs: tandem images, rmi, load, save, and tandem image
// ls|rm|inspect|prune|load|save|unpack, with docker's output where docker has one.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/file.h"
#include "common/image/blob_store.h"
#include "common/image/image_disk.h"
#include "common/image/image_export.h"
#include "common/image/image_import.h"
#include "common/image/image_index.h"
#include "common/image/image_rootfs.h"
#include "common/process.h"
#include "common/size.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/embedded_image.h"
#include "tools/tandem/verb_options.h"

namespace po = boost::program_options;

namespace tandem::cli {

namespace {

using image::BlobStore;
using image::ImageIndex;
using image::ImageRecord;

struct Store {
  BlobStore blobs;
  ImageIndex index;
};

Result<Store> openStore(const GlobalOptions& global) {
  TANDEM_ASSIGN_OR_RETURN(BlobStore blobs, BlobStore::create(global.stateRoot));
  TANDEM_ASSIGN_OR_RETURN(ImageIndex index, ImageIndex::open(global.stateRoot));
  return Store{std::move(blobs), std::move(index)};
}

std::string ago(std::int64_t seconds) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  auto elapsed = now - seconds;
  struct Unit {
    std::int64_t seconds;
    const char* name;
  };
  for (Unit unit : {Unit{86400, "day"}, Unit{3600, "hour"}, Unit{60, "minute"}}) {
    if (elapsed >= unit.seconds) {
      auto count = elapsed / unit.seconds;
      return std::to_string(count) + " " + unit.name + (count == 1 ? "" : "s") + " ago";
    }
  }
  return "seconds ago";
}

std::string padded(std::string text, std::size_t width) {
  if (text.size() < width) {
    text.append(width - text.size(), ' ');
  }
  return text + "  ";
}

// Parses the options of a verb that takes IMAGE... after them, into vm["image"]. Answers an exit
// code when the verb should stop: after --help, or without an image.
std::optional<int> parseImageVerb(const std::vector<std::string>& args,
                                  po::options_description& options, const std::string& verb,
                                  po::variables_map& vm) {
  options.add_options()("image", po::value<std::vector<std::string>>(), "images");
  po::positional_options_description positional;
  positional.add("image", -1);
  if (auto code = parseVerbOptions(args, options, positional, vm)) {
    return code;
  }
  if (!vm.count("image")) {
    return fail(Error(verb + " needs at least one image"));
  }
  return std::nullopt;
}

int listImages(const GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description options("tandem images [OPTIONS]");
  options.add_options()("help,h", "show this help")("quiet,q", po::bool_switch(), "only image ids")(
      "digests", po::bool_switch(), "show manifest digests")("no-trunc", po::bool_switch(),
                                                             "full image ids");
  po::variables_map vm;
  if (auto code = parseVerbOptions(args, options, {}, vm)) {
    return *code;
  }
  auto store = openStore(global);
  if (!store) {
    return fail(store.error());
  }
  auto images = store->index.listImages();
  if (!images) {
    return fail(images.error());
  }
  bool full = vm["no-trunc"].as<bool>();
  auto idOf = [&](const ImageRecord& record) {
    return full ? record.id.text() : record.id.shortId();
  };
  if (vm["quiet"].as<bool>()) {
    for (const auto& record : *images) {
      std::cout << idOf(record) << "\n";
    }
    return 0;
  }
  bool digests = vm["digests"].as<bool>();
  std::cout << padded("REPOSITORY", 40) << padded("TAG", 16)
            << (digests ? padded("DIGEST", 71) : "") << padded("IMAGE ID", 12)
            << padded("CREATED", 16) << "SIZE\n";
  for (const auto& record : *images) {
    std::vector<std::pair<std::string, std::string>> names;
    for (const auto& tag : record.tags) {
      std::string familiar = tag.familiar();
      names.emplace_back(familiar.substr(0, familiar.rfind(':')), tag.tag);
    }
    if (names.empty()) {
      names.emplace_back("<none>", "<none>");
    }
    for (const auto& [repository, tag] : names) {
      std::cout << padded(repository, 40) << padded(tag, 16)
                << (digests ? padded(record.manifestDigest.text(), 71) : "")
                << padded(idOf(record), 12) << padded(ago(record.createdAt), 16)
                << formatSize(record.size) << "\n";
    }
  }
  return 0;
}

Result<ImageRecord> findImage(ImageIndex& index, const std::string& text) {
  TANDEM_ASSIGN_OR_RETURN(auto found, index.find(text));
  if (!found) {
    return Error("no such image: " + text +
                     " (tandem images lists them; tandem pull or tandem "
                     "load adds one)",
                 ENOENT);
  }
  return *found;
}

struct FoundImage {
  Store store;
  ImageRecord record;
};

// The store, and the image in it that `text` names, for the verbs that act on one image.
Result<FoundImage> openImage(const GlobalOptions& global, const std::string& text) {
  TANDEM_ASSIGN_OR_RETURN(Store store, openStore(global));
  auto record = findImage(store.index, text);
  if (!record) {
    // The embedded busybox image loads on first use here too, as for tandem run.
    TANDEM_ASSIGN_OR_RETURN(auto embedded, loadEmbeddedImage(text, store.blobs, store.index));
    if (!embedded) {
      return std::move(record).error();
    }
    record = std::move(*embedded);
  }
  return FoundImage{std::move(store), std::move(record).value()};
}

int removeImages(const GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description options("tandem rmi [OPTIONS] IMAGE...");
  options.add_options()("help,h", "show this help")(
      "force,f", po::bool_switch(), "remove an image even if several repositories tag it");
  po::variables_map vm;
  if (auto code = parseImageVerb(args, options, "tandem rmi", vm)) {
    return *code;
  }
  auto store = openStore(global);
  if (!store) {
    return fail(store.error());
  }
  int status = 0;
  for (const auto& text : vm["image"].as<std::vector<std::string>>()) {
    // A tag that is not the image's last one only loses the tag, as in docker.
    auto reference = image::parseReference(text);
    auto record = findImage(store->index, text);
    if (!record) {
      status = fail(record.error());
      continue;
    }
    bool byTag =
        reference && !reference->digest && record->tags.size() > 1 && !vm["force"].as<bool>();
    if (byTag) {
      if (auto untagged = store->index.untag(*reference); untagged) {
        std::cout << "Untagged: " << reference->familiar() << "\n";
        continue;
      }
    }
    for (const auto& tag : record->tags) {
      std::cout << "Untagged: " << tag.familiar() << "\n";
    }
    if (auto removed = store->index.removeImage(record->id, vm["force"].as<bool>()); !removed) {
      status = fail(removed.error());
      continue;
    }
    (void)removeTree(global.stateRoot + "/flat/" + record->id.hex());
    ::unlink(image::imageDiskPath(global.stateRoot, record->id).c_str());
    std::cout << "Deleted: " << record->id.text() << "\n";
  }
  return status;
}

nlohmann::json inspectJson(const ImageRecord& record, const BlobStore& blobs) {
  nlohmann::json tags = nlohmann::json::array();
  for (const auto& tag : record.tags) {
    tags.push_back(tag.familiar());
  }
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& layer : record.layers) {
    layers.push_back(layer.diffId.text());
  }
  nlohmann::json out = {{"Id", record.id.text()},
                        {"RepoTags", tags},
                        {"ManifestDigest", record.manifestDigest.text()},
                        {"Platform", record.platform},
                        {"Size", record.size},
                        {"RootFS", {{"Type", "layers"}, {"Layers", layers}}}};
  if (record.indexDigest) {
    out["IndexDigest"] = record.indexDigest->text();
  }
  // The config as the image has it: Entrypoint, Cmd, Env and the rest, unreformatted.
  if (auto fd = blobs.open(record.id); fd) {
    if (auto text = readFile(fd->get(), blobs.path(record.id)); text) {
      auto config = nlohmann::json::parse(*text, nullptr, false);
      if (config.is_object()) {
        out["Created"] = config.value("created", "");
        out["Config"] = config.value("config", nlohmann::json::object());
      }
    }
  }
  return out;
}

int inspectImages(const GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description options("tandem image inspect IMAGE...");
  options.add_options()("help,h", "show this help");
  po::variables_map vm;
  if (auto code = parseImageVerb(args, options, "tandem image inspect", vm)) {
    return *code;
  }
  auto store = openStore(global);
  if (!store) {
    return fail(store.error());
  }
  nlohmann::json out = nlohmann::json::array();
  int status = 0;
  for (const auto& text : vm["image"].as<std::vector<std::string>>()) {
    auto record = findImage(store->index, text);
    if (!record) {
      status = fail(record.error());
      continue;
    }
    out.push_back(inspectJson(*record, store->blobs));
  }
  std::cout << out.dump(4) << "\n";
  return status;
}

int pruneImages(const GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description options("tandem image prune: remove what no image uses");
  options.add_options()("help,h", "show this help");
  po::variables_map vm;
  if (auto code = parseVerbOptions(args, options, {}, vm)) {
    return *code;
  }
  auto store = openStore(global);
  if (!store) {
    return fail(store.error());
  }
  auto report = store->index.garbageCollect(store->blobs);
  if (!report) {
    return fail(report.error());
  }
  for (const auto& folder : report->layerFoldersToRemove) {
    if (auto removed = removeTree(folder); !removed) {
      std::cerr << "tandem: " << removed.error().describe() << "\n";
    }
  }
  for (const auto& digest : report->removedBlobs) {
    std::cout << "deleted: " << digest.text() << "\n";
  }
  std::cout << "Total reclaimed space: " << formatSize(report->freedBytes) << "\n";
  return 0;
}

int unpackImageCommand(const GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description options("tandem image unpack IMAGE DIR: the image's files, flattened");
  options.add_options()("help,h", "show this help")("image", po::value<std::string>(), "image")(
      "target", po::value<std::string>(), "a folder that does not exist yet");
  po::positional_options_description positional;
  positional.add("image", 1).add("target", 1);
  po::variables_map vm;
  if (auto code = parseVerbOptions(args, options, positional, vm)) {
    return *code;
  }
  if (!vm.count("image") || !vm.count("target")) {
    return fail(Error("usage: tandem image unpack IMAGE DIR"));
  }
  auto found = openImage(global, vm["image"].as<std::string>());
  if (!found) {
    return fail(found.error());
  }
  if (auto status =
          image::unpackImage(found->record, found->store.blobs, vm["target"].as<std::string>());
      !status) {
    return fail(status.error());
  }
  return 0;
}

int diskImageCommand(const GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description options(
      "tandem image disk IMAGE: the image's files as an ext4 disk (made once, then reused); "
      "prints its path");
  options.add_options()("help,h", "show this help")("image", po::value<std::string>(), "image");
  po::positional_options_description positional;
  positional.add("image", 1);
  po::variables_map vm;
  if (auto code = parseVerbOptions(args, options, positional, vm)) {
    return *code;
  }
  if (!vm.count("image")) {
    return fail(Error("usage: tandem image disk IMAGE"));
  }
  auto found = openImage(global, vm["image"].as<std::string>());
  if (!found) {
    return fail(found.error());
  }
  auto disk = image::imageDisk(found->record, found->store.blobs);
  if (!disk) {
    return fail(disk.error());
  }
  std::cout << *disk << "\n";
  return 0;
}

int loadImages(const GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description options("tandem load -i ARCHIVE [OPTIONS]");
  options.add_options()("help,h", "show this help")(
      "input,i", po::value<std::string>(),
      "an OCI image layout (folder or tar) or a docker save archive")(
      "tag,t", po::value<std::vector<std::string>>()->composing(), "also tag the image so")(
      "platform", po::value<std::string>(),
      "OS/ARCH[/VARIANT] to take from a multi-platform "
      "image (default: this host's)");
  po::variables_map vm;
  if (auto code = parseVerbOptions(args, options, {}, vm)) {
    return *code;
  }
  if (!vm.count("input")) {
    return fail(Error("tandem load needs -i ARCHIVE (reading stdin is not supported)"));
  }
  image::ImportOptions importOptions;
  if (vm.count("platform")) {
    auto platform = image::parsePlatform(vm["platform"].as<std::string>());
    if (!platform) {
      return fail(platform.error());
    }
    importOptions.platform = *platform;
  }
  if (vm.count("tag")) {
    for (const auto& text : vm["tag"].as<std::vector<std::string>>()) {
      auto reference = image::parseReference(text);
      if (!reference) {
        return fail(reference.error());
      }
      importOptions.tags.push_back(*reference);
    }
  }
  auto store = openStore(global);
  if (!store) {
    return fail(store.error());
  }
  auto imported = image::importImageArchive(vm["input"].as<std::string>(), store->blobs,
                                            store->index, importOptions);
  if (!imported) {
    return fail(imported.error());
  }
  for (const auto& record : *imported) {
    if (record.tags.empty()) {
      std::cout << "Loaded image ID: " << record.id.text() << "\n";
    }
    for (const auto& tag : record.tags) {
      std::cout << "Loaded image: " << tag.familiar() << "\n";
    }
  }
  return 0;
}

// What `save IMAGE` records, as docker save does: the tag typed, or all of the image's tags when
// IMAGE is an id or a digest.
std::vector<image::Reference> namesToRecord(const std::string& text, const ImageRecord& record) {
  if (auto typed = image::parseReference(text); typed && !typed->digest) {
    for (const auto& tag : record.tags) {
      if (tag.text() == typed->text()) {
        return {tag};
      }
    }
  }
  return record.tags;
}

int saveImages(const GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description options("tandem save [-o FILE] [--format oci-archive|oci-dir] IMAGE...");
  options.add_options()("help,h", "show this help")(
      "output,o", po::value<std::string>(),
      "write to FILE (replaced) or, for oci-dir, to a new folder; stdout if absent")(
      "format", po::value<std::string>()->default_value("oci-archive"),
      "oci-archive: a tar of an OCI image layout with docker's manifest.json, as docker save "
      "writes; oci-dir: the same files in a folder");
  po::variables_map vm;
  if (auto code = parseImageVerb(args, options, "tandem save", vm)) {
    return *code;
  }
  const std::string& format = vm["format"].as<std::string>();
  bool folder = format == "oci-dir";
  if (!folder && format != "oci-archive") {
    return fail(Error("unknown --format \"" + format + "\"; use oci-archive or oci-dir"));
  }
  std::optional<std::string> output;
  if (vm.count("output")) {
    output = vm["output"].as<std::string>();
  }
  if (folder && !output) {
    return fail(Error("--format oci-dir needs -o DIR, a folder that does not exist yet"));
  }
  if (!output && ::isatty(STDOUT_FILENO)) {
    return fail(
        Error("cowardly refusing to write an archive to a terminal; use -o FILE or a "
              "redirect"));
  }
  auto store = openStore(global);
  if (!store) {
    return fail(store.error());
  }
  std::vector<image::ImageToExport> images;
  for (const auto& text : vm["image"].as<std::vector<std::string>>()) {
    auto record = findImage(store->index, text);
    if (!record) {
      return fail(record.error());
    }
    images.push_back({*record, namesToRecord(text, *record)});
  }
  auto files = image::exportImages(images, store->blobs);
  if (!files) {
    return fail(files.error());
  }
  // The archive's bytes depend only on the images and the names: every mtime is the epoch.
  constexpr std::int64_t kEpoch = 0;
  Status written = folder   ? image::writeLayoutFolder(*files, *output)
                   : output ? image::writeLayoutTar(*files, *output, kEpoch)
                            : image::writeLayoutTarTo(*files, STDOUT_FILENO, "stdout", kEpoch);
  if (!written) {
    return fail(written.error());
  }
  return 0;
}

}  // namespace

int imagesCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  return listImages(global, args);
}

int rmiCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  return removeImages(global, args);
}

int loadCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  return loadImages(global, args);
}

int saveCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  return saveImages(global, args);
}

int imageCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  constexpr const char* kUsage =
      "usage: tandem image ls|rm|inspect|prune|load|save|unpack|disk [ARGS...] (--help after "
      "each)\n";
  if (args.empty()) {
    std::cerr << kUsage;
    return kExitRuntimeError;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  const std::string& verb = args.front();
  if (verb == "ls" || verb == "list") return listImages(global, rest);
  if (verb == "rm") return removeImages(global, rest);
  if (verb == "inspect") return inspectImages(global, rest);
  if (verb == "prune") return pruneImages(global, rest);
  if (verb == "load") return loadImages(global, rest);
  if (verb == "save") return saveImages(global, rest);
  if (verb == "unpack") return unpackImageCommand(global, rest);
  if (verb == "disk") return diskImageCommand(global, rest);
  if (verb == "-h" || verb == "--help") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "tandem image: unknown command \"" << verb << "\"\n" << kUsage;
  return kExitRuntimeError;
}

}  // namespace tandem::cli
