// tandem-probe: what the container tests run inside a rootfs to look at the container from
// within. It is linked statically because test rootfs folders hold no libc. Each subcommand
// prints machine-readable `key=value` lines on stdout; usage errors exit 2.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr long kMiB = 1024 * 1024;

[[noreturn]] void usage() {
  std::fputs(
      "usage: tandem-probe caps | fds | syscall NAME | memhog MIB | forkbomb N | spin SECONDS\n"
      "                    | pid | cwd | exit N | signal N | sleep SECONDS [LABEL]\n"
      "                    | ptrace PID | write PATH TEXT | mknod-open b|c MAJOR MINOR PATH\n"
      "syscall NAMEs: swapon kexec_load init_module finit_module mount remount-proc-sys\n"
      "               unshare-user setns-net\n",
      stderr);
  std::exit(2);
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "tandem-probe: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

long parseNumber(const char* text) {
  long value = 0;
  std::string_view s(text);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value < 0) usage();
  return value;
}

// Progress lines must reach the pipe before a kill (OOM, SIGKILL) can discard a stdio buffer.
void emit(const std::string& line) {
  std::string out = line + "\n";
  if (write(STDOUT_FILENO, out.data(), out.size()) < 0) fail("write stdout");
}

long elapsedMs(const timespec& from, const timespec& to) {
  return (to.tv_sec - from.tv_sec) * 1000 + (to.tv_nsec - from.tv_nsec) / 1000000;
}

int caps() {
  FILE* status = std::fopen("/proc/self/status", "re");
  if (!status) fail("open /proc/self/status");
  const char* keys[] = {"CapEff", "CapPrm", "CapBnd"};
  std::string values[3];
  char line[256];
  while (std::fgets(line, sizeof line, status)) {
    for (int i = 0; i < 3; ++i) {
      const std::size_t n = std::strlen(keys[i]);
      if (std::strncmp(line, keys[i], n) != 0 || line[n] != ':') continue;
      values[i] = line + n + 1;
      values[i].erase(0, values[i].find_first_not_of(" \t"));
      values[i].erase(values[i].find_last_not_of('\n') + 1);
    }
  }
  std::fclose(status);
  emit(std::string(keys[0]) + "=" + values[0] + " " + keys[1] + "=" + values[1] + " " + keys[2] +
       "=" + values[2]);
  return 0;
}

// One line even when nothing leaked ("fds="), so silence never passes for a clean result.
int fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) fail("open /proc/self/fd");
  const int listing_fd = dirfd(dir);
  std::string found;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const long fd = parseNumber(entry->d_name);
    if (fd <= STDERR_FILENO || fd == listing_fd) continue;
    char target[4096];
    ssize_t n = readlinkat(listing_fd, entry->d_name, target, sizeof target - 1);
    if (n < 0) fail("readlink /proc/self/fd entry");
    target[n] = '\0';
    if (!found.empty()) found += ',';
    found += std::to_string(fd) + ":" + target;
  }
  closedir(dir);
  emit("fds=" + found);
  return 0;
}

// Every call is made with arguments the kernel rejects after its permission check (a missing
// path, invalid flags, an empty image), so "errno=EPERM" can only come from missing capabilities
// or a seccomp filter, and a call that does get through changes nothing on the host.
long trySyscall(std::string_view name) {
  if (name == "swapon") return syscall(SYS_swapon, "", 0);
  if (name == "kexec_load") return syscall(SYS_kexec_load, 0UL, 0UL, nullptr, ~0UL);
  if (name == "init_module") return syscall(SYS_init_module, nullptr, 0UL, "");
  if (name == "finit_module") return syscall(SYS_finit_module, -1, "", 0);
  if (name == "mount") return mount("none", "/nonexistent-tandem-probe", "tmpfs", 0, nullptr);
  // The one exception to the rule above: a read-write remount of /proc/sys is the real attack.
  // On a host, where /proc/sys is no mount of its own, the kernel refuses it with EINVAL.
  if (name == "remount-proc-sys") {
    return mount(nullptr, "/proc/sys", nullptr, MS_REMOUNT | MS_BIND, nullptr);
  }
  if (name == "unshare-user") return unshare(CLONE_NEWUSER);
  if (name == "setns-net") {
    const int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    const int result = setns(fd, CLONE_NEWNET);
    const int saved = errno;
    close(fd);
    errno = saved;
    return result;
  }
  usage();
}

// "NAME ok", or "NAME errno=EPERM" with the errno of the failed call.
int report(const std::string& name, long result) {
  if (result >= 0) {
    emit(name + " ok");
  } else {
    const char* errno_name = strerrorname_np(errno);
    emit(name + " errno=" + (errno_name ? errno_name : std::to_string(errno)));
  }
  return 0;
}

int syscallProbe(const char* name) {
  return report(name, trySyscall(name));
}

