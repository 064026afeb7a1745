#include "vmm/kvm.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "common/file.h"

namespace tandem::vmm {

Result<Kvm> Kvm::open(const std::string& path) {
  auto fd = openPath(path, O_RDWR);
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
  int result = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  if (result < 0) {
    return Error::fromErrno("KVM_CHECK_EXTENSION " + std::to_string(capability));
  }
  return result;
}

Result<int> Kvm::vcpuMmapSize() const {
  int size = ::ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size < 0) {
    return Error::fromErrno("KVM_GET_VCPU_MMAP_SIZE");
  }
  return size;
}

}  // namespace tandem::vmm
