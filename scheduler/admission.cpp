#include "scheduler/admission.h"

#include <unistd.h>

#include <sstream>

#include "common/file.h"
#include "common/kib_field.h"
#include "common/size.h"

namespace tandem::scheduler {

namespace {

std::string cpus(std::uint64_t milli) {
  std::ostringstream text;
  text << static_cast<double>(milli) / 1000.0 << " CPU" << (milli == 1000 ? "" : "s");
  return text.str();
}

}  // namespace

std::uint64_t hostReserveBytes(std::uint64_t memoryTotalBytes) {
  return std::max<std::uint64_t>(256ull << 20, memoryTotalBytes / 20);
}

Capacity hostCapacity() {
  Capacity capacity;
  long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  capacity.cpuMilli = static_cast<std::uint64_t>(online > 0 ? online : 1) * 1000 * kCpuOvercommit;
  auto text = readFile("/proc/meminfo");
  if (auto total = text ? kibField(*text, "MemTotal:") : std::nullopt) {
    capacity.memoryBytes = *total - std::min(*total, hostReserveBytes(*total));
  }
  return capacity;
}

Reservation reservationFor(Isolation level, const PlacementRequest& request) {
  Reservation reservation;
  reservation.memoryBytes = hostMemoryFor(level, request);
  if (level == Isolation::kVm) {
    std::uint64_t vcpus = request.cpuMilli ? (*request.cpuMilli + 999) / 1000 : 1;
    reservation.cpuMilli = std::max<std::uint64_t>(vcpus, 1) * 1000;
  } else {
    reservation.cpuMilli = request.cpuMilli.value_or(0);
  }
  return reservation;
}

Status admit(const Capacity& capacity, const std::vector<Reservation>& running,
             const Reservation& wanted) {
  Reservation held;
  for (const Reservation& r : running) {
    held.memoryBytes += r.memoryBytes;
    held.cpuMilli += r.cpuMilli;
  }
  std::vector<std::string> short_;
  if (held.memoryBytes + wanted.memoryBytes > capacity.memoryBytes) {
    short_.push_back("memory: it reserves " + formatApproximateSize(wanted.memoryBytes) + ", and " +
                     formatApproximateSize(held.memoryBytes) + " of the host's " +
                     formatApproximateSize(capacity.memoryBytes) + " are reserved by " +
                     std::to_string(running.size()) + " running workload" +
                     (running.size() == 1 ? "" : "s"));
  }
  if (held.cpuMilli + wanted.cpuMilli > capacity.cpuMilli) {
    short_.push_back("CPU: it reserves " + cpus(wanted.cpuMilli) + ", and " + cpus(held.cpuMilli) +
                     " of the host's " + cpus(capacity.cpuMilli) + " (its CPUs times " +
                     std::to_string(kCpuOvercommit) + ") are reserved");
  }
  if (short_.empty()) return okStatus();
  std::string message = "the host is full";
  for (const std::string& part : short_) message += "; " + part;
  return Error(message, EAGAIN);
}

}  // namespace tandem::scheduler
