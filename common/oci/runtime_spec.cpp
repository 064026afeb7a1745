#include "common/oci/runtime_spec.h"

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/workload.h"

namespace tandem::oci {

namespace {

using nlohmann::json;

// Thrown only inside this file, and turned into an Error by parseSpec: it carries the field's
// path, so each reader stays one line.
struct FieldError {
  std::string message;
};

[[noreturn]] void wrong(const std::string& where, const std::string& expected, const json& got) {
  std::string shown = got.dump();
  if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
  throw FieldError{where + ": expected " + expected + ", got " + shown};
}

std::string at(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string at(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

const json* field(const json& object, const char* key) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return nullptr;
  return &*found;
}

std::string text(const json& value, const std::string& where) {
  if (!value.is_string()) wrong(where, "a string", value);
  return value.get<std::string>();
}

std::string optionalText(const json& object, const std::string& path, const char* key) {
  const json* value = field(object, key);
  return value ? text(*value, at(path, key)) : std::string();
}

bool flag(const json& object, const std::string& path, const char* key) {
  const json* value = field(object, key);
  if (!value) return false;
  if (!value->is_boolean()) wrong(at(path, key), "true or false", *value);
  return value->get<bool>();
}

template <class T>
T number(const json& value, const std::string& where) {
  if (value.is_number_unsigned()) {
    auto n = value.get<std::uint64_t>();
    if (n <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(n);
  } else if (value.is_number_integer()) {
    auto n = value.get<std::int64_t>();
    if (n >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
        (n < 0 || static_cast<std::uint64_t>(n) <=
                      static_cast<std::uint64_t>(std::numeric_limits<T>::max()))) {
      return static_cast<T>(n);
    }
  }
  wrong(where,
        std::string("a whole number from ") + std::to_string(std::numeric_limits<T>::min()) +
            " to " + std::to_string(std::numeric_limits<T>::max()),
        value);
}

template <class T>
std::optional<T> optionalNumber(const json& object, const std::string& path, const char* key) {
  const json* value = field(object, key);
  if (!value) return std::nullopt;
  return number<T>(*value, at(path, key));
}

const json& objectAt(const json& value, const std::string& where) {
  if (!value.is_object()) wrong(where, "an object", value);
  return value;
}

// Calls `each(element, itsPath)` for every element of array `key`, if present.
template <class F>
void forEach(const json& object, const std::string& path, const char* key, F each) {
  const json* value = field(object, key);
  if (!value) return;
  std::string where = at(path, key);
  if (!value->is_array()) wrong(where, "an array", *value);
  for (std::size_t i = 0; i < value->size(); ++i) {
    each((*value)[i], at(where, i));
  }
}

std::vector<std::string> strings(const json& object, const std::string& path, const char* key) {
  std::vector<std::string> out;
  forEach(object, path, key,
          [&](const json& item, const std::string& where) { out.push_back(text(item, where)); });
  return out;
}

void requireAbsolute(const std::string& value, const std::string& where) {
  if (value.empty() || value.front() != '/') {
    throw FieldError{where + ": must be an absolute path, got \"" + value + "\""};
  }
}

// "RLIMIT_NOFILE" as the resource whose --ulimit name (common/workload.h) is "nofile".
std::optional<int> rlimitNamed(const std::string& type) {
  if (!type.starts_with("RLIMIT_")) return std::nullopt;
  std::string name = type.substr(7);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (int resource = 0; resource < RLIM_NLIMITS; ++resource) {
    if (rlimitName(resource) == name) return resource;
  }
  return std::nullopt;
}

struct NamespaceName {
  const char* name;
  NamespaceType type;
};

constexpr std::array<NamespaceName, 8> kNamespaces{{
    {"pid", NamespaceType::kPid},
    {"network", NamespaceType::kNetwork},
    {"mount", NamespaceType::kMount},
    {"ipc", NamespaceType::kIpc},
    {"uts", NamespaceType::kUts},
    {"user", NamespaceType::kUser},
    {"cgroup", NamespaceType::kCgroup},
    {"time", NamespaceType::kTime},
}};

Hook readHook(const json& value, const std::string& where) {
  objectAt(value, where);
  Hook hook;
  hook.path = optionalText(value, where, "path");
  requireAbsolute(hook.path, at(where, "path"));
  hook.args = strings(value, where, "args");
  hook.env = strings(value, where, "env");
  hook.timeoutSeconds = optionalNumber<int>(value, where, "timeout");
  if (hook.timeoutSeconds && *hook.timeoutSeconds <= 0) {
    throw FieldError{at(where, "timeout") + ": must be greater than zero"};
  }
  return hook;
}

std::vector<Hook> readHooks(const json& hooks, const std::string& path, const char* key) {
  std::vector<Hook> out;
  forEach(hooks, path, key, [&](const json& item, const std::string& where) {
    out.push_back(readHook(item, where));
  });
  return out;
}

Process readProcess(const json& value, const std::string& path) {
  objectAt(value, path);
  Process process;
  process.terminal = flag(value, path, "terminal");
  if (const json* user = field(value, "user")) {
    std::string where = at(path, "user");
    objectAt(*user, where);
    process.uid = optionalNumber<std::uint32_t>(*user, where, "uid").value_or(0);
    process.gid = optionalNumber<std::uint32_t>(*user, where, "gid").value_or(0);
    process.umask = optionalNumber<std::uint32_t>(*user, where, "umask");
    forEach(*user, where, "additionalGids", [&](const json& item, const std::string& itemPath) {
      process.additionalGids.push_back(number<std::uint32_t>(item, itemPath));
    });
  }
  process.args = strings(value, path, "args");
  if (process.args.empty()) {
    throw FieldError{at(path, "args") + ": required, with at least the program to run"};
  }
  process.env = strings(value, path, "env");
  process.cwd = optionalText(value, path, "cwd");
  requireAbsolute(process.cwd, at(path, "cwd"));
  if (const json* caps = field(value, "capabilities")) {
    std::string where = at(path, "capabilities");
    objectAt(*caps, where);
    process.capabilities =
        Capabilities{strings(*caps, where, "bounding"), strings(*caps, where, "effective"),
                     strings(*caps, where, "inheritable"), strings(*caps, where, "permitted"),
                     strings(*caps, where, "ambient")};
  }
  forEach(value, path, "rlimits", [&](const json& item, const std::string& where) {
    objectAt(item, where);
    std::string type = optionalText(item, where, "type");
    std::optional<int> resource = rlimitNamed(type);
    if (!resource) {
      throw FieldError{at(where, "type") + ": unknown resource \"" + type + "\""};
    }
    Rlimit limit{*resource, optionalNumber<std::uint64_t>(item, where, "soft").value_or(0),
                 optionalNumber<std::uint64_t>(item, where, "hard").value_or(0)};
    if (limit.soft > limit.hard) {
      throw FieldError{where + ": soft limit " + std::to_string(limit.soft) +
                       " is above the hard limit " + std::to_string(limit.hard)};
    }
    if (std::any_of(process.rlimits.begin(), process.rlimits.end(),
                    [&](const Rlimit& r) { return r.resource == limit.resource; })) {
      throw FieldError{at(where, "type") + ": " + type + " is given twice"};
    }
    process.rlimits.push_back(limit);
  });
  process.noNewPrivileges = flag(value, path, "noNewPrivileges");
  process.oomScoreAdj = optionalNumber<int>(value, path, "oomScoreAdj");
  if (process.oomScoreAdj && (*process.oomScoreAdj < -1000 || *process.oomScoreAdj > 1000)) {
    throw FieldError{at(path, "oomScoreAdj") + ": must be from -1000 to 1000"};
  }
  return process;
}

std::vector<IdMapping> readMappings(const json& linux, const std::string& path, const char* key) {
  std::vector<IdMapping> out;
  forEach(linux, path, key, [&](const json& item, const std::string& where) {
    objectAt(item, where);
    out.push_back({optionalNumber<std::uint32_t>(item, where, "containerID").value_or(0),
                   optionalNumber<std::uint32_t>(item, where, "hostID").value_or(0),
                   optionalNumber<std::uint32_t>(item, where, "size").value_or(0)});
  });
  return out;
}

char deviceType(const std::string& type, const std::string& where, const char* allowed) {
  if (type.size() != 1 || std::string(allowed).find(type[0]) == std::string::npos) {
    throw FieldError{where + ": must be one of " + allowed + " (one letter), got \"" + type + "\""};
  }
  return type[0];
}

Resources readResources(const json& value, const std::string& path) {
  objectAt(value, path);
  Resources resources;
  if (const json* memory = field(value, "memory")) {
    std::string where = at(path, "memory");
    objectAt(*memory, where);
    resources.memoryLimit = optionalNumber<std::int64_t>(*memory, where, "limit");
    resources.memoryReservation = optionalNumber<std::int64_t>(*memory, where, "reservation");
    resources.memorySwap = optionalNumber<std::int64_t>(*memory, where, "swap");
  }
  if (const json* cpu = field(value, "cpu")) {
    std::string where = at(path, "cpu");
    objectAt(*cpu, where);
    resources.cpuShares = optionalNumber<std::uint64_t>(*cpu, where, "shares");
    resources.cpuQuota = optionalNumber<std::int64_t>(*cpu, where, "quota");
    resources.cpuPeriod = optionalNumber<std::uint64_t>(*cpu, where, "period");
    resources.cpusetCpus = optionalText(*cpu, where, "cpus");
    resources.cpusetMems = optionalText(*cpu, where, "mems");
  }
  if (const json* pids = field(value, "pids")) {
    std::string where = at(path, "pids");
    objectAt(*pids, where);
    resources.pidsLimit = optionalNumber<std::int64_t>(*pids, where, "limit");
  }
  forEach(value, path, "devices", [&](const json& item, const std::string& where) {
    objectAt(item, where);
    DeviceCgroupRule rule;
    if (!field(item, "allow")) throw FieldError{at(where, "allow") + ": required"};
    rule.allow = flag(item, where, "allow");
    std::string type = optionalText(item, where, "type");
    rule.type = type.empty() ? 'a' : deviceType(type, at(where, "type"), "acb");
    rule.major = optionalNumber<std::int64_t>(item, where, "major");
    rule.minor = optionalNumber<std::int64_t>(item, where, "minor");
    std::string access = optionalText(item, where, "access");
    if (!access.empty()) {
      if (access.find_first_not_of("rwm") != std::string::npos) {
        throw FieldError{at(where, "access") + ": only r, w and m, got \"" + access + "\""};
      }
      rule.access = access;
    }
    resources.devices.push_back(rule);
  });
  return resources;
}

Seccomp readSeccomp(const json& value, const std::string& path) {
  objectAt(value, path);
  Seccomp seccomp;
  seccomp.defaultAction = optionalText(value, path, "defaultAction");
  if (seccomp.defaultAction.empty()) throw FieldError{at(path, "defaultAction") + ": required"};
  seccomp.defaultErrnoRet = optionalNumber<std::uint32_t>(value, path, "defaultErrnoRet");
  seccomp.architectures = strings(value, path, "architectures");
  seccomp.flags = strings(value, path, "flags");
  forEach(value, path, "syscalls", [&](const json& item, const std::string& where) {
    objectAt(item, where);
    SeccompRule rule;
    rule.names = strings(item, where, "names");
    if (rule.names.empty()) throw FieldError{at(where, "names") + ": at least one name"};
    rule.action = optionalText(item, where, "action");
    if (rule.action.empty()) throw FieldError{at(where, "action") + ": required"};
    rule.errnoRet = optionalNumber<std::uint32_t>(item, where, "errnoRet");
    forEach(item, where, "args", [&](const json& arg, const std::string& argPath) {
      objectAt(arg, argPath);
      SeccompArg condition;
      condition.index = optionalNumber<unsigned>(arg, argPath, "index").value_or(0);
      if (condition.index > 5) throw FieldError{at(argPath, "index") + ": must be from 0 to 5"};
      condition.value = optionalNumber<std::uint64_t>(arg, argPath, "value").value_or(0);
      condition.valueTwo = optionalNumber<std::uint64_t>(arg, argPath, "valueTwo").value_or(0);
      condition.op = optionalText(arg, argPath, "op");
      if (condition.op.empty()) throw FieldError{at(argPath, "op") + ": required"};
      rule.args.push_back(condition);
    });
    seccomp.syscalls.push_back(std::move(rule));
  });
  return seccomp;
}

Linux readLinux(const json& value, const std::string& path) {
  objectAt(value, path);
  Linux linux;
  forEach(value, path, "namespaces", [&](const json& item, const std::string& where) {
    objectAt(item, where);
    std::string type = optionalText(item, where, "type");
    auto known = std::find_if(kNamespaces.begin(), kNamespaces.end(),
                              [&](const NamespaceName& n) { return type == n.name; });
    if (known == kNamespaces.end()) {
      throw FieldError{at(where, "type") + ": unknown namespace type \"" + type + "\""};
    }
    if (std::any_of(linux.namespaces.begin(), linux.namespaces.end(),
                    [&](const Namespace& n) { return n.type == known->type; })) {
      throw FieldError{at(where, "type") + ": namespace " + type + " is given twice"};
    }
    Namespace entry{known->type, optionalText(item, where, "path")};
    if (!entry.path.empty()) requireAbsolute(entry.path, at(where, "path"));
    linux.namespaces.push_back(entry);
  });
  linux.uidMappings = readMappings(value, path, "uidMappings");
  linux.gidMappings = readMappings(value, path, "gidMappings");
  forEach(value, path, "devices", [&](const json& item, const std::string& where) {
    objectAt(item, where);
    Device device;
    device.path = optionalText(item, where, "path");
    requireAbsolute(device.path, at(where, "path"));
    device.type = deviceType(optionalText(item, where, "type"), at(where, "type"), "cubp");
    device.major = optionalNumber<std::int64_t>(item, where, "major").value_or(0);
    device.minor = optionalNumber<std::int64_t>(item, where, "minor").value_or(0);
    device.fileMode = optionalNumber<std::uint32_t>(item, where, "fileMode");
    device.uid = optionalNumber<std::uint32_t>(item, where, "uid");
    device.gid = optionalNumber<std::uint32_t>(item, where, "gid");
    linux.devices.push_back(device);
  });
  linux.cgroupsPath = optionalText(value, path, "cgroupsPath");
  if (const json* resources = field(value, "resources")) {
    linux.resources = readResources(*resources, at(path, "resources"));
  }
  if (const json* sysctl = field(value, "sysctl")) {
    std::string where = at(path, "sysctl");
    objectAt(*sysctl, where);
    for (const auto& [key, item] : sysctl->items()) {
      linux.sysctl[key] = text(item, at(where, key));
    }
  }
  if (const json* seccomp = field(value, "seccomp")) {
    linux.seccomp = readSeccomp(*seccomp, at(path, "seccomp"));
  }
  linux.maskedPaths = strings(value, path, "maskedPaths");
  linux.readonlyPaths = strings(value, path, "readonlyPaths");
  linux.rootfsPropagation = optionalText(value, path, "rootfsPropagation");
  const std::array<const char*, 9> propagations{"",        "shared",     "slave",
                                                "private", "unbindable", "rshared",
                                                "rslave",  "rprivate",   "runbindable"};
  if (std::find(propagations.begin(), propagations.end(), linux.rootfsPropagation) ==
      propagations.end()) {
    throw FieldError{at(path, "rootfsPropagation") +
                     ": must be [r]shared, [r]slave, [r]private or [r]unbindable, got \"" +
                     linux.rootfsPropagation + "\""};
  }
  return linux;
}

Spec readSpec(const json& document) {
  objectAt(document, "config.json");
  Spec spec;
  spec.ociVersion = optionalText(document, "", "ociVersion");
  if (spec.ociVersion.empty()) throw FieldError{"ociVersion: required"};
  if (!spec.ociVersion.starts_with("1.")) {
    throw FieldError{"ociVersion: " + spec.ociVersion +
                     " is not a 1.x runtime-spec version, the only ones this runtime reads"};
  }
  if (const json* process = field(document, "process")) {
    spec.process = readProcess(*process, "process");
  }
  const json* root = field(document, "root");
  if (!root) throw FieldError{"root: required"};
  objectAt(*root, "root");
  spec.rootPath = optionalText(*root, "root", "path");
  if (spec.rootPath.empty()) throw FieldError{"root.path: required"};
  spec.rootReadonly = flag(*root, "root", "readonly");
  spec.hostname = optionalText(document, "", "hostname");
  spec.domainname = optionalText(document, "", "domainname");
  forEach(document, "", "mounts", [&](const json& item, const std::string& where) {
    objectAt(item, where);
    Mount mount{optionalText(item, where, "destination"), optionalText(item, where, "source"),
                optionalText(item, where, "type"), strings(item, where, "options")};
    requireAbsolute(mount.destination, at(where, "destination"));
    spec.mounts.push_back(std::move(mount));
  });
  if (const json* hooks = field(document, "hooks")) {
    objectAt(*hooks, "hooks");
    spec.hooks = Hooks{
        readHooks(*hooks, "hooks", "prestart"),        readHooks(*hooks, "hooks", "createRuntime"),
        readHooks(*hooks, "hooks", "createContainer"), readHooks(*hooks, "hooks", "startContainer"),
        readHooks(*hooks, "hooks", "poststart"),       readHooks(*hooks, "hooks", "poststop")};
  }
  if (const json* annotations = field(document, "annotations")) {
    objectAt(*annotations, "annotations");
    for (const auto& [key, item] : annotations->items()) {
      spec.annotations[key] = text(item, at("annotations", key));
    }
  }
  if (const json* linux = field(document, "linux")) {
    spec.linux = readLinux(*linux, "linux");
  }
  if (!spec.hostname.empty() && !spec.hasNamespace(NamespaceType::kUts)) {
    throw FieldError{"hostname: needs a uts namespace of the container's own (linux.namespaces)"};
  }
  if (!spec.domainname.empty() && !spec.hasNamespace(NamespaceType::kUts)) {
    throw FieldError{"domainname: needs a uts namespace of the container's own (linux.namespaces)"};
  }
  return spec;
}

}  // namespace

std::optional<std::uint64_t> Resources::cpuMilli() const {
  if (!cpuQuota || *cpuQuota <= 0) return std::nullopt;
  std::uint64_t period = cpuPeriod && *cpuPeriod > 0 ? *cpuPeriod : 100000;
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(*cpuQuota) * 1000 / period);
}

int cloneFlag(NamespaceType type) {
  switch (type) {
    case NamespaceType::kPid:
      return CLONE_NEWPID;
    case NamespaceType::kNetwork:
      return CLONE_NEWNET;
    case NamespaceType::kMount:
      return CLONE_NEWNS;
    case NamespaceType::kIpc:
      return CLONE_NEWIPC;
    case NamespaceType::kUts:
      return CLONE_NEWUTS;
    case NamespaceType::kUser:
      return CLONE_NEWUSER;
    case NamespaceType::kCgroup:
      return CLONE_NEWCGROUP;
    case NamespaceType::kTime:
      return CLONE_NEWTIME;
  }
  return 0;
}

const char* toString(NamespaceType type) {
  for (const auto& known : kNamespaces) {
    if (known.type == type) return known.name;
  }
  return "unknown";
}

const Namespace* Spec::findNamespace(NamespaceType type) const {
  auto found = std::find_if(linux.namespaces.begin(), linux.namespaces.end(),
                            [&](const Namespace& n) { return n.type == type; });
  return found == linux.namespaces.end() ? nullptr : &*found;
}

bool Spec::hasNamespace(NamespaceType type) const {
  return findNamespace(type) != nullptr;
}

Result<Spec> parseSpec(const std::string& text) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return Error("config.json is not valid JSON");
  }
  try {
    return readSpec(document);
  } catch (const FieldError& error) {
    return Error("config.json: " + error.message);
  }
}

