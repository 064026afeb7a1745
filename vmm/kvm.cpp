#include "vmm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <fmt/format.h>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "common/file.h"

namespace tandem::vmm {
namespace {

// <linux/kvm.h> declares the trailing arrays of kvm_cpuid2 and kvm_msrs with
// __DECLARE_FLEX_ARRAY, whose empty struct takes a byte in C++ but none in C. In C++ the array
// lands 4 bytes later and the ioctl numbers (which encode the struct size) change, and KVM
// rejects them. So tandem lays these out as the kernel does: a count, 4 bytes of padding, then
// the entries at offset 8, with ioctl numbers computed from that size.
constexpr std::size_t kFlexibleHeaderSize = 8;
constexpr unsigned long kGetSupportedCpuid =
    _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, kFlexibleHeaderSize);
constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, kFlexibleHeaderSize);
constexpr unsigned long kSetMsrs = _IOC(_IOC_WRITE, KVMIO, 0x89, kFlexibleHeaderSize);

// A u32 count, padding, then `capacity` entries: kvm_cpuid2 and kvm_msrs as C lays them out.
template <class Entry>
class CountedArray {
 public:
  explicit CountedArray(std::size_t capacity)
      : bytes_(kFlexibleHeaderSize + capacity * sizeof(Entry), 0) {}
  explicit CountedArray(const std::vector<Entry>& entries) : CountedArray(entries.size()) {
    setCount(entries.size());
    std::memcpy(bytes_.data() + kFlexibleHeaderSize, entries.data(),
                entries.size() * sizeof(Entry));
  }
  void* data() { return bytes_.data(); }
  std::uint32_t count() const {
    std::uint32_t count;
    std::memcpy(&count, bytes_.data(), sizeof(count));
    return count;
  }
  void setCount(std::size_t count) {
    auto value = static_cast<std::uint32_t>(count);
    std::memcpy(bytes_.data(), &value, sizeof(value));
  }
  std::vector<Entry> entries() const {
    std::vector<Entry> entries(count());
    std::memcpy(entries.data(), bytes_.data() + kFlexibleHeaderSize,
                entries.size() * sizeof(Entry));
    return entries;
  }

 private:
  std::vector<std::uint8_t> bytes_;
};

// Every KVM call goes through here, so each failure names its ioctl.
template <class Arg>
Result<int> kvmIoctl(int fd, unsigned long request, Arg argument, const char* what) {
  int result;
  do {
    result = ::ioctl(fd, request, argument);
  } while (result < 0 && errno == EINTR && request != KVM_RUN);
  if (result < 0) {
    return Error::fromErrno(what);
  }
  return result;
}

template <class Arg>
Status kvmCall(int fd, unsigned long request, Arg argument, const char* what) {
  TANDEM_TRY(kvmIoctl(fd, request, argument, what));
  return okStatus();
}

}  // namespace

Result<Kvm> Kvm::open(const std::string& path) {
  auto fd = openPath(path, O_RDWR | O_CLOEXEC);
  if (!fd) {
    return std::move(fd).error().context(
        "KVM is not usable here (is the kvm module loaded, and is this a VM without nested "
        "virtualisation?)");
  }
  int version = ::ioctl(fd->get(), KVM_GET_API_VERSION, 0);
  if (version < 0) {
    return Error::fromErrno("KVM_GET_API_VERSION on " + path);
  }
  if (version != kKvmApiVersion) {
    return Error(path + " speaks KVM API version " + std::to_string(version) + ", not " +
                 std::to_string(kKvmApiVersion));
  }
  return Kvm(std::move(fd).value(), version);
}

Result<int> Kvm::checkExtension(int capability) const {
  return kvmIoctl(fd_.get(), KVM_CHECK_EXTENSION, capability, "KVM_CHECK_EXTENSION");
}

Result<int> Kvm::vcpuMmapSize() const {
  return kvmIoctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
}

Result<std::vector<kvm_cpuid_entry2>> Kvm::supportedCpuid() const {
  // KVM answers E2BIG until the array is large enough; 256 leaves covers every CPU seen.
  for (std::size_t capacity = 256; capacity <= 4096; capacity *= 2) {
    CountedArray<kvm_cpuid_entry2> table(capacity);
    table.setCount(capacity);
    if (::ioctl(fd_.get(), kGetSupportedCpuid, table.data()) == 0) {
      return table.entries();
    }
    if (errno != E2BIG) {
      return Error::fromErrno("KVM_GET_SUPPORTED_CPUID");
    }
  }
  return Error("KVM_GET_SUPPORTED_CPUID: more than 4096 CPUID leaves", E2BIG);
}

Result<VmFd> Kvm::createVm() const {
  TANDEM_ASSIGN_OR_RETURN(int fd, kvmIoctl(fd_.get(), KVM_CREATE_VM, 0, "KVM_CREATE_VM"));
  return VmFd(UniqueFd(fd));
}

Status VmFd::setTssAddress(std::uint64_t address) const {
  return kvmCall(fd_.get(), KVM_SET_TSS_ADDR, address, "KVM_SET_TSS_ADDR");
}

