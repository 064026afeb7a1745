// Admission arithmetic: what each level reserves, and whether a workload fits beside the running
// ones, with the refusal naming what is short.
#include "scheduler/admission.h"

#include <unistd.h>

#include "tests/unit/unit_test.h"

using namespace tandem;
using namespace tandem::scheduler;

namespace {

constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::uint64_t kGiB = 1ull << 30;

PlacementRequest limits(std::optional<std::uint64_t> memoryMiB,
                        std::optional<std::uint64_t> cpuMilli) {
  PlacementRequest r;
  if (memoryMiB) r.memoryBytes = *memoryMiB * kMiB;
  r.cpuMilli = cpuMilli;
  return r;
}

void each_level_reserves_what_it_can_take(void**) {
  struct Row {
    Isolation level;
    PlacementRequest request;
    std::uint64_t memory;
    std::uint64_t cpuMilli;
  } rows[] = {
      // A container: its limits, nothing for a limit it lacks.
      {Isolation::kContainer, limits({}, {}), 0, 0},
      {Isolation::kContainer, limits(64, 500), 64 * kMiB, 500},
      // A microVM: whole vCPUs, at least one; its guest memory (256 MiB unless limited) and the
      // VMM's overhead.
      {Isolation::kVm, limits({}, {}), kDefaultGuestMemoryBytes + kVmOverheadBytes, 1000},
      {Isolation::kVm, limits(128, 500), 128 * kMiB + kVmOverheadBytes, 1000},
      {Isolation::kVm, limits(128, 1500), 128 * kMiB + kVmOverheadBytes, 2000},
      {Isolation::kVm, limits(128, 2000), 128 * kMiB + kVmOverheadBytes, 2000},
  };
  for (const Row& row : rows) {
    Reservation r = reservationFor(row.level, row.request);
    assert_int_equal(r.memoryBytes, row.memory);
    assert_int_equal(r.cpuMilli, row.cpuMilli);
  }
}

void a_workload_fits_or_is_refused_saying_what_is_short(void**) {
  const Capacity host{8 * kGiB, 2000};
  struct Row {
    std::vector<Reservation> running;
    Reservation wanted;
    const char* shortOf;  // "" when admitted
  } rows[] = {
      {{}, {8 * kGiB, 2000}, ""},  // exactly full is admitted
      {{}, {8 * kGiB + 1, 0}, "memory: it reserves 8.0 GiB, and 0 B of the host's 8 GiB"},
      {{{4 * kGiB, 1000}, {3 * kGiB, 500}}, {1 * kGiB, 500}, ""},
      {{{4 * kGiB, 1000}, {3 * kGiB, 500}},
       {2 * kGiB, 0},
       "7 GiB of the host's 8 GiB are reserved by 2"},
      {{{1 * kGiB, 1500}},
       {1 * kGiB, 1000},
       "CPU: it reserves 1 CPU, and 1.5 CPUs of the host's 2 CPUs"},
      {{{7 * kGiB, 2000}}, {2 * kGiB, 500}, "memory"},
      // Unlimited containers reserve nothing and always fit.
      {{{8 * kGiB, 2000}}, {0, 0}, ""},
  };
  for (const Row& row : rows) {
    Status admitted = admit(host, row.running, row.wanted);
    if (*row.shortOf == '\0') {
      if (!admitted) fail_msg("refused: %s", admitted.error().message().c_str());
      continue;
    }
    assert_false(admitted.ok());
    assert_int_equal(admitted.error().errnum(), EAGAIN);
    const std::string& message = admitted.error().message();
    if (message.rfind("the host is full", 0) != 0 ||
        message.find(row.shortOf) == std::string::npos) {
      fail_msg("\"%s\" does not say \"%s\"", message.c_str(), row.shortOf);
    }
  }
  // Both short at once: both said.
  Status both = admit(host, {{8 * kGiB, 2000}}, {1, 1});
  assert_true(both.error().message().find("memory") != std::string::npos);
  assert_true(both.error().message().find("CPU") != std::string::npos);
}

void the_host_keeps_a_reserve(void**) {
  assert_int_equal(hostReserveBytes(1 * kGiB), 256 * kMiB);
  assert_int_equal(hostReserveBytes(20 * kGiB), kGiB);
  Capacity here = hostCapacity();
  assert_int_equal(here.cpuMilli, static_cast<std::uint64_t>(::sysconf(_SC_NPROCESSORS_ONLN)) *
                                      1000 * kCpuOvercommit);
  assert_true(here.memoryBytes > 0);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(each_level_reserves_what_it_can_take),
      cmocka_unit_test(a_workload_fits_or_is_refused_saying_what_is_short),
      cmocka_unit_test(the_host_keeps_a_reserve),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
