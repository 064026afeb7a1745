// Which isolation level runs a bundle, and why: its "io.tandem.isolation" annotation
// (container, vm or auto), else the level this runtime was invoked for (tandem-oci: container,
// as runc; tandem-oci-vm: vm, for a RuntimeClass handler of its own), weighed by tandem's
// isolation policy as `tandem run` weighs a workload: "io.tandem.trust" and "io.tandem.class"
// annotations, the operator's policy file, what the host offers, and the bundle's memory.
#pragma once

#include <string>

#include "common/oci/runtime_spec.h"
#include "common/result.h"
#include "scheduler/isolation_policy.h"

namespace tandem::scheduler {

inline constexpr const char* kIsolationAnnotation = "io.tandem.isolation";
inline constexpr const char* kTrustAnnotation = "io.tandem.trust";
inline constexpr const char* kClassAnnotation = "io.tandem.class";

// What the annotations ask for, before the host and policy are weighed. Pure.
Result<PlacementRequest> placementRequest(const oci::Spec& spec, Isolation invokedFor);

// The level for `spec`: placementRequest weighed against `host` and `policy`.
Result<IsolationChoice> chooseBundleLevel(const oci::Spec& spec, Isolation invokedFor,
                                          const HostFacts& host, const OperatorPolicy& policy);

// The level argv[0] stands for: "tandem-oci-vm" a microVM, anything else a container.
Isolation levelInvokedFor(const std::string& program);

}  // namespace tandem::scheduler
