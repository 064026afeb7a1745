// The workload description: its text parsers, validate()'s rules one by one, and the JSON form,
// which must turn any malformed input into an Error rather than an exception.
#include <sys/resource.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "common/workload.h"
#include "tests/unit/unit_test.h"

using nlohmann::json;
using tandem::IdMapping;
using tandem::Isolation;
using tandem::NetworkMode;
using tandem::newWorkloadId;
using tandem::parseIdMapping;
using tandem::parseIsolation;
using tandem::parseNetworkMode;
using tandem::parseRlimit;
using tandem::parseVolume;
using tandem::Rlimit;
using tandem::toJson;
using tandem::validate;
using tandem::VolumeKind;
using tandem::Workload;
using tandem::workloadFromJson;

namespace {

Workload validWorkload() {
  Workload w;
  w.command = {"/bin/sh", "-c", "true"};
  return w;
}

template <class T>
void expectErrorMentioning(const tandem::Result<T>& result, const char* needle) {
  if (result.ok()) {
    fail_msg("expected an error mentioning \"%s\", got success", needle);
  }
  if (std::strstr(result.error().message().c_str(), needle) == nullptr) {
    fail_msg("error \"%s\" does not mention \"%s\"", result.error().message().c_str(), needle);
  }
}

void expectInvalid(const Workload& w, const char* needle) {
  expectErrorMentioning(validate(w), needle);
}

// The JSON of a valid workload with `key` replaced by `value`.
json withField(const std::string& key, json value) {
  json j = toJson(validWorkload());
  j[key] = std::move(value);
  return j;
}

void expectJsonRejected(const json& j) {
  auto result = workloadFromJson(j);
  if (result.ok()) {
    fail_msg("accepted malformed workload JSON: %s", j.dump().c_str());
  }
  assert_false(result.error().message().empty());
}

}  // namespace

static void parses_id_mappings(void**) {
  auto mapping = parseIdMapping("0:100000:65536");
  assert_true(mapping.ok());
  assert_int_equal(mapping->containerId, 0);
  assert_int_equal(mapping->hostId, 100000);
  assert_int_equal(mapping->count, 65536);

  mapping = parseIdMapping("1000:1000:1");
  assert_true(mapping.ok());
  assert_int_equal(mapping->containerId, 1000);
  assert_int_equal(mapping->hostId, 1000);
  assert_int_equal(mapping->count, 1);

  mapping = parseIdMapping("4294967295:4294967295:1");
  assert_true(mapping.ok());
  assert_int_equal(mapping->hostId, 4294967295u);
}

static void rejects_malformed_id_mappings(void**) {
  for (const char* text : {"",
                           ":",
                           "::",
                           "0",
                           "0:1",
                           "0:1:",
                           ":1:2",
                           "0::2",
                           "0:1:0",
                           "0:1:2:3",
                           "a:b:c",
                           "-1:0:1",
                           "0:-1:1",
                           "0:0:-1",
                           "4294967296:0:1",
                           "0:4294967296:1",
                           "0:0:4294967296",
                           " 0:1:2",
                           "0:1:2 ",
                           "0:1:2\n",
                           "0x10:0:1",
                           "+1:0:1",
                           "1.5:0:1"}) {
    auto mapping = parseIdMapping(text);
    if (mapping.ok()) {
      fail_msg("accepted id mapping \"%s\"", text);
    }
  }
  expectErrorMentioning(parseIdMapping("0:1:0"), "0:1:0");
}

static void parses_rlimits(void**) {
  auto limit = parseRlimit("nofile=1024:2048");
  assert_true(limit.ok());
  assert_int_equal(limit->resource, RLIMIT_NOFILE);
  assert_int_equal(limit->soft, 1024);
  assert_int_equal(limit->hard, 2048);

  limit = parseRlimit("nproc=512");
  assert_true(limit.ok());
  assert_int_equal(limit->resource, RLIMIT_NPROC);
  assert_int_equal(limit->soft, 512);
  assert_int_equal(limit->hard, 512);

  limit = parseRlimit("nofile=0:0");
  assert_true(limit.ok());
  assert_int_equal(limit->soft, 0);
  assert_int_equal(limit->hard, 0);
}

