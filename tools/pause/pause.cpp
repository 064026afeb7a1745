// tandem-pause: the first process of a task's sandbox, the container that holds the network
// namespace its containers share (as a Kubernetes pod's pause container does). It waits, doing
// nothing, until SIGTERM, SIGINT or SIGHUP ends it with 0; as its pid namespace's init, it reaps
// any child that comes its way. Static: it runs in a root that holds nothing else.
#include <signal.h>
#include <sys/wait.h>

#include <initializer_list>

int main() {
  sigset_t waited;
  sigemptyset(&waited);
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&waited, signal);
  sigprocmask(SIG_BLOCK, &waited, nullptr);
  for (;;) {
    int signal = sigwaitinfo(&waited, nullptr);
    if (signal == SIGCHLD) {
      while (waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      continue;
    }
    if (signal > 0) return 0;
  }
}
