#include "vmm/vmm_jail.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>

#include "common/unique_fd.h"
#include "common/unix_socket.h"
#include "tests/unit/child_checks.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"
#include "vmm/process_lockdown.h"

using tandem::UniqueFd;
using tandem::vmm::JailUser;
using tandem::vmm::jailUserFor;
using tandem::vmm::kJailIdCount;
using tandem::vmm::kJailIdFirst;

namespace {

void each_workload_gets_its_own_user_in_the_range(void**) {
  std::set<uid_t> seen;
  for (int i = 0; i < 1000; ++i) {
    JailUser user = jailUserFor("workload-" + std::to_string(i));
    assert_true(user.uid >= kJailIdFirst && user.uid < kJailIdFirst + kJailIdCount);
    assert_int_equal(user.gid, user.uid);
    seen.insert(user.uid);
  }
  // Spread: a thousand ids over 2^24 users almost never collide.
  assert_true(seen.size() >= 998);
  assert_true(jailUserFor("same") == jailUserFor("same"));
}

void jail_users_parse_and_print(void**) {
  auto parsed = tandem::vmm::parseJailUser("1073741825:1073741826");
  assert_true(parsed.ok());
  assert_int_equal(parsed->uid, 1073741825);
  assert_int_equal(parsed->gid, 1073741826);
  assert_string_equal(tandem::vmm::jailUserText(*parsed).c_str(), "1073741825:1073741826");
}

bool onlyEntries(const char* folder, const std::set<std::string>& expected) {
  DIR* dir = ::opendir(folder);
  if (dir == nullptr) return false;
  std::set<std::string> found;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") found.insert(name);
  }
  ::closedir(dir);
  return found == expected;
}

// What the jail leaves a process: run in a child (the jail is for good), as tandem-vmm enters
// it; each broken promise is its own exit code.
int jailedChild(const std::string& folder, const std::string& socket, const JailUser& user) {
  auto listener = tandem::listenUnixSocket(socket);
  if (!listener.ok()) return 10;
  // Held from before, to compare each namespace afterwards: the jail has no /proc.
  UniqueFd procSelf(::open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC));
  const char* namespaces[] = {"ns/mnt", "ns/net", "ns/ipc", "ns/uts", "ns/cgroup"};
  ino_t hostNamespaces[5] = {};
  for (int i = 0; i < 5; ++i) {
    struct stat info {};
    if (!procSelf.valid() || ::fstatat(procSelf.get(), namespaces[i], &info, 0) != 0) return 11;
    hostNamespaces[i] = info.st_ino;
  }
  tandem::vmm::JailPlan plan{.user = user, .socketFolder = folder, .ownSockets = {socket}};
  if (auto entered = tandem::vmm::enterJail(plan); !entered.ok()) {
    std::fprintf(stderr, "%s\n", entered.error().describe().c_str());
    return 12;
  }
  // The root holds the folder's first component and the short alias, nothing else: no /proc,
  // no /dev, no host file.
  std::string first = folder.substr(1, folder.find('/', 1) - 1);
  if (!onlyEntries("/", {first, "vsock"})) return 13;
  if (::access("/proc/self", F_OK) == 0 || ::access("/dev/kvm", F_OK) == 0) return 14;
  // Read-only, apart from the socket folder.
  if (::mkdir("/new", 0755) == 0 || errno != EROFS) return 15;
  // The socket was handed to the jail's user.
  struct stat socketInfo {};
  if (::stat(socket.c_str(), &socketInfo) != 0 || socketInfo.st_uid != user.uid ||
      socketInfo.st_gid != user.gid) {
    return 16;
  }
  for (int i = 0; i < 5; ++i) {
    struct stat info {};
    if (::fstatat(procSelf.get(), namespaces[i], &info, 0) != 0 ||
        info.st_ino == hostNamespaces[i]) {
      return 17;
    }
  }
  if (!tandem::vmm::lockDownProcess({.user = user}).ok()) return 18;
  if (::getuid() != user.uid || ::geteuid() != user.uid || ::getgid() != user.gid) return 19;
  cap_t caps = cap_get_proc();
  cap_t none = cap_init();
  bool capless = caps != nullptr && none != nullptr && cap_compare(caps, none) == 0;
  cap_free(caps);
  cap_free(none);
  if (!capless) return 20;
  // Its own socket, reached through the alias, as the guest's connections reach the host's.
  auto folderInJail = tandem::UnixSocketFolder::open(tandem::vmm::kJailSocketAlias);
  if (!folderInJail.ok()) return 21;
  std::string name = socket.substr(socket.rfind('/') + 1);
  if (!folderInJail->connect(name).ok()) return 22;
  // And removed at the end, by its path, without root.
  if (::unlink(socket.c_str()) != 0) return 23;
  return 0;
}