// An attach that succeeds is undone at once: the probe only learns whether it could.
int ptraceProbe(long pid) {
  const long result = ptrace(PTRACE_ATTACH, static_cast<pid_t>(pid), nullptr, nullptr);
  const int saved = errno;
  if (result == 0) {
    waitpid(static_cast<pid_t>(pid), nullptr, __WALL);
    ptrace(PTRACE_DETACH, static_cast<pid_t>(pid), nullptr, nullptr);
  }
  errno = saved;
  return report("ptrace", result);
}

int writeProbe(const char* path, const char* text) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return report("open", -1);
  const ssize_t written = write(fd, text, std::strlen(text));
  const int saved = errno;
  close(fd);
  errno = saved;
  return report("write", written);
}

// Two lines, "mknod ..." then "open ...": a runtime that lets CAP_MKNOD make a node must still
// refuse its use.
int mknodOpenProbe(const char* type, long major, long minor, const char* path) {
  const std::string_view kind = type;
  if (kind != "b" && kind != "c") usage();
  const mode_t mode = (kind == "b" ? S_IFBLK : S_IFCHR) | 0600;
  const dev_t device = makedev(static_cast<unsigned>(major), static_cast<unsigned>(minor));
  report("mknod", mknod(path, mode, device));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  report("open", fd);
  if (fd >= 0) close(fd);
  unlink(path);
  return 0;
}

int memhog(long mib) {
  const long page = sysconf(_SC_PAGESIZE);
  auto* memory = static_cast<char*>(mmap(nullptr, mib * kMiB, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  if (memory == MAP_FAILED) fail("mmap");
  for (long done = 0; done < mib; ++done) {
    for (long offset = 0; offset < kMiB; offset += page) memory[done * kMiB + offset] = 1;
    emit("touched_mib=" + std::to_string(done + 1));
  }
  return 0;
}

int forkbomb(long limit) {
  std::vector<pid_t> children;
  children.reserve(limit);
  int fork_errno = 0;
  while (static_cast<long>(children.size()) < limit) {
    pid_t pid = fork();
    if (pid < 0) {
      fork_errno = errno;
      break;
    }
    if (pid == 0) {
      pause();
      _exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t child : children) kill(child, SIGKILL);
  for (pid_t child : children) waitpid(child, nullptr, 0);
  const char* errno_name = fork_errno ? strerrorname_np(fork_errno) : "none";
  emit("forked=" + std::to_string(children.size()) + " failed=" + errno_name);
  return 0;
}

int spin(long seconds) {
  timespec start{}, now{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (elapsedMs(start, now) < seconds * 1000);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const long cpu_ms = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000 +
                      (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000;
  emit("cpu_ms=" + std::to_string(cpu_ms) + " wall_ms=" + std::to_string(elapsedMs(start, now)));
  return 0;
}

int cwd() {
  char path[4096];
  if (!getcwd(path, sizeof path)) fail("getcwd");
  emit(std::string("cwd=") + path);
  return 0;
}

// The kernel drops a default-action signal a pid namespace's init sends itself, so as PID 1 this
// returns; the caller learns that from the "survived" line and exit status 1.
int raiseSignal(long number) {
  const int sig = static_cast<int>(number);
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
  raise(sig);
  emit("signal=" + std::to_string(sig) + " survived");
  return 1;
}

// LABEL is not used here: it only makes the process easy to find with ps from the host.
int sleepFor(long seconds) {
  emit("sleeping pid=" + std::to_string(getpid()));
  timespec rest{seconds, 0};
  while (nanosleep(&rest, &rest) != 0 && errno == EINTR) {
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage();
  const std::string_view command = argv[1];
  if (command == "caps" && argc == 2) return caps();
  if (command == "fds" && argc == 2) return fds();
  if (command == "pid" && argc == 2) {
    emit("pid=" + std::to_string(getpid()));
    return 0;
  }
  if (command == "cwd" && argc == 2) return cwd();
  if (command == "sleep" && (argc == 3 || argc == 4)) return sleepFor(parseNumber(argv[2]));
  if (command == "write" && argc == 4) return writeProbe(argv[2], argv[3]);
  if (command == "mknod-open" && argc == 6) {
    return mknodOpenProbe(argv[2], parseNumber(argv[3]), parseNumber(argv[4]), argv[5]);
  }
  if (argc != 3) usage();
  if (command == "syscall") return syscallProbe(argv[2]);
  const long n = parseNumber(argv[2]);
  if (command == "memhog") return memhog(n);
  if (command == "forkbomb") return forkbomb(n);
  if (command == "spin") return spin(n);
  if (command == "ptrace") return ptraceProbe(n);
  if (command == "exit") return static_cast<int>(n & 0xff);
  if (command == "signal") return raiseSignal(n);
  usage();
}
