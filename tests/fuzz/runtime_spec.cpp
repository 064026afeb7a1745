// An OCI bundle's config.json (and exec's process.json), which podman, containerd or a user
// hands to tandem-oci: parsed, then taken as far as tandem goes before touching the host: the
// bundle as a microVM workload, the cgroup path, limits and device allowlist, each mount's
// options, the seccomp profile compiled to BPF, and the isolation level it asks for.
#include <string>

#include "common/oci/bundle_workload.h"
#include "common/oci/runtime_spec.h"
#include "container/oci/bundle_cgroup.h"
#include "container/oci/mount_options.h"
#include "container/oci/seccomp_filter.h"
#include "scheduler/bundle_level.h"
#include "tests/fuzz/fuzz_input.h"

using namespace tandem;

namespace {

bool noFolders(const std::string&) {
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)oci::parseProcess(text);
  auto spec = oci::parseSpec(text);
  if (!spec) {
    return 0;
  }
  (void)oci::workloadFromBundle(*spec, "fuzz", "/run/fuzz/rootfs", noFolders);
  (void)container::cgroupPathFor(spec->linux.cgroupsPath, "fuzz", false);
  (void)container::cgroupPathFor(spec->linux.cgroupsPath, "fuzz", true);
  (void)container::limitsFrom(spec->linux.resources);
  (void)container::deviceAllowList(spec->linux.resources.devices);
  for (const auto& mount : spec->mounts) {
    (void)container::parseMountOptions(mount);
  }
  (void)container::seccompProgramFor(*spec);
  (void)scheduler::placementRequest(*spec, Isolation::kAuto);
  return 0;
}
