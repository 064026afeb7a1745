// The verbs that move images between the store and registries, tandem pull and tandem push,
// and tandem tag, which names a stored image for a push; with docker's output.
#include <boost/program_options.hpp>
#include <iostream>

#include "common/image/image_index.h"
#include "common/image/reference.h"
#include "common/process.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/registry_client.h"
#include "tools/tandem/verb_options.h"

namespace po = boost::program_options;

namespace tandem::cli {

int pullCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  po::options_description options("tandem pull [OPTIONS] REFERENCE");
  options.add_options()("help,h", "show this help")(
      "platform", po::value<std::string>(),
      "OS/ARCH[/VARIANT] to take from a multi-platform image (default: this host's)")(
      "quiet,q", po::bool_switch(), "print the reference only")("reference",
                                                                po::value<std::string>(), "");
  addRegistryAccessOptions(options);
  po::positional_options_description positional;
  positional.add("reference", 1);
  po::variables_map vm;
  if (auto code = parseVerbOptions(args, options, positional, vm)) {
    return *code;
  }
  if (!vm.count("reference")) {
    return fail(Error("tandem pull needs a REFERENCE, e.g. localhost:5000/app:1.0"));
  }
  PullRequest request;
  request.reference = vm["reference"].as<std::string>();
  if (vm.count("platform")) request.platform = vm["platform"].as<std::string>();
  request.access = registryAccessFrom(vm);
  request.quiet = vm["quiet"].as<bool>();
  if (auto pulled = pullAndRegister(global.stateRoot, request, std::cout); !pulled) {
    return fail(pulled.error());
  }
  return 0;
}

int pushCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  po::options_description options("tandem push [OPTIONS] IMAGE [DESTINATION]");
  options.add_options()("help,h", "show this help")("quiet,q", po::bool_switch(),
                                                    "print no progress")(
      "jobs", po::value<std::size_t>(), "how many blobs to upload at once (default 3)")(
      "image", po::value<std::string>(), "")("destination", po::value<std::string>(), "");
  addRegistryAccessOptions(options);
  po::positional_options_description positional;
  positional.add("image", 1).add("destination", 1);
  po::variables_map vm;
  if (auto code = parseVerbOptions(args, options, positional, vm)) {
    return *code;
  }
  if (!vm.count("image")) {
    return fail(Error("tandem push needs an IMAGE, and a DESTINATION unless IMAGE is a tag"));
  }
  std::string source = vm["image"].as<std::string>();
  std::string destinationText;
  if (vm.count("destination")) {
    destinationText = vm["destination"].as<std::string>();
  } else {
    // Without a destination the image must be named by a tag, as docker push requires: an id
    // prefix also parses as a reference, and pushing it to docker.io/library/<prefix> would
    // surprise.
    auto reference = image::parseReference(source);
    auto index = image::ImageIndex::open(global.stateRoot);
    if (!index) {
      return fail(index.error());
    }
    auto found = reference ? index->findByReference(*reference)
                           : Result<std::optional<image::ImageRecord>>(std::nullopt);
    if (!found) {
      return fail(found.error());
    }
    if (!*found) {
      return fail(Error("no image is tagged " + source +
                        "; name a DESTINATION, or tag the image first (tandem tag IMAGE "
                        "REGISTRY/REPOSITORY:TAG)"));
    }
    destinationText = reference->text();
  }
  auto destination = image::parseReference(destinationText);
  if (!destination) {
    return fail(destination.error());
  }
  bool quiet = vm["quiet"].as<bool>();
  if (!quiet) {
    std::cout << "The push refers to repository [" << destination->name() << "]\n" << std::flush;
  }
  std::vector<std::string> command = {"push", "--store", global.stateRoot};
  if (vm.count("jobs")) {
    command.insert(command.end(), {"--jobs", std::to_string(vm["jobs"].as<std::size_t>())});
  }
  std::vector<std::string> access = accessArguments(registryAccessFrom(vm));
  command.insert(command.end(), access.begin(), access.end());
  command.insert(command.end(), {source, destination->text()});
  auto pushed = runRegistryClient(command, quiet);
  if (!pushed) {
    return fail(pushed.error());
  }
  std::string digest = pushed->value("manifestDigest", std::string());
  if (quiet) {
    std::cout << destination->text() << "\n";
  } else {
    std::cout << (destination->tag.empty() ? digest : destination->tag) << ": digest: " << digest
              << "\n";
  }
  return 0;
}

int tagCommand(const GlobalOptions& global, const std::vector<std::string>& args, char**) {
  po::options_description options("tandem tag SOURCE TARGET: name a stored image TARGET");
  options.add_options()("help,h", "show this help")("source", po::value<std::string>(), "")(
      "target", po::value<std::string>(), "");
  po::positional_options_description positional;
  positional.add("source", 1).add("target", 1);
  po::variables_map vm;
  if (auto code = parseVerbOptions(args, options, positional, vm)) {
    return *code;
  }
  if (!vm.count("source") || !vm.count("target")) {
    return fail(Error("usage: tandem tag SOURCE TARGET (an image, and the name to give it)"));
  }
  auto target = image::parseReference(vm["target"].as<std::string>());
  if (!target) {
    return fail(target.error());
  }
  auto index = image::ImageIndex::open(global.stateRoot);
  if (!index) {
    return fail(index.error());
  }
  std::string source = vm["source"].as<std::string>();
  auto found = index->find(source);
  if (!found) {
    return fail(found.error());
  }
  if (!*found) {
    return fail(Error("no such image: " + source + " in " + global.stateRoot +
                          " (tandem images lists them; tandem pull or tandem load adds one)",
                      ENOENT));
  }
  if (auto tagged = index->addTag((*found)->id, *target); !tagged) {
    return fail(tagged.error());
  }
  return 0;
}

}  // namespace tandem::cli
