// tandem task: ECS-like task definitions (scheduler/task_definition.h). `task validate FILE`
// checks one, naming the field of each error, and shows how it would start: the order its
// containers start in and what each waits for.
#include <boost/program_options.hpp>
#include <iostream>

#include "common/file.h"
#include "scheduler/task_definition.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/verb_options.h"

namespace po = boost::program_options;

namespace tandem::cli {
namespace {

constexpr const char* kUsage = "usage: tandem task validate FILE";

int validate(const std::string& path) {
  auto text = readFile(path);
  if (!text) return fail(text.error().context("cannot read the task definition"));
  auto task = scheduler::parseTaskDefinition(*text, path);
  if (!task) return fail(task.error());
  std::cout << "family: " << task->family << "\n"
            << "isolation: " << toString(task->isolation) << "\n"
            << "network: " << toString(task->network) << "\n";
  if (task->cpuUnits) std::cout << "cpu: " << *task->cpuUnits << " units\n";
  if (task->memoryMiB) std::cout << "memory: " << *task->memoryMiB << " MiB\n";
  std::cout << "start order:\n";
  for (std::size_t index : scheduler::startOrder(*task)) {
    const scheduler::ContainerDefinition& container = task->containers[index];
    std::cout << "  " << container.name << (container.essential ? " (essential)" : "") << ": "
              << container.image;
    for (std::size_t i = 0; i < container.dependsOn.size(); ++i) {
      std::cout << (i ? ", " : "; after ") << container.dependsOn[i].containerName << " "
                << toString(container.dependsOn[i].condition);
    }
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

int taskCommand(const GlobalOptions&, const std::vector<std::string>& args, char**) {
  po::options_description options(std::string(kUsage) +
                                  "\nChecks an ECS-like task definition and shows its start "
                                  "order.\noptions");
  options.add_options()("help,h", "show this help")("words", po::value<std::vector<std::string>>(),
                                                    "validate, then the file");
  po::positional_options_description positional;
  positional.add("words", -1);
  po::variables_map vm;
  if (auto done = parseVerbOptions(args, options, positional, vm)) return *done;
  std::vector<std::string> words;
  if (vm.count("words")) words = vm["words"].as<std::vector<std::string>>();
  if (words.size() == 2 && words[0] == "validate") return validate(words[1]);
  return fail(Error(std::string(kUsage) + " (running tasks is not built yet)"));
}

}  // namespace tandem::cli
