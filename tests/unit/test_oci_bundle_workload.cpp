// An OCI bundle's config.json as the workload a microVM runs (workloadFromBundle): process,
// hostname, root and resources carried field by field; a terminal refused; each kind of mount
// left to the guest kernel, skipped with a note, taken as a read-only volume or refused; and a
// seccomp profile noted as not applied.
#include <sys/resource.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/oci/bundle_workload.h"
#include "common/oci/runtime_spec.h"
#include "tests/unit/unit_test.h"

using nlohmann::json;
using tandem::Isolation;
using tandem::NetworkMode;
using tandem::Volume;
using tandem::VolumeKind;
using tandem::oci::BundleWorkload;
using tandem::oci::parseSpec;
using tandem::oci::Spec;
using tandem::oci::workloadFromBundle;

namespace {

constexpr const char* kId = "4f1c0d2e";
constexpr const char* kRootfs = "/var/lib/containers/storage/overlay/4f1c/merged";

// A bundle as podman writes it for `podman run --user 1000:1001 --group-add 10 --group-add 27
// --ulimit nofile=1024:4096 --ulimit nproc=100:200 --read-only --hostname web`, without mounts.
const char* const kBase = R"({
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": false,
    "user": {"uid": 1000, "gid": 1001, "additionalGids": [10, 27]},
    "args": ["/usr/sbin/httpd", "-f", "/etc/httpd.conf"],
    "env": ["PATH=/usr/sbin:/usr/bin", "HOME=/srv/www", "container=podman"],
    "cwd": "/srv/www",
    "rlimits": [
      {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
      {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200}
    ]
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "web",
  "mounts": [],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                           {"type": "network"}]}
})";

// A fake host: folders are what lies under /host/dir, everything else is a file.
bool isFolder(const std::string& path) {
  return path.starts_with("/host/dir");
}

json base() {
  return json::parse(kBase);
}

Spec parsed(const std::string& text) {
  auto spec = parseSpec(text);
  if (!spec.ok()) fail_msg("parseSpec failed: %s", spec.error().describe().c_str());
  return *spec;
}

BundleWorkload mapped(const json& document) {
  auto out = workloadFromBundle(parsed(document.dump()), kId, kRootfs, isFolder);
  if (!out.ok()) fail_msg("workloadFromBundle refused: %s", out.error().describe().c_str());
  return *out;
}

// The refusal of `document`, failing the test if it is accepted.
std::string refusal(const json& document) {
  auto out = workloadFromBundle(parsed(document.dump()), kId, kRootfs, isFolder);
  if (out.ok()) fail_msg("workloadFromBundle accepted a bundle it should refuse");
  return out.error().describe();
}

json withMounts(json mounts) {
  json document = base();
  document["mounts"] = std::move(mounts);
  return document;
}

json withResources(json resources) {
  json document = base();
  document["linux"]["resources"] = std::move(resources);
  return document;
}

void expectString(const std::string& actual, const char* expected) {
  assert_string_equal(actual.c_str(), expected);
}

void expectStrings(const std::vector<std::string>& actual, std::vector<std::string> expected) {
  if (actual.size() != expected.size()) {
    std::string all;
    for (const auto& each : actual) all += "\n  " + each;
    fail_msg("%zu strings, expected %zu:%s", actual.size(), expected.size(), all.c_str());
  }
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] != expected[i]) {
      fail_msg("[%zu] is \"%s\", expected \"%s\"", i, actual[i].c_str(), expected[i].c_str());
    }
  }
}

void expectMentions(const std::string& text, const std::string& part) {
  if (text.find(part) == std::string::npos) {
    fail_msg("\"%s\" does not mention \"%s\"", text.c_str(), part.c_str());
  }
}

void expectVolume(const Volume& volume, const char* source, const char* target) {
  expectString(volume.source, source);
  expectString(volume.target, target);
  assert_true(volume.readOnly);
  assert_true(volume.kind == VolumeKind::kBind);
}

}  // namespace

static void process_hostname_and_root_become_the_workloads(void**) {
  BundleWorkload out = mapped(base());
  const auto& workload = out.workload;
  expectString(workload.id, kId);
  assert_true(workload.isolation == Isolation::kVm);
  expectStrings(workload.command, {"/usr/sbin/httpd", "-f", "/etc/httpd.conf"});
  expectStrings(workload.env, {"PATH=/usr/sbin:/usr/bin", "HOME=/srv/www", "container=podman"});
  expectString(workload.workdir, "/srv/www");
  expectString(workload.hostname, "web");
  // The root given, not root.path as written in config.json.
  expectString(workload.rootfs, kRootfs);
  assert_true(workload.readOnlyRootfs);
  assert_true(workload.network == NetworkMode::kNone);
  assert_false(workload.tty);
  assert_true(workload.volumes.empty());
  assert_false(workload.limits.memoryBytes.has_value());
  assert_false(workload.limits.cpuMilli.has_value());
  expectStrings(out.skipped, {});
}

