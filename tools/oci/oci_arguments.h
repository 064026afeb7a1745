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
  // By the first name of its OptionSpec; an option given more than once keeps each value.
  std::map<std::string, std::vector<std::string>> values;
  std::set<std::string> flags;
  std::vector<std::string> positional;

  bool has(const std::string& name) const { return flags.contains(name) || values.contains(name); }
  std::string value(const std::string& name, const std::string& fallback = "") const {
    auto found = values.find(name);
    return found == values.end() ? fallback : found->second.back();
  }
  std::vector<std::string> all(const std::string& name) const {
    auto found = values.find(name);
    return found == values.end() ? std::vector<std::string>() : found->second;
  }
};

// Options may come anywhere before "--" (or, with `stopAtFirstPositional`, only before the
// first positional argument, as for exec's command); unknown ones are errors naming them.
Result<ParsedArguments> parseArguments(const std::vector<std::string>& args,
                                       const std::vector<OptionSpec>& specs,
                                       bool stopAtFirstPositional = false);

}  // namespace tandem::oci_cli