Result<Process> parseProcess(const std::string& text) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return Error("the process description is not valid JSON");
  }
  try {
    return readProcess(document, "process");
  } catch (const FieldError& error) {
    return Error(error.message);
  }
}

Result<Spec> loadSpec(const std::string& bundle) {
  std::string path = bundle + "/config.json";
  TANDEM_ASSIGN_OR_RETURN(std::string text, readFile(path));
  auto spec = parseSpec(text);
  if (!spec) return std::move(spec).error().context("bundle " + bundle);
  return spec;
}

std::string defaultSpecJson() {
  const std::vector<std::string> caps{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  json spec = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env",
         {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "tandem"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"},
         {"type", "tmpfs"},
         {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/dev/pts"},
         {"type", "devpts"},
         {"source", "devpts"},
         {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
        {{"destination", "/dev/shm"},
         {"type", "tmpfs"},
         {"source", "shm"},
         {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
        {{"destination", "/dev/mqueue"},
         {"type", "mqueue"},
         {"source", "mqueue"},
         {"options", {"nosuid", "noexec", "nodev"}}},
        {{"destination", "/sys"},
         {"type", "sysfs"},
         {"source", "sysfs"},
         {"options", {"nosuid", "noexec", "nodev", "ro"}}},
        {{"destination", "/sys/fs/cgroup"},
         {"type", "cgroup"},
         {"source", "cgroup"},
         {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}}}},
      {"linux",
       {{"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
        {"namespaces",
         {{{"type", "pid"}},
          {{"type", "network"}},
          {{"type", "ipc"}},
          {{"type", "uts"}},
          {{"type", "mount"}},
          {{"type", "cgroup"}}}},
        {"maskedPaths",
         {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
          "/proc/scsi"}},
        {"readonlyPaths",
         {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}},
  };
  return spec.dump(1, '\t') + "\n";
}

}  // namespace tandem::oci
