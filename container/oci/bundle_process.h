// An OCI container's first process: from clone() to the exec of config.json's process, which
// waits in between, after the root is built and before anything of the user's runs, until
// `start` opens the container's exec FIFO (runtime-spec "created" state).
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "container/container_process.h"
#include "container/oci/bundle_rootfs.h"

namespace tandem::container {

// Bytes on the sync socket besides container_process.h's kSyncMapsWritten and kSyncInCgroup.
// Runtime to process:
inline constexpr char kSyncHooksRan = 'h';  // prestart and createRuntime hooks ran
// Process to runtime:
inline constexpr char kSyncRunHooks = 'H';  // root built: run createRuntime now
inline constexpr char kSyncCreated = 'C';   // waiting on the exec FIFO

struct BundleProcessConfig {
  std::string specText;  // config.json as read by `create`
  BundleRootOptions root;
  std::string execFifo;   // absolute path of the FIFO `start` opens
  std::string stateJson;  // given to createContainer and startContainer hooks
  bool noPivot = false;
  bool newUserNamespace = false;
  std::vector<sock_filter> seccompProgram;  // empty: no filter
  int syncSocket = -1;
  int errorPipe = -1;  // close-on-exec; a ChildFailure record is written here on failure
};

std::string serializeBundleProcessConfig(const BundleProcessConfig& config);
Result<BundleProcessConfig> parseBundleProcessConfig(const std::string& text);

// Runs right after clone(): re-executes from a protected copy of the runtime as
// `PROGRAM bundle-process SYNC_FD ERROR_FD`.
[[noreturn]] void runBundleProcess(const char* program, const BundleProcessConfig& config);

// In the protected copy, once the configuration has arrived: the rest, up to the exec.
[[noreturn]] void continueBundleProcess(const BundleProcessConfig& config);

}  // namespace tandem::container
