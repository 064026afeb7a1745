#include "common/volume.h"

#include "common/split.h"

namespace tandem {
namespace {

// The target as the workload will name it: "/a//b/./c/" is "/a/b/c". ".." is refused rather
// than resolved, since what it climbs out of is only known inside the workload's root.
Result<std::string> cleanTarget(std::string_view target, std::string_view text) {
  if (!target.starts_with('/')) {
    return Error("-v \"" + std::string(text) + "\": the path inside the workload, \"" +
                     std::string(target) + "\", must be absolute",
                 EINVAL);
  }
  std::string clean;
  for (std::string_view part : splitFields(target, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return Error("-v \"" + std::string(text) + "\": the path inside the workload may not " +
                       "contain \"..\"",
                   EINVAL);
    }
    clean += "/";
    clean += part;
  }
  if (clean.empty()) {
    return Error("-v \"" + std::string(text) + "\": a volume cannot replace the root \"/\"; " +
                     "mount it on a folder below it",
                 EINVAL);
  }
  return clean;
}

}  // namespace

std::string Volume::text() const {
  std::string options = readOnly ? "ro" : "rw";
  if (kind == VolumeKind::kDisk) options += ",disk";
  return source + ":" + target + ":" + options;
}

Result<Volume> parseVolume(std::string_view text) {
  auto fields = splitFields(text, ':');
  if (fields.size() < 2 || fields.size() > 3) {
    return Error("-v \"" + std::string(text) +
                     "\" is not a volume; use HOST:PATH[:ro|rw][,disk] with absolute paths "
                     "(a path holding ':' cannot be given; link to it from one that does not)",
                 EINVAL);
  }
  Volume volume;
  if (!fields[0].starts_with('/')) {
    return Error("-v \"" + std::string(text) + "\": the host path \"" + std::string(fields[0]) +
                     "\" must be absolute (tandem has no named volumes)",
                 EINVAL);
  }
  volume.source = std::string(fields[0]);
  TANDEM_ASSIGN_OR_RETURN(volume.target, cleanTarget(fields[1], text));
  if (fields.size() == 3) {
    bool modeGiven = false;
    for (std::string_view option : splitFields(fields[2], ',')) {
      if ((option == "ro" || option == "rw") && !modeGiven) {
        volume.readOnly = option == "ro";
        modeGiven = true;
      } else if (option == "disk" && volume.kind != VolumeKind::kDisk) {
        volume.kind = VolumeKind::kDisk;
      } else {
        return Error("-v \"" + std::string(text) + "\": unknown or repeated option \"" +
                         std::string(option) + "\"; the options are ro or rw, and disk",
                     EINVAL);
      }
    }
  }
  return volume;
}

}  // namespace tandem
