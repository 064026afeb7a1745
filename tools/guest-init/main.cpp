// tandem-guest-init: PID 1 of tandem's microVM guest. The kernel starts it as rdinit=/.tandem/init
// from an initramfs holding the workload's rootfs plus, appended by the VMM, this binary and the
// workload's description (vmm/guest_protocol.h); or, when the command line names a root= disk,
// just the latter two, and init moves into the disk before the workload starts. It runs the
// workload with its stdio framed on COM1, reports milestones and the exit status on the status
// port, then resets the machine, which is the VMM's "guest finished". Beside the workload, the
// guest agent (agent.h) serves `tandem exec` over vsock.
#include <signal.h>
#include <sys/reboot.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/file.h"
#include "common/net_link.h"
#include "common/process.h"
#include "common/workload.h"
#include "tools/guest-init/agent.h"
#include "tools/guest-init/console.h"
#include "tools/guest-init/launch_rules.h"
#include "tools/guest-init/meminfo.h"
#include "tools/guest-init/mounts.h"
#include "tools/guest-init/relay.h"
#include "tools/guest-init/spawn.h"
#include "tools/guest-init/status_port.h"
#include "tools/guest-init/stdio_channel.h"
#include "vmm/guest_protocol.h"

namespace {

using namespace tandem;
using namespace tandem::guest_init;

// The one way to run this binary outside a guest: as PID 1 of a fresh PID namespace (kill(-1)
// then reaches that namespace only), with no mounts, the framed channel on stdin/stdout and
// status words as text on stderr; it exits instead of resetting.
constexpr std::string_view kHarnessFlag = "--test-harness";

Result<Workload> loadWorkload(const std::string& path) {
  auto text = readFile(path);
  if (!text) {
    return std::move(text).error().context(
        "no workload to run (the VMM appends its description to the initramfs)");
  }
  auto json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return Error("the workload description " + path + " is not valid JSON");
  }
  return workloadFromJson(json).context(path);
}

std::string kernelCommandLine() {
  auto text = readFile("/proc/cmdline");
  return text ? *text : std::string();
}

// The loopback interface, and each interface the VMM describes on the command line.
Status configureNetworks(const std::string& cmdline) {
  TANDEM_TRY(bringLoopbackUp());
  TANDEM_ASSIGN_OR_RETURN(auto networks, networksFrom(cmdline));
  for (const GuestNetwork& network : networks) {
    TANDEM_TRY(setIpv4Address(network.interface, network.address));
    TANDEM_TRY(setLinkUp(network.interface));
    if (network.gateway) {
      TANDEM_TRY(addIpv4DefaultRoute(*network.gateway));
    }
  }
  return okStatus();
}

class Init {
 public:
  explicit Init(bool harness) : harness_(harness) {}

  [[noreturn]] void run(const std::string& workloadPath) {
    unsigned reserved = harness_ ? 0 : reserveStandardFds();
    // SIGCHLD is read from a signalfd; with SIGPIPE blocked, a workload that closed its stdin is
    // an EPIPE to handle, not a signal.
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGCHLD);
    sigaddset(&blocked, SIGPIPE);
    ::sigprocmask(SIG_BLOCK, &blocked, nullptr);

    // Failures from here on are reported once the channel is open, so the user reads why.
    Status ready;
    if (harness_) {
      status_ = StatusPort::textTo(2);
    } else if (auto port = StatusPort::open()) {
      status_ = *port;
    } else {
      ready = std::move(port).error();
    }
    if (!harness_) {
      Status devices = mountDevices();
      attachConsole(reserved);
      if (ready) ready = devices;
    }
    auto channel = harness_ ? Result<StdioChannel>(StdioChannel::overFds(0, 1))
                            : StdioChannel::openTty(guest::kStdioTty);
    if (channel) {
      channel_.emplace(std::move(*channel));
    } else if (ready) {
      ready = std::move(channel).error();
    }
    // The guest reached init, announced only now that COM1 is open and raw: the VMM starts
    // sending stdin at this word, and bytes reaching the UART earlier are eaten by the driver's
    // start-up or, on a tty still cooked, echoed back into the output.
    if (status_) {
      status_->report(guest::StatusKind::kInitStarted, 0);
    }
    if (ready && !harness_) {
      ready = mountKernelFilesystems();
    }
    if (!ready) {
      fail(ready.error());
    }

