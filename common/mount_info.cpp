#include "common/mount_info.h"

#include "common/file.h"
#include "common/split.h"

namespace tandem {

std::string unescapeMountField(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      auto octal = field.substr(i + 1, 3);
      if (octal.find_first_not_of("01234567") == std::string_view::npos) {
        out.push_back(
            static_cast<char>((octal[0] - '0') * 64 + (octal[1] - '0') * 8 + (octal[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

std::vector<MountInfoEntry> parseMountInfo(std::string_view mountinfo) {
  std::vector<MountInfoEntry> mounts;
  for (std::string_view line : splitFields(mountinfo, '\n')) {
    std::vector<std::string_view> fields;
    for (std::string_view field : splitFields(line, ' ')) {
      if (!field.empty()) fields.push_back(field);
    }
    std::size_t dash = 0;
    while (dash < fields.size() && fields[dash] != "-") {
      ++dash;
    }
    if (dash < 6 || dash + 3 >= fields.size()) {
      continue;
    }
    mounts.push_back({unescapeMountField(fields[4]), std::string(fields[dash + 1]),
                      std::string(fields[dash + 3])});
  }
  return mounts;
}

Result<std::vector<MountInfoEntry>> readMountInfo() {
  TANDEM_ASSIGN_OR_RETURN(std::string text, readFile("/proc/self/mountinfo"));
  return parseMountInfo(text);
}

}  // namespace tandem
