// The workload `tandem bench` starts in every container row to see when a workload's first
// instruction runs: it prints the wall clock as seconds.microseconds, the format of bash's
// EPOCHREALTIME, which the benchmark reads just before it launches the runtime. The wall clock,
// because no runtime gives a container a time namespace of its own for it and bash has no
// monotonic clock to read without a fork.
#include <time.h>
#include <unistd.h>

#include <cstdio>

int main() {
  timespec now{};
  if (::clock_gettime(CLOCK_REALTIME, &now) != 0) {
    std::perror("tandem-clock-stamp: clock_gettime");
    return 1;
  }
  char line[32];
  int length = std::snprintf(line, sizeof line, "%lld.%06ld\n", static_cast<long long>(now.tv_sec),
                             now.tv_nsec / 1000);
  return ::write(STDOUT_FILENO, line, static_cast<std::size_t>(length)) == length ? 0 : 1;
}
