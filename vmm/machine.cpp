#include "vmm/machine.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "common/bytes.h"
#include "common/file.h"
#include "common/log.h"
#include "common/net_link.h"
#include "common/rtnetlink.h"
#include "common/tap_device.h"
#include "common/unique_fd.h"
#include "common/unix_socket.h"
#include "vmm/cpuid.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/serial_8250.h"
#include "vmm/devices/status_port.h"
#include "vmm/exit_dispatch.h"
#include "vmm/guest_memory.h"
#include "vmm/guest_output_stream.h"
#include "vmm/guest_stdio.h"
#include "vmm/io_bus.h"
#include "vmm/kernel_loader.h"
#include "vmm/kvm.h"
#include "vmm/kvm_stats.h"
#include "vmm/mp_table.h"
#include "vmm/process_lockdown.h"
#include "vmm/vcpu_exit.h"
#include "vmm/virtio/block.h"
#include "vmm/virtio/entropy.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/tap_port.h"
#include "vmm/virtio/virtio_mmio.h"
#include "vmm/virtio/vsock.h"
#include "vmm/vmm_jail.h"
#include "vmm/x86_layout.h"

namespace tandem::vmm {
namespace {

// Sent to a vCPU thread to make KVM_RUN return; its handler does nothing, the point is EINTR.
constexpr int kKickSignal = SIGUSR1;
constexpr std::size_t kConsoleTailBytes = 8192;
constexpr std::size_t kStdinChunk = 16384;

void onKick(int) {}

// Where the guest's connection to host port kStdioPort arrives (the device's <socket>_PORT).
std::string outputSocketPath(const std::string& vsockSocket) {
  return vsockSocket + "_" + std::to_string(guest::kStdioPort);
}

Status installKickHandler() {
  struct sigaction action {};
  action.sa_handler = onKick;
  sigemptyset(&action.sa_mask);
  // No SA_RESTART: the interrupted KVM_RUN must return to its loop.
  if (::sigaction(kKickSignal, &action, nullptr) != 0) {
    return Error::fromErrno("installing the vCPU kick signal handler");
  }
  return okStatus();
}

Result<UniqueFd> makeEventFd(const char* what) {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) {
    return Error::fromErrno(std::string("creating an eventfd for ") + what);
  }
  return UniqueFd(fd);
}

void signalEvent(int fd) {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t written = ::write(fd, &one, sizeof(one));
}

void drainEvent(int fd) {
  std::uint64_t count;
  [[maybe_unused]] ssize_t got = ::read(fd, &count, sizeof(count));
}

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

class ConsoleTail {
 public:
  explicit ConsoleTail(int liveFd) : liveFd_(liveFd) {}
  void append(std::uint8_t byte) {
    std::lock_guard lock(mutex_);
    text_.push_back(static_cast<char>(byte));
    if (text_.size() > 2 * kConsoleTailBytes) {
      text_.erase(0, text_.size() - kConsoleTailBytes);
    }
    if (liveFd_ >= 0) {
      writeOrDrop(liveFd_, {&byte, 1});
    }
  }
  std::string tail() const {
    std::lock_guard lock(mutex_);
    return text_.size() > kConsoleTailBytes ? text_.substr(text_.size() - kConsoleTailBytes)
                                            : text_;
  }

 private:
  int liveFd_;
  mutable std::mutex mutex_;
  std::string text_;
};

// The workload's stdout and stderr, decoded from COM1's framed bytes. Called with the UART's
// lock held, so one byte at a time in order.
class GuestOutput {
 public:
  // `inputCredited` takes the guest's stdin acknowledgements (guest_protocol.h).
  GuestOutput(int stdoutFd, int stderrFd, std::function<void(std::size_t)> inputCredited)
      : stdoutFd_(stdoutFd), stderrFd_(stderrFd), inputCredited_(std::move(inputCredited)) {}
  void feed(std::uint8_t byte) {
    chunks_.clear();
    if (auto decoded = decoder_.decode({&byte, 1}, chunks_); !decoded) {
      spdlog::debug("guest stdio: {}", decoded.error().describe());
    }
    for (const auto& chunk : chunks_) {
      writeOrDrop(chunk.stream == guest::OutputStream::kStderr ? stderrFd_ : stdoutFd_,
                  chunk.bytes);
    }
    if (std::size_t credits = decoder_.takeInputCredits(); credits > 0) {
      inputCredited_(credits);
    }
  }

 private:
  int stdoutFd_;
  int stderrFd_;
  std::function<void(std::size_t)> inputCredited_;
  guest::OutputDecoder decoder_;
  std::vector<guest::OutputChunk> chunks_;
};

// A vCPU's thread, with a small stack: with transparent huge pages on, an 8 MiB default stack
// can be backed by a 2 MiB page as soon as it is touched, which alone was most of the VMM's
// own RSS. The thread is joined before this object goes away.
class VcpuThread {
 public:
  static Result<std::unique_ptr<VcpuThread>> start(std::function<void()> body) {
    auto thread = std::unique_ptr<VcpuThread>(new VcpuThread(std::move(body)));
    pthread_attr_t attributes;
    ::pthread_attr_init(&attributes);
    ::pthread_attr_setstacksize(&attributes, kStackBytes);
    int error = ::pthread_create(&thread->handle_, &attributes, &VcpuThread::enter, thread.get());
    ::pthread_attr_destroy(&attributes);
    if (error != 0) {
      return Error::fromErrno("starting a vCPU thread", error);
    }
    thread->running_ = true;
    return thread;
  }
  ~VcpuThread() { join(); }
  VcpuThread(const VcpuThread&) = delete;
  VcpuThread& operator=(const VcpuThread&) = delete;

