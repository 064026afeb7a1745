// A bundle's config.json, as the OCI runtime-spec (v1.0 to v1.2) defines it for Linux: the
// fields a runtime acts on, checked for type and range as they are read. Unknown fields are
// ignored, as runc and crun ignore them, so newer engines keep working.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::oci {

struct Hook {
  std::string path;  // absolute, on the host
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeoutSeconds;
};

// config.md "POSIX-platform Hooks": when each list runs, and in which namespaces.
struct Hooks {
  std::vector<Hook> prestart;         // deprecated; runs with createRuntime, before it
  std::vector<Hook> createRuntime;    // runtime's namespaces, after the container's are made
  std::vector<Hook> createContainer;  // container's namespaces, before pivot_root
  std::vector<Hook> startContainer;   // container's namespaces, just before the process's exec
  std::vector<Hook> poststart;        // runtime's namespaces, once the process runs
  std::vector<Hook> poststop;         // runtime's namespaces, at delete
};

struct Mount {
  std::string destination;  // absolute inside the container
  std::string source;
  std::string type;  // empty: a bind mount (options say "bind" or "rbind")
  std::vector<std::string> options;
};

struct Rlimit {
  int resource = 0;  // RLIMIT_*
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

struct Capabilities {
  std::vector<std::string> bounding;
  std::vector<std::string> effective;
  std::vector<std::string> inheritable;
  std::vector<std::string> permitted;
  std::vector<std::string> ambient;
};

struct Process {
  bool terminal = false;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::optional<std::uint32_t> umask;
  std::vector<std::uint32_t> additionalGids;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool noNewPrivileges = false;
  std::optional<int> oomScoreAdj;
};

enum class NamespaceType { kPid, kNetwork, kMount, kIpc, kUts, kUser, kCgroup, kTime };

struct Namespace {
  NamespaceType type = NamespaceType::kPid;
  std::string path;  // empty: a new namespace; else the one to join
};

struct IdMapping {
  std::uint32_t containerId = 0;
  std::uint32_t hostId = 0;
  std::uint32_t size = 0;
};

struct Device {
  std::string path;  // inside the container
  char type = 'c';   // c, u (unbuffered char), b or p
  std::int64_t major = 0;
  std::int64_t minor = 0;
  std::optional<std::uint32_t> fileMode;
  std::optional<std::uint32_t> uid;
  std::optional<std::uint32_t> gid;
};

// resources.devices: the device cgroup's allow and deny list, applied in order.
struct DeviceCgroupRule {
  bool allow = false;
  char type = 'a';                    // a (all), c or b
  std::optional<std::int64_t> major;  // unset: any
  std::optional<std::int64_t> minor;
  std::string access = "rwm";
};

struct Resources {
  std::optional<std::int64_t> memoryLimit;  // bytes; -1 unlimited
  std::optional<std::int64_t> memoryReservation;
  std::optional<std::int64_t> memorySwap;  // memory plus swap; -1 unlimited
  std::optional<std::uint64_t> cpuShares;
  std::optional<std::int64_t> cpuQuota;  // microseconds per period; -1 unlimited
  std::optional<std::uint64_t> cpuPeriod;
  std::string cpusetCpus;
  std::string cpusetMems;
  std::optional<std::int64_t> pidsLimit;
  std::vector<DeviceCgroupRule> devices;

  // The quota over its period (100000 µs when unset) as thousandths of a CPU, at least 1;
  // nothing when there is no positive quota.
  std::optional<std::uint64_t> cpuMilli() const;
};

struct SeccompArg {
  unsigned index = 0;
  std::uint64_t value = 0;
  std::uint64_t valueTwo = 0;
  std::string op;  // SCMP_CMP_EQ, ...
};

struct SeccompRule {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_*
  std::optional<std::uint32_t> errnoRet;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string defaultAction;
  std::optional<std::uint32_t> defaultErrnoRet;
  std::vector<std::string> architectures;  // SCMP_ARCH_*
  std::vector<std::string> flags;
  std::vector<SeccompRule> syscalls;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uidMappings;
  std::vector<IdMapping> gidMappings;
  std::vector<Device> devices;
  std::string cgroupsPath;
  Resources resources;
  std::map<std::string, std::string> sysctl;
  std::optional<Seccomp> seccomp;
  std::vector<std::string> maskedPaths;
  std::vector<std::string> readonlyPaths;
  std::string rootfsPropagation;  // "", shared, slave, private, unbindable
};

struct Spec {
  std::string ociVersion;
  std::optional<Process> process;
  std::string rootPath;  // as written: relative to the bundle, or absolute
  bool rootReadonly = false;
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  Linux linux;

  bool hasNamespace(NamespaceType type) const;
  const Namespace* findNamespace(NamespaceType type) const;
};

const char* toString(NamespaceType type);

// The CLONE_NEW* flag that makes a namespace of `type`, as clone3, unshare and setns take it.
int cloneFlag(NamespaceType type);

// Reads config.json's text. An error names the field, as "process.rlimits[1].type: unknown
// resource RLIMIT_FOO", and config.md's MUSTs are checked: ociVersion, root.path, absolute mount
// destinations and hook paths, one namespace of each type.
Result<Spec> parseSpec(const std::string& text);

// A process.json, as `exec --process` takes it: config.json's "process" object on its own.
Result<Process> parseProcess(const std::string& text);

// `bundle`/config.json.
Result<Spec> loadSpec(const std::string& bundle);

// What `runc spec` writes: a container that runs `sh` on a terminal from ./rootfs, read-only,
// with runc's default mounts, masked and read-only paths and capabilities, in new pid, network,
// ipc, uts, mount and cgroup namespaces.
std::string defaultSpecJson();

}  // namespace tandem::oci
