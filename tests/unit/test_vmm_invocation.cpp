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
  invocation.config.seccomp = tandem::vmm::SeccompMode::kLog;
  invocation.config.disks = {{"/d/root.ext4", true}, {"/d/with:colon", false}};
  invocation.config.rootDisk = {.path = "/s/image.ext4", .layerPath = "/s/vms/x/layer.img"};
  invocation.config.nics = {*tandem::vmm::parseNicSpec("tap7,host=10.0.2.1/24,guest=10.0.2.2/24"),
                            {.tap = "tap8"}};
  invocation.workloadFd = 7;
  invocation.resultFd = 9;
  invocation.parentPidfd = 11;
  invocation.config.jail = tandem::vmm::JailUser{1073741900, 1073741901};
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
  assert_true(got.seccomp == tandem::vmm::SeccompMode::kLog);
  assert_int_equal(got.disks.size(), 2);
  assert_string_equal(got.disks[0].path.c_str(), "/d/root.ext4");
  assert_true(got.disks[0].readOnly);
  assert_string_equal(got.disks[1].path.c_str(), "/d/with:colon");
  assert_false(got.disks[1].readOnly);
  assert_true(got.rootDisk.has_value());
  assert_string_equal(got.rootDisk->path.c_str(), "/s/image.ext4");
  assert_string_equal(got.rootDisk->layerPath.c_str(), "/s/vms/x/layer.img");
  assert_int_equal(got.nics.size(), 2);
  assert_string_equal(got.nics[0].text().c_str(), "tap7,host=10.0.2.1/24,guest=10.0.2.2/24");
  assert_string_equal(got.nics[1].tap.c_str(), "tap8");
  assert_int_equal(parsed->workloadFd, 7);
  assert_int_equal(parsed->resultFd, 9);
  assert_int_equal(parsed->parentPidfd, 11);
  assert_true(got.jail.has_value());
  assert_int_equal(got.jail->uid, 1073741900);
  assert_int_equal(got.jail->gid, 1073741901);
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
  assert_true(parsed->config.seccomp == tandem::vmm::SeccompMode::kEnforce);
  assert_true(parsed->config.initramfsPath.empty());
  assert_int_equal(parsed->resultFd, -1);
  assert_int_equal(parsed->parentPidfd, -1);
  assert_false(parsed->config.jail.has_value());
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
        {"--kernel", "/k", "--guest-init", "/g", "--workload-fd", "3", "--parent-pidfd", number});
    assert_false(bad.ok());
    assert_non_null(
        std::strstr(bad.error().message().c_str(), "--parent-pidfd takes a whole number"));
  }
  for (const char* user : {"0:1000", "1000:0", "1000", "65535:1", "1:4294967295", "a:b", "1:2:3"}) {
    auto bad = parseVmmArguments(
        {"--kernel", "/k", "--guest-init", "/g", "--workload-fd", "3", "--jail", user});
    assert_false(bad.ok());
    assert_non_null(std::strstr(bad.error().message().c_str(), "--jail takes UID:GID"));
  }
  auto zeroTimeout = parseVmmArguments(
      {"--kernel", "/k", "--guest-init", "/g", "--workload-fd", "3", "--timeout-ms", "0"});
  assert_false(zeroTimeout.ok());

  auto badSeccomp = parseVmmArguments(
      {"--kernel", "/k", "--guest-init", "/g", "--workload-fd", "3", "--seccomp", "strict"});
  assert_false(badSeccomp.ok());
  assert_non_null(std::strstr(badSeccomp.error().message().c_str(), "enforce, log or off"));

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

void nic_specs_parse(void**) {
  using tandem::vmm::parseNicSpec;
  auto full = parseNicSpec("tandem0,mac=02:AB:cd:00:00:01,host=10.0.2.1/24,guest=10.0.2.2/24");
  assert_true(full.ok());
  assert_string_equal(full->tap.c_str(), "tandem0");
  assert_string_equal(tandem::vmm::macText(full->macAddress()).c_str(), "02:ab:cd:00:00:01");
  // The guest's route goes through the host's end unless a gateway is named.
  assert_string_equal(full->guestOption(0).c_str(), "tandem.net=eth0,10.0.2.2/24,10.0.2.1");
  auto gateway = parseNicSpec("t1,guest=192.168.1.5/24,gateway=192.168.1.1");
  assert_string_equal(gateway->guestOption(2).c_str(),
                      "tandem.net=eth2,192.168.1.5/24,192.168.1.1");
  assert_true(parseNicSpec("t1")->guestOption(0).empty());
  assert_string_equal(parseNicSpec(full->text())->text().c_str(), full->text().c_str());
  // Distinct TAPs, distinct derived addresses; both locally administered unicast.
  auto a = parseNicSpec("tap-a")->macAddress();
  auto b = parseNicSpec("tap-b")->macAddress();
  assert_true(a != b);
  assert_int_equal(a[0], 0x02);
  for (const char* bad :
       {"", "a-name-longer-than-15", "t/1", "t1,mac=01:00:5e:00:00:01", "t1,mac=02:00:00:00:00",
        "t1,host=10.0.0.1/40", "t1,guest=x", "t1,gateway=10.0.0", "t1,speed=10"}) {
    auto parsed = parseNicSpec(bad);
    if (parsed.ok()) fail_msg("\"%s\" parsed", bad);
    assert_non_null(std::strstr(parsed.error().message().c_str(), "--tap"));
  }
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
      cmocka_unit_test(nic_specs_parse),
      cmocka_unit_test(an_outcome_round_trips),
      cmocka_unit_test(an_error_round_trips),
      cmocka_unit_test(a_foreign_result_is_refused),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