  void kick() const { ::pthread_kill(handle_, kKickSignal); }
  void join() {
    if (running_) {
      ::pthread_join(handle_, nullptr);
      running_ = false;
    }
  }

 private:
  static constexpr std::size_t kStackBytes = 256 * 1024;
  explicit VcpuThread(std::function<void()> body) : body_(std::move(body)) {}
  static void* enter(void* self) {
    static_cast<VcpuThread*>(self)->body_();
    return nullptr;
  }

  std::function<void()> body_;
  pthread_t handle_{};
  bool running_ = false;
};

// What the vCPU threads and the main loop share.
class MachineState {
 public:
  MachineState(UniqueFd stopEvent, UniqueFd wakeEvent, std::chrono::steady_clock::time_point start)
      : stopEvent_(std::move(stopEvent)), wakeEvent_(std::move(wakeEvent)), start_(start) {}

  std::atomic<bool> stopping{false};
  std::atomic<bool> initStarted{false};
  // Stdin credits from the guest (a vCPU thread) not yet taken by the main loop's pump.
  std::atomic<std::size_t> inputCredits{0};

  void requestStop(MachineEnd end, std::string detail, int signal = 0) {
    {
      std::lock_guard lock(mutex_);
      if (!end_) {
        end_ = end;
        detail_ = std::move(detail);
        signal_ = signal;
        timeline_.stopped = millisecondsSince(start_);
      }
    }
    stopping = true;
    signalEvent(stopEvent_.get());
  }
  void fail(Error error) {
    {
      std::lock_guard lock(mutex_);
      if (!failure_) {
        failure_ = std::move(error);
      }
    }
    stopping = true;
    signalEvent(stopEvent_.get());
  }
  void guestReported(guest::StatusKind kind, std::uint8_t payload) {
    std::lock_guard lock(mutex_);
    if (kind == guest::StatusKind::kInitStarted) {
      timeline_.initStarted = millisecondsSince(start_);
      initStarted = true;
      signalEvent(wakeEvent_.get());
      return;
    }
    if (kind == guest::StatusKind::kWorkloadStarted) {
      if (!timeline_.workloadStarted) timeline_.workloadStarted = millisecondsSince(start_);
      return;
    }
    status_ = GuestStatus{kind, payload};
    timeline_.workloadExited = millisecondsSince(start_);
  }
  void markFirstRun() {
    std::lock_guard lock(mutex_);
    if (!timeline_.firstRun) {
      timeline_.firstRun = millisecondsSince(start_);
    }
  }
  void wake() { signalEvent(wakeEvent_.get()); }

  int stopEventFd() const { return stopEvent_.get(); }
  int wakeEventFd() const { return wakeEvent_.get(); }

  // Moves what was recorded into `report`, or returns the VMM's own failure.
  Status finish(MachineReport& report) {
    std::lock_guard lock(mutex_);
    if (failure_) {
      return std::move(*failure_);
    }
    report.end = end_.value_or(MachineEnd::kGuestStopped);
    report.endDetail = detail_;
    report.signal = signal_;
    report.status = status_;
    report.timeline = timeline_;
    return okStatus();
  }

 private:
  UniqueFd stopEvent_;
  UniqueFd wakeEvent_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  std::optional<MachineEnd> end_;
  std::string detail_;
  int signal_ = 0;
  std::optional<GuestStatus> status_;
  std::optional<Error> failure_;
  BootTimeline timeline_;
};

// The virtio devices every microVM gets: each has a window in the MMIO hole and an ISA interrupt
// line that the legacy devices (COM1 4, COM2 3) leave free.
constexpr std::uint64_t kEntropyWindow = x86::kVirtioMmioBase;
constexpr unsigned kEntropyIrq = 5;
// Disks follow, window after window.
constexpr unsigned kDiskIrqs[] = {6, 7, 9, 10, 11, 12, 14, 15};
static_assert(std::size(kDiskIrqs) == kMaxDisks);

std::uint64_t diskWindow(std::size_t index) {
  return kEntropyWindow + (1 + index) * virtio::kMmioWindowBytes;
}
// Network interfaces after the disks, on the IOAPIC pins above the ISA lines.
constexpr unsigned kNicIrqs[] = {16, 17, 18, 19};
static_assert(std::size(kNicIrqs) == kMaxNics);

std::uint64_t nicWindow(std::size_t index) {
  return diskWindow(kMaxDisks + index);
}
// The vsock device last, on the next pin.
constexpr unsigned kVsockIrq = 20;
const std::uint64_t kVsockWindow = nicWindow(kMaxNics);
// Every guest has its own device, so one CID serves all of them: the lowest a guest may take.
constexpr std::uint64_t kGuestCid = 3;

// The socket file of the vsock device, removed with the VM.
class SocketFile {
 public:
  explicit SocketFile(std::string path) : path_(std::move(path)) {}
  ~SocketFile() { ::unlink(path_.c_str()); }
  SocketFile(const SocketFile&) = delete;
  SocketFile& operator=(const SocketFile&) = delete;

