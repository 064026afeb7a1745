#include "scheduler/service_reconcile.h"

#include <string>
#include <vector>

#include "tests/unit/unit_test.h"

using namespace tandem::scheduler;

namespace {

ServiceTask task(const char* id, std::int64_t created, bool stopping = false,
                 bool unhealthy = false) {
  return ServiceTask{id, created, stopping, unhealthy};
}

std::string stopped(const ServiceStep& step) {
  std::string ids;
  for (const TaskStop& stop : step.stop) ids += stop.taskId + (stop.replaced ? "+ " : " ");
  return ids;
}

void the_table(void**) {
  struct Row {
    const char* what;
    unsigned desired;
    std::vector<ServiceTask> running;
    bool removing;
    unsigned start;
    const char* stops;  // ids, "+" for those replaced
  };
  const Row rows[] = {
      {"a new service starts all it wants", 3, {}, false, 3, ""},
      {"at its count, nothing to do", 2, {task("a", 1), task("b", 2)}, false, 0, ""},
      {"one ended: one starts", 2, {task("a", 1)}, false, 1, ""},
      {"scaled down: the newest stop",
       1,
       {task("a", 1), task("c", 3), task("b", 2)},
       false,
       0,
       "c b "},
      {"scaled to zero", 0, {task("a", 1)}, false, 0, "a "},
      {"unhealthy: stopped and replaced",
       2,
       {task("a", 1), task("b", 2, false, true)},
       false,
       1,
       "b+ "},
      {"a stopping task counts for nothing", 2, {task("a", 1, true), task("b", 2)}, false, 1, ""},
      {"a stopping unhealthy task is not stopped twice",
       1,
       {task("a", 1, true, true)},
       false,
       1,
       ""},
      {"unhealthy while scaled down: only the healthy extras stop as extras",
       1,
       {task("a", 1), task("b", 2, false, true), task("c", 3)},
       false,
       0,
       "b+ c "},
      {"removing stops all, starts none", 3, {task("a", 1), task("b", 2, true)}, true, 0, "a "},
  };
  for (const Row& row : rows) {
    ServiceStep step = reconcile(row.desired, row.running, row.removing);
    if (step.start != row.start || stopped(step) != row.stops) {
      fail_msg("%s: start %u (want %u), stop \"%s\" (want \"%s\")", row.what, step.start, row.start,
               stopped(step).c_str(), row.stops);
    }
  }
}

}  // namespace

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test(the_table),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