    auto workload = loadWorkload(workloadPath);
    if (!workload) {
      fail(workload.error());
    }
    if (!harness_) {
      std::string cmdline = kernelCommandLine();
      if (auto root = rootDeviceFrom(cmdline); root) {
        if (auto switched = switchToRoot(*root); !switched) {
          fail(switched.error());
        }
      }
      if (Status mounted = mountVolumes(workload->volumes); !mounted) {
        fail(mounted.error());
      }
      if (Status network = configureNetworks(cmdline); !network) {
        fail(network.error());
      }
    }
    if (!workload->hostname.empty() &&
        ::sethostname(workload->hostname.data(), workload->hostname.size()) != 0) {
      fail(Error::fromErrno("cannot set the hostname to \"" + workload->hostname + "\""));
    }
    if (!harness_) {
      // Beside the workload, in its root and network: `tandem exec` starts processes there.
      if (auto agent = startAgent(); !agent) {
        consoleMessage(agent.error().describe() + "; tandem exec cannot reach this guest");
      }
      if (auto moved = channel_->moveOutputToVsock(guest::kStdioPort); !moved) {
        consoleMessage(moved.error().describe() + "; the workload's output stays on COM1");
      }
    }
    auto started = startWorkload(*workload, workloadEnvironment(*workload));
    if (!started) {
      fail(started.error());
    }
    if (status_ && !started->failureCode) {
      status_->report(guest::StatusKind::kWorkloadStarted, 0);
    }
    auto exit = relayUntilExit(*channel_, *started);
    if (!exit) {
      fail(exit.error());
    }
    if (started->failureCode) {
      int code = *started->failureCode;
      finish(guest::encodeStatus(guest::StatusKind::kInitFailed, static_cast<std::uint8_t>(code)),
             code);
    }
    finish(exitStatusWord(*exit), exit->shellCode());
  }

 private:
  // Before the workload runs: one line saying why, on the workload's stderr and the console.
  [[noreturn]] void fail(const Error& error) {
    std::string reason = error.describe();
    consoleMessage(reason);
    if (channel_) {
      static_cast<void>(channel_->writeStderrLine(reason));
    }
    finish(guest::encodeStatus(guest::StatusKind::kInitFailed, kExitRuntimeError),
           kExitRuntimeError);
  }

  // PID 1 never returns: its exit would panic the kernel.
  [[noreturn]] void finish(std::uint32_t statusWord, int harnessExitCode) {
    if (channel_) {
      guest::ExecExit report;
      if (guest::statusKind(statusWord) == guest::StatusKind::kSignaled) {
        report.signal = guest::statusPayload(statusWord);
      } else {
        report.exitCode = guest::statusPayload(statusWord);
      }
      addGuestMemory(report);
      channel_->reportExit(report);
      channel_->drain();
    }
    if (status_) {
      status_->report(statusWord);
    }
    if (harness_) {
      ::_exit(harnessExitCode);
    }
    ::reboot(RB_AUTOBOOT);
    consoleMessage(Error::fromErrno("cannot reset the machine").describe() + "; halting here");
    for (;;) {
      ::pause();
    }
  }

  bool harness_;
  std::optional<StatusPort> status_;
  std::optional<StdioChannel> channel_;
};

}  // namespace

int main(int argc, char** argv) {
  // The kernel hands init the command-line words it does not know; production ignores them.
  bool harness = argc >= 2 && argv[1] == kHarnessFlag;
  if (harness && argc != 3) {
    std::fprintf(stderr, "usage: tandem-guest-init --test-harness WORKLOAD_JSON\n");
    return kExitRuntimeError;
  }
  if (::getpid() != 1) {
    std::fprintf(stderr,
                 "tandem-guest-init: this is the microVM guest's PID 1, not a host command; to "
                 "try it on a host, run it as PID 1 of a new PID namespace: unshare -fpu "
                 "--mount-proc tandem-guest-init --test-harness WORKLOAD_JSON (framed stdio on "
                 "stdin and stdout)\n");
    return kExitRuntimeError;
  }
  Init(harness).run(harness ? argv[2] : guest::kWorkloadPath);
}