 private:
  std::string path_;
};

void runVcpu(unsigned index, const VcpuFd& vcpu, std::size_t runSize, const DeviceBuses& buses,
             MachineState& state, ExitCounts& counts) {
  std::set<std::uint64_t> reportedUnclaimed;
  UnclaimedAccess unclaimed = [&](const char* kind, std::uint64_t address, bool write,
                                  std::size_t size) {
    if (reportedUnclaimed.insert(address).second) {
      spdlog::debug("vCPU {}: {} {} of {} bytes at {:#x} has no device; ignored", index, kind,
                    write ? "write" : "read", size, address);
    }
  };
  if (index == 0) {
    state.markFirstRun();
  }
  while (!state.stopping) {
    if (auto entered = vcpu.enter(); !entered) {
      if (entered.error().errnum() == EINTR || entered.error().errnum() == EAGAIN) {
        continue;
      }
      state.fail(std::move(entered).error().context("vCPU " + std::to_string(index)));
      return;
    }
    ++counts.total;
    ++counts.byReason[vcpu.run()->exit_reason];
    auto exit = decodeExit(*vcpu.run(), runSize);
    if (auto* io = std::get_if<PortIoExit>(&exit)) {
      (io->write ? counts.portWrites : counts.portReads)[io->port] += 1;
      servePortIo(buses.ports, *io, unclaimed);
    } else if (auto* mmio = std::get_if<MmioExit>(&exit)) {
      counts.mmioByAddress[mmio->address & ~0xfffull] += 1;
      serveMmio(buses.mmio, *mmio, unclaimed);
    } else if (auto* stop = std::get_if<StopExit>(&exit)) {
      state.requestStop(MachineEnd::kGuestStopped, stop->reason);
      return;
    } else if (auto* failure = std::get_if<FailureExit>(&exit)) {
      state.fail(Error("vCPU " + std::to_string(index) + ": " + failure->reason));
      return;
    }
  }
}

Status checkCapabilities(const Kvm& kvm) {
  struct Needed {
    int capability;
    const char* name;
  };
  for (auto [capability, name] :
       {Needed{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"}, Needed{KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
        Needed{KVM_CAP_PIT2, "KVM_CAP_PIT2"}, Needed{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
        Needed{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
        Needed{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"}}) {
    TANDEM_ASSIGN_OR_RETURN(int present, kvm.checkExtension(capability));
    if (present <= 0) {
      return Error(std::string("this host's KVM lacks ") + name +
                   ", which tandem's VMM needs; a newer host kernel has it");
    }
  }
  return okStatus();
}

Status configureVcpu(const VcpuFd& vcpu, const VcpuCpuidConfig& topology,
                     const std::vector<kvm_cpuid_entry2>& supported, const BootEntry& boot) {
  TANDEM_ASSIGN_OR_RETURN(auto cpuid, cpuidForVcpu(supported, topology));
  TANDEM_TRY(vcpu.setCpuid(cpuid));
  TANDEM_TRY(vcpu.setMsrs(bootMsrs()));
  TANDEM_ASSIGN_OR_RETURN(kvm_lapic_state lapic, vcpu.lapic());
  setLapicLintModes(lapic);
  TANDEM_TRY(vcpu.setLapic(lapic));
  if (topology.index != 0) {
    // Application processors wait in KVM for the boot processor's INIT/SIPI.
    return okStatus();
  }
  TANDEM_ASSIGN_OR_RETURN(kvm_sregs sregs, vcpu.sregs());
  setBootSregs(sregs, boot.mode);
  TANDEM_TRY(vcpu.setSregs(sregs));
  TANDEM_TRY(vcpu.setRegs(bootRegs(boot.mode, boot.entry, boot.bootInfoAddress)));
  return vcpu.setFpu(bootFpu());
}

// Blocks the signals that stop a VM in this thread (the vCPU threads inherit the mask) and
// reads them from a signalfd instead; restores the old mask when done.
class StopSignals {
 public:
  static Result<std::unique_ptr<StopSignals>> block() {
    auto signals = std::unique_ptr<StopSignals>(new StopSignals());
    sigset_t set;
    sigemptyset(&set);
    for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
      sigaddset(&set, signal);
    }
    if (int error = ::pthread_sigmask(SIG_BLOCK, &set, &signals->previous_); error != 0) {
      return Error::fromErrno("blocking SIGINT/SIGTERM/SIGHUP", error);
    }
    signals->blocked_ = true;
    int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0) {
      return Error::fromErrno("creating a signalfd");
    }
    signals->fd_.reset(fd);
    return signals;
  }
  ~StopSignals() {
    if (blocked_) {
      ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
    }
  }
  int fd() const { return fd_.get(); }

 private:
  StopSignals() = default;
  sigset_t previous_{};
  bool blocked_ = false;
  UniqueFd fd_;
};

// Feeds the workload's stdin to COM1, framed, once the guest's init listens, within the window
// the guest init's credits open (guest_protocol.h).
class StdinPump {
 public:
  StdinPump(int fd, Serial8250& serial, MachineState& state)
      : fd_(fd), serial_(serial), state_(state), finished_(fd < 0) {
    if (finished_) {
      guest::encodeEndOfInput(pending_);
    }
  }

  // The fd to poll for input now, or -1 while earlier input waits for room.
  int pollFd() const { return pending_.empty() && !finished_ ? fd_ : -1; }

  void readInput() {
    std::uint8_t chunk[kStdinChunk];
    ssize_t n = ::read(fd_, chunk, sizeof(chunk));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      return;
    }
    if (n <= 0) {
      finished_ = true;
      guest::encodeEndOfInput(pending_);
      return;
    }
    guest::encodeInput({chunk, static_cast<std::size_t>(n)}, pending_);
  }

  void push() {
    window_.credit(state_.inputCredits.exchange(0));
    std::size_t offered = std::min(pending_.size(), window_.room());
    std::size_t accepted = serial_.pushInput({pending_.data(), offered});
    window_.sent(accepted);
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(accepted));
  }

 private:
  int fd_;
  Serial8250& serial_;
  MachineState& state_;
  guest::InputWindow window_;
  bool finished_;
  std::vector<std::uint8_t> pending_;
};

class Vm {
 public:
  static Result<std::unique_ptr<Vm>> create(MachineConfig config);
  Result<MachineReport> run();

 private:
  explicit Vm(MachineConfig config) : config_(std::move(config)) {}
  Status build();
  Status addDevices();
  Status enterJailIfAsked();
  void serve(StopSignals& signals, StdinPump& stdin);
  void stopVcpus();
  void collectStatistics(MachineReport& report);

  MachineConfig config_;
  std::unique_ptr<Kvm> kvm_;
  std::unique_ptr<VmFd> vm_;
  std::unique_ptr<GuestMemory> memory_;
  std::unique_ptr<MachineState> state_;
  std::vector<std::unique_ptr<VcpuFd>> vcpus_;
  std::vector<ExitCounts> counts_;
  std::vector<std::unique_ptr<VcpuThread>> threads_;
  std::size_t runSize_ = 0;
  DeviceBuses buses_;
  std::vector<UniqueFd> irqEvents_;
  std::shared_ptr<Serial8250> stdio_;
  std::unique_ptr<ConsoleTail> console_;
  std::unique_ptr<GuestOutput> output_;
  // Virtio queue notifications that KVM turns into eventfd signals; the main loop serves them.
  struct QueueEvent {
    UniqueFd event;
    std::shared_ptr<virtio::MmioTransport> transport;
    std::uint16_t queue;
  };
  std::vector<QueueEvent> queueEvents_;
  std::vector<std::shared_ptr<virtio::NetDevice>> nets_;
  std::unique_ptr<SocketFile> vsockFile_;
  std::shared_ptr<virtio::VsockDevice> vsock_;
  std::optional<GuestOutputStream> outputStream_;
  // /proc/self/smaps, opened for the statistics before the main thread's filter forbids open.
  UniqueFd ownSmaps_;
  // The size of the largest disk the guest may write, tandem-vmm's RLIMIT_FSIZE.
  std::uint64_t largestWritableDisk_ = 0;
};

Result<std::unique_ptr<Vm>> Vm::create(MachineConfig config) {
  if (config.cpus == 0 || config.cpus > kMpTableMaxCpus) {
    return Error("a VM takes 1 to " + std::to_string(kMpTableMaxCpus) + " vCPUs, not " +
                     std::to_string(config.cpus),
                 EINVAL);
  }
  constexpr std::uint64_t kMinimumMemory = 32ull << 20;
  if (config.memoryBytes < kMinimumMemory) {
    return Error("a VM needs at least 32 MiB of memory", EINVAL);
  }
  auto vm = std::unique_ptr<Vm>(new Vm(std::move(config)));
  TANDEM_TRY(vm->build());
  return vm;
}

Status Vm::build() {
  TANDEM_TRY(installKickHandler());
  TANDEM_ASSIGN_OR_RETURN(Kvm kvm, Kvm::open(config_.kvmPath));
  kvm_ = std::make_unique<Kvm>(std::move(kvm));
  TANDEM_TRY(checkCapabilities(*kvm_));
  TANDEM_ASSIGN_OR_RETURN(runSize_, kvm_->vcpuMmapSize());
  TANDEM_ASSIGN_OR_RETURN(auto supportedCpuid, kvm_->supportedCpuid());
  TANDEM_ASSIGN_OR_RETURN(int tscDeadline, kvm_->checkExtension(KVM_CAP_TSC_DEADLINE_TIMER));
  TANDEM_ASSIGN_OR_RETURN(VmFd vm, kvm_->createVm());
  vm_ = std::make_unique<VmFd>(std::move(vm));
  TANDEM_TRY(vm_->setTssAddress(x86::kTssAddress));
  TANDEM_TRY(vm_->createIrqchip());
  TANDEM_TRY(vm_->createPit());

  TANDEM_ASSIGN_OR_RETURN(GuestMemory memory,
                          GuestMemory::create(config_.memoryBytes, config_.hugepages));
  memory_ = std::make_unique<GuestMemory>(std::move(memory));
  std::uint32_t slot = 0;
  for (const auto& region : memory_->regions()) {
    TANDEM_TRY(vm_->setMemoryRegion(slot++, region.guestAddress, region.size,
                                    memory_->hostBase() + region.hostOffset));
  }

  // Identity and bytes from one open file, so that a kernel replaced meanwhile cannot pair one
  // file's cache key with another's contents.
  TANDEM_ASSIGN_OR_RETURN(UniqueFd kernelFd, openPath(config_.kernelPath, O_RDONLY | O_CLOEXEC));
  struct stat kernelInfo {};
  if (::fstat(kernelFd.get(), &kernelInfo) != 0) {
    return Error::fromErrno("cannot stat the guest kernel " + config_.kernelPath);
  }
  TANDEM_ASSIGN_OR_RETURN(std::string kernel,
                          readFile(kernelFd.get(), config_.kernelPath).context("guest kernel"));
  std::optional<VmlinuxCache> cache;
  if (!config_.vmlinuxCacheDirectory.empty()) {
    cache.emplace(config_.vmlinuxCacheDirectory);
  }
  KernelImage image{config_.kernelPath, bytesOf(kernel), cache ? &*cache : nullptr,
                    KernelFileIdentity::of(kernelInfo)};
  const BytesInitrd noInitrd;
  const InitrdSource& initrd =
      config_.initrd ? *config_.initrd : static_cast<const InitrdSource&>(noInitrd);
  if (config_.disks.size() > kMaxDisks) {
    return Error("a microVM takes at most " + std::to_string(kMaxDisks) + " disks", EINVAL);
  }
  if (config_.nics.size() > kMaxNics) {
    return Error("a microVM takes at most " + std::to_string(kMaxNics) + " network interfaces",
                 EINVAL);
  }
  // Linux finds virtio-mmio devices only through the command line; tandem's init reads the
  // interfaces' addresses there too.
  std::string cmdline =
      config_.cmdline + " " + virtio::mmioCommandLine(kEntropyWindow, kEntropyIrq);
  for (std::size_t i = 0; i < config_.disks.size(); ++i) {
    cmdline += " " + virtio::mmioCommandLine(diskWindow(i), kDiskIrqs[i]);
  }
  for (std::size_t i = 0; i < config_.nics.size(); ++i) {
    cmdline += " " + virtio::mmioCommandLine(nicWindow(i), kNicIrqs[i]);
    if (std::string option = config_.nics[i].guestOption(i); !option.empty()) {
      cmdline += " " + option;
    }
  }
  if (!config_.vsockSocketPath.empty()) {
    cmdline += " " + virtio::mmioCommandLine(kVsockWindow, kVsockIrq);
  }
  TANDEM_ASSIGN_OR_RETURN(BootEntry boot, loadLinux(*memory_, image, initrd, cmdline));
  // Both images are in guest memory now; keeping them would only add to the VMM's own RSS.
  config_.initrd.reset();
  std::string().swap(kernel);
  TANDEM_ASSIGN_OR_RETURN(auto mpTable, buildMpTable(config_.cpus, x86::kEbdaAddress));
  TANDEM_TRY(memory_->write(x86::kEbdaAddress, mpTable));

  TANDEM_ASSIGN_OR_RETURN(UniqueFd stopEvent, makeEventFd("VM stop"));
  TANDEM_ASSIGN_OR_RETURN(UniqueFd wakeEvent, makeEventFd("VM wake-up"));
  state_ =
      std::make_unique<MachineState>(std::move(stopEvent), std::move(wakeEvent), config_.startedAt);
  TANDEM_TRY(addDevices());

  for (unsigned index = 0; index < config_.cpus; ++index) {
    TANDEM_ASSIGN_OR_RETURN(VcpuFd vcpu, vm_->createVcpu(index, runSize_));
    VcpuCpuidConfig topology{index, config_.cpus, tscDeadline > 0};
    TANDEM_TRY(configureVcpu(vcpu, topology, supportedCpuid, boot)
                   .context("setting up vCPU " + std::to_string(index)));
    vcpus_.push_back(std::make_unique<VcpuFd>(std::move(vcpu)));
  }
  counts_.resize(config_.cpus);
  return okStatus();
}

Status Vm::addDevices() {
  auto interruptLine = [&](unsigned gsi) -> Result<int> {
    TANDEM_ASSIGN_OR_RETURN(UniqueFd event, makeEventFd("an interrupt line"));
    TANDEM_TRY(vm_->assignIrqfd(event.get(), gsi));
    irqEvents_.push_back(std::move(event));
    return irqEvents_.back().get();
  };
  TANDEM_ASSIGN_OR_RETURN(int stdioIrq, interruptLine(guest::kStdioUartIrq));
  TANDEM_ASSIGN_OR_RETURN(int consoleIrq, interruptLine(guest::kConsoleUartIrq));

  MachineState* state = state_.get();
  output_ = std::make_unique<GuestOutput>(config_.stdoutFd, config_.stderrFd,
                                          [state](std::size_t credits) {
                                            state->inputCredits += credits;
                                            state->wake();
                                          });
  auto* output = output_.get();
  stdio_ = std::make_shared<Serial8250>([output](std::uint8_t byte) { output->feed(byte); },
                                        [stdioIrq] { signalEvent(stdioIrq); },
                                        [state] { state->wake(); });
  console_ = std::make_unique<ConsoleTail>(config_.showConsole ? config_.stderrFd : -1);
  auto* console = console_.get();
  auto consoleUart =
      std::make_shared<Serial8250>([console](std::uint8_t byte) { console->append(byte); },
                                   [consoleIrq] { signalEvent(consoleIrq); });
  auto reset = std::make_shared<I8042>(
      [state] { state->requestStop(MachineEnd::kGuestReset, "the guest reset itself"); });
  auto status = std::make_shared<StatusPort>([state](guest::StatusKind kind, std::uint8_t payload) {
    state->guestReported(kind, payload);
  });

  TANDEM_TRY(buses_.ports.add(guest::kStdioUartBase, kSerialRegisterCount, stdio_, "COM1"));
  TANDEM_TRY(buses_.ports.add(guest::kConsoleUartBase, kSerialRegisterCount, consoleUart, "COM2"));
  TANDEM_TRY(
      buses_.ports.add(kI8042DataPort, kI8042CommandPort - kI8042DataPort + 1, reset, "i8042"));
  TANDEM_TRY(buses_.ports.add(guest::kStatusPort, sizeof(std::uint32_t), status, "status"));
  auto addVirtio = [&](std::shared_ptr<virtio::Device> device, std::uint64_t window, unsigned irq,
                       const std::string& name) -> Status {
    TANDEM_ASSIGN_OR_RETURN(int irqEvent, interruptLine(irq));
    auto transport = std::make_shared<virtio::MmioTransport>(std::move(device), *memory_,
                                                             [irqEvent] { signalEvent(irqEvent); });
    TANDEM_TRY(buses_.mmio.add(window, virtio::kMmioWindowBytes, transport, name));
    for (std::uint16_t queue = 0; queue < transport->queueCount(); ++queue) {
      TANDEM_ASSIGN_OR_RETURN(UniqueFd event, makeEventFd("a virtio queue notification"));
      if (auto assigned =
              vm_->assignIoeventfd(event.get(), window + virtio::kMmioQueueNotify, queue);
          !assigned) {
        // Without it, the notification still arrives, as an MMIO exit.
        spdlog::debug("{} queue {}: {}; its notifications exit to the VMM", name, queue,
                      assigned.error().describe());
        continue;
      }
      queueEvents_.push_back({std::move(event), transport, queue});
    }
    return okStatus();
  };
  TANDEM_TRY(addVirtio(std::make_shared<virtio::EntropyDevice>(), kEntropyWindow, kEntropyIrq,
                       "virtio-rng"));
  for (std::size_t i = 0; i < config_.disks.size(); ++i) {
    const DiskSpec& disk = config_.disks[i];
    TANDEM_ASSIGN_OR_RETURN(auto backing, openDisk(disk));
    if (!disk.readOnly) {
      largestWritableDisk_ = std::max(largestWritableDisk_, backing->bytes());
    }
    std::string name = "vd" + std::string(1, static_cast<char>('a' + i));
    TANDEM_ASSIGN_OR_RETURN(auto block,
                            virtio::BlockDevice::open(std::move(backing), disk.readOnly, name));
    TANDEM_TRY(addVirtio(std::move(block), diskWindow(i), kDiskIrqs[i], "virtio-blk " + name));
  }
  for (std::size_t i = 0; i < config_.nics.size(); ++i) {
    const NicSpec& nic = config_.nics[i];
    TANDEM_ASSIGN_OR_RETURN(TapDevice tap, TapDevice::open(nic.tap));
    if (nic.hostAddress) {
      TANDEM_TRY(setIpv4Address(tap.name(), *nic.hostAddress));
    }
    if (!nic.bridge.empty()) {
      TANDEM_ASSIGN_OR_RETURN(RtNetlink netlink, RtNetlink::open());
      TANDEM_TRY(netlink.setMaster(tap.name(), nic.bridge));
    }
    TANDEM_TRY(setLinkUp(tap.name()));
    std::string name = "virtio-net eth" + std::to_string(i) + " (TAP " + tap.name() + ")";
    auto net =
        std::make_shared<virtio::NetDevice>(std::make_unique<virtio::TapPort>(std::move(tap)),
                                            nic.macAddress(), [state] { state->wake(); });
    nets_.push_back(net);
    TANDEM_TRY(addVirtio(std::move(net), nicWindow(i), kNicIrqs[i], name));
  }
  if (!config_.vsockSocketPath.empty()) {
    // Absolute, so that its sockets are removed at the end from inside a jail too.
    std::error_code absoluteError;
    config_.vsockSocketPath = std::filesystem::absolute(config_.vsockSocketPath, absoluteError);
    if (absoluteError) {
      return Error("cannot resolve the vsock socket path " + config_.vsockSocketPath,
                   absoluteError.value());
    }
    const std::string& path = config_.vsockSocketPath;
    TANDEM_ASSIGN_OR_RETURN(UniqueFd listener, listenUnixSocket(path).context("the guest's vsock"));
    vsockFile_ = std::make_unique<SocketFile>(path);
    TANDEM_ASSIGN_OR_RETURN(vsock_,
                            virtio::VsockDevice::create(kGuestCid, std::move(listener), path));
    TANDEM_TRY(addVirtio(vsock_, kVsockWindow, kVsockIrq, "virtio-vsock"));
    TANDEM_ASSIGN_OR_RETURN(
        GuestOutputStream stream,
        GuestOutputStream::listen(outputSocketPath(path), config_.stdoutFd, config_.stderrFd));
    outputStream_.emplace(std::move(stream));
  }
  return okStatus();
}

// Entered once everything the machine needs is open, while this thread is still the only one.
Status Vm::enterJailIfAsked() {
  if (!config_.jail) {
    return okStatus();
  }
  JailPlan plan{.user = *config_.jail};
  if (const std::string& socket = config_.vsockSocketPath; !socket.empty()) {
    plan.socketFolder = socket.substr(0, socket.rfind('/'));
    plan.ownSockets = {socket, outputSocketPath(socket)};
  }
  TANDEM_TRY(enterJail(plan));
  if (vsock_) {
    TANDEM_TRY(vsock_->reachSocketsThrough(kJailSocketAlias));
  }
  spdlog::debug("jailed: {} as {}", plan.socketFolder.empty() ? "no folder" : plan.socketFolder,
                jailUserText(plan.user));
  return okStatus();
}

void Vm::serve(StopSignals& signals, StdinPump& stdin) {
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (config_.timeout) {
    deadline = std::chrono::steady_clock::now() + *config_.timeout;
  }
  while (!state_->stopping) {
    int stdinFd = state_->initStarted ? stdin.pollFd() : -1;
    std::vector<pollfd> fds = {{state_->stopEventFd(), POLLIN, 0},
                               {state_->wakeEventFd(), POLLIN, 0},
                               {signals.fd(), POLLIN, 0},
                               {stdinFd, POLLIN, 0}};
    for (const QueueEvent& queue : queueEvents_) {
      fds.push_back({queue.event.get(), POLLIN, 0});
    }
    std::size_t firstNet = fds.size();
    for (const auto& net : nets_) {
      fds.push_back({net->receiveFd(), POLLIN, 0});
    }
    std::size_t vsockIndex = fds.size();
    fds.push_back({vsock_ ? vsock_->hostFd() : -1, POLLIN, 0});
    fds.push_back({outputStream_ ? outputStream_->pollFd() : -1, POLLIN, 0});
    int timeoutMs = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        state_->requestStop(MachineEnd::kTimeout,
                            fmt::format("the microVM ran past its --timeout of {:g} s",
                                        static_cast<double>(config_.timeout->count()) / 1000));
        return;
      }
      timeoutMs = static_cast<int>(left.count()) + 1;
    }
    int ready = ::poll(fds.data(), fds.size(), timeoutMs);
    if (ready < 0 && errno != EINTR) {
      state_->fail(Error::fromErrno("waiting for the VM"));
      return;
    }
    if (fds[2].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(signals.fd(), &info, sizeof(info)) == sizeof(info)) {
        state_->requestStop(MachineEnd::kInterrupted,
                            std::string("tandem received ") + strsignal(int(info.ssi_signo)),
                            static_cast<int>(info.ssi_signo));
        return;
      }
    }
    if (fds[1].revents & POLLIN) {
      drainEvent(state_->wakeEventFd());
    }
    if (fds[3].revents & (POLLIN | POLLHUP | POLLERR)) {
      stdin.readInput();
    }
    for (std::size_t i = 0; i < queueEvents_.size(); ++i) {
      if (fds[4 + i].revents & POLLIN) {
        drainEvent(queueEvents_[i].event.get());
        queueEvents_[i].transport->queueNotified(queueEvents_[i].queue);
      }
    }
    for (std::size_t i = 0; i < nets_.size(); ++i) {
      if (fds[firstNet + i].revents & (POLLIN | POLLERR | POLLHUP)) {
        nets_[i]->receive();
      }
    }
    if (fds[vsockIndex].revents & POLLIN) {
      vsock_->serviceHost();
    }
    if (fds[vsockIndex + 1].revents) {
      outputStream_->ready();
    }
    if (state_->initStarted) {
      stdin.push();
    }
  }
}

