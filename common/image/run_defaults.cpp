#include "common/image/run_defaults.h"

#include <string_view>

namespace tandem::image {

namespace {

std::string_view envName(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

// The image's environment, then the user's: a user entry replaces the image's of the same name.
std::vector<std::string> mergeEnv(const std::vector<std::string>& image,
                                  const std::vector<std::string>& user) {
  std::vector<std::string> merged = image;
  for (const auto& entry : user) {
    bool replaced = false;
    for (auto& existing : merged) {
      if (envName(existing) == envName(entry)) {
        existing = entry;
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      merged.push_back(entry);
    }
  }
  bool hasPath = false;
  for (const auto& entry : merged) {
    hasPath = hasPath || envName(entry) == "PATH";
  }
  if (!hasPath) {
    merged.insert(merged.begin(), kDefaultPath);
  }
  return merged;
}

}  // namespace

Status applyImageDefaults(const ContainerDefaults& image, const RunOverrides& given,
                          Workload& workload) {
  std::vector<std::string> command;
  if (given.entrypoint) {
    command = *given.entrypoint;
    command.insert(command.end(), given.args.begin(), given.args.end());
  } else {
    command = image.entrypoint;
    const auto& cmd = given.args.empty() ? image.cmd : given.args;
    command.insert(command.end(), cmd.begin(), cmd.end());
  }
  if (command.empty()) {
    return Error(
        "no command to run: the image sets neither Entrypoint nor Cmd; give one after the image "
        "name");
  }
  workload.command = std::move(command);
  workload.env = mergeEnv(image.env, workload.env);
  if (!given.workdirGiven && !image.workingDir.empty()) {
    // docker reads a relative WorkingDir from the root.
    workload.workdir = image.workingDir.front() == '/' ? image.workingDir : "/" + image.workingDir;
  }
  if (!given.userGiven && !image.user.empty()) {
    workload.user.spec = image.user;
  }
  return {};
}

}  // namespace tandem::image
