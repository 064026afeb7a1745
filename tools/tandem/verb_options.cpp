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

std::size_t firstOperand(const std::vector<std::string>& args,
                         const po::options_description& options) {
  auto takesValue = [&](const std::string& name) {
    const po::option_description* option = options.find_nothrow(name, false);
    return option != nullptr && option->semantic()->max_tokens() > 0;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--" || word.size() < 2 || word[0] != '-') {
      return i;
    }
    if (word.starts_with("--")) {
      if (word.find('=') == std::string::npos && takesValue(word.substr(2))) {
        ++i;
      }
      continue;
    }
    // A cluster of short flags, "-it": only its last letter may take the next word as value.
    for (std::size_t letter = 1; letter < word.size(); ++letter) {
      if (takesValue(std::string("-") + word[letter])) {
        if (letter + 1 == word.size()) {
          ++i;
        }
        break;
      }
    }
  }
  return args.size();
}

std::optional<int> parseSubVerb(const std::vector<std::string>& args,
                                boost::program_options::options_description options,
                                boost::program_options::variables_map& vm,
                                std::vector<std::string>& words) {
  namespace po = boost::program_options;
  options.add_options()("words", po::value<std::vector<std::string>>(),
                        "the verb, then its operands");
  po::positional_options_description positional;
  positional.add("words", -1);
  if (auto done = parseVerbOptions(args, options, positional, vm)) return done;
  if (vm.count("words")) words = vm["words"].as<std::vector<std::string>>();
  return std::nullopt;
}

}  // namespace tandem::cli
