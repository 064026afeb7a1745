// tandem-mkimage: builds an OCI image from folders, one layer each, with no daemon, registry or
// root needed, reproducibly: the same folders and options give the same image digest.
#include <boost/program_options.hpp>
#include <charconv>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "common/image/image_builder.h"
#include "common/log.h"
#include "common/result.h"

namespace po = boost::program_options;

namespace {

using namespace tandem;
using namespace tandem::image;

constexpr const char* kUsage =
    "usage: tandem-mkimage [OPTIONS] --output PATH FOLDER [FOLDER...]\n"
    "\n"
    "Builds an OCI image whose layers are the FOLDERs, base first, into PATH: an OCI image\n"
    "layout tar when PATH ends in .tar, else a new layout folder. tandem load, skopeo\n"
    "(oci:, oci-archive:) and umoci read both.\n"
    "\n"
    "Layers are reproducible: entries sorted, mtimes clamped to --epoch, no user names, gzip\n"
    "without a timestamp. Symlinks are stored, never followed; folders mounted inside a FOLDER\n"
    "are stored empty; sockets are skipped.\n";

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

template <class T>
std::vector<T> listOf(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::vector<T>>() : std::vector<T>{};
}

Result<std::int64_t> parseEpoch(const std::string& text, const char* from) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return Error(std::string(from) + " \"" + text + "\" is not a count of seconds since 1970",
                 EINVAL);
  }
  return value;
}

Result<ImageBuildSpec> specOf(const po::variables_map& vm) {
  ImageBuildSpec spec;
  spec.layerFolders = listOf<std::string>(vm, "folder");
  if (vm.count("tag")) {
    TANDEM_ASSIGN_OR_RETURN(Reference tag, parseReference(vm["tag"].as<std::string>()));
    if (tag.digest) {
      return Error("--tag " + tag.text() + ": a tag cannot name a digest", EINVAL);
    }
    spec.tag = tag;
  }
  auto& defaults = spec.defaults;
  defaults.cmd = listOf<std::string>(vm, "cmd");
  defaults.entrypoint = listOf<std::string>(vm, "entrypoint");
  for (const auto& env : listOf<std::string>(vm, "env")) {
    if (env.find('=') == std::string::npos || env.front() == '=') {
      return Error("--env " + env + ": expected NAME=VALUE", EINVAL);
    }
    defaults.env.push_back(env);
  }
  for (const auto& label : listOf<std::string>(vm, "label")) {
    auto equals = label.find('=');
    if (equals == std::string::npos || equals == 0) {
      return Error("--label " + label + ": expected KEY=VALUE", EINVAL);
    }
    defaults.labels[label.substr(0, equals)] = label.substr(equals + 1);
  }
  for (auto port : listOf<std::string>(vm, "expose")) {
    if (port.find('/') == std::string::npos) {
      port += "/tcp";  // docker's default protocol
    }
    auto slash = port.find('/');
    std::string proto = port.substr(slash + 1);
    unsigned number = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + slash, number);
    if (ec != std::errc() || end != port.data() + slash || number == 0 || number > 65535 ||
        (proto != "tcp" && proto != "udp" && proto != "sctp")) {
      return Error("--expose " + port + ": expected PORT[/tcp|udp|sctp]", EINVAL);
    }
    defaults.exposedPorts.push_back(port);
  }
  if (vm.count("workdir")) {
    defaults.workingDir = vm["workdir"].as<std::string>();
    if (defaults.workingDir.empty() || defaults.workingDir.front() != '/') {
      return Error("--workdir " + defaults.workingDir + ": must be an absolute path", EINVAL);
    }
  }
  if (vm.count("user")) {
    defaults.user = vm["user"].as<std::string>();
  }
  // SOURCE_DATE_EPOCH is how reproducible-build tooling passes the time everywhere else.
  if (vm.count("epoch")) {
    TANDEM_ASSIGN_OR_RETURN(spec.epoch, parseEpoch(vm["epoch"].as<std::string>(), "--epoch"));
  } else if (const char* env = std::getenv("SOURCE_DATE_EPOCH"); env != nullptr && *env != '\0') {
    TANDEM_ASSIGN_OR_RETURN(spec.epoch, parseEpoch(env, "SOURCE_DATE_EPOCH"));
  }
  spec.rootOwned = vm.count("root-owned") > 0;
  return spec;
}

}  // namespace

int main(int argc, char** argv) {
  initLogging();
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "tag,t", po::value<std::string>(), "name the image so in the layout (REF, e.g. app:1.0)")(
      "cmd", po::value<std::vector<std::string>>()->composing(),
      "an argument of the default command; repeat for each")(
      "entrypoint", po::value<std::vector<std::string>>()->composing(),
      "an argument of the entrypoint; repeat for each")(
      "env", po::value<std::vector<std::string>>()->composing(), "NAME=VALUE; repeatable")(
      "workdir", po::value<std::string>(), "the working directory, absolute")(
      "user", po::value<std::string>(), "USER[:GROUP], names or ids")(
      "expose", po::value<std::vector<std::string>>()->composing(),
      "PORT[/tcp|udp|sctp]; repeatable")(
      "label", po::value<std::vector<std::string>>()->composing(), "KEY=VALUE; repeatable")(
      "epoch", po::value<std::string>(),
      "SECONDS: config's created time and the latest mtime stored (default: "
      "$SOURCE_DATE_EPOCH, else 0)")("root-owned", "store every file as owned by 0:0")(
      "output,o", po::value<std::string>(), "PATH.tar or a new folder")(
      "folder", po::value<std::vector<std::string>>()->composing(), "a layer's folder");
  po::positional_options_description positional;
  positional.add("folder", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tandem-mkimage: " << e.what() << "\n" << kUsage;
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << kUsage << "\n" << options << "\n";
    return 0;
  }
  if (!vm.count("output") || !vm.count("folder")) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  auto spec = specOf(vm);
  if (!spec) {
    std::cerr << "tandem-mkimage: " << spec.error().describe() << "\n";
    return kExitUsage;
  }
  std::string output = vm["output"].as<std::string>();
  LayoutFormat format = output.ends_with(".tar") ? LayoutFormat::kTar : LayoutFormat::kFolder;
  auto built = buildImage(*spec, output, format);
  if (!built) {
    std::cerr << "tandem-mkimage: " << built.error().describe() << "\n";
    return kExitFailure;
  }
  std::cout << built->manifest.digest.text() << "\n";
  return 0;
}
