// A container's start timeline: its phases from the runtime's and the container process's
// milestones, and the milestones' trip over the sync socket after the runtime's own bytes.
#include <sys/socket.h>
#include <unistd.h>

#include "common/fd_passing.h"
#include "common/unique_fd.h"
#include "container/start_timeline.h"
#include "tests/unit/unit_test.h"

using tandem::UniqueFd;
using tandem::container::ChildMilestones;
using tandem::container::receiveChildMilestones;
using tandem::container::sendChildMilestones;
using tandem::container::startStatsJson;
using tandem::container::StartTimeline;

namespace {

constexpr std::int64_t kMs = 1000000;

StartTimeline sampleTimeline() {
  StartTimeline timeline;
  timeline.origin = 1000 * kMs;
  timeline.cloneStarted = 1001 * kMs;
  timeline.cgroupStarted = 1005 * kMs;
  timeline.cgroupDone = 1012 * kMs;
  timeline.execSeen = 1015 * kMs;
  timeline.exited = 1020 * kMs + kMs / 2;
  timeline.child = ChildMilestones{1004 * kMs, 1006 * kMs, 1009 * kMs, 1013 * kMs};
  return timeline;
}

void phasesFollowTheCriticalPath(void**) {
  nlohmann::ordered_json stats = startStatsJson(sampleTimeline());
  const nlohmann::ordered_json& phases = stats["phases_ms"];
  assert_true(phases["preparation"] == 1.0);
  assert_true(phases["clone and namespaces"] == 3.0);
  assert_true(phases["configuration and state"] == 2.0);
  assert_true(phases["mounts"] == 3.0);
  assert_true(phases["cgroups"] == 4.0);
  assert_true(phases["exec"] == 2.0);
  assert_true(phases["workload"] == 5.5);
  // The phases cut the time to exit into consecutive stretches: they add up to it.
  double sum = 0;
  for (const auto& [name, ms] : phases.items()) sum += ms.get<double>();
  assert_true(sum == stats["timeline_ms"]["exited"].get<double>());
  // The runtime's cgroup work ran beside the mounts, so it is reported on its own.
  assert_true(stats["cgroup_setup_ms"] == 7.0);
  assert_true(stats["timeline_ms"]["in_cgroup"] == 13.0);
}

void noChildMilestonesNoStats(void**) {
  StartTimeline timeline = sampleTimeline();
  timeline.child.reset();
  assert_true(startStatsJson(timeline).is_null());
}

UniqueFd socketPair(UniqueFd& other) {
  int fds[2];
  assert_int_equal(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  other = UniqueFd(fds[1]);
  return UniqueFd(fds[0]);
}

void milestonesFollowAPassedDescriptor(void**) {
  UniqueFd child;
  UniqueFd runtime = socketPair(child);
  // A pty master goes first over the same socket; its one byte must not eat the milestones.
  assert_true(tandem::sendFd(child.get(), STDIN_FILENO).ok());
  ChildMilestones sent{11, 22, 33, 44};
  assert_true(sendChildMilestones(child.get(), sent).ok());
  auto fd = tandem::receiveFd(runtime.get());
  assert_true(fd.ok());
  auto received = receiveChildMilestones(runtime.get());
  assert_true(received.has_value());
  assert_int_equal(received->reexecuted, 11);
  assert_int_equal(received->rootStarted, 22);
  assert_int_equal(received->rootEntered, 33);
  assert_int_equal(received->inCgroup, 44);
}

void nothingSentNothingReceived(void**) {
  UniqueFd child;
  UniqueFd runtime = socketPair(child);
  // The runtime never waits for milestones a failed container process did not send.
  assert_false(receiveChildMilestones(runtime.get()).has_value());
  child.reset();
  assert_false(receiveChildMilestones(runtime.get()).has_value());
}

}  // namespace

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test(phasesFollowTheCriticalPath),
      cmocka_unit_test(noChildMilestonesNoStats),
      cmocka_unit_test(milestonesFollowAPassedDescriptor),
      cmocka_unit_test(nothingSentNothingReceived),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
