// The tandem CLI's verbs: one function each, taking the arguments after the verb.
#pragma once

#include <string>
#include <vector>

namespace tandem::cli {

struct GlobalOptions {
  std::string stateRoot = "/var/lib/tandem";
};

// Each returns the process exit code.
int explainCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int runCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int psCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int inspectCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int rmCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int killCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int stopCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int waitCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int taskCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int serviceCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int statsCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int logsCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int execCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int benchCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int imagesCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int rmiCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int loadCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int saveCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int imageCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int pullCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int pushCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int tagCommand(const GlobalOptions& global, const std::vector<std::string>& args, char** argv);
int containerProcessCommand(const GlobalOptions& global, const std::vector<std::string>& args,
                            char** argv);
int execProcessCommand(const GlobalOptions& global, const std::vector<std::string>& args,
                       char** argv);

}  // namespace tandem::cli
