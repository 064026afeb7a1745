// Admission on this host: what running workloads of both levels have reserved, against what the
// host has, decides whether another may start. A container reserves what its limits say (nothing
// for a limit it lacks); a microVM reserves its vCPUs and its guest memory with the VMM's
// overhead, whether the guest touches that memory or not, since nothing stops it from doing so.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "scheduler/isolation_policy.h"

namespace tandem::scheduler {

struct Reservation {
  std::uint64_t memoryBytes = 0;
  std::uint64_t cpuMilli = 0;  // thousandths of a CPU
};

struct Capacity {
  std::uint64_t memoryBytes = 0;
  std::uint64_t cpuMilli = 0;
};

// CPU is shared, not used up: the host admits reservations of up to this many times its CPUs,
// as microVM hosts commonly oversubscribe vCPUs. Memory, which a guest cannot give back, is never
// oversubscribed.
inline constexpr std::uint64_t kCpuOvercommit = 4;

// The memory the host keeps for itself (tandem, the kernel, page cache): 5 % of it, at least
// 256 MiB.
std::uint64_t hostReserveBytes(std::uint64_t memoryTotalBytes);

// This host: its online CPUs times kCpuOvercommit, and its memory less the host's reserve.
Capacity hostCapacity();

// What a workload reserves at `level`: for a microVM whole vCPUs (its --cpus rounded up, at
// least one) and hostMemoryFor's guest memory and overhead; for a container its quota and limit.
Reservation reservationFor(Isolation level, const PlacementRequest& request);

// Ok when `wanted` fits beside `running` in `capacity`; otherwise EAGAIN, with which resource is
// short, by how much, and what holds it.
Status admit(const Capacity& capacity, const std::vector<Reservation>& running,
             const Reservation& wanted);

}  // namespace tandem::scheduler
