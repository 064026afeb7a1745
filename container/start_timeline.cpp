#include "container/start_timeline.h"

#include <sys/socket.h>

#include <cerrno>
#include <cmath>
#include <ctime>

namespace tandem::container {

namespace {

constexpr std::size_t kMilestonesSize = 4 * sizeof(std::int64_t);

double milliseconds(std::int64_t from, std::int64_t to) {
  return std::round(static_cast<double>(to - from) / 1e3) / 1e3;
}

}  // namespace

std::int64_t monotonicNs() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

Status sendChildMilestones(int socket, const ChildMilestones& milestones) {
  std::int64_t words[] = {milestones.reexecuted, milestones.rootStarted, milestones.rootEntered,
                          milestones.inCgroup};
  static_assert(sizeof words == kMilestonesSize);
  ssize_t sent;
  while ((sent = ::send(socket, words, sizeof words, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (sent != static_cast<ssize_t>(sizeof words)) {
    return Error::fromErrno("cannot send the container's start milestones to the runtime");
  }
  return okStatus();
}

std::optional<ChildMilestones> receiveChildMilestones(int socket) {
  std::int64_t words[4] = {};
  ssize_t got;
  while ((got = ::recv(socket, words, sizeof words, MSG_DONTWAIT | MSG_WAITALL)) < 0 &&
         errno == EINTR) {
  }
  if (got != static_cast<ssize_t>(sizeof words)) {
    return std::nullopt;
  }
  return ChildMilestones{words[0], words[1], words[2], words[3]};
}

nlohmann::ordered_json startStatsJson(const StartTimeline& timeline) {
  if (!timeline.child) {
    return nullptr;
  }
  const ChildMilestones& child = *timeline.child;
  auto at = [&](std::int64_t stamp) { return milliseconds(timeline.origin, stamp); };
  return {
      {"timeline_ms",
       {{"clone_started", at(timeline.cloneStarted)},
        {"container_process_reexecuted", at(child.reexecuted)},
        {"root_started", at(child.rootStarted)},
        {"root_entered", at(child.rootEntered)},
        {"in_cgroup", at(child.inCgroup)},
        {"exec", at(timeline.execSeen)},
        {"exited", at(timeline.exited)}}},
      {"phases_ms",
       {{"preparation", milliseconds(timeline.origin, timeline.cloneStarted)},
        {"clone and namespaces", milliseconds(timeline.cloneStarted, child.reexecuted)},
        {"configuration and state", milliseconds(child.reexecuted, child.rootStarted)},
        {"mounts", milliseconds(child.rootStarted, child.rootEntered)},
        {"cgroups", milliseconds(child.rootEntered, child.inCgroup)},
        {"exec", milliseconds(child.inCgroup, timeline.execSeen)},
        {"workload", milliseconds(timeline.execSeen, timeline.exited)}}},
      {"cgroup_setup_ms", milliseconds(timeline.cgroupStarted, timeline.cgroupDone)},
  };
}

}  // namespace tandem::container
