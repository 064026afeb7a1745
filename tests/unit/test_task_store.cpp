// The task store: a task's record through its life (sandbox, containers, health, stop request,
// end), references by id, prefix or family, and a task whose supervisor died read as lost.
#include "scheduler/task_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <limits>

#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using namespace tandem;
using namespace tandem::scheduler;

namespace {

TaskRecord task(const std::string& id, const std::string& family) {
  TaskRecord record;
  record.id = id;
  record.family = family;
  record.isolation = Isolation::kContainer;
  record.reason = "requested";
  record.definition = "{}";
  record.containers = {{"web", "", HealthStatus::kNone}, {"db", "", HealthStatus::kNone}};
  return record;
}

void a_record_follows_a_task_through_its_life(void** state) {
  auto store = TaskStore::open(tempDir(state));
  assert_true(store.ok());
  assert_true(store->begin(task("t1", "shop")).ok());
  assert_true(store->setSandbox("t1", "s1").ok());
  assert_true(store->containerStarted("t1", "db", "w2").ok());
  assert_true(store->setHealth("t1", "db", HealthStatus::kHealthy).ok());

  auto found = store->find("t1");
  assert_true(found.ok());
  assert_true(found->state == TaskState::kRunning);
  assert_int_equal(found->ownerPid, ::getpid());
  assert_string_equal(found->sandboxId.c_str(), "s1");
  assert_int_equal(found->containers.size(), 2);
  assert_string_equal(found->containers[0].name.c_str(), "web");
  assert_string_equal(found->containers[0].workloadId.c_str(), "");
  assert_string_equal(found->containers[1].workloadId.c_str(), "w2");
  assert_true(found->containers[1].health == HealthStatus::kHealthy);

  assert_false(*store->stopRequested("t1"));
  assert_true(store->requestStop("t1").ok());
  assert_true(*store->stopRequested("t1"));

  assert_true(store->finish("t1", 137, "stopped by a user").ok());
  auto ended = store->find("t1");
  assert_true(ended->state == TaskState::kStopped);
  assert_int_equal(ended->exitCode.value_or(-1), 137);
  assert_string_equal(ended->stoppedReason.c_str(), "stopped by a user");
  assert_true(ended->finishedNs >= ended->createdNs);

  assert_true(store->remove("t1").ok());
  assert_int_equal(store->list()->size(), 0);
  assert_int_equal(store->find("t1").error().errnum(), ENOENT);
}

void references_name_an_id_a_prefix_or_a_family(void** state) {
  auto store = TaskStore::open(tempDir(state));
  assert_true(store->begin(task("abcd1111", "shop")).ok());
  assert_true(store->begin(task("abcd2222", "blog")).ok());
  assert_string_equal(store->find("abcd2").value().id.c_str(), "abcd2222");
  assert_string_equal(store->find("blog").value().id.c_str(), "abcd2222");
  assert_int_equal(store->find("abcd").error().errnum(), EINVAL);
  assert_int_equal(store->find("abc").error().errnum(), ENOENT);
}

void a_task_whose_supervisor_died_reads_as_lost(void** state) {
  const std::string& root = tempDir(state);
  pid_t child = ::fork();
  assert_true(child >= 0);
  if (child == 0) {
    auto store = TaskStore::open(root);
    ::_exit(store && store->begin(task("gone", "shop")).ok() ? 0 : 1);
  }
  int status = 0;
  assert_int_equal(::waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto store = TaskStore::open(root);
  auto lost = store->find("gone");
  assert_true(lost->state == TaskState::kLost);
  assert_int_equal(lost->ownerPid, child);
  assert_true(store->markLost(*lost).ok());
  auto marked = store->find("gone");
  assert_true(marked->state == TaskState::kLost);
  assert_true(marked->finishedNs > 0);
}

// A service's controller reads its running tasks and those that ended since it last looked;
// not another service's, nor its own that ended before.
void a_service_lists_its_running_and_recently_ended_tasks(void** state) {
  auto store = TaskStore::open(tempDir(state));
  for (const char* id : {"old", "running", "recent", "other"}) {
    TaskRecord record = task(id, "shop");
    record.serviceId = std::string(id) == "other" ? "s2" : "s1";
    assert_true(store->begin(record).ok());
  }
  assert_true(store->finish("old", 0, "done").ok());
  std::int64_t since = store->find("old")->finishedNs + 1;
  assert_true(store->finish("recent", 1, "failed").ok());
  auto listed = store->listOfService("s1", since);
  assert_true(listed.ok());
  std::string ids;
  for (const TaskRecord& record : *listed) ids += record.id + " ";
  assert_true(ids == "recent running " || ids == "running recent ");
  assert_int_equal((*listed)[0].containers.size(), 2);
  assert_int_equal(store->listOfService("s1", std::numeric_limits<std::int64_t>::max())->size(), 1);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(a_record_follows_a_task_through_its_life, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(references_name_an_id_a_prefix_or_a_family, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_service_lists_its_running_and_recently_ended_tasks,
                                      makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(a_task_whose_supervisor_died_reads_as_lost, makeTempDir,
                                      removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
