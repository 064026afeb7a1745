// Runs a helper program of the host to its end (mkfs.ext4, say) the way a library call would
// run: no terminal, its output kept in memory and shown only in the error when it fails.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace tandem {

// Runs argv[0], looked up on $PATH, with stdin from /dev/null and stdout and stderr captured
// together. An exit other than 0 is an error that quotes the end of that output; a program
// that is not installed is an error naming `package`, the Debian package that has it.
Status runProgram(const std::vector<std::string>& argv, const std::string& package);

}  // namespace tandem
