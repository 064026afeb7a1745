// A bundle's config.json read by parseSpec: a full one as podman 4.3 writes it, checked field by
// field; each refusal naming the field at fault; and `runc spec`'s default document.
#include <sys/resource.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/oci/runtime_spec.h"
#include "tests/unit/unit_test.h"

using nlohmann::json;
using tandem::oci::defaultSpecJson;
using tandem::oci::Hook;
using tandem::oci::NamespaceType;
using tandem::oci::parseSpec;
using tandem::oci::Spec;

namespace {

// What podman 4.3 writes for `podman run --user 1000:1000 --group-add 10 --memory 256m
// --memory-reservation 128m --cpus 0.5 --cpu-shares 512 --cpuset-cpus 0-1 --pids-limit 2048
// --device /dev/fuse --network ns:/run/netns/netns-1234 --hostname web ...`, with a hook of each
// kind added, and the fields this runtime does not read (apparmorProfile, selinuxLabel,
// mountLabel, archMap...) left in.
const char* const kPodmanConfig = R"({
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": false,
    "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [10, 1000]},
    "args": ["/bin/sh", "-c", "exec httpd -f"],
    "env": [
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "TERM=xterm",
      "container=podman",
      "HOSTNAME=web",
      "HOME=/home/app"
    ],
    "cwd": "/srv/www",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"],
      "inheritable": [],
      "permitted": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [
      {"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 524288},
      {"type": "RLIMIT_NPROC", "hard": 4194304, "soft": 4194304},
      {"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 0}
    ],
    "noNewPrivileges": true,
    "apparmorProfile": "containers-default-0.50.1",
    "oomScoreAdj": -500,
    "selinuxLabel": "system_u:system_r:container_t:s0:c142,c768"
  },
  "root": {"path": "/var/lib/containers/storage/overlay/4f1c/merged", "readonly": true},
  "hostname": "web",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/etc/hostname", "type": "bind",
     "source": "/run/containers/storage/overlay-containers/4f1c/userdata/hostname",
     "options": ["bind", "rprivate"]},
    {"destination": "/srv/www", "source": "/home/user/site",
     "options": ["rbind", "ro", "rprivate"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]}
  ],
  "hooks": {
    "prestart": [{"path": "/usr/libexec/podman/prestart", "args": ["prestart", "--debug"],
                  "env": ["LEVEL=1"], "timeout": 5}],
    "createRuntime": [{"path": "/usr/bin/netavark-hook", "args": ["netavark-hook", "setup"]},
                      {"path": "/usr/bin/second-hook"}],
    "createContainer": [{"path": "/usr/libexec/oci/hooks.d/create", "timeout": 10}],
    "startContainer": [{"path": "/usr/libexec/oci/hooks.d/start", "env": ["A=1", "B=2"]}],
    "poststart": [{"path": "/usr/libexec/oci/hooks.d/poststart", "args": ["poststart"],
                   "timeout": 1}],
    "poststop": [{"path": "/usr/libexec/podman/conmon-cleanup", "args": ["cleanup", "4f1c"],
                  "env": ["PATH=/usr/bin"], "timeout": 30}]
  },
  "annotations": {
    "io.container.manager": "libpod",
    "io.podman.annotations.autoremove": "FALSE",
    "org.opencontainers.image.stopSignal": "15"
  },
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 1000},
                    {"containerID": 1000, "hostID": 1000, "size": 1}],
    "sysctl": {"net.ipv4.ping_group_range": "0 0", "kernel.msgmax": "65536"},
    "resources": {
      "devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
        {"allow": true, "type": "b", "major": 8, "access": "r"}
      ],
      "memory": {"limit": 268435456, "reservation": 134217728, "swap": 536870912},
      "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
      "pids": {"limit": 2048}
    },
    "cgroupsPath": "machine.slice:libpod:4f1c",
    "namespaces": [
      {"type": "pid"},
      {"type": "network", "path": "/run/netns/netns-1234"},
      {"type": "ipc"},
      {"type": "uts"},
      {"type": "mount"},
      {"type": "cgroup"},
      {"type": "user"}
    ],
    "devices": [
      {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438,
       "uid": 0, "gid": 0},
      {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}
    ],
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 38,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
      "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
      "syscalls": [
        {"names": ["bdflush", "io_pgetevents"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 131072, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 5, "value": 2114060288, "valueTwo": 7, "op": "SCMP_CMP_MASKED_EQ"},
                  {"index": 1, "value": 0, "op": "SCMP_CMP_NE"}]}
      ]
    },
    "maskedPaths": ["/proc/acpi", "/proc/kcore", "/sys/firmware"],
    "readonlyPaths": ["/proc/bus", "/proc/sys"],
    "rootfsPropagation": "private",
    "mountLabel": "system_u:object_r:container_file_t:s0:c142,c768"
  }
})";

// The smallest document parseSpec takes, for the refusals to change one field of.
json minimal() {
  return json::parse(R"({
    "ociVersion": "1.0.2",
    "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/",
                "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}]},
    "root": {"path": "rootfs"},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
  })");
}

