// What every verb of the CLI does alike: report a runtime error, and parse its own options.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::cli {

// Prints "tandem: <error>" and answers the runtime-error exit code (125), as docker does.
int fail(const Error& error);

// Parses a verb's arguments into `vm`. Answers an exit code when the verb should stop here:
// 0 after printing --help, 125 after a parse error.
std::optional<int> parseVerbOptions(
    const std::vector<std::string>& args,
    const boost::program_options::options_description& options,
    const boost::program_options::positional_options_description& positional,
    boost::program_options::variables_map& vm);

// For a verb with sub-verbs (tandem task, tandem service): parses `options` with every operand
// gathered into `words` (the sub-verb, then its operands). Answers as parseVerbOptions does.
std::optional<int> parseSubVerb(const std::vector<std::string>& args,
                                boost::program_options::options_description options,
                                boost::program_options::variables_map& vm,
                                std::vector<std::string>& words);

// Where a verb's own options end and its operands begin: the index of "--" or of the first word
// that is neither an option nor an option's value (docker's rule, so that `tandem run busybox
// sh -c ...` passes -c to sh). An option's value is the next word unless given as --name=value
// or -xVALUE.
std::size_t firstOperand(const std::vector<std::string>& args,
                         const boost::program_options::options_description& options);

}  // namespace tandem::cli
