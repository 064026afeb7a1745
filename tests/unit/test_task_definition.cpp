// Task definitions as ECS writes them: a full one parsed field by field, its start order, and a
// table of broken ones, each refused naming the field and what was expected.
#include "scheduler/task_definition.h"

#include "tests/unit/unit_test.h"

using namespace tandem;
using namespace tandem::scheduler;

namespace {

constexpr const char* kWebTask = R"({
  "family": "web-app",
  "cpu": "1 vCPU",
  "memory": "1 GB",
  "networkMode": "awsvpc",
  "isolation": "vm",
  "requiresCompatibilities": ["FARGATE"],
  "containerDefinitions": [
    {"name": "web", "image": "localhost/tandem/busybox", "essential": true,
     "command": ["httpd", "-f", "-p", "8080"], "cpu": 512, "memory": 256,
     "portMappings": [{"containerPort": 8080, "hostPort": 18080, "protocol": "tcp"}],
     "dependsOn": [{"containerName": "db", "condition": "HEALTHY"},
                   {"containerName": "migrate", "condition": "SUCCESS"}]},
    {"name": "db", "image": "localhost/tandem/busybox", "memoryReservation": 128,
     "entryPoint": ["sh", "-c"], "command": ["sleep 600"],
     "environment": [{"name": "MODE", "value": "primary"}],
     "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5, "retries": 2}},
    {"name": "migrate", "image": "localhost/tandem/busybox", "essential": false,
     "command": ["true"], "stopTimeout": 2,
     "dependsOn": [{"containerName": "db", "condition": "START"}]}
  ]
})";

void a_full_task_is_read_field_by_field(void**) {
  auto task = parseTaskDefinition(kWebTask, "web.json");
  if (!task) fail_msg("%s", task.error().describe().c_str());
  assert_string_equal(task->family.c_str(), "web-app");
  assert_int_equal(*task->cpuUnits, 1024);
  assert_int_equal(*task->memoryMiB, 1024);
  assert_true(task->network == NetworkMode::kBridge);
  assert_true(task->isolation == Isolation::kVm);
  assert_int_equal(task->containers.size(), 3);
  const ContainerDefinition& web = task->containers[0];
  assert_true(web.essential);
  assert_int_equal(*web.cpuUnits, 512);
  assert_int_equal(*web.memoryMiB, 256);
  assert_int_equal(web.portMappings.size(), 1);
  assert_int_equal(web.portMappings[0].containerPort, 8080);
  assert_int_equal(*web.portMappings[0].hostPort, 18080);
  assert_int_equal(web.dependsOn.size(), 2);
  assert_true(web.dependsOn[0].condition == DependencyCondition::kHealthy);
  const ContainerDefinition& db = task->containers[1];
  assert_true(db.essential);  // the default
  assert_int_equal(*db.memoryReservationMiB, 128);
  assert_true(db.entryPoint == (std::vector<std::string>{"sh", "-c"}));
  assert_true(db.environment == (std::vector<std::string>{"MODE=primary"}));
  assert_int_equal(db.healthCheck->intervalSeconds, 5);
  assert_int_equal(db.healthCheck->retries, 2);
  assert_int_equal(db.healthCheck->timeoutSeconds, 5);  // the default
  assert_false(task->containers[2].essential);
  assert_int_equal(task->containers[2].stopTimeoutSeconds.value_or(0), 2);
  assert_false(db.stopTimeoutSeconds.has_value());
  // db first, then what waits for it, in the definition's order.
  assert_true(startOrder(*task) == (std::vector<std::size_t>{1, 2, 0}));
}

