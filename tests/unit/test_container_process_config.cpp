// The container process's configuration survives the re-exec into the sealed copy unchanged,
// and anything else handed to `tandem container-process` is refused.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

#include "container/container_process.h"
#include "tests/unit/unit_test.h"

using tandem::container::ContainerProcessConfig;
using tandem::container::parseConfig;
using tandem::container::serializeConfig;

static void round_trips_every_field(void**) {
  ContainerProcessConfig config;
  config.workload.command = {"/bin/sh", "-c", "echo hi"};
  config.workload.hostname = "box";
  config.workload.tty = true;
  config.workload.limits.memoryBytes = 64u << 20;
  config.workload.limits.storageBytes = std::uint64_t{5} << 30;
  config.rootfs = {{"/img/top", "/img/base"},
                   "/skel",
                   "/s/upper",
                   "/s/work",
                   "/s/rootfs",
                   "/s/layer",
                   true,
                   true,
                   {false, true}};
  config.capabilities = {0, 5, 21};
  config.seccompProgram = {{0x20, 0, 0, 4}, {0x15, 1, 2, 0xc000003e}, {0x06, 0, 0, 0x7fff0000}};
  config.ownNetwork = false;
  config.userNamespace = true;
  config.syncSocket = 7;
  config.errorPipe = 9;
  sigemptyset(&config.workloadSignalMask);
  sigaddset(&config.workloadSignalMask, SIGUSR1);
  sigaddset(&config.workloadSignalMask, SIGRTMIN + 3);

  auto parsed = parseConfig(serializeConfig(config));
  if (!parsed) fail_msg("%s", parsed.error().describe().c_str());
  assert_true(parsed->workload.command == config.workload.command);
  assert_string_equal(parsed->workload.hostname.c_str(), "box");
  assert_true(parsed->workload.tty);
  assert_int_equal(*parsed->workload.limits.memoryBytes, 64u << 20);
  assert_true(*parsed->workload.limits.storageBytes == std::uint64_t{5} << 30);
  assert_string_equal(parsed->rootfs.merged.c_str(), "/s/rootfs");
  assert_string_equal(parsed->rootfs.layerDisk.c_str(), "/s/layer");
  assert_int_equal(parsed->rootfs.image.size(), 2);
  assert_string_equal(parsed->rootfs.image[1].c_str(), "/img/base");
  assert_true(parsed->rootfs.readOnly);
  assert_false(parsed->rootfs.plan.ownNetworkNamespace);
  assert_true(parsed->capabilities == config.capabilities);
  assert_int_equal(parsed->seccompProgram.size(), 3);
  assert_int_equal(parsed->seccompProgram[1].k, 0xc000003e);
  assert_int_equal(parsed->seccompProgram[1].jf, 2);
  assert_false(parsed->ownNetwork);
  assert_true(parsed->userNamespace);
  assert_int_equal(parsed->syncSocket, 7);
  assert_int_equal(parsed->errorPipe, 9);
  assert_int_equal(sigismember(&parsed->workloadSignalMask, SIGUSR1), 1);
  assert_int_equal(sigismember(&parsed->workloadSignalMask, SIGRTMIN + 3), 1);
  assert_int_equal(sigismember(&parsed->workloadSignalMask, SIGTERM), 0);
}

static void refuses_garbage(void**) {
  for (const char* text :
       {"", "{", "[]", "{\"workload\": 1}", "null", "{\"workload\": {\"command\": [\"x\"]}}"}) {
    assert_false(parseConfig(text).ok());
  }
  ContainerProcessConfig config;
  config.workload.command = {"true"};
  sigemptyset(&config.workloadSignalMask);
  std::string text = serializeConfig(config);
  // A seccomp instruction out of range for its field must not be truncated silently.
  auto at = text.find("\"seccompProgram\":[]");
  assert_true(at != std::string::npos);
  text.replace(at, 19, "\"seccompProgram\":[[70000,0,0,0]]");
  assert_false(parseConfig(text).ok());
}

static void crosses_a_socket_and_refuses_bad_lengths(void**) {
  int pair[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  ContainerProcessConfig config;
  config.workload.command = {"/bin/true"};
  config.syncSocket = 11;
  sigemptyset(&config.workloadSignalMask);
  assert_true(tandem::container::sendConfig(pair[0], config).ok());
  auto received = tandem::container::receiveConfig(pair[1]);
  if (!received) fail_msg("%s", received.error().describe().c_str());
  assert_int_equal(received->syncSocket, 11);

  // A length beyond the cap is refused before anything is allocated for it.
  std::uint32_t huge = 1u << 30;
  assert_int_equal(write(pair[0], &huge, sizeof huge), sizeof huge);
  assert_false(tandem::container::receiveConfig(pair[1]).ok());
  // A peer that hangs up halfway is an error, not a hang.
  std::uint32_t length = 100;
  assert_int_equal(write(pair[0], &length, sizeof length), sizeof length);
  assert_int_equal(write(pair[0], "{", 1), 1);
  close(pair[0]);
  assert_false(tandem::container::receiveConfig(pair[1]).ok());
  close(pair[1]);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trips_every_field),
      cmocka_unit_test(refuses_garbage),
      cmocka_unit_test(crosses_a_socket_and_refuses_bad_lengths),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
