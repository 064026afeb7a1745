// How an image's config fills in a workload, with docker run's precedence: what the user gave on
// the command line wins, the image's Entrypoint/Cmd/Env/WorkingDir/User fill the rest.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/image/oci.h"
#include "common/result.h"
#include "common/workload.h"

namespace tandem::image {

// The fallback PATH docker gives a workload whose image sets none.
inline constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// What the user said explicitly, as opposed to what the workload holds by default.
struct RunOverrides {
  // --entrypoint: replaces the image's, and then the image's Cmd is dropped too (docker's rule).
  // An empty vector is `--entrypoint ""`: no entrypoint at all.
  std::optional<std::vector<std::string>> entrypoint;
  std::vector<std::string> args;  // what followed the image name
  bool workdirGiven = false;
  bool userGiven = false;
};

// Sets workload.command, and env, workdir and user where the user gave none. Env entries the
// user gave replace the image's of the same name. An image and command line that leave no
// command at all are an error saying so.
Status applyImageDefaults(const ContainerDefaults& image, const RunOverrides& given,
                          Workload& workload);

}  // namespace tandem::image