void broken_tasks_are_refused_naming_the_field(void**) {
  struct Bad {
    const char* json;
    const char* mentions;
  } bad[] = {
      {"{", "not valid JSON"},
      {"[]", "the document: expected an object"},
      {R"({"containerDefinitions": []})", "family: required"},
      {R"({"family": "a b", "containerDefinitions": []})", "family: expected up to 255 letters"},
      {R"({"family": "f"})", "containerDefinitions: required"},
      {R"({"family": "f", "containerDefinitions": []})", "a list of 1 to 10 containers"},
      {R"({"family": "f", "famly": 1, "containerDefinitions": []})", "famly: unknown field"},
      {R"({"family": "f", "cpu": "lots", "containerDefinitions": [{"name": "a", "image": "i"}]})",
       "cpu: expected a whole number from 128"},
      {R"({"family": "f", "memory": "x GB", "containerDefinitions": [{"name": "a", "image": "i"}]})",
       "memory: expected MiB or \"N GB\""},
      {R"({"family": "f", "networkMode": "overlay", "containerDefinitions": [{"name": "a", "image": "i"}]})",
       "networkMode: expected awsvpc, bridge, host or none, got \"overlay\""},
      {R"({"family": "f", "isolation": "gvisor", "containerDefinitions": [{"name": "a", "image": "i"}]})",
       "isolation: expected vm, container or auto"},
      {R"({"family": "f", "containerDefinitions": [{"image": "i"}]})",
       "containerDefinitions[0].name: required"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a"}]})",
       "containerDefinitions[0].image: required"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "comand": []}]})",
       "containerDefinitions[0].comand: unknown field"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "command": "ls"}]})",
       "containerDefinitions[0].command: expected a list of strings"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "command": ["ls", 1]}]})",
       "containerDefinitions[0].command[1]: expected a string"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "memory": 2}]})",
       "containerDefinitions[0].memory: expected a whole number from 6"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "memory": 64, "memoryReservation": 128}]})",
       "memoryReservation: 128 MiB is above its memory limit of 64 MiB"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "environment": [{"name": "A=B", "value": "x"}]}]})",
       "environment[0].name: expected a name without '='"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "environment": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}]})",
       "environment[1].name: \"A\" is set twice"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "environment": [{"name": "A", "value": 1}]}]})",
       "environment[0].value: expected a string"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "portMappings": [{"hostPort": 80}]}]})",
       "portMappings[0].containerPort: required"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "portMappings": [{"containerPort": 70000}]}]})",
       "portMappings[0].containerPort: expected a whole number from 1 to 65535"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "portMappings": [{"containerPort": 53, "protocol": "udp"}]}]})",
       "portMappings[0].protocol: expected \"tcp\""},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "essential": "yes"}]})",
       "essential: expected true or false"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "essential": false}]})",
       "at least one container must be essential"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "healthCheck": {"command": ["true"]}}]})",
       "healthCheck.command: expected [\"CMD\", ARG...]"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "healthCheck": {"command": ["CMD", "true"], "interval": 1}}]})",
       "healthCheck.interval: expected a whole number from 5 to 300"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "stopTimeout": 121}]})",
       "stopTimeout: expected a whole number from 2 to 120"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i"}, {"name": "a", "image": "i"}]})",
       "containerDefinitions[1].name: \"a\" names another container too"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "dependsOn": [{"containerName": "b", "condition": "START"}]}]})",
       "dependsOn[0].containerName: no container is named \"b\""},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "dependsOn": [{"containerName": "a", "condition": "START"}]}]})",
       "cannot depend on itself"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "dependsOn": [{"containerName": "b", "condition": "READY"}]}, {"name": "b", "image": "i"}]})",
       "dependsOn[0].condition: expected START, COMPLETE, SUCCESS or HEALTHY, got \"READY\""},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "dependsOn": [{"containerName": "b", "condition": "HEALTHY"}]}, {"name": "b", "image": "i"}]})",
       "HEALTHY needs a healthCheck on \"b\""},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "dependsOn": [{"containerName": "b", "condition": "SUCCESS"}]}, {"name": "b", "image": "i"}]})",
       "but it is essential"},
      {R"({"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "dependsOn": [{"containerName": "b", "condition": "START"}]}, {"name": "b", "image": "i", "dependsOn": [{"containerName": "a", "condition": "START"}]}]})",
       "dependsOn makes a cycle among a, b"},
      {R"({"family": "f", "memory": 100, "containerDefinitions": [{"name": "a", "image": "i", "memory": 64}, {"name": "b", "image": "i", "memoryReservation": 64}]})",
       "the containers' memory adds up to 128 MiB, above the task's 100 MiB"},
      {R"({"family": "f", "cpu": 256, "containerDefinitions": [{"name": "a", "image": "i", "cpu": 512}]})",
       "the containers' cpu adds up to 512 units, above the task's 256"},
  };
  for (const Bad& b : bad) {
    auto parsed = parseTaskDefinition(b.json, "t.json");
    if (parsed) fail_msg("parsed: %s", b.json);
    const std::string& message = parsed.error().message();
    if (message.find(b.mentions) == std::string::npos ||
        message.find("t.json") == std::string::npos) {
      fail_msg("\"%s\" does not mention \"%s\" and the file", message.c_str(), b.mentions);
    }
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_full_task_is_read_field_by_field),
      cmocka_unit_test(broken_tasks_are_refused_naming_the_field),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
