#include "tools/tandem/verb_options.h"

#include <iostream>

#include "common/process.h"

namespace po = boost::program_options;

namespace tandem::cli {

int fail(const Error& error) {
  std::cerr << "tandem: " << error.describe() << "\n";
  return kExitRuntimeError;
}

std::optional<int> parseVerbOptions(const std::vector<std::string>& args,
                                    const po::options_description& options,
                                    const po::positional_options_description& positional,
                                    po::variables_map& vm) {
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(Error(std::string(e.what()) + "; see --help"));
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  return std::nullopt;
}

}  // namespace tandem::cli
