#include "tools/oci/oci_arguments.h"

#include <algorithm>

namespace tandem::oci_cli {

Result<ParsedArguments> parseArguments(const std::vector<std::string>& args,
                                       const std::vector<OptionSpec>& specs,
                                       bool stopAtFirstPositional) {
  ParsedArguments parsed;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      parsed.positional.insert(parsed.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      if (stopAtFirstPositional) {
        parsed.positional.insert(parsed.positional.end(), args.begin() + i, args.end());
        break;
      }
      parsed.positional.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::string inlineValue;
    bool hasInline = false;
    if (auto equals = arg.find('='); equals != std::string::npos) {
      name = arg.substr(0, equals);
      inlineValue = arg.substr(equals + 1);
      hasInline = true;
    }
    auto spec = std::find_if(specs.begin(), specs.end(), [&](const OptionSpec& s) {
      return std::find(s.names.begin(), s.names.end(), name) != s.names.end();
    });
    if (spec == specs.end()) return Error("flag provided but not defined: " + name);
    const std::string& key = spec->names.front();
    if (!spec->takesValue) {
      if (hasInline && inlineValue != "true") {
        if (inlineValue == "false") continue;
        return Error("invalid boolean value \"" + inlineValue + "\" for " + name);
      }
      parsed.flags.insert(key);
      continue;
    }
    if (hasInline) {
      parsed.values[key].push_back(inlineValue);
    } else if (i + 1 < args.size()) {
      parsed.values[key].push_back(args[++i]);
    } else {
      return Error("flag needs an argument: " + name);
    }
  }
  return parsed;
}

}  // namespace tandem::oci_cli