void Vm::stopVcpus() {
  state_->stopping = true;
  for (std::size_t i = 0; i < threads_.size(); ++i) {
    vcpus_[i]->run()->immediate_exit = 1;
    threads_[i]->kick();
  }
  for (auto& thread : threads_) {
    thread->join();
  }
  threads_.clear();
}

void Vm::collectStatistics(MachineReport& report) {
  for (const auto& counts : counts_) {
    report.exits.merge(counts);
  }
  for (const auto& vcpu : vcpus_) {
    auto statsFd = vcpu->statsFd();
    if (!statsFd) {
      spdlog::debug("no KVM statistics: {}", statsFd.error().describe());
      break;
    }
    auto stats = readKvmStats(statsFd->get());
    if (!stats) {
      spdlog::debug("unreadable KVM statistics: {}", stats.error().describe());
      break;
    }
    for (const auto& [name, value] : *stats) {
      report.kvmStats[name] += value;
    }
  }
  for (std::size_t i = 0; i < nets_.size(); ++i) {
    virtio::NetCounters net = nets_[i]->counters();
    report.deviceCounters["eth" + std::to_string(i)] = {
        {"received_frames", net.receivedFrames}, {"received_bytes", net.receivedBytes},
        {"sent_frames", net.sentFrames},         {"sent_bytes", net.sentBytes},
        {"send_errors", net.sendErrors},         {"interrupts", net.interrupts}};
  }
  if (vsock_) {
    virtio::VsockCounters vsock = vsock_->counters();
    report.deviceCounters["vsock"] = {{"connections", vsock.connections},
                                      {"resets", vsock.resets},
                                      {"bytes_to_guest", vsock.bytesToGuest},
                                      {"bytes_to_host", vsock.bytesToHost},
                                      {"malformed_packets", vsock.malformedPackets}};
  }
  auto guestStart = reinterpret_cast<std::uint64_t>(memory_->hostBase());
  if (auto smaps = readFile(ownSmaps_.get(), "/proc/self/smaps")) {
    report.vmmMemory = memoryOutside(*smaps, guestStart, guestStart + memory_->size());
  }
}

