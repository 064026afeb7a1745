#include "vmm/vmm_invocation.h"

#include <nlohmann/json.hpp>

#include "tests/unit/unit_test.h"

using tandem::Error;
using tandem::WorkloadOutcome;
using tandem::vmm::parseVmmArguments;
using tandem::vmm::vmmArguments;
using tandem::vmm::VmmInvocation;
using tandem::vmm::VmRun;
using tandem::vmm::vmRunFromJson;
using tandem::vmm::vmRunToJson;

namespace {

VmmInvocation everything() {
  VmmInvocation invocation;
  invocation.config.kernelPath = "/k/bzImage";
  invocation.config.guestInitPath = "/g/init";
  invocation.config.initramfsPath = "/r/root.cpio";
  invocation.config.kvmPath = "/dev/kvm-test";
  invocation.config.vmlinuxCacheDirectory = "";
  invocation.config.timeout = std::chrono::milliseconds(2500);
  invocation.config.hugepages = true;
  invocation.config.showConsole = false;
  invocation.config.stats = true;
  invocation.config.disks = {{"/d/root.ext4", true}, {"/d/with:colon", false}};
  invocation.config.rootDisk = {.path = "/s/image.ext4", .layerPath = "/s/vms/x/layer.img"};
  invocation.workloadFd = 7;
  invocation.resultFd = 9;
  invocation.parent = 4242;
  invocation.startedAtNs = 123456789012345;
  invocation.logLevel = "debug";
  return invocation;
}

void arguments_round_trip(void**) {
  VmmInvocation sent = everything();
  auto parsed = parseVmmArguments(vmmArguments(sent));
  assert_true(parsed.ok());
  const auto& got = parsed->config;
  assert_string_equal(got.kernelPath.c_str(), "/k/bzImage");
  assert_string_equal(got.guestInitPath.c_str(), "/g/init");
  assert_string_equal(got.initramfsPath.c_str(), "/r/root.cpio");
  assert_string_equal(got.kvmPath.c_str(), "/dev/kvm-test");
  // An empty cache folder means no cache, and must survive as empty, not as the default.
  assert_true(got.vmlinuxCacheDirectory.empty());
  assert_true(got.timeout.has_value());
  assert_int_equal(got.timeout->count(), 2500);
  assert_true(got.hugepages);
  assert_false(got.showConsole);
  assert_true(got.stats);
  assert_int_equal(got.disks.size(), 2);
  assert_string_equal(got.disks[0].path.c_str(), "/d/root.ext4");
  assert_true(got.disks[0].readOnly);
  assert_string_equal(got.disks[1].path.c_str(), "/d/with:colon");
  assert_false(got.disks[1].readOnly);
  assert_true(got.rootDisk.has_value());
  assert_string_equal(got.rootDisk->path.c_str(), "/s/image.ext4");
  assert_string_equal(got.rootDisk->layerPath.c_str(), "/s/vms/x/layer.img");
  assert_int_equal(parsed->workloadFd, 7);
  assert_int_equal(parsed->resultFd, 9);
  assert_int_equal(*parsed->parent, 4242);
  assert_true(*parsed->startedAtNs == 123456789012345);
  assert_string_equal(parsed->logLevel.c_str(), "debug");
}

void the_least_invocation_takes_defaults(void**) {
  VmmInvocation sent;
  sent.config.kernelPath = "/k";
  sent.config.guestInitPath = "/g";
  sent.config.timeout.reset();
  sent.workloadFd = 0;
  auto parsed = parseVmmArguments(vmmArguments(sent));
  assert_true(parsed.ok());
  assert_false(parsed->config.timeout.has_value());
  assert_false(parsed->config.stats);
  assert_true(parsed->config.initramfsPath.empty());
  assert_int_equal(parsed->resultFd, -1);
  assert_false(parsed->parent.has_value());
  assert_false(parsed->startedAtNs.has_value());
}

void bad_arguments_say_which(void**) {
  auto unknown = parseVmmArguments({"--kernel", "/k", "--frobnicate"});
  assert_false(unknown.ok());
  assert_non_null(std::strstr(unknown.error().message().c_str(), "--frobnicate"));

  auto missing = parseVmmArguments({"--kernel", "/k", "--guest-init"});
  assert_false(missing.ok());
  assert_non_null(std::strstr(missing.error().message().c_str(), "--guest-init needs a value"));

  for (const char* number : {"-1", "12x", "", "99999999999999999999"}) {
    auto bad = parseVmmArguments(
        {"--kernel", "/k", "--guest-init", "/g", "--workload-fd", "3", "--parent", number});
    assert_false(bad.ok());
    assert_non_null(std::strstr(bad.error().message().c_str(), "--parent takes a whole number"));
  }
  auto zeroTimeout = parseVmmArguments(
      {"--kernel", "/k", "--guest-init", "/g", "--workload-fd", "3", "--timeout-ms", "0"});
  assert_false(zeroTimeout.ok());

  auto incomplete = parseVmmArguments({"--kernel", "/k", "--guest-init", "/g"});
  assert_false(incomplete.ok());
  assert_non_null(std::strstr(incomplete.error().message().c_str(), "--workload-fd"));
}

void disk_specs_parse(void**) {
  auto plain = tandem::vmm::parseDiskSpec("/x/disk.img");
  assert_true(plain.ok());
  assert_false(plain->readOnly);
  auto readOnly = tandem::vmm::parseDiskSpec("/x/disk.img:ro");
  assert_true(readOnly.ok() && readOnly->readOnly);
  assert_string_equal(readOnly->path.c_str(), "/x/disk.img");
  assert_false(tandem::vmm::parseDiskSpec("").ok());
  assert_false(tandem::vmm::parseDiskSpec(":ro").ok());
  auto layered = tandem::vmm::parseDiskSpec("/x/base:1.ext4:layer=/y/l:ro");
  assert_true(layered.ok());
  assert_string_equal(layered->path.c_str(), "/x/base:1.ext4");
  assert_string_equal(layered->layerPath.c_str(), "/y/l:ro");
  assert_false(layered->readOnly);
  assert_string_equal(layered->text().c_str(), "/x/base:1.ext4:layer=/y/l:ro");
  assert_false(tandem::vmm::parseDiskSpec("/x/base:layer=").ok());
}

void an_outcome_round_trips(void**) {
  WorkloadOutcome outcome;
  outcome.id = "abc";
  outcome.status.signaled = true;
  outcome.status.signal = 9;
  outcome.launchError = "";
  VmRun sent{outcome, nlohmann::json{{"vcpus", 2}}};
  auto got = vmRunFromJson(nlohmann::json::parse(vmRunToJson(sent).dump()));
  assert_true(got.ok());
  assert_true(got->outcome.ok());
  assert_string_equal(got->outcome->id.c_str(), "abc");
  assert_true(got->outcome->status.signaled);
  assert_int_equal(got->outcome->status.signal, 9);
  assert_int_equal(got->outcome->exitCode(), 137);
  assert_int_equal(got->stats["vcpus"].get<int>(), 2);

  outcome = WorkloadOutcome{};
  outcome.status.code = 127;
  outcome.launchError = "no such command";
  got = vmRunFromJson(vmRunToJson(VmRun{outcome, nullptr}));
  assert_true(got.ok() && got->outcome.ok());
  assert_int_equal(got->outcome->exitCode(), 127);
  assert_string_equal(got->outcome->launchError.c_str(), "no such command");
  assert_true(got->stats.is_null());
}

void an_error_round_trips(void**) {
  VmRun sent{Error("the guest kernel panicked", EIO), nullptr};
  auto got = vmRunFromJson(vmRunToJson(sent));
  assert_true(got.ok());
  assert_false(got->outcome.ok());
  assert_string_equal(got->outcome.error().message().c_str(), "the guest kernel panicked");
  assert_int_equal(got->outcome.error().errnum(), EIO);
}

void a_foreign_result_is_refused(void**) {
  for (const char* text : {"[]", "{}", "{\"outcome\": 3}", "{\"outcome\": {\"id\": \"x\"}}",
                           "{\"error\": {\"errno\": 5}}",
                           "{\"outcome\": {\"id\": 1, "
                           "\"signaled\": false, \"code\": 0, \"signal\": 0, \"oomKilled\": "
                           "false, \"launchError\": \"\"}}"}) {
    auto got = vmRunFromJson(nlohmann::json::parse(text));
    assert_false(got.ok());
    assert_non_null(std::strstr(got.error().message().c_str(), "same build"));
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(arguments_round_trip),
      cmocka_unit_test(the_least_invocation_takes_defaults),
      cmocka_unit_test(bad_arguments_say_which),
      cmocka_unit_test(disk_specs_parse),
      cmocka_unit_test(an_outcome_round_trips),
      cmocka_unit_test(an_error_round_trips),
      cmocka_unit_test(a_foreign_result_is_refused),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
