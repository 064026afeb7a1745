// A bundle at VM level, behind the same runtime contract as a container, as Kata does it: the
// container's "process" on the host is tandem-oci's vm-process, which waits for `start` on the
// exec FIFO like a container's first process, then runs the bundle in a microVM (the bundle's
// root packed as the guest's root, its process as the guest's workload) and exits with the
// workload's code. Signals sent to it reach the microVM; `delete` kills it and the VMM with it.
// `exec` goes through the guest agent, from a relay process whose pid and exit code stand for
// the guest process's.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/oci/container_directory.h"
#include "common/result.h"
#include "container/oci/bundle_exec.h"
#include "container/oci/bundle_runtime.h"
#include "vmm/vm_backend.h"

namespace tandem::oci_cli {

// The microVM backend's configuration for bundles: the guest kernel and init where an
// installed host keeps them (engines pass their runtime no environment to say otherwise).
vmm::VmBackendConfig vmBundleConfig(const std::string& stateRoot);

// `program` is this executable, which the vm-process runs as. The caller has chosen the VM
// level, which the isolation policy grants only where microVMs can run.
Result<pid_t> createVmBundle(const std::string& root, const std::string& program,
                             const container::CreateOptions& options, const oci::Bundle& bundle);

// The exit code of the guest process, or 0 once it runs with request.detach.
Result<int> execInVmBundle(const std::string& root, const std::string& id,
                           const container::ExecRequest& request);

// `tandem-oci vm-process ROOT ID`: waits for start, runs the microVM, returns its exit code.
int runVmProcess(const std::string& root, const std::string& id);

}  // namespace tandem::oci_cli
