// ECS-style task definitions as a user or an API caller writes them. A definition that parses
// must have a start order holding each container once: parsing refuses dependency cycles and
// unknown names, so none may slip through to the supervisor.
#include <algorithm>
#include <string>

#include "scheduler/task_definition.h"
#include "tests/fuzz/fuzz_input.h"

using namespace tandem::scheduler;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto task = parseTaskDefinition(text, "fuzz.json");
  if (!task) {
    fuzzCheck(!task.error().describe().empty(), "a refused task definition says why");
    return 0;
  }
  std::vector<std::size_t> order = startOrder(*task);
  fuzzCheck(order.size() == task->containers.size(), "every container has a place to start");
  std::vector<std::size_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  fuzzCheck(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(),
            "no container starts twice");
  for (const auto& container : task->containers) {
    (void)reservedMemoryMiB(container);
    if (container.cpuUnits) {
      (void)cpuMilliFromUnits(*container.cpuUnits);
    }
  }
  return 0;
}