void expectString(const std::string& actual, const char* expected) {
  assert_string_equal(actual.c_str(), expected);
}

void expectStrings(const std::vector<std::string>& actual, std::vector<std::string> expected) {
  if (actual.size() != expected.size()) {
    fail_msg("%zu strings, expected %zu", actual.size(), expected.size());
  }
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] != expected[i]) {
      fail_msg("[%zu] is \"%s\", expected \"%s\"", i, actual[i].c_str(), expected[i].c_str());
    }
  }
}

void expectHook(const Hook& hook, const char* path, std::vector<std::string> args,
                std::vector<std::string> env, int timeout /* 0: none */) {
  expectString(hook.path, path);
  expectStrings(hook.args, std::move(args));
  expectStrings(hook.env, std::move(env));
  if (timeout == 0) {
    assert_false(hook.timeoutSeconds.has_value());
  } else {
    assert_true(hook.timeoutSeconds.has_value());
    assert_int_equal(*hook.timeoutSeconds, timeout);
  }
}

Spec parsed(const std::string& text) {
  auto spec = parseSpec(text);
  if (!spec.ok()) {
    fail_msg("parseSpec failed: %s", spec.error().message().c_str());
  }
  return *spec;
}

// The refusal of `document`, failing the test if it is accepted or does not start with
// "config.json: " and the field path `field` followed by ':'.
std::string refusal(const std::string& document, const char* field) {
  auto spec = parseSpec(document);
  if (spec.ok()) {
    fail_msg("accepted a document that should be refused at %s", field);
  }
  const std::string& message = spec.error().message();
  std::string expected = std::string("config.json: ") + field + ":";
  if (message.rfind(expected, 0) != 0) {
    fail_msg("error \"%s\" does not start with \"%s\"", message.c_str(), expected.c_str());
  }
  return message;
}

std::string refusal(const json& document, const char* field) {
  return refusal(document.dump(), field);
}

void expectMentions(const std::string& message, const char* text) {
  if (message.find(text) == std::string::npos) {
    fail_msg("error \"%s\" does not mention \"%s\"", message.c_str(), text);
  }
}

}  // namespace

static void podman_config_top_level_fields(void**) {
  Spec spec = parsed(kPodmanConfig);
  expectString(spec.ociVersion, "1.0.2-dev");
  expectString(spec.rootPath, "/var/lib/containers/storage/overlay/4f1c/merged");
  assert_true(spec.rootReadonly);
  expectString(spec.hostname, "web");
  expectString(spec.domainname, "");
  assert_int_equal(spec.annotations.size(), 3);
  expectString(spec.annotations.at("io.container.manager"), "libpod");
  expectString(spec.annotations.at("io.podman.annotations.autoremove"), "FALSE");
  expectString(spec.annotations.at("org.opencontainers.image.stopSignal"), "15");
}

static void podman_config_process_user_args_env_cwd(void**) {
  Spec spec = parsed(kPodmanConfig);
  assert_true(spec.process.has_value());
  const auto& process = *spec.process;
  assert_false(process.terminal);
  assert_int_equal(process.uid, 1000);
  assert_int_equal(process.gid, 1000);
  assert_true(process.umask.has_value());
  assert_int_equal(*process.umask, 022);
  assert_int_equal(process.additionalGids.size(), 2);
  assert_int_equal(process.additionalGids[0], 10);
  assert_int_equal(process.additionalGids[1], 1000);
  expectStrings(process.args, {"/bin/sh", "-c", "exec httpd -f"});
  expectStrings(process.env, {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                              "TERM=xterm", "container=podman", "HOSTNAME=web", "HOME=/home/app"});
  expectString(process.cwd, "/srv/www");
  assert_true(process.noNewPrivileges);
  assert_true(process.oomScoreAdj.has_value());
  assert_int_equal(*process.oomScoreAdj, -500);
}

