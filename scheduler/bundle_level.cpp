#include "scheduler/bundle_level.h"

namespace tandem::scheduler {

Result<PlacementRequest> placementRequest(const oci::Spec& spec, Isolation invokedFor) {
  PlacementRequest request;
  request.requested = invokedFor;
  if (invokedFor == Isolation::kVm) request.requestedAs = "tandem-oci-vm";
  auto annotation = [&](const char* key) -> const std::string* {
    auto found = spec.annotations.find(key);
    return found == spec.annotations.end() ? nullptr : &found->second;
  };
  if (const std::string* level = annotation(kIsolationAnnotation)) {
    auto parsed = parseIsolation(*level);
    if (!parsed)
      return std::move(parsed).error().context(std::string("annotation ") + kIsolationAnnotation);
    request.requested = *parsed;
    request.requestedAs = std::string(kIsolationAnnotation) + "=" + *level;
  }
  if (const std::string* trust = annotation(kTrustAnnotation)) {
    auto parsed = parseTrust(*trust);
    if (!parsed)
      return std::move(parsed).error().context(std::string("annotation ") + kTrustAnnotation);
    request.trust = *parsed;
  }
  if (const std::string* workloadClass = annotation(kClassAnnotation)) {
    request.workloadClass = *workloadClass;
  }
  const oci::Resources& resources = spec.linux.resources;
  if (resources.memoryLimit && *resources.memoryLimit > 0) {
    request.memoryBytes = static_cast<std::uint64_t>(*resources.memoryLimit);
  }
  request.cpuMilli = resources.cpuMilli();
  return request;
}

Result<IsolationChoice> chooseBundleLevel(const oci::Spec& spec, Isolation invokedFor,
                                          const HostFacts& host, const OperatorPolicy& policy) {
  TANDEM_ASSIGN_OR_RETURN(PlacementRequest request, placementRequest(spec, invokedFor));
  return chooseIsolation(request, host, policy);
}

Isolation levelInvokedFor(const std::string& program) {
  std::string name = program.substr(program.rfind('/') + 1);
  return name == "tandem-oci-vm" ? Isolation::kVm : Isolation::kContainer;
}

}  // namespace tandem::scheduler
