#include "vmm/volume_drives.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/folder_disk.h"
#include "common/log.h"
#include "common/unique_fd.h"

namespace tandem::vmm {

FolderVolumeCopies::~FolderVolumeCopies() {
  for (const std::string& path : paths_) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("{}", Error::fromErrno("cannot remove the volume copy " + path).describe());
    }
  }
}

Result<FolderVolumeCopies> FolderVolumeCopies::make(Workload& workload,
                                                    const std::string& directory) {
  FolderVolumeCopies copies;
  for (Volume& volume : workload.volumes) {
    struct stat st {};
    if (::stat(volume.source.c_str(), &st) != 0) {
      return Error::fromErrno("-v " + volume.text() + ": cannot find the host path " +
                              volume.source);
    }
    if (volume.kind == VolumeKind::kDisk) {
      if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        return Error("-v " + volume.text() +
                         ": a disk volume is a file holding ext4, or a block "
                         "device; " +
                         volume.source + " is neither",
                     EINVAL);
      }
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      return Error("-v " + volume.text() +
                       ": a microVM shares no files with its host; give the "
                       "folder that holds " +
                       volume.source +
                       ", read-only, or make it a disk "
                       "volume (a file holding ext4, with the option disk)",
                   EINVAL);
    }
    if (!volume.readOnly) {
      return Error("-v " + volume.text() +
                       ": a microVM shares no files with its host, so a "
                       "folder volume is a read-only copy made at start; add :ro, or give a disk "
                       "volume (a file holding ext4, with the option disk) for writes that reach "
                       "the host",
                   EINVAL);
    }
    std::string path = directory + "/volume-" + std::to_string(copies.paths_.size()) + ".ext4";
    TANDEM_ASSIGN_OR_RETURN(UniqueFd fd,
                            openPath(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    copies.paths_.push_back(path);
    TANDEM_TRY(writeFolderDisk({.folder = volume.source, .label = "tandem-volume"}, fd.get(), path)
                   .context("copying the folder volume " + volume.source));
    spdlog::debug("folder volume {} copied to {}", volume.source, path);
    volume = Volume{
        .source = path, .target = volume.target, .readOnly = true, .kind = VolumeKind::kDisk};
  }
  return copies;
}

std::string guestDiskName(std::size_t index) {
  // Linux names the 27th disk vdaa; kMaxDisks keeps well below that.
  return "/dev/vd" + std::string(1, static_cast<char>('a' + index));
}

Result<VolumeDrives> volumeDrives(const Workload& workload, std::size_t attached) {
  VolumeDrives drives;
  drives.guestWorkload = workload;
  for (Volume& volume : drives.guestWorkload.volumes) {
    if (volume.kind != VolumeKind::kDisk) {
      return Error("the folder volume " + volume.text() + " reached the microVM uncopied", EINVAL);
    }
    std::size_t index = attached + drives.disks.size();
    if (index >= kMaxDisks) {
      return Error("a microVM takes at most " + std::to_string(kMaxDisks) +
                       " disks, its root disk, --disk files and volumes together; this one has " +
                       std::to_string(attached + workload.volumes.size()),
                   EINVAL);
    }
    drives.disks.push_back(DiskSpec{.path = volume.source, .readOnly = volume.readOnly});
    volume.source = guestDiskName(index);
  }
  return drives;
}

}  // namespace tandem::vmm