static void podman_config_capability_sets(void**) {
  Spec spec = parsed(kPodmanConfig);
  assert_true(spec.process->capabilities.has_value());
  const auto& caps = *spec.process->capabilities;
  expectStrings(caps.bounding,
                {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_NET_BIND_SERVICE"});
  expectStrings(caps.effective, {"CAP_CHOWN", "CAP_NET_BIND_SERVICE"});
  expectStrings(caps.inheritable, {});
  expectStrings(caps.permitted, {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_NET_BIND_SERVICE"});
  expectStrings(caps.ambient, {"CAP_NET_BIND_SERVICE"});
}

static void podman_config_rlimits_in_order_with_full_uint64_range(void**) {
  Spec spec = parsed(kPodmanConfig);
  const auto& rlimits = spec.process->rlimits;
  assert_int_equal(rlimits.size(), 3);
  assert_int_equal(rlimits[0].resource, RLIMIT_NOFILE);
  assert_int_equal(rlimits[0].soft, 524288);
  assert_int_equal(rlimits[0].hard, 1048576);
  assert_int_equal(rlimits[1].resource, RLIMIT_NPROC);
  assert_int_equal(rlimits[1].soft, 4194304);
  assert_int_equal(rlimits[1].hard, 4194304);
  assert_int_equal(rlimits[2].resource, RLIMIT_CORE);
  assert_int_equal(rlimits[2].soft, 0);
  assert_true(rlimits[2].hard == UINT64_MAX);
}

static void podman_config_mounts_in_order_with_options(void**) {
  Spec spec = parsed(kPodmanConfig);
  assert_int_equal(spec.mounts.size(), 8);
  const auto& proc = spec.mounts[0];
  expectString(proc.destination, "/proc");
  expectString(proc.type, "proc");
  expectString(proc.source, "proc");
  expectStrings(proc.options, {"nosuid", "noexec", "nodev"});
  const auto& devpts = spec.mounts[3];
  expectString(devpts.destination, "/dev/pts");
  expectString(devpts.type, "devpts");
  expectStrings(devpts.options,
                {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"});
  const auto& hostname = spec.mounts[5];
  expectString(hostname.destination, "/etc/hostname");
  expectString(hostname.type, "bind");
  expectString(hostname.source,
               "/run/containers/storage/overlay-containers/4f1c/userdata/hostname");
  expectStrings(hostname.options, {"bind", "rprivate"});
  // A mount without "type" keeps it empty: a bind, told by its options.
  const auto& volume = spec.mounts[6];
  expectString(volume.destination, "/srv/www");
  expectString(volume.type, "");
  expectString(volume.source, "/home/user/site");
  expectStrings(volume.options, {"rbind", "ro", "rprivate"});
  expectString(spec.mounts[7].destination, "/sys/fs/cgroup");
  expectStrings(spec.mounts[7].options,
                {"rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"});
}

static void podman_config_hooks_of_all_six_kinds(void**) {
  Spec spec = parsed(kPodmanConfig);
  const auto& hooks = spec.hooks;
  assert_int_equal(hooks.prestart.size(), 1);
  expectHook(hooks.prestart[0], "/usr/libexec/podman/prestart", {"prestart", "--debug"},
             {"LEVEL=1"}, 5);
  assert_int_equal(hooks.createRuntime.size(), 2);
  expectHook(hooks.createRuntime[0], "/usr/bin/netavark-hook", {"netavark-hook", "setup"}, {}, 0);
  expectHook(hooks.createRuntime[1], "/usr/bin/second-hook", {}, {}, 0);
  assert_int_equal(hooks.createContainer.size(), 1);
  expectHook(hooks.createContainer[0], "/usr/libexec/oci/hooks.d/create", {}, {}, 10);
  assert_int_equal(hooks.startContainer.size(), 1);
  expectHook(hooks.startContainer[0], "/usr/libexec/oci/hooks.d/start", {}, {"A=1", "B=2"}, 0);
  assert_int_equal(hooks.poststart.size(), 1);
  expectHook(hooks.poststart[0], "/usr/libexec/oci/hooks.d/poststart", {"poststart"}, {}, 1);
  assert_int_equal(hooks.poststop.size(), 1);
  expectHook(hooks.poststop[0], "/usr/libexec/podman/conmon-cleanup", {"cleanup", "4f1c"},
             {"PATH=/usr/bin"}, 30);
}

static void podman_config_namespaces_with_and_without_path(void**) {
  Spec spec = parsed(kPodmanConfig);
  const auto& namespaces = spec.linux.namespaces;
  assert_int_equal(namespaces.size(), 7);
  const NamespaceType order[] = {
      NamespaceType::kPid,   NamespaceType::kNetwork, NamespaceType::kIpc, NamespaceType::kUts,
      NamespaceType::kMount, NamespaceType::kCgroup,  NamespaceType::kUser};
  for (std::size_t i = 0; i < namespaces.size(); ++i) {
    assert_int_equal(static_cast<int>(namespaces[i].type), static_cast<int>(order[i]));
  }
  expectString(namespaces[0].path, "");
  expectString(namespaces[1].path, "/run/netns/netns-1234");
  expectString(namespaces[6].path, "");
  const auto* network = spec.findNamespace(NamespaceType::kNetwork);
  assert_non_null(network);
  expectString(network->path, "/run/netns/netns-1234");
  assert_true(spec.hasNamespace(NamespaceType::kUser));
  assert_false(spec.hasNamespace(NamespaceType::kTime));
  assert_null(spec.findNamespace(NamespaceType::kTime));
}

static void podman_config_id_mappings(void**) {
  Spec spec = parsed(kPodmanConfig);
  const auto& uids = spec.linux.uidMappings;
  assert_int_equal(uids.size(), 1);
  assert_int_equal(uids[0].containerId, 0);
  assert_int_equal(uids[0].hostId, 100000);
  assert_int_equal(uids[0].size, 65536);
  const auto& gids = spec.linux.gidMappings;
  assert_int_equal(gids.size(), 2);
  assert_int_equal(gids[0].containerId, 0);
  assert_int_equal(gids[0].hostId, 200000);
  assert_int_equal(gids[0].size, 1000);
  assert_int_equal(gids[1].containerId, 1000);
  assert_int_equal(gids[1].hostId, 1000);
  assert_int_equal(gids[1].size, 1);
}

static void podman_config_devices(void**) {
  Spec spec = parsed(kPodmanConfig);
  const auto& devices = spec.linux.devices;
  assert_int_equal(devices.size(), 2);
  expectString(devices[0].path, "/dev/fuse");
  assert_int_equal(devices[0].type, 'c');
  assert_int_equal(devices[0].major, 10);
  assert_int_equal(devices[0].minor, 229);
  assert_true(devices[0].fileMode.has_value());
  assert_int_equal(*devices[0].fileMode, 0666);
  assert_true(devices[0].uid.has_value());
  assert_int_equal(*devices[0].uid, 0);
  assert_true(devices[0].gid.has_value());
  assert_int_equal(*devices[0].gid, 0);
  expectString(devices[1].path, "/dev/sda");
  assert_int_equal(devices[1].type, 'b');
  assert_int_equal(devices[1].major, 8);
  assert_int_equal(devices[1].minor, 0);
  assert_false(devices[1].fileMode.has_value());
  assert_false(devices[1].uid.has_value());
  assert_false(devices[1].gid.has_value());
}

static void podman_config_cgroups_path_and_resources(void**) {
  Spec spec = parsed(kPodmanConfig);
  expectString(spec.linux.cgroupsPath, "machine.slice:libpod:4f1c");
  const auto& resources = spec.linux.resources;
  assert_true(resources.memoryLimit.has_value());
  assert_int_equal(*resources.memoryLimit, 268435456);
  assert_true(resources.memoryReservation.has_value());
  assert_int_equal(*resources.memoryReservation, 134217728);
  assert_true(resources.memorySwap.has_value());
  assert_int_equal(*resources.memorySwap, 536870912);
  assert_true(resources.cpuShares.has_value());
  assert_int_equal(*resources.cpuShares, 512);
  assert_true(resources.cpuQuota.has_value());
  assert_int_equal(*resources.cpuQuota, 50000);
  assert_true(resources.cpuPeriod.has_value());
  assert_int_equal(*resources.cpuPeriod, 100000);
  expectString(resources.cpusetCpus, "0-1");
  expectString(resources.cpusetMems, "0");
  assert_true(resources.pidsLimit.has_value());
  assert_int_equal(*resources.pidsLimit, 2048);

  const auto& rules = resources.devices;
  assert_int_equal(rules.size(), 3);
  // Deny all: no type is every type, no numbers are any numbers.
  assert_false(rules[0].allow);
  assert_int_equal(rules[0].type, 'a');
  assert_false(rules[0].major.has_value());
  assert_false(rules[0].minor.has_value());
  expectString(rules[0].access, "rwm");
  assert_true(rules[1].allow);
  assert_int_equal(rules[1].type, 'c');
  assert_int_equal(*rules[1].major, 10);
  assert_int_equal(*rules[1].minor, 229);
  expectString(rules[1].access, "rwm");
  assert_true(rules[2].allow);
  assert_int_equal(rules[2].type, 'b');
  assert_int_equal(*rules[2].major, 8);
  assert_false(rules[2].minor.has_value());
  expectString(rules[2].access, "r");
}

static void podman_config_sysctl_masked_readonly_propagation(void**) {
  Spec spec = parsed(kPodmanConfig);
  assert_int_equal(spec.linux.sysctl.size(), 2);
  expectString(spec.linux.sysctl.at("net.ipv4.ping_group_range"), "0 0");
  expectString(spec.linux.sysctl.at("kernel.msgmax"), "65536");
  expectStrings(spec.linux.maskedPaths, {"/proc/acpi", "/proc/kcore", "/sys/firmware"});
  expectStrings(spec.linux.readonlyPaths, {"/proc/bus", "/proc/sys"});
  expectString(spec.linux.rootfsPropagation, "private");
}

static void podman_config_seccomp_with_args(void**) {
  Spec spec = parsed(kPodmanConfig);
  assert_true(spec.linux.seccomp.has_value());
  const auto& seccomp = *spec.linux.seccomp;
  expectString(seccomp.defaultAction, "SCMP_ACT_ERRNO");
  assert_true(seccomp.defaultErrnoRet.has_value());
  assert_int_equal(*seccomp.defaultErrnoRet, 38);
  expectStrings(seccomp.architectures, {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"});
  expectStrings(seccomp.flags, {"SECCOMP_FILTER_FLAG_SPEC_ALLOW"});
  assert_int_equal(seccomp.syscalls.size(), 3);

  const auto& errno1 = seccomp.syscalls[0];
  expectStrings(errno1.names, {"bdflush", "io_pgetevents"});
  expectString(errno1.action, "SCMP_ACT_ERRNO");
  assert_true(errno1.errnoRet.has_value());
  assert_int_equal(*errno1.errnoRet, 1);
  assert_true(errno1.args.empty());

  const auto& personality = seccomp.syscalls[1];
  expectStrings(personality.names, {"personality"});
  expectString(personality.action, "SCMP_ACT_ALLOW");
  assert_false(personality.errnoRet.has_value());
  assert_int_equal(personality.args.size(), 1);
  assert_int_equal(personality.args[0].index, 0);
  assert_int_equal(personality.args[0].value, 131072);
  assert_int_equal(personality.args[0].valueTwo, 0);
  expectString(personality.args[0].op, "SCMP_CMP_EQ");

  const auto& clone = seccomp.syscalls[2];
  assert_int_equal(clone.args.size(), 2);
  assert_int_equal(clone.args[0].index, 5);
  assert_int_equal(clone.args[0].value, 2114060288);
  assert_int_equal(clone.args[0].valueTwo, 7);
  expectString(clone.args[0].op, "SCMP_CMP_MASKED_EQ");
  assert_int_equal(clone.args[1].index, 1);
  expectString(clone.args[1].op, "SCMP_CMP_NE");
}

static void absent_optional_fields_keep_their_defaults(void**) {
  Spec spec = parsed(minimal().dump());
  const auto& process = *spec.process;
  assert_false(process.terminal);
  assert_false(process.umask.has_value());
  assert_true(process.additionalGids.empty());
  assert_true(process.env.empty());
  assert_false(process.capabilities.has_value());
  assert_false(process.noNewPrivileges);
  assert_false(process.oomScoreAdj.has_value());
  assert_false(spec.rootReadonly);
  expectString(spec.hostname, "");
  assert_true(spec.hooks.prestart.empty());
  assert_true(spec.hooks.poststop.empty());
  assert_true(spec.annotations.empty());
  expectString(spec.linux.cgroupsPath, "");
  assert_false(spec.linux.resources.memoryLimit.has_value());
  assert_false(spec.linux.resources.cpuQuota.has_value());
  assert_false(spec.linux.resources.pidsLimit.has_value());
  assert_true(spec.linux.resources.devices.empty());
  assert_false(spec.linux.seccomp.has_value());
  expectString(spec.linux.rootfsPropagation, "");

  // "process" is optional in config.json (a bundle for `create` with no process to run).
  json noProcess = minimal();
  noProcess.erase("process");
  assert_false(parsed(noProcess.dump()).process.has_value());
}

static void unknown_fields_are_ignored(void**) {
  json document = minimal();
  document["vm"] = {{"hypervisor", {{"path", "/usr/bin/qemu"}}}};
  document["windows"] = {{"layerFolders", {"C:\\layers"}}};
  document["x-future"] = json::array({1, "two", nullptr});
  document["process"]["apparmorProfile"] = "unconfined";
  document["process"]["ioPriority"] = {{"class", "IOPRIO_CLASS_IDLE"}};
  document["process"]["user"]["username"] = "root";
  document["root"]["idmap"] = true;
  document["mounts"][0]["uidMappings"] = json::array();
  document["linux"]["intelRdt"] = {{"closID", "guaranteed_group"}};
  document["linux"]["personality"] = {{"domain", "LINUX"}};
  document["linux"]["namespaces"][0]["future"] = 7;
  Spec spec = parsed(document.dump());
  expectStrings(spec.process->args, {"sh"});
  assert_int_equal(spec.mounts.size(), 1);
  expectString(spec.mounts[0].destination, "/proc");
  assert_int_equal(spec.linux.namespaces.size(), 2);
}

static void refuses_invalid_json(void**) {
  auto spec = parseSpec(R"({"ociVersion": "1.0.2", "root": {"path": "rootfs"})");
  assert_false(spec.ok());
  expectMentions(spec.error().message(), "not valid JSON");
  assert_false(parseSpec("").ok());
}

static void refuses_missing_or_unsupported_oci_version(void**) {
  json document = minimal();
  document.erase("ociVersion");
  expectMentions(refusal(document, "ociVersion"), "required");

  document = minimal();
  document["ociVersion"] = "2.0";
  expectMentions(refusal(document, "ociVersion"), "2.0");
  document["ociVersion"] = "10.1.0";
  refusal(document, "ociVersion");
  // Every 1.x is read: 1.0.0 to 1.2.0 and whatever comes next within 1.
  document["ociVersion"] = "1.2.0";
  assert_true(parseSpec(document.dump()).ok());
  document["ociVersion"] = "1.0.0-rc5";
  assert_true(parseSpec(document.dump()).ok());
}

static void refuses_missing_root_path(void**) {
  json document = minimal();
  document["root"].erase("path");
  expectMentions(refusal(document, "root.path"), "required");
  document["root"]["path"] = "";
  refusal(document, "root.path");
  document.erase("root");
  refusal(document, "root");
}

static void refuses_relative_mount_destination(void**) {
  json document = minimal();
  document["mounts"].push_back({{"destination", "tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  expectMentions(refusal(document, "mounts[1].destination"), "absolute");
  document["mounts"][1].erase("destination");
  refusal(document, "mounts[1].destination");
}

static void refuses_relative_hook_path(void**) {
  json document = minimal();
  document["hooks"] = {{"poststart", {{{"path", "/bin/true"}}, {{"path", "bin/hook"}}}}};
  std::string message = refusal(document, "hooks.poststart[1].path");
  expectMentions(message, "absolute");
  expectMentions(message, "bin/hook");
  document["hooks"] = {{"createRuntime", {{{"args", {"hook"}}}}}};
  refusal(document, "hooks.createRuntime[0].path");
}

static void refuses_hook_timeout_not_above_zero(void**) {
  json document = minimal();
  document["hooks"] = {{"prestart", {{{"path", "/bin/true"}, {"timeout", 0}}}}};
  refusal(document, "hooks.prestart[0].timeout");
  document["hooks"]["prestart"][0]["timeout"] = -3;
  refusal(document, "hooks.prestart[0].timeout");
}

static void refuses_unknown_rlimit_type(void**) {
  json document = minimal();
  document["process"]["rlimits"][0]["type"] = "RLIMIT_FOO";
  expectMentions(refusal(document, "process.rlimits[0].type"), "RLIMIT_FOO");
  // Names are the kernel's, upper case, with the prefix.
  document["process"]["rlimits"][0]["type"] = "nofile";
  refusal(document, "process.rlimits[0].type");
}

static void refuses_soft_rlimit_above_hard(void**) {
  json document = minimal();
  document["process"]["rlimits"].push_back(
      {{"type", "RLIMIT_NPROC"}, {"soft", 2048}, {"hard", 1024}});
  std::string message = refusal(document, "process.rlimits[1]");
  expectMentions(message, "2048");
  expectMentions(message, "1024");
  // Equal is allowed.
  document["process"]["rlimits"][1]["soft"] = 1024;
  assert_true(parseSpec(document.dump()).ok());
}

static void refuses_duplicate_rlimit(void**) {
  json document = minimal();
  document["process"]["rlimits"].push_back({{"type", "RLIMIT_NPROC"}, {"soft", 10}, {"hard", 10}});
  document["process"]["rlimits"].push_back({{"type", "RLIMIT_NOFILE"}, {"soft", 10}, {"hard", 10}});
  expectMentions(refusal(document, "process.rlimits[2].type"), "twice");
}

static void refuses_unknown_namespace_type(void**) {
  json document = minimal();
  document["linux"]["namespaces"].push_back({{"type", "net"}});
  expectMentions(refusal(document, "linux.namespaces[2].type"), "\"net\"");
}

static void refuses_duplicate_namespace(void**) {
  json document = minimal();
  document["linux"]["namespaces"].push_back({{"type", "pid"}, {"path", "/proc/1/ns/pid"}});
  expectMentions(refusal(document, "linux.namespaces[2].type"), "twice");
}

static void refuses_relative_namespace_path(void**) {
  json document = minimal();
  document["linux"]["namespaces"][1]["path"] = "proc/1/ns/mnt";
  refusal(document, "linux.namespaces[1].path");
}

static void refuses_wrong_types_naming_the_field(void**) {
  json document = minimal();
  document["process"]["user"]["uid"] = "0";
  expectMentions(refusal(document, "process.user.uid"), "\"0\"");

  document = minimal();
  document["process"]["user"]["additionalGids"] = {10, "wheel"};
  refusal(document, "process.user.additionalGids[1]");

  document = minimal();
  document["process"]["rlimits"][0]["hard"] = "1024";
  refusal(document, "process.rlimits[0].hard");

  document = minimal();
  document["process"]["terminal"] = "true";
  refusal(document, "process.terminal");

  document = minimal();
  document["process"]["args"] = "sh -c true";
  refusal(document, "process.args");

  document = minimal();
  document["process"]["env"] = {"A=1", 2};
  refusal(document, "process.env[1]");

  document = minimal();
  document["root"]["readonly"] = 1;
  refusal(document, "root.readonly");

  document = minimal();
  document["mounts"][0]["options"] = {"ro", 5};
  refusal(document, "mounts[0].options[1]");

  document = minimal();
  document["hooks"] = {{"poststop", {{{"path", "/bin/true"}, {"timeout", "5"}}}}};
  refusal(document, "hooks.poststop[0].timeout");

  document = minimal();
  document["annotations"] = {{"count", 3}};
  refusal(document, "annotations.count");

  document = minimal();
  document["linux"]["resources"] = {{"memory", {{"limit", "256m"}}}};
  refusal(document, "linux.resources.memory.limit");

  document = minimal();
  document["linux"]["resources"] = {{"cpu", {{"shares", -1}}}};
  refusal(document, "linux.resources.cpu.shares");

  document = minimal();
  document["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1.5}, {"size", 1}}};
  refusal(document, "linux.uidMappings[0].hostID");

  document = minimal();
  document["linux"]["sysctl"] = {{"kernel.msgmax", 65536}};
  refusal(document, "linux.sysctl.kernel.msgmax");

  document = minimal();
  document["linux"]["namespaces"] = {{"type", "pid"}};
  refusal(document, "linux.namespaces");
}

static void refuses_numbers_out_of_range(void**) {
  json document = minimal();
  document["process"]["user"]["uid"] = -1;
  refusal(document, "process.user.uid");
  document["process"]["user"]["uid"] = 4294967296ull;
  expectMentions(refusal(document, "process.user.uid"), "4294967295");
  document["process"]["user"]["uid"] = 4294967295ull;
  assert_int_equal(parsed(document.dump()).process->uid, 4294967295u);

  document = minimal();
  document["process"]["rlimits"][0]["soft"] = -1;
  refusal(document, "process.rlimits[0].soft");

  document = minimal();
  document["process"]["oomScoreAdj"] = 1001;
  refusal(document, "process.oomScoreAdj");
  document["process"]["oomScoreAdj"] = -1000;
  assert_int_equal(*parsed(document.dump()).process->oomScoreAdj, -1000);

  document = minimal();
  document["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"syscalls",
       {{{"names", {"read"}},
         {"action", "SCMP_ACT_ERRNO"},
         {"args", {{{"index", 6}, {"value", 0}, {"op", "SCMP_CMP_EQ"}}}}}}}};
  refusal(document, "linux.seccomp.syscalls[0].args[0].index");
}

static void refuses_process_without_args_or_absolute_cwd(void**) {
  json document = minimal();
  document["process"]["args"] = json::array();
  refusal(document, "process.args");
  document = minimal();
  document["process"]["cwd"] = "srv";
  refusal(document, "process.cwd");
}

static void refuses_bad_device_and_cgroup_device_fields(void**) {
  json document = minimal();
  document["linux"]["devices"] = {{{"path", "/dev/x"}, {"type", "x"}, {"major", 1}}};
  refusal(document, "linux.devices[0].type");
  document["linux"]["devices"] = {{{"path", "dev/x"}, {"type", "c"}}};
  refusal(document, "linux.devices[0].path");

  document = minimal();
  document["linux"]["resources"] = {{"devices", {{{"access", "rwm"}}}}};
  refusal(document, "linux.resources.devices[0].allow");
  document["linux"]["resources"] = {{"devices", {{{"allow", true}, {"access", "rwx"}}}}};
  refusal(document, "linux.resources.devices[0].access");
  document["linux"]["resources"] = {{"devices", {{{"allow", true}, {"type", "u"}}}}};
  refusal(document, "linux.resources.devices[0].type");
}

static void refuses_incomplete_seccomp(void**) {
  json document = minimal();
  document["linux"]["seccomp"] = {{"architectures", {"SCMP_ARCH_X86_64"}}};
  refusal(document, "linux.seccomp.defaultAction");
  document["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                                  {"syscalls", {{{"names", {"read"}}}}}};
  refusal(document, "linux.seccomp.syscalls[0].action");
  document["linux"]["seccomp"]["syscalls"][0] = {{"names", json::array()},
                                                 {"action", "SCMP_ACT_KILL"}};
  refusal(document, "linux.seccomp.syscalls[0].names");
}

static void refuses_unknown_rootfs_propagation(void**) {
  json document = minimal();
  document["linux"]["rootfsPropagation"] = "bogus";
  expectMentions(refusal(document, "linux.rootfsPropagation"), "bogus");
  // Only a single "r" makes a propagation recursive.
  for (const char* each : {"rbogus", "r", "rrshared", "recursive", "Rshared", "SHARED"}) {
    document["linux"]["rootfsPropagation"] = each;
    expectMentions(refusal(document, "linux.rootfsPropagation"), each);
  }
}

static void accepts_rootfs_propagation_plain_and_recursive(void**) {
  json document = minimal();
  for (const char* each : {"shared", "slave", "private", "unbindable", "rshared", "rslave",
                           "rprivate", "runbindable"}) {
    document["linux"]["rootfsPropagation"] = each;
    expectString(parsed(document.dump()).linux.rootfsPropagation, each);
  }
}

static void refuses_hostname_without_uts_namespace(void**) {
  json document = minimal();
  document["hostname"] = "web";
  expectMentions(refusal(document, "hostname"), "uts");
  document["linux"]["namespaces"].push_back({{"type", "uts"}});
  expectString(parsed(document.dump()).hostname, "web");
  // No linux section at all: no namespaces, so no uts either.
  document.erase("linux");
  refusal(document, "hostname");
}

static void refuses_domainname_without_uts_namespace(void**) {
  json document = minimal();
  document["domainname"] = "example.org";
  expectMentions(refusal(document, "domainname"), "uts");
  document["linux"]["namespaces"].push_back({{"type", "uts"}});
  Spec spec = parsed(document.dump());
  expectString(spec.domainname, "example.org");
  expectString(spec.hostname, "");
  // No linux section at all: no namespaces, so no uts either.
  document.erase("linux");
  refusal(document, "domainname");
  // An empty domainname sets nothing, so needs nothing.
  document["domainname"] = "";
  expectString(parsed(document.dump()).domainname, "");
}

static void names_namespace_types(void**) {
  using tandem::oci::toString;
  expectString(toString(NamespaceType::kPid), "pid");
  expectString(toString(NamespaceType::kNetwork), "network");
  expectString(toString(NamespaceType::kMount), "mount");
  expectString(toString(NamespaceType::kIpc), "ipc");
  expectString(toString(NamespaceType::kUts), "uts");
  expectString(toString(NamespaceType::kUser), "user");
  expectString(toString(NamespaceType::kCgroup), "cgroup");
  expectString(toString(NamespaceType::kTime), "time");
}

static void default_spec_parses_back_as_runc_spec_writes_it(void**) {
  Spec spec = parsed(defaultSpecJson());
  assert_true(spec.ociVersion.starts_with("1."));
  assert_true(spec.process.has_value());
  expectStrings(spec.process->args, {"sh"});
  assert_true(spec.process->terminal);
  assert_int_equal(spec.process->uid, 0);
  assert_int_equal(spec.process->gid, 0);
  expectString(spec.process->cwd, "/");
  assert_true(spec.process->noNewPrivileges);
  expectString(spec.rootPath, "rootfs");
  assert_true(spec.rootReadonly);

  const auto& namespaces = spec.linux.namespaces;
  assert_int_equal(namespaces.size(), 6);
  for (NamespaceType type : {NamespaceType::kPid, NamespaceType::kNetwork, NamespaceType::kIpc,
                             NamespaceType::kUts, NamespaceType::kMount, NamespaceType::kCgroup}) {
    const auto* found = spec.findNamespace(type);
    if (found == nullptr) {
      fail_msg("no %s namespace", tandem::oci::toString(type));
    }
    expectString(found->path, "");
  }
  assert_false(spec.hasNamespace(NamespaceType::kUser));

  // runc's default /proc and /dev mounts, and deny-all for devices.
  assert_true(spec.mounts.size() >= 2);
  expectString(spec.mounts[0].destination, "/proc");
  expectString(spec.mounts[1].destination, "/dev");
  assert_int_equal(spec.linux.resources.devices.size(), 1);
  assert_false(spec.linux.resources.devices[0].allow);
  assert_false(spec.linux.maskedPaths.empty());
  assert_false(spec.linux.readonlyPaths.empty());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(podman_config_top_level_fields),
      cmocka_unit_test(podman_config_process_user_args_env_cwd),
      cmocka_unit_test(podman_config_capability_sets),
      cmocka_unit_test(podman_config_rlimits_in_order_with_full_uint64_range),
      cmocka_unit_test(podman_config_mounts_in_order_with_options),
      cmocka_unit_test(podman_config_hooks_of_all_six_kinds),
      cmocka_unit_test(podman_config_namespaces_with_and_without_path),
      cmocka_unit_test(podman_config_id_mappings),
      cmocka_unit_test(podman_config_devices),
      cmocka_unit_test(podman_config_cgroups_path_and_resources),
      cmocka_unit_test(podman_config_sysctl_masked_readonly_propagation),
      cmocka_unit_test(podman_config_seccomp_with_args),
      cmocka_unit_test(absent_optional_fields_keep_their_defaults),
      cmocka_unit_test(unknown_fields_are_ignored),
      cmocka_unit_test(refuses_invalid_json),
      cmocka_unit_test(refuses_missing_or_unsupported_oci_version),
      cmocka_unit_test(refuses_missing_root_path),
      cmocka_unit_test(refuses_relative_mount_destination),
      cmocka_unit_test(refuses_relative_hook_path),
      cmocka_unit_test(refuses_hook_timeout_not_above_zero),
      cmocka_unit_test(refuses_unknown_rlimit_type),
      cmocka_unit_test(refuses_soft_rlimit_above_hard),
      cmocka_unit_test(refuses_duplicate_rlimit),
      cmocka_unit_test(refuses_unknown_namespace_type),
      cmocka_unit_test(refuses_duplicate_namespace),
      cmocka_unit_test(refuses_relative_namespace_path),
      cmocka_unit_test(refuses_wrong_types_naming_the_field),
      cmocka_unit_test(refuses_numbers_out_of_range),
      cmocka_unit_test(refuses_process_without_args_or_absolute_cwd),
      cmocka_unit_test(refuses_bad_device_and_cgroup_device_fields),
      cmocka_unit_test(refuses_incomplete_seccomp),
      cmocka_unit_test(refuses_unknown_rootfs_propagation),
      cmocka_unit_test(accepts_rootfs_propagation_plain_and_recursive),
      cmocka_unit_test(refuses_hostname_without_uts_namespace),
      cmocka_unit_test(refuses_domainname_without_uts_namespace),
      cmocka_unit_test(names_namespace_types),
      cmocka_unit_test(default_spec_parses_back_as_runc_spec_writes_it),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
