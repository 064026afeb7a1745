// The container's first process: from clone() to the workload's execve.
#pragma once

#include <linux/filter.h>
#include <signal.h>
#include <sys/capability.h>

#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/workload.h"
#include "container/rootfs.h"

namespace tandem::container {

// Bytes the runtime sends on the sync socket, in this order.
inline constexpr char kSyncMapsWritten = 'm';  // only with a user namespace
inline constexpr char kSyncStateReady = 'r';   // the overlay's directories exist
inline constexpr char kSyncInCgroup = 'g';

struct ContainerProcessConfig {
  Workload workload;
  RootfsLayout rootfs;
  std::vector<cap_value_t> capabilities;
  std::vector<sock_filter> seccompProgram;  // empty: no filter
  bool ownNetwork = true;
  bool userNamespace = false;
  int syncSocket = -1;          // the runtime says "go" here; the pty master goes back here
  int errorPipe = -1;           // close-on-exec; a ChildFailure record is written here on failure
  sigset_t workloadSignalMask;  // set just before the exec
};

// Runs right after clone(): re-executes from a protected copy of tandem as
// `tandem container-process SYNC_FD ERROR_FD`, which receives its configuration on the sync
// socket and goes on in continueContainerProcess().
// Never returns: it execs the workload in the end, or reports why not and exits 125/126/127.
[[noreturn]] void runContainerProcess(const ContainerProcessConfig& config);

// The rest of the container's setup, in the sealed copy: from the hostname to the workload's
// execve.
[[noreturn]] void continueContainerProcess(const ContainerProcessConfig& config);

// The configuration crosses the re-exec as JSON, sent length-first on the sync socket.
std::string serializeConfig(const ContainerProcessConfig& config);
Result<ContainerProcessConfig> parseConfig(const std::string& text);
Status sendConfig(int socket, const ContainerProcessConfig& config);
// A compiled seccomp program as it crosses a re-exec: one [code, jt, jf, k] array an
// instruction. Reading throws nlohmann's exceptions for a field that does not fit, which the
// configuration's parser turns into its error.
nlohmann::json seccompProgramToJson(const std::vector<sock_filter>& program);
std::vector<sock_filter> seccompProgramFromJson(const nlohmann::json& json);

// The framing under it: a 32-bit length, then the text (at most 16 MiB).
Status sendFramedText(int socket, const std::string& text);
Result<std::string> receiveFramedText(int socket);
Result<ContainerProcessConfig> receiveConfig(int socket);

// Re-executes from a protected copy of this executable (protectedSelf) as
// `PROGRAM VERB SYNC_FD ERROR_FD`, keeping those two descriptors across the exec. Reports a
// failure on `errorPipe` and exits 125 if it cannot.
[[noreturn]] void reexecProtected(const char* program, const char* verb, int syncSocket,
                                  int errorPipe);

// The signals the runtime blocks for its own signalfd; the container process unblocks them.
sigset_t forwardedSignals();

}  // namespace tandem::container