Result<MachineReport> Vm::run() {
  TANDEM_ASSIGN_OR_RETURN(auto signals, StopSignals::block());
  StdinPump stdin(config_.stdinFd, *stdio_, *state_);
  if (config_.collectStatistics) {
    ownSmaps_ = UniqueFd(::open("/proc/self/smaps", O_RDONLY | O_CLOEXEC));
  }
  TANDEM_TRY(installSeccompReporter());
  TANDEM_TRY(enterJailIfAsked());
  TANDEM_TRY(lockDownProcess(
      {.maxFileSize = fileSizeLimit(largestWritableDisk_, {config_.stdoutFd, config_.stderrFd}),
       .user = config_.jail,
       .parentPidfd = config_.parentPidfd}));
  // Each vCPU thread filters itself before its first KVM_RUN; the main thread, after starting
  // them, so that they do not inherit its list.
  const SeccompMode seccomp = config_.seccomp;
  for (unsigned index = 0; index < config_.cpus; ++index) {
    auto thread = VcpuThread::start([this, index, seccomp] {
      // Named, so that ps, top and the kernel's seccomp log tell the vCPUs from the main thread.
      std::string name = "tandem-vcpu" + std::to_string(index);
      ::pthread_setname_np(::pthread_self(), name.c_str());
      if (auto filtered = installThreadSeccomp(VmmThread::kVcpu, seccomp, false); !filtered) {
        state_->fail(std::move(filtered).error());
        return;
      }
      runVcpu(index, *vcpus_[index], runSize_, buses_, *state_, counts_[index]);
    });
    if (!thread) {
      state_->fail(std::move(thread).error());
      break;
    }
    threads_.push_back(std::move(thread).value());
  }
  if (auto filtered = installThreadSeccomp(VmmThread::kMain, seccomp, config_.collectStatistics);
      !filtered) {
    state_->fail(std::move(filtered).error());
  }
  serve(*signals, stdin);
  stopVcpus();
  if (outputStream_) {
    outputStream_->drain();
  }
  spdlog::debug("vCPU threads stopped");
  MachineReport report;
  TANDEM_TRY(state_->finish(report));
  report.consoleTail = console_->tail();
  if (outputStream_ && outputStream_->exitReport()) {
    report.guestMemoryTotalBytes = outputStream_->exitReport()->guestMemoryTotalBytes;
    report.guestMemoryAvailableBytes = outputStream_->exitReport()->guestMemoryAvailableBytes;
  }
  if (config_.collectStatistics) {
    collectStatistics(report);
    spdlog::debug("statistics read");
  }
  return report;
}

}  // namespace

Result<MachineReport> runMachine(MachineConfig config) {
  TANDEM_ASSIGN_OR_RETURN(auto vm, Vm::create(std::move(config)));
  return vm->run();
}

}  // namespace tandem::vmm
