// How a task moves on: dependsOn conditions as ECS defines them (START, COMPLETE, SUCCESS,
// HEALTHY), an essential container's end stopping the task, a condition that can never hold
// stopping it too, the task's exit code; and health as a check's results make it.
#include "scheduler/health_check.h"
#include "scheduler/task_progress.h"

#include "tests/unit/unit_test.h"

using namespace tandem::scheduler;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// db (essential: no), app after db with `condition`, essential.
TaskDefinition twoContainers(DependencyCondition condition) {
  TaskDefinition task;
  task.family = "f";
  ContainerDefinition db;
  db.name = "db";
  db.essential = false;
  db.healthCheck = HealthCheck{{"CMD", "true"}};
  ContainerDefinition app;
  app.name = "app";
  app.dependsOn.push_back({"db", condition});
  task.containers = {db, app};
  return task;
}

ContainerStatus pending() {
  return {};
}
ContainerStatus running(HealthStatus health = HealthStatus::kNone) {
  return {ContainerPhase::kRunning, std::nullopt, health};
}
ContainerStatus exited(int code, std::string message = "") {
  return {ContainerPhase::kExited, code, HealthStatus::kNone, std::move(message)};
}

void containers_without_dependencies_start_first(void**) {
  TaskStep step = nextStep(twoContainers(DependencyCondition::kStart), {pending(), pending()});
  assert_int_equal(step.start.size(), 1);
  assert_int_equal(step.start[0], 0);
  assert_false(step.stop.has_value());
  assert_false(step.over);
}

void each_condition_holds_when_ecs_says_it_does(void**) {
  struct Row {
    DependencyCondition condition;
    ContainerStatus db;
    bool starts;
    bool stops;
  };
  const Row rows[] = {
      {DependencyCondition::kStart, running(), true, false},
      {DependencyCondition::kStart, exited(3), true, false},
      {DependencyCondition::kComplete, running(), false, false},
      {DependencyCondition::kComplete, exited(3), true, false},
      {DependencyCondition::kSuccess, running(), false, false},
      {DependencyCondition::kSuccess, exited(0), true, false},
      {DependencyCondition::kSuccess, exited(1), false, true},
      {DependencyCondition::kHealthy, running(HealthStatus::kStarting), false, false},
      {DependencyCondition::kHealthy, running(HealthStatus::kHealthy), true, false},
      {DependencyCondition::kHealthy, running(HealthStatus::kUnhealthy), false, true},
      {DependencyCondition::kHealthy, exited(0), false, true},
  };
  for (const Row& row : rows) {
    TaskStep step = nextStep(twoContainers(row.condition), {row.db, pending()});
    assert_int_equal(step.start.size(), row.starts ? 1 : 0);
    if (row.starts) assert_int_equal(step.start[0], 1);
    assert_int_equal(step.stop.has_value(), row.stops);
    if (row.stops) {
      assert_true(step.stop->find("container app can never start: it waits for db") == 0);
    }
  }
}

void an_essential_container_s_end_stops_the_task_with_its_code(void**) {
  TaskDefinition task = twoContainers(DependencyCondition::kStart);
  TaskStep step = nextStep(task, {running(), exited(4)});
  assert_string_equal(step.stop->c_str(), "essential container app exited with 4");
  assert_int_equal(*step.exitCode, 4);
  assert_false(step.over);  // db still runs, to be stopped
  step = nextStep(task, {exited(143), exited(4)});
  assert_true(step.over);
  assert_int_equal(taskExitCode(task, {exited(143), exited(4)}), 4);
  step = nextStep(task, {running(), exited(127, "\"x\": executable file not found")});
  assert_string_equal(step.stop->c_str(),
                      "essential container app exited with 127: \"x\": executable file not found");
}

void a_non_essential_container_s_end_does_not(void**) {
  TaskDefinition task = twoContainers(DependencyCondition::kComplete);
  TaskStep step = nextStep(task, {exited(9), pending()});
  assert_false(step.stop.has_value());
  assert_int_equal(step.start.size(), 1);
  step = nextStep(task, {exited(9), running()});
  assert_false(step.over);
  assert_true(step.start.empty());
}

void a_task_is_over_when_nothing_runs_or_can_start(void**) {
  TaskDefinition task = twoContainers(DependencyCondition::kSuccess);
  TaskStep step = nextStep(task, {exited(1), pending()});
  assert_true(step.stop.has_value());
  assert_true(step.over);
  assert_int_equal(taskExitCode(task, {exited(1), pending()}), 1);
  assert_int_equal(taskExitCode(task, {pending(), pending()}), 0);
}

void health_follows_the_checks(void**) {
  HealthCheck check;
  check.retries = 2;
  check.startPeriodSeconds = 10;
  HealthTracker tracker(check);
  assert_int_equal(tracker.status(), HealthStatus::kStarting);
  // Failures in the start period do not count.
  for (int i = 0; i < 5; ++i) tracker.record(false, seconds(i));
  assert_int_equal(tracker.status(), HealthStatus::kStarting);
  assert_int_equal(tracker.failuresInARow(), 0);
  assert_int_equal(tracker.record(false, seconds(11)), HealthStatus::kStarting);
  assert_int_equal(tracker.record(false, seconds(12)), HealthStatus::kUnhealthy);
  assert_int_equal(tracker.record(true, seconds(13)), HealthStatus::kHealthy);
  assert_int_equal(tracker.record(false, seconds(14)), HealthStatus::kHealthy);
  assert_int_equal(tracker.record(true, seconds(15)), HealthStatus::kHealthy);
  assert_int_equal(tracker.failuresInARow(), 0);
  // A pass in the start period makes it healthy at once.
  HealthTracker early(check);
  assert_int_equal(early.record(true, milliseconds(50)), HealthStatus::kHealthy);
}

void check_commands_as_ecs_writes_them(void**) {
  HealthCheck shell{{"CMD-SHELL", "wget -q localhost || exit 1"}};
  std::vector<std::string> expected{"/bin/sh", "-c", "wget -q localhost || exit 1"};
  assert_true(healthCheckCommand(shell) == expected);
  HealthCheck direct{{"CMD", "test", "-f", "/ready"}};
  expected = {"test", "-f", "/ready"};
  assert_true(healthCheckCommand(direct) == expected);
}

}  // namespace

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test(containers_without_dependencies_start_first),
      cmocka_unit_test(each_condition_holds_when_ecs_says_it_does),
      cmocka_unit_test(an_essential_container_s_end_stops_the_task_with_its_code),
      cmocka_unit_test(a_non_essential_container_s_end_does_not),
      cmocka_unit_test(a_task_is_over_when_nothing_runs_or_can_start),
      cmocka_unit_test(health_follows_the_checks),
      cmocka_unit_test(check_commands_as_ecs_writes_them),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
