// A host file attached to a loop device, so that a container can mount the filesystem it holds
// (a disk volume). The device is attached with autoclear: it lets go of the file once its last
// mount is gone and this object is closed, so a crashed runtime or a container that ended leaves
// no attached device behind.
#pragma once

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem::container {

class LoopDevice {
 public:
  static Result<LoopDevice> attach(const std::string& file, bool readOnly);

  const std::string& path() const { return path_; }

 private:
  LoopDevice(UniqueFd device, std::string path)
      : device_(std::move(device)), path_(std::move(path)) {}

  UniqueFd device_;
  std::string path_;
};

}  // namespace tandem::container
