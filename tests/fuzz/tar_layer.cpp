// Image layers as a registry serves them: two tars (or gzip, zstd or xz streams) unpacked one
// over the other into a fresh folder, whiteouts applied, as a microVM's rootfs is flattened.
// Nothing may land outside the folder: a sibling folder that no entry can name legitimately
// must stay empty, and the folder's parent must hold nothing else.
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "common/file.h"
#include "common/image/layer_unpack.h"
#include "common/unique_fd.h"
#include "tests/fuzz/fuzz_input.h"

using namespace tandem;

namespace {

// A folder under /tmp for this process's runs, removed at its exit.
struct WorkFolder {
  std::string path;
  WorkFolder() {
    char templ[] = "/tmp/tandem-fuzz-tar-XXXXXX";
    fuzzCheck(::mkdtemp(templ) != nullptr, "a work folder can be made under /tmp");
    path = templ;
  }
  ~WorkFolder() { (void)removeTree(path); }
};

const std::string& workFolder() {
  static const WorkFolder folder;
  return folder.path;
}

std::size_t entriesIn(const std::string& path) {
  std::size_t count = 0;
  if (DIR* dir = ::opendir(path.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      count += (name != "." && name != "..") ? 1 : 0;
    }
    ::closedir(dir);
  }
  return count;
}

void unpack(std::span<const std::uint8_t> layer, const std::string& name, int rootFd,
            const std::string& rootPath, const image::LayerUnpackOptions& options) {
  UniqueFd file(::memfd_create("fuzz-layer", MFD_CLOEXEC));
  fuzzCheck(file.valid(), "a memfd holds the layer");
  fuzzCheck(writeAll(file.get(), layer, "the layer's memfd").ok() &&
                ::lseek(file.get(), 0, SEEK_SET) == 0,
            "the layer is written to its memfd");
  (void)image::unpackLayer(file.get(), name, rootFd, rootPath, options);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput input(data, size);
  image::LayerUnpackOptions options;
  options.skipDeviceNodes = input.take<std::uint8_t>() & 1;
  std::size_t split = input.take<std::uint16_t>();
  auto lower = input.bytes(split);
  auto upper = input.rest();

  const std::string& work = workFolder();
  std::string root = work + "/root";
  std::string sibling = work + "/sibling";
  fuzzCheck(makeDirectories(root).ok() && makeDirectories(sibling).ok(),
            "the layer folders can be made");
  {
    UniqueFd rootFd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    fuzzCheck(rootFd.valid(), "the root folder opens");
    unpack(lower, "lower", rootFd.get(), root, options);
    unpack(upper, "upper", rootFd.get(), root, options);
  }
  fuzzCheck(entriesIn(sibling) == 0, "nothing is written beside the root");
  fuzzCheck(entriesIn(work) == 2, "nothing is written beside the root's folder");
  fuzzCheck(removeTree(root).ok() && removeTree(sibling).ok(), "the layer folders are removed");
  return 0;
}
