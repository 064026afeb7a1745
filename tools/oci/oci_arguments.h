// runc's command-line shape: global options, then a command, its options (long or short,
// "--name value" or "--name=value"), then its arguments.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::oci_cli {

struct OptionSpec {
  std::vector<std::string> names;  // "--bundle", "-b"
  bool takesValue = false;
};

struct ParsedArguments {
  std::map<std::string, std::string> values;  // by the first name of its OptionSpec
  std::set<std::string> flags;
  std::vector<std::string> positional;

  bool has(const std::string& name) const { return flags.contains(name) || values.contains(name); }
  std::string value(const std::string& name, const std::string& fallback = "") const {
    auto found = values.find(name);
    return found == values.end() ? fallback : found->second;
  }
};

// Options may come anywhere before "--"; unknown ones are errors naming them.
Result<ParsedArguments> parseArguments(const std::vector<std::string>& args,
                                       const std::vector<OptionSpec>& specs);

}  // namespace tandem::oci_cli