static void parses_unlimited_rlimits(void**) {
  for (const char* text : {"core=unlimited", "core=-1", "core=unlimited:unlimited", "core=-1:-1",
                           "core=-1:unlimited"}) {
    auto limit = parseRlimit(text);
    if (!limit.ok()) {
      fail_msg("rejected \"%s\": %s", text, limit.error().message().c_str());
    }
    assert_int_equal(limit->resource, RLIMIT_CORE);
    assert_true(limit->soft == RLIM_INFINITY);
    assert_true(limit->hard == RLIM_INFINITY);
  }
  auto limit = parseRlimit("stack=8388608:unlimited");
  assert_true(limit.ok());
  assert_int_equal(limit->soft, 8388608);
  assert_true(limit->hard == RLIM_INFINITY);
}

static void knows_every_rlimit_name(void**) {
  const struct {
    const char* name;
    int resource;
  } names[] = {
      {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
      {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
      {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
      {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
      {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
      {"stack", RLIMIT_STACK},
  };
  for (const auto& entry : names) {
    auto limit = parseRlimit(std::string(entry.name) + "=1");
    if (!limit.ok()) {
      fail_msg("rejected ulimit name %s", entry.name);
    }
    assert_int_equal(limit->resource, entry.resource);
  }
}

static void rejects_soft_above_hard(void**) {
  expectErrorMentioning(parseRlimit("nofile=2048:1024"), "soft");
  expectErrorMentioning(parseRlimit("nofile=unlimited:1024"), "soft");
  expectErrorMentioning(parseRlimit("nofile=-1:0"), "soft");
}

static void rejects_unknown_rlimit_names(void**) {
  expectErrorMentioning(parseRlimit("bogus=1"), "bogus");
  expectErrorMentioning(parseRlimit("NOFILE=1"), "NOFILE");
  expectErrorMentioning(parseRlimit("=1"), "unknown ulimit");
  expectErrorMentioning(parseRlimit("nofile =1"), "nofile ");
  expectErrorMentioning(parseRlimit("rlimit_nofile=1"), "rlimit_nofile");
}

static void rejects_malformed_rlimits(void**) {
  for (const char* text : {"", "nofile", "nofile=", "nofile=:", "nofile=1:", "nofile=:1",
                           "nofile=1:2:3", "nofile=-2", "nofile=abc", "nofile=1k", "nofile= 1",
                           "nofile=1 ", "nofile=0x10", "nofile=1.5", "nofile=99999999999999999999",
                           "nofile=1=2", "nofile=unlimitedx", "nofile=infinity", "nofile=-1-1"}) {
    auto limit = parseRlimit(text);
    if (limit.ok()) {
      fail_msg("accepted ulimit \"%s\"", text);
    }
  }
  expectErrorMentioning(parseRlimit("nofile=x"), "NAME=SOFT[:HARD]");
}

static void parses_isolation_and_network(void**) {
  assert_true(*parseIsolation("auto") == Isolation::kAuto);
  assert_true(*parseIsolation("container") == Isolation::kContainer);
  assert_true(*parseIsolation("vm") == Isolation::kVm);
  assert_true(*parseIsolation("microvm") == Isolation::kVm);
  for (Isolation level : {Isolation::kAuto, Isolation::kContainer, Isolation::kVm}) {
    assert_true(*parseIsolation(tandem::toString(level)) == level);
  }
  for (const char* text : {"", "VM", "Container", "kvm", "auto ", "none", "host"}) {
    expectErrorMentioning(parseIsolation(text), "unknown isolation");
  }
  expectErrorMentioning(parseIsolation("gvisor"), "gvisor");

  assert_true(*parseNetworkMode("none") == NetworkMode::kNone);
  assert_true(*parseNetworkMode("host") == NetworkMode::kHost);
  assert_true(*parseNetworkMode("bridge") == NetworkMode::kBridge);
  for (NetworkMode mode : {NetworkMode::kNone, NetworkMode::kHost, NetworkMode::kBridge}) {
    assert_true(*parseNetworkMode(tandem::toString(mode)) == mode);
  }
  for (const char* text : {"", "BRIDGE", "HOST", "host ", "container:abc", "auto"}) {
    expectErrorMentioning(parseNetworkMode(text), "unknown network mode");
  }
  expectErrorMentioning(parseNetworkMode("slirp"), "none, host, bridge or container:NAME");
}

static void accepts_a_minimal_workload(void**) {
  assert_true(validate(validWorkload()).ok());
  Workload w = validWorkload();
  w.command = {"true"};
  w.env = {"A=", "B=c", "C==d", "PATH=/usr/bin:/bin"};
  w.hostname = std::string(64, 'h');
  w.workdir = "/srv/app";
  assert_true(validate(w).ok());
}

static void validate_needs_a_command(void**) {
  Workload w = validWorkload();
  w.command.clear();
  expectInvalid(w, "no command");
  w.command = {""};
  expectInvalid(w, "no command");
  w.command = {"", "arg"};
  expectInvalid(w, "no command");
}

static void validate_checks_env_entries(void**) {
  for (const char* entry : {"NOEQUALS", "=value", "=", ""}) {
    Workload w = validWorkload();
    w.env = {"GOOD=1", entry};
    expectInvalid(w, "invalid environment entry");
  }
}

static void validate_needs_an_absolute_workdir(void**) {
  for (const char* dir : {"", "relative", "./here", "~/home"}) {
    Workload w = validWorkload();
    w.workdir = dir;
    expectInvalid(w, "must be absolute");
  }
}

static void validate_limits_hostname_length(void**) {
  Workload w = validWorkload();
  w.hostname = std::string(64, 'a');
  assert_true(validate(w).ok());
  w.hostname = std::string(65, 'a');
  expectInvalid(w, "longer than 64");
}

static void validate_checks_memory(void**) {
  Workload w = validWorkload();
  w.limits.memoryBytes = 6u << 20;
  assert_true(validate(w).ok());
  w.limits.memoryBytes = (6u << 20) - 1;
  expectInvalid(w, "minimum of 6 MiB");
  w.limits.memoryBytes = 0;
  expectInvalid(w, "minimum of 6 MiB");
}

static void validate_checks_memory_swap(void**) {
  Workload w = validWorkload();
  w.limits.memorySwapBytes = 1ll << 30;
  expectInvalid(w, "needs --memory");

  // -1, unlimited swap, stands without --memory.
  w.limits.memorySwapBytes = -1;
  assert_true(validate(w).ok());

  w.limits.memoryBytes = 1ull << 30;
  w.limits.memorySwapBytes = (1ll << 30) - 1;
  expectInvalid(w, "at least --memory");
  w.limits.memorySwapBytes = 1ll << 30;
  assert_true(validate(w).ok());
  w.limits.memorySwapBytes = 2ll << 30;
  assert_true(validate(w).ok());
  w.limits.memorySwapBytes = -1;
  assert_true(validate(w).ok());
  // Only -1 means unlimited; other negatives are no size at all.
  w.limits.memorySwapBytes = -2;
  expectInvalid(w, "--memory-swap");
  w.limits.memorySwapBytes = INT64_MIN;
  expectInvalid(w, "--memory-swap");
}

static void validate_checks_cpu(void**) {
  Workload w = validWorkload();
  w.limits.cpuMilli = 10;
  assert_true(validate(w).ok());
  w.limits.cpuMilli = 9;
  expectInvalid(w, "0.01 CPUs");
  w.limits.cpuMilli = 0;
  expectInvalid(w, "0.01 CPUs");

  w = validWorkload();
  for (std::uint64_t shares : {2ull, 1024ull, 262144ull}) {
    w.limits.cpuShares = shares;
    assert_true(validate(w).ok());
  }
  for (std::uint64_t shares : {0ull, 1ull, 262145ull, ~0ull}) {
    w.limits.cpuShares = shares;
    expectInvalid(w, "between 2 and 262144");
  }
}

static void validate_checks_pids(void**) {
  Workload w = validWorkload();
  for (std::int64_t pids : {std::int64_t{-1}, std::int64_t{1}, std::int64_t{1} << 40}) {
    w.limits.pidsLimit = pids;
    assert_true(validate(w).ok());
  }
  w.limits.pidsLimit = 0;
  expectInvalid(w, "pids limit");
  // The message promises "positive, or -1": other negatives are neither.
  w.limits.pidsLimit = -2;
  expectInvalid(w, "pids limit");
  w.limits.pidsLimit = INT64_MIN;
  expectInvalid(w, "pids limit");
}

static void validate_needs_both_mappings(void**) {
  Workload w = validWorkload();
  w.uidMappings = {{0, 100000, 65536}};
  expectInvalid(w, "both --uidmap and --gidmap");
  w.gidMappings = {{0, 100000, 65536}};
  assert_true(validate(w).ok());
  w.uidMappings.clear();
  expectInvalid(w, "both --uidmap and --gidmap");
}

static void validate_checks_rlimits(void**) {
  Workload w = validWorkload();
  w.rlimits = {{RLIMIT_NOFILE, 1024, 2048}, {RLIMIT_CORE, 0, 0}};
  assert_true(validate(w).ok());
  w.rlimits.push_back({RLIMIT_NOFILE, 4096, 1024});
  expectInvalid(w, "nofile");
  w.rlimits = {{RLIMIT_STACK, RLIM_INFINITY, 1}};
  expectInvalid(w, "soft limit exceeds hard limit");
}

static void new_ids_are_64_hex_digits_and_distinct(void**) {
  auto first = newWorkloadId();
  auto second = newWorkloadId();
  assert_true(first.ok());
  assert_true(second.ok());
  assert_int_equal(first->size(), 64);
  assert_int_equal(second->size(), 64);
  for (char c : *first + *second) {
    assert_non_null(std::strchr("0123456789abcdef", c));
    assert_true(c != '\0');
  }
  assert_string_not_equal(first->c_str(), second->c_str());
}

static void parses_volumes(void**) {
  auto bind = parseVolume("/srv/data:/data");
  assert_true(bind.ok());
  assert_string_equal(bind->source.c_str(), "/srv/data");
  assert_string_equal(bind->target.c_str(), "/data");
  assert_false(bind->readOnly);
  assert_true(bind->kind == VolumeKind::kBind);
  auto disk = parseVolume("/d/v.ext4://var//./log/:ro,disk");
  assert_true(disk.ok());
  assert_string_equal(disk->target.c_str(), "/var/log");
  assert_true(disk->readOnly);
  assert_true(disk->kind == VolumeKind::kDisk);
  assert_string_equal(disk->text().c_str(), "/d/v.ext4:/var/log:ro,disk");
  assert_true(parseVolume(disk->text()).value() == *disk);
  assert_true(parseVolume("/a:/b:disk,rw")->kind == VolumeKind::kDisk);
}

static void rejects_malformed_volumes(void**) {
  expectErrorMentioning(parseVolume("/srv"), "not a volume");
  expectErrorMentioning(parseVolume("/a:/b:ro:x"), "not a volume");
  expectErrorMentioning(parseVolume("data:/data"), "must be absolute");
  expectErrorMentioning(parseVolume("/a:data"), "must be absolute");
  expectErrorMentioning(parseVolume("/a:/"), "cannot replace the root");
  expectErrorMentioning(parseVolume("/a://./"), "cannot replace the root");
  expectErrorMentioning(parseVolume("/a:/b/../../etc"), "\"..\"");
  expectErrorMentioning(parseVolume("/a:/b:rx"), "unknown or repeated option \"rx\"");
  expectErrorMentioning(parseVolume("/a:/b:ro,rw"), "repeated option \"rw\"");
  expectErrorMentioning(parseVolume("/a:/b:disk,disk"), "repeated option \"disk\"");
  expectErrorMentioning(parseVolume("/a:/b:"), "option \"\"");
}

static void validate_refuses_two_volumes_on_one_path(void**) {
  Workload w = validWorkload();
  w.volumes = {parseVolume("/a:/data").value(), parseVolume("/b:/data/").value()};
  expectInvalid(w, "two volumes (-v) are mounted on /data");
  w.volumes[1].target = "/data2";
  assert_true(validate(w).ok());
  expectJsonRejected(withField("volumes", json::array({"relative:/x"})));
  expectJsonRejected(withField("volumes", json::array({1})));
}

static void json_round_trips_every_field(void**) {
  Workload w;
  w.id = std::string(64, 'a');
  w.name = "web";
  w.isolation = Isolation::kVm;
  w.command = {"/bin/echo", "hello world", ""};
  w.env = {"A=1", "B=two words"};
  w.workdir = "/srv";
  w.hostname = "box";
  w.user.spec = "nobody:nogroup";
  w.user.uid = 65534;
  w.user.gid = 65533;
  w.user.additionalGids = {4, 27};
  w.rootfs = "/var/lib/tandem/rootfs";
  w.readOnlyRootfs = true;
  w.network = NetworkMode::kHost;
  w.tty = true;
  w.init = true;
  w.removeOnExit = true;
  w.limits.memoryBytes = 512ull << 20;
  w.limits.memorySwapBytes = 1ll << 30;
  w.limits.cpuMilli = 1500;
  w.limits.cpuShares = 512;
  w.limits.pidsLimit = 100;
  w.limits.cpusetCpus = "0-3";
  w.limits.cpusetMems = "0";
  w.rlimits = {{RLIMIT_NOFILE, 1024, 2048}, {RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY}};
  w.uidMappings = {{0, 100000, 65536}};
  w.gidMappings = {{0, 200000, 1000}, {1000, 300000, 1}};
  w.capAdd = {"NET_ADMIN"};
  w.capDrop = {"CHOWN", "KILL"};
  w.seccomp = false;
  w.volumes = {{"/srv/data", "/data", false, VolumeKind::kBind},
               {"/var/disks/logs.ext4", "/var/log/app", true, VolumeKind::kDisk}};

  // Through text, as the state file stores it.
  auto back = workloadFromJson(json::parse(toJson(w).dump()));
  if (!back.ok()) {
    fail_msg("%s", back.error().describe().c_str());
  }
  assert_string_equal(back->id.c_str(), w.id.c_str());
  assert_string_equal(back->name.c_str(), "web");
  assert_true(back->isolation == Isolation::kVm);
  assert_true(back->command == w.command);
  assert_true(back->env == w.env);
  assert_string_equal(back->workdir.c_str(), "/srv");
  assert_string_equal(back->hostname.c_str(), "box");
  assert_true(back->user.spec == w.user.spec);
  assert_int_equal(back->user.uid, 65534);
  assert_int_equal(back->user.gid, 65533);
  assert_true(back->user.additionalGids == w.user.additionalGids);
  assert_string_equal(back->rootfs.c_str(), w.rootfs.c_str());
  assert_true(back->readOnlyRootfs);
  assert_true(back->network == NetworkMode::kHost);
  assert_false(back->networkPeer.has_value());
  assert_true(back->tty);
  assert_true(back->init);
  assert_true(back->removeOnExit);
  assert_true(back->limits.memoryBytes == w.limits.memoryBytes);
  assert_true(back->limits.memorySwapBytes == w.limits.memorySwapBytes);
  assert_true(back->limits.cpuMilli == w.limits.cpuMilli);
  assert_true(back->limits.cpuShares == w.limits.cpuShares);
  assert_true(back->limits.pidsLimit == w.limits.pidsLimit);
  assert_true(back->limits.cpusetCpus == w.limits.cpusetCpus);
  assert_true(back->limits.cpusetMems == w.limits.cpusetMems);
  assert_int_equal(back->rlimits.size(), 2);
  for (std::size_t i = 0; i < 2; ++i) {
    assert_int_equal(back->rlimits[i].resource, w.rlimits[i].resource);
    assert_true(back->rlimits[i].soft == w.rlimits[i].soft);
    assert_true(back->rlimits[i].hard == w.rlimits[i].hard);
  }
  assert_int_equal(back->uidMappings.size(), 1);
  assert_int_equal(back->gidMappings.size(), 2);
  assert_int_equal(back->gidMappings[1].containerId, 1000);
  assert_int_equal(back->gidMappings[1].hostId, 300000);
  assert_int_equal(back->gidMappings[1].count, 1);
  assert_int_equal(back->uidMappings[0].count, 65536);
  assert_true(back->capAdd == w.capAdd);
  assert_true(back->capDrop == w.capDrop);
  assert_false(back->seccomp);
  assert_true(back->volumes == w.volumes);

  // And the result serialises to the same document.
  assert_true(toJson(*back) == toJson(w));
}

static void json_round_trips_defaults(void**) {
  Workload w = validWorkload();
  auto back = workloadFromJson(toJson(w));
  assert_true(back.ok());
  assert_true(back->isolation == Isolation::kAuto);
  assert_true(back->network == NetworkMode::kNone);
  assert_false(back->user.spec.has_value());
  assert_false(back->limits.memoryBytes.has_value());
  assert_false(back->limits.memorySwapBytes.has_value());
  assert_false(back->limits.pidsLimit.has_value());
  assert_true(back->seccomp);
  assert_true(toJson(*back) == toJson(w));

  // Only "command" is required; everything else has a default.
  back = workloadFromJson(json{{"command", {"/bin/true"}}});
  assert_true(back.ok());
  assert_string_equal(back->workdir.c_str(), "/");
  assert_true(back->seccomp);
}

static void json_needs_a_command(void**) {
  json j = toJson(validWorkload());
  j.erase("command");
  expectJsonRejected(j);
  expectJsonRejected(withField("command", json::array()));
  expectJsonRejected(withField("command", "/bin/sh"));
  expectJsonRejected(withField("command", {1, 2}));
  expectJsonRejected(withField("command", nullptr));
  expectJsonRejected(withField("command", {{"a", "b"}}));
  expectJsonRejected(json::object());
}

static void json_rejects_documents_that_are_not_objects(void**) {
  expectJsonRejected(json());
  expectJsonRejected(json(42));
  expectJsonRejected(json("workload"));
  expectJsonRejected(json(true));
  expectJsonRejected(json::array());
  expectJsonRejected(json::array({json{{"command", {"/bin/true"}}}}));
  expectJsonRejected(json::parse(R"([1, {"command": ["x"]}, null])"));
}

static void json_rejects_wrong_types(void**) {
  expectJsonRejected(withField("id", 7));
  expectJsonRejected(withField("name", json::array()));
  expectJsonRejected(withField("isolation", 1));
  expectJsonRejected(withField("isolation", "bogus"));
  expectJsonRejected(withField("network", "slirp"));
  expectJsonRejected(withField("network", nullptr));
  expectJsonRejected(withField("env", "A=1"));
  expectJsonRejected(withField("env", {1}));
  expectJsonRejected(withField("env", {"NOEQUALS"}));
  expectJsonRejected(withField("workdir", "relative"));
  expectJsonRejected(withField("workdir", 5));
  expectJsonRejected(withField("hostname", std::string(65, 'x')));
  expectJsonRejected(withField("user", "root"));
  expectJsonRejected(withField("user", {{"uid", "zero"}}));
  expectJsonRejected(withField("user", {{"additionalGids", "4"}}));
  expectJsonRejected(withField("user", {{"spec", 0}}));
  expectJsonRejected(withField("tty", "yes"));
  expectJsonRejected(withField("seccomp", nullptr));
  expectJsonRejected(withField("readOnlyRootfs", json::object()));
  expectJsonRejected(withField("limits", "lots"));
  expectJsonRejected(withField("limits", {{"memory", "1G"}}));
  expectJsonRejected(withField("limits", {{"memory", 1024}}));
  expectJsonRejected(withField("limits", {{"cpuShares", 1}}));
  expectJsonRejected(withField("limits", {{"pids", 0}}));
  expectJsonRejected(withField("limits", {{"cpusetCpus", 3}}));
  expectJsonRejected(withField("capAdd", "ALL"));
  expectJsonRejected(withField("capDrop", {{"x", 1}}));
}

static void json_keeps_the_network_peer(void**) {
  Workload w;
  w.command = {"true"};
  w.network = NetworkMode::kContainer;
  w.networkPeer = tandem::NetworkPeer{"peer-id", 4321, 987654321};
  auto back = workloadFromJson(json::parse(toJson(w).dump()));
  if (!back.ok()) fail_msg("%s", back.error().describe().c_str());
  assert_true(back->network == NetworkMode::kContainer);
  assert_true(back->networkPeer.has_value());
  assert_string_equal(back->networkPeer->id.c_str(), "peer-id");
  assert_int_equal(back->networkPeer->pid, 4321);
  assert_int_equal(back->networkPeer->startTime, 987654321);
  // The mode without its peer, or a peer in a user namespace, is refused.
  w.networkPeer.reset();
  assert_false(tandem::validate(w).ok());
  w.networkPeer = tandem::NetworkPeer{"peer-id", 4321, 987654321};
  w.uidMappings = {{0, 100000, 65536}};
  w.gidMappings = {{0, 100000, 65536}};
  assert_false(tandem::validate(w).ok());
}

static void json_rejects_malformed_rlimits(void**) {
  expectJsonRejected(withField("rlimits", {{{"type", "bogus"}, {"soft", 1}, {"hard", 1}}}));
  expectJsonRejected(withField("rlimits", {{{"type", "nofile"}, {"soft", 2}, {"hard", 1}}}));
  expectJsonRejected(withField("rlimits", {{{"type", "nofile"}, {"soft", 1}}}));
  expectJsonRejected(withField("rlimits", {{{"type", 7}, {"soft", 1}, {"hard", 1}}}));
  expectJsonRejected(withField("rlimits", {{{"type", "nofile"}, {"soft", "1"}, {"hard", 1}}}));
  // A type that smuggles in its own values.
  expectJsonRejected(withField("rlimits", {{{"type", "nofile=5"}, {"soft", 1}, {"hard", 1}}}));
  expectJsonRejected(withField("rlimits", json::array({1, 2})));
  expectJsonRejected(withField("rlimits", "nofile=1"));
  expectJsonRejected(withField("rlimits", {{"nofile", 1}}));
}

static void json_rejects_malformed_mappings(void**) {
  json good = {{"containerID", 0}, {"hostID", 100000}, {"size", 65536}};
  json j = toJson(validWorkload());
  // json::array, not {good}: clang makes a braced single json a copy, g++ an array of one.
  j["uidMappings"] = json::array({good});
  j["gidMappings"] = json::array({good});
  assert_true(workloadFromJson(j).ok());

  j["gidMappings"] = json::array();
  expectJsonRejected(j);  // validate(): a user namespace needs both
  j["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}}};
  expectJsonRejected(j);
  j["gidMappings"] = {{{"containerID", "0"}, {"hostID", 100000}, {"size", 1}}};
  expectJsonRejected(j);
  j["gidMappings"] = "0:100000:65536";
  expectJsonRejected(j);
  j["gidMappings"] = {nullptr};
  expectJsonRejected(j);
}

// nlohmann's get<> casts any number to any arithmetic type; a hostile -1 or 2^32 must not
// quietly become uid 4294967295 or host id 0.
static void json_rejects_numbers_out_of_range(void**) {
  json j = toJson(validWorkload());
  j["uidMappings"] = {{{"containerID", 0}, {"hostID", 4294967296ull}, {"size", 1}}};
  j["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 1}}};
  expectJsonRejected(j);
  j["uidMappings"] = {{{"containerID", 0}, {"hostID", -1}, {"size", 1}}};
  expectJsonRejected(j);
  j["uidMappings"] = {{{"containerID", 0}, {"hostID", 1.5}, {"size", 1}}};
  expectJsonRejected(j);

  expectJsonRejected(withField("user", {{"uid", -1}}));
  expectJsonRejected(withField("user", {{"gid", 4294967296ull}}));
  expectJsonRejected(withField("user", {{"additionalGids", {-5}}}));
  expectJsonRejected(withField("limits", {{"memory", -1}}));
  expectJsonRejected(withField("limits", {{"memory", 1e12}}));
  expectJsonRejected(withField("limits", {{"cpuMilli", -1000}}));
  expectJsonRejected(withField("limits", {{"pids", 1.5}}));
  expectJsonRejected(withField("limits", {{"pids", 18446744073709551615ull}}));
  expectJsonRejected(withField("rlimits", {{{"type", "nofile"}, {"soft", -5}, {"hard", -5}}}));

  // In range stays accepted, including the extremes.
  j["uidMappings"] = {{{"containerID", 0}, {"hostID", 4294967295u}, {"size", 1}}};
  assert_true(workloadFromJson(j).ok());
  auto back = workloadFromJson(withField("limits", {{"memorySwap", -1}, {"pids", -1}}));
  assert_true(back.ok());
  assert_true(*back->limits.memorySwapBytes == -1);
  assert_true(*back->limits.pidsLimit == -1);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_id_mappings),
      cmocka_unit_test(parses_volumes),
      cmocka_unit_test(rejects_malformed_volumes),
      cmocka_unit_test(validate_refuses_two_volumes_on_one_path),
      cmocka_unit_test(rejects_malformed_id_mappings),
      cmocka_unit_test(parses_rlimits),
      cmocka_unit_test(parses_unlimited_rlimits),
      cmocka_unit_test(knows_every_rlimit_name),
      cmocka_unit_test(rejects_soft_above_hard),
      cmocka_unit_test(rejects_unknown_rlimit_names),
      cmocka_unit_test(rejects_malformed_rlimits),
      cmocka_unit_test(parses_isolation_and_network),
      cmocka_unit_test(accepts_a_minimal_workload),
      cmocka_unit_test(validate_needs_a_command),
      cmocka_unit_test(validate_checks_env_entries),
      cmocka_unit_test(validate_needs_an_absolute_workdir),
      cmocka_unit_test(validate_limits_hostname_length),
      cmocka_unit_test(validate_checks_memory),
      cmocka_unit_test(validate_checks_memory_swap),
      cmocka_unit_test(validate_checks_cpu),
      cmocka_unit_test(validate_checks_pids),
      cmocka_unit_test(validate_needs_both_mappings),
      cmocka_unit_test(validate_checks_rlimits),
      cmocka_unit_test(new_ids_are_64_hex_digits_and_distinct),
      cmocka_unit_test(json_round_trips_every_field),
      cmocka_unit_test(json_round_trips_defaults),
      cmocka_unit_test(json_needs_a_command),
      cmocka_unit_test(json_rejects_documents_that_are_not_objects),
      cmocka_unit_test(json_rejects_wrong_types),
      cmocka_unit_test(json_rejects_malformed_rlimits),
      cmocka_unit_test(json_rejects_malformed_mappings),
      cmocka_unit_test(json_rejects_numbers_out_of_range),
      cmocka_unit_test(json_keeps_the_network_peer),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
