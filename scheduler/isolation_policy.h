// Decides which isolation level runs a workload, and says why in words a user can check.
//
// An explicit --isolation is honoured, or refused: by the operator's policy for the workload's
// class, or because the host cannot run that level. Never quietly changed.
//
// `auto` takes, in order:
// 1. the policy: a class that requires a level, or whose default names one, gets it;
// 2. needs: untrusted code, or code that needs a kernel of its own, runs in a microVM, or is
//    refused when none can run here;
// 3. preferences: trusted or latency-sensitive code takes a container, where one can run;
//    code of unknown trust takes the strongest level that can run.
// A level "can run" when the policy allows it, the host offers it, and its memory fits in what
// the host has available (a microVM costs its guest's memory and the VMM's overhead).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/workload.h"
#include "scheduler/operator_policy.h"

namespace tandem::scheduler {

enum class Trust { kUnknown, kTrusted, kUntrusted };
const char* toString(Trust trust);
Result<Trust> parseTrust(const std::string& text);

// What the decision takes from the workload.
struct PlacementRequest {
  Isolation requested = Isolation::kAuto;
  // How an explicit level was asked for, as the decision's words quote it; empty:
  // "--isolation LEVEL".
  std::string requestedAs;
  std::string workloadClass;  // empty: its trust names its class
  Trust trust = Trust::kUnknown;
  bool needsOwnKernel = false;         // modules, sysctls outside its namespaces, another kernel
  bool latencySensitive = false;       // its start time matters more than its isolation
  bool joinsContainerNetwork = false;  // --network container:NAME, which only a container can do
  std::optional<std::uint64_t> memoryBytes;  // its memory limit (a microVM's guest memory)
  std::optional<std::uint64_t> cpuMilli;     // its CPU quota (a microVM's vCPUs, rounded up)
};

// What this host can do right now, as the backends report it.
struct HostFacts {
  Status container;  // ok, or why containers cannot run here
  Status vm;         // ok, or why microVMs cannot run here
  // Memory the host can give new workloads; nullopt when unknown (not checked).
  std::optional<std::uint64_t> memoryAvailableBytes;
};

struct IsolationChoice {
  Isolation level = Isolation::kContainer;
  std::string reason;                   // the deciding reason, "vm: ..." or "container: ..."
  std::vector<std::string> considered;  // everything else weighed, for inspect and explain
};

// A microVM's guest memory when the workload sets no limit, and what a microVM costs the host
// beyond its guest memory (tandem-vmm measures 2.5 MiB resident; KVM's own tables on top).
inline constexpr std::uint64_t kDefaultGuestMemoryBytes = 256ull << 20;
inline constexpr std::uint64_t kVmOverheadBytes = 4ull << 20;

// Host memory each level would take for `request`: a container its limit (0 when unlimited), a
// microVM its guest memory and overhead.
std::uint64_t hostMemoryFor(Isolation level, const PlacementRequest& request);

// The reason, then what else was weighed, as one line for the store.
std::string describe(const IsolationChoice& choice);

Result<IsolationChoice> chooseIsolation(const PlacementRequest& request, const HostFacts& host,
                                        const OperatorPolicy& policy = {});

// MemAvailable from /proc/meminfo; nullopt when it cannot be read.
std::optional<std::uint64_t> hostMemoryAvailable();

}  // namespace tandem::scheduler