void the_jail_holds_only_the_socket_folder(void** state) {
  if (::geteuid() != 0) {
    skip();
  }
  std::string folder = tempDir(state) + "/vms/x/vsock";
  assert_true(tandem::makeDirectories(folder, 0700).ok());
  JailUser user = jailUserFor("unit-test");
  assert_int_equal(::chown(folder.c_str(), user.uid, user.gid), 0);
  std::string socket = folder + "/vsock.sock";
  assertChildPasses([&] { return jailedChild(folder, socket, user); });
  // Nothing of the jail reached the host: /tmp is still the host's, the socket is gone.
  assert_int_equal(::access(tempDir(state).c_str(), F_OK), 0);
  assert_int_equal(::access(socket.c_str(), F_OK), -1);
}

void a_relative_socket_folder_is_refused(void**) {
  auto entered = tandem::vmm::enterJail({.user = {1073741825, 1073741825}, .socketFolder = "x/y"});
  assert_false(entered.ok());
  assert_non_null(std::strstr(entered.error().message().c_str(), "absolute path"));
}

// The switch to the jail's user clears the parent-death signal; the lockdown sets it again.
void the_parent_death_signal_survives_the_switch(void**) {
  if (::geteuid() != 0) {
    skip();
  }
  UniqueFd parent(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  assert_true(parent.valid());
  pid_t child = ::fork();
  assert_true(child >= 0);
  if (child == 0) {
    if (!tandem::vmm::lockDownProcess(
             {.user = JailUser{1073741827, 1073741827}, .parentPidfd = parent.get()})
             .ok()) {
      _exit(10);
    }
    int signal = 0;
    if (::prctl(PR_GET_PDEATHSIG, &signal) != 0 || signal != SIGKILL) _exit(11);
    _exit(0);
  }
  int status = 0;
  assert_int_equal(::waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

// A parent already gone when the monitor starts sends no signal; the pidfd tells.
void a_parent_gone_already_is_an_error(void**) {
  pid_t gone = ::fork();
  assert_true(gone >= 0);
  if (gone == 0) {
    _exit(0);
  }
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, gone, 0)));
  assert_true(pidfd.valid());
  int status = 0;
  assert_int_equal(::waitpid(gone, &status, 0), gone);
  auto watched = tandem::vmm::dieWithParent(pidfd.get());
  assert_false(watched.ok());
  assert_non_null(std::strstr(watched.error().message().c_str(), "is gone"));
  UniqueFd self(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  assertChildPasses([&] { return tandem::vmm::dieWithParent(self.get()).ok() ? 0 : 1; });
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(each_workload_gets_its_own_user_in_the_range),
      cmocka_unit_test(jail_users_parse_and_print),
      cmocka_unit_test_setup_teardown(the_jail_holds_only_the_socket_folder, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test(a_relative_socket_folder_is_refused),
      cmocka_unit_test(the_parent_death_signal_survives_the_switch),
      cmocka_unit_test(a_parent_gone_already_is_an_error),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