Status VmFd::createIrqchip() const {
  return kvmCall(fd_.get(), KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
}

Status VmFd::createPit() const {
  kvm_pit_config config{};
  config.flags = KVM_PIT_SPEAKER_DUMMY;
  return kvmCall(fd_.get(), KVM_CREATE_PIT2, &config, "KVM_CREATE_PIT2");
}

Status VmFd::setMemoryRegion(std::uint32_t slot, std::uint64_t guestAddress, std::uint64_t size,
                             void* hostAddress) const {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.guest_phys_addr = guestAddress;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<std::uint64_t>(hostAddress);
  return kvmCall(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
}

Status VmFd::assignIrqfd(int eventFd, unsigned gsi) const {
  kvm_irqfd irqfd{};
  irqfd.fd = static_cast<std::uint32_t>(eventFd);
  irqfd.gsi = gsi;
  return kvmCall(fd_.get(), KVM_IRQFD, &irqfd, "KVM_IRQFD");
}

Status VmFd::assignIoeventfd(int eventFd, std::uint64_t address, std::uint32_t value) const {
  kvm_ioeventfd ioeventfd{};
  ioeventfd.datamatch = value;
  ioeventfd.addr = address;
  ioeventfd.len = 4;
  ioeventfd.fd = eventFd;
  ioeventfd.flags = KVM_IOEVENTFD_FLAG_DATAMATCH;
  return kvmCall(fd_.get(), KVM_IOEVENTFD, &ioeventfd, "KVM_IOEVENTFD");
}

Result<VcpuFd> VmFd::createVcpu(unsigned index, std::size_t runSize) const {
  TANDEM_ASSIGN_OR_RETURN(int raw, kvmIoctl(fd_.get(), KVM_CREATE_VCPU, index, "KVM_CREATE_VCPU"));
  UniqueFd fd(raw);
  TANDEM_ASSIGN_OR_RETURN(auto run,
                          MappedRegion::map("kvm_run of vCPU " + std::to_string(index), runSize,
                                            PROT_READ | PROT_WRITE, MAP_SHARED, fd.get()));
  return VcpuFd(std::move(fd), std::move(run));
}

Status VcpuFd::enter() const {
  return kvmCall(fd_.get(), KVM_RUN, 0, "KVM_RUN");
}

Status VcpuFd::setCpuid(const std::vector<kvm_cpuid_entry2>& entries) const {
  CountedArray<kvm_cpuid_entry2> table(entries);
  return kvmCall(fd_.get(), kSetCpuid2, table.data(), "KVM_SET_CPUID2");
}

Result<kvm_regs> VcpuFd::regs() const {
  kvm_regs regs{};
  TANDEM_TRY(kvmCall(fd_.get(), KVM_GET_REGS, &regs, "KVM_GET_REGS"));
  return regs;
}

Status VcpuFd::setRegs(const kvm_regs& regs) const {
  return kvmCall(fd_.get(), KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

Result<kvm_sregs> VcpuFd::sregs() const {
  kvm_sregs sregs{};
  TANDEM_TRY(kvmCall(fd_.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS"));
  return sregs;
}

Status VcpuFd::setSregs(const kvm_sregs& sregs) const {
  return kvmCall(fd_.get(), KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
}

Status VcpuFd::setFpu(const kvm_fpu& fpu) const {
  return kvmCall(fd_.get(), KVM_SET_FPU, &fpu, "KVM_SET_FPU");
}

Status VcpuFd::setMsrs(const std::vector<kvm_msr_entry>& msrs) const {
  CountedArray<kvm_msr_entry> table(msrs);
  TANDEM_ASSIGN_OR_RETURN(int written, kvmIoctl(fd_.get(), kSetMsrs, table.data(), "KVM_SET_MSRS"));
  // KVM stops at the first MSR it refuses and returns how many it set.
  if (static_cast<std::size_t>(written) != msrs.size()) {
    return Error(fmt::format("KVM_SET_MSRS: KVM refused MSR {:#x}",
                             msrs[static_cast<std::size_t>(written)].index));
  }
  return okStatus();
}

Result<kvm_lapic_state> VcpuFd::lapic() const {
  kvm_lapic_state lapic{};
  TANDEM_TRY(kvmCall(fd_.get(), KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC"));
  return lapic;
}

Status VcpuFd::setLapic(const kvm_lapic_state& lapic) const {
  return kvmCall(fd_.get(), KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC");
}

Result<std::uint32_t> VcpuFd::tscKhz() const {
  TANDEM_ASSIGN_OR_RETURN(int khz, kvmIoctl(fd_.get(), KVM_GET_TSC_KHZ, 0, "KVM_GET_TSC_KHZ"));
  return static_cast<std::uint32_t>(khz);
}

Result<UniqueFd> VcpuFd::statsFd() const {
  TANDEM_ASSIGN_OR_RETURN(int fd, kvmIoctl(fd_.get(), KVM_GET_STATS_FD, 0, "KVM_GET_STATS_FD"));
  return UniqueFd(fd);
}

}  // namespace tandem::vmm
