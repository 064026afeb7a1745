// How a microVM's volumes (common/volume.h) become virtio-blk drives. A microVM shares no
// filesystem with its host, so:
// - a disk volume's file is attached as a drive, as --disk attaches one, and the guest's init
//   mounts its ext4 on the volume's path;
// - a folder volume is copied onto an ext4 disk in the microVM's state folder when it starts,
//   and shown read-only: writes could never reach the folder. A single host file cannot be a
//   bind volume; its folder can.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "common/workload.h"
#include "vmm/disk_spec.h"

namespace tandem::vmm {

// The copies of a workload's folder volumes, removed when this goes.
class FolderVolumeCopies {
 public:
  FolderVolumeCopies() = default;
  FolderVolumeCopies(FolderVolumeCopies&& other) noexcept : paths_(std::move(other.paths_)) {
    other.paths_.clear();
  }
  FolderVolumeCopies& operator=(FolderVolumeCopies&&) = delete;
  ~FolderVolumeCopies();

  // Copies each folder volume of `workload` to <directory>/volume-N.ext4 and makes it a disk
  // volume of that copy. Refuses a writable folder volume and a file bind volume, and a disk
  // volume whose file is not a regular file or block device, naming the way forward.
  static Result<FolderVolumeCopies> make(Workload& workload, const std::string& directory);

 private:
  std::vector<std::string> paths_;
};

// The guest's name for the drive at `index` among a microVM's disks: /dev/vda, /dev/vdb, ...
std::string guestDiskName(std::size_t index);

struct VolumeDrives {
  std::vector<DiskSpec> disks;  // to attach after the disks already there
  Workload guestWorkload;       // the workload with each volume's source naming its drive
};

// Drives for the workload's volumes, all disk volumes by now (FolderVolumeCopies), numbered
// after the `attached` disks the microVM already has; at most kMaxDisks in all.
Result<VolumeDrives> volumeDrives(const Workload& workload, std::size_t attached);

}  // namespace tandem::vmm