static void a_writable_root_stays_writable(void**) {
  json document = base();
  document["root"].erase("readonly");
  assert_false(mapped(document).workload.readOnlyRootfs);
  document["root"]["readonly"] = false;
  assert_false(mapped(document).workload.readOnlyRootfs);
}

static void user_takes_uid_gid_and_additional_gids(void**) {
  const auto& user = mapped(base()).workload.user;
  assert_true(user.spec.has_value());
  expectString(*user.spec, "1000:1001");
  assert_int_equal(user.uid, 1000);
  assert_int_equal(user.gid, 1001);
  assert_int_equal(user.additionalGids.size(), 2);
  assert_int_equal(user.additionalGids[0], 10);
  assert_int_equal(user.additionalGids[1], 27);
}

static void root_user_is_spelled_zero_zero(void**) {
  json document = base();
  document["process"]["user"] = {{"uid", 0}, {"gid", 0}};
  const auto& user = mapped(document).workload.user;
  assert_true(user.spec.has_value());
  expectString(*user.spec, "0:0");
  assert_int_equal(user.uid, 0);
  assert_int_equal(user.gid, 0);
  assert_true(user.additionalGids.empty());
}

static void rlimits_are_carried_in_order(void**) {
  const auto& rlimits = mapped(base()).workload.rlimits;
  assert_int_equal(rlimits.size(), 2);
  assert_int_equal(rlimits[0].resource, RLIMIT_NOFILE);
  assert_int_equal(rlimits[0].soft, 1024);
  assert_int_equal(rlimits[0].hard, 4096);
  assert_int_equal(rlimits[1].resource, RLIMIT_NPROC);
  assert_int_equal(rlimits[1].soft, 100);
  assert_int_equal(rlimits[1].hard, 200);
}

static void memory_limit_becomes_memory_bytes(void**) {
  auto limits = mapped(withResources({{"memory", {{"limit", 268435456}}}})).workload.limits;
  assert_true(limits.memoryBytes.has_value());
  assert_int_equal(*limits.memoryBytes, 268435456);
}

static void no_memory_limit_when_absent_zero_or_unlimited(void**) {
  assert_false(
      mapped(withResources({{"memory", json::object()}})).workload.limits.memoryBytes.has_value());
  assert_false(
      mapped(withResources({{"memory", {{"limit", 0}}}})).workload.limits.memoryBytes.has_value());
  assert_false(
      mapped(withResources({{"memory", {{"limit", -1}}}})).workload.limits.memoryBytes.has_value());
}

static void cpu_quota_and_period_become_cpu_milli(void**) {
  struct Row {
    json cpu;
    std::uint64_t milli;
  } rows[] = {
      {{{"quota", 50000}, {"period", 100000}}, 500},
      {{{"quota", 150000}, {"period", 100000}}, 1500},
      {{{"quota", 25000}, {"period", 50000}}, 500},
      // Without a period, the kernel's default of 100000 microseconds.
      {{{"quota", 50000}}, 500},
      {{{"quota", 200000}}, 2000},
  };
  for (const Row& row : rows) {
    auto limits = mapped(withResources({{"cpu", row.cpu}})).workload.limits;
    if (!limits.cpuMilli) fail_msg("%s: no cpuMilli", row.cpu.dump().c_str());
    if (*limits.cpuMilli != row.milli) {
      fail_msg("%s: cpuMilli %llu, expected %llu", row.cpu.dump().c_str(),
               static_cast<unsigned long long>(*limits.cpuMilli),
               static_cast<unsigned long long>(row.milli));
    }
  }
}

static void no_cpu_milli_without_a_quota_or_with_an_unlimited_one(void**) {
  assert_false(
      mapped(withResources({{"cpu", {{"period", 100000}}}})).workload.limits.cpuMilli.has_value());
  assert_false(mapped(withResources({{"cpu", {{"quota", -1}, {"period", 100000}}}}))
                   .workload.limits.cpuMilli.has_value());
  assert_false(
      mapped(withResources({{"cpu", {{"shares", 512}}}})).workload.limits.cpuMilli.has_value());
}

static void a_terminal_is_refused_mentioning_terminal(void**) {
  json document = base();
  document["process"]["terminal"] = true;
  expectMentions(refusal(document), "terminal");
}

static void a_bundle_without_a_process_is_refused(void**) {
  json document = base();
  document.erase("process");
  expectMentions(refusal(document), "process");
}

static void kernel_filesystems_are_left_to_the_guest_silently(void**) {
  // As podman and `runc spec` write them.
  BundleWorkload out = mapped(withMounts(json::parse(R"([
    {"destination": "/proc", "type": "proc", "source": "proc",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]}
  ])")));
  expectStrings(out.skipped, {});
  assert_true(out.workload.volumes.empty());
}

static void binds_under_dev_proc_and_sys_are_skipped_with_a_note(void**) {
  // Even a host folder bound there: the guest kernel's tree is its own.
  BundleWorkload out = mapped(withMounts(json::parse(R"([
    {"destination": "/dev/shm", "type": "bind",
     "source": "/var/lib/containers/storage/overlay-containers/4f1c/userdata/shm",
     "options": ["bind", "private", "nosuid", "noexec", "nodev"]},
    {"destination": "/proc/driver/nvidia", "source": "/host/dir/nvidia",
     "options": ["rbind", "ro"]},
    {"destination": "/sys", "type": "bind", "source": "/host/dir/sys", "options": ["rbind", "ro"]}
  ])")));
  expectStrings(out.skipped,
                {"/dev/shm: the guest kernel's own", "/proc/driver/nvidia: the guest kernel's own",
                 "/sys: the guest kernel's own"});
  assert_true(out.workload.volumes.empty());
}

static void a_path_that_only_begins_like_dev_is_not_the_kernels(void**) {
  BundleWorkload out = mapped(withMounts(json::parse(R"([
    {"destination": "/devices", "type": "bind", "source": "/host/dir/devices",
     "options": ["rbind", "ro"]},
    {"destination": "/system", "type": "bind", "source": "/host/dir/system",
     "options": ["rbind", "ro"]}
  ])")));
  expectStrings(out.skipped, {});
  assert_int_equal(out.workload.volumes.size(), 2);
  expectVolume(out.workload.volumes[0], "/host/dir/devices", "/devices");
  expectVolume(out.workload.volumes[1], "/host/dir/system", "/system");
}

static void a_bound_file_is_skipped_with_a_note_naming_its_source(void**) {
  BundleWorkload out = mapped(withMounts(json::parse(R"([
    {"destination": "/etc/hosts", "type": "bind",
     "source": "/run/containers/storage/overlay-containers/4f1c/userdata/hosts",
     "options": ["bind", "rprivate"]},
    {"destination": "/etc/resolv.conf", "source": "/run/resolv.conf",
     "options": ["rbind", "ro"]}
  ])")));
  assert_int_equal(out.skipped.size(), 2);
  expectMentions(out.skipped[0], "/etc/hosts: ");
  expectMentions(out.skipped[0], "/run/containers/storage/overlay-containers/4f1c/userdata/hosts");
  expectMentions(out.skipped[1], "/etc/resolv.conf: ");
  expectMentions(out.skipped[1], "/run/resolv.conf");
  assert_true(out.workload.volumes.empty());
}

static void a_read_only_folder_bind_becomes_a_read_only_volume(void**) {
  // Told by type "bind" or, with no type, by its options; in config.json's order.
  BundleWorkload out = mapped(withMounts(json::parse(R"([
    {"destination": "/srv/www", "type": "bind", "source": "/host/dir/site",
     "options": ["rbind", "ro", "rprivate"]},
    {"destination": "/etc/app", "source": "/host/dir/config", "options": ["bind", "ro"]},
    {"destination": "/data", "source": "/host/dir/data", "options": ["rw", "rbind", "ro"]}
  ])")));
  expectStrings(out.skipped, {});
  const auto& volumes = out.workload.volumes;
  assert_int_equal(volumes.size(), 3);
  expectVolume(volumes[0], "/host/dir/site", "/srv/www");
  expectVolume(volumes[1], "/host/dir/config", "/etc/app");
  expectVolume(volumes[2], "/host/dir/data", "/data");
}

static void a_writable_folder_bind_is_refused_naming_destination_and_ro(void**) {
  for (const char* options :
       {R"(["rbind", "rprivate"])", R"(["rbind", "rw"])", R"(["bind", "ro", "rw"])"}) {
    json mount = {{"destination", "/var/lib/app"},
                  {"type", "bind"},
                  {"source", "/host/dir/state"},
                  {"options", json::parse(options)}};
    std::string message = refusal(withMounts(json::array({mount})));
    expectMentions(message, "/var/lib/app");
    expectMentions(message, ":ro");
  }
}

static void another_filesystem_is_skipped_with_a_note(void**) {
  BundleWorkload out = mapped(withMounts(json::parse(R"([
    {"destination": "/data", "type": "overlay", "source": "overlay",
     "options": ["lowerdir=/a:/b", "upperdir=/c", "workdir=/d"]}
  ])")));
  assert_int_equal(out.skipped.size(), 1);
  expectMentions(out.skipped[0], "/data: ");
  expectMentions(out.skipped[0], "overlay");
  assert_true(out.workload.volumes.empty());
}

static void podmans_mounts_as_a_whole(void**) {
  // `podman run -v /host/dir/site:/srv/www:ro`: its kernel filesystems silent, its per-container
  // files skipped, /dev/shm left to the guest, the volume taken.
  BundleWorkload out = mapped(withMounts(json::parse(R"([
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["gid=5"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": []},
    {"destination": "/etc/hostname", "type": "bind", "source": "/run/u/hostname",
     "options": ["bind", "rprivate"]},
    {"destination": "/dev/shm", "type": "bind", "source": "/run/u/shm",
     "options": ["bind", "rprivate"]},
    {"destination": "/srv/www", "type": "bind", "source": "/host/dir/site",
     "options": ["rbind", "ro", "rprivate"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]}
  ])")));
  assert_int_equal(out.skipped.size(), 2);
  expectMentions(out.skipped[0], "/etc/hostname: ");
  expectMentions(out.skipped[0], "/run/u/hostname");
  expectString(out.skipped[1], "/dev/shm: the guest kernel's own");
  assert_int_equal(out.workload.volumes.size(), 1);
  expectVolume(out.workload.volumes[0], "/host/dir/site", "/srv/www");
}

static void a_seccomp_profile_adds_a_note(void**) {
  json document = base();
  document["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ERRNO"},
      {"syscalls", {{{"names", {"read"}}, {"action", "SCMP_ACT_ALLOW"}}}}};
  BundleWorkload out = mapped(document);
  assert_int_equal(out.skipped.size(), 1);
  expectMentions(out.skipped[0], "seccomp");
}

static void the_workload_is_validated(void**) {
  // Two read-only binds onto one path: tandem's own check of the workload refuses it.
  expectMentions(refusal(withMounts(json::parse(R"([
    {"destination": "/srv", "type": "bind", "source": "/host/dir/a", "options": ["ro"]},
    {"destination": "/srv", "type": "bind", "source": "/host/dir/b", "options": ["ro"]}
  ])"))),
                 "two volumes (-v) are mounted on /srv");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(process_hostname_and_root_become_the_workloads),
      cmocka_unit_test(a_writable_root_stays_writable),
      cmocka_unit_test(user_takes_uid_gid_and_additional_gids),
      cmocka_unit_test(root_user_is_spelled_zero_zero),
      cmocka_unit_test(rlimits_are_carried_in_order),
      cmocka_unit_test(memory_limit_becomes_memory_bytes),
      cmocka_unit_test(no_memory_limit_when_absent_zero_or_unlimited),
      cmocka_unit_test(cpu_quota_and_period_become_cpu_milli),
      cmocka_unit_test(no_cpu_milli_without_a_quota_or_with_an_unlimited_one),
      cmocka_unit_test(a_terminal_is_refused_mentioning_terminal),
      cmocka_unit_test(a_bundle_without_a_process_is_refused),
      cmocka_unit_test(kernel_filesystems_are_left_to_the_guest_silently),
      cmocka_unit_test(binds_under_dev_proc_and_sys_are_skipped_with_a_note),
      cmocka_unit_test(a_path_that_only_begins_like_dev_is_not_the_kernels),
      cmocka_unit_test(a_bound_file_is_skipped_with_a_note_naming_its_source),
      cmocka_unit_test(a_read_only_folder_bind_becomes_a_read_only_volume),
      cmocka_unit_test(a_writable_folder_bind_is_refused_naming_destination_and_ro),
      cmocka_unit_test(another_filesystem_is_skipped_with_a_note),
      cmocka_unit_test(podmans_mounts_as_a_whole),
      cmocka_unit_test(a_seccomp_profile_adds_a_note),
      cmocka_unit_test(the_workload_is_validated),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
