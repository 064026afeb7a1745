#include "common/unix_socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "common/file.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

namespace {

void paths_longer_than_sun_path_still_work(void** state) {
  // Well past sockaddr_un's 108 bytes, as a state root in a deep folder gives.
  std::string folder = tempDir(state) + "/" + std::string(60, 'a') + "/" + std::string(60, 'b');
  assert_true(tandem::makeDirectories(folder).ok());
  std::string path = folder + "/vsock.sock";
  auto listener = tandem::listenUnixSocket(path);
  assert_true(listener.ok());
  assert_true(tandem::pathExists(path));
  auto client = tandem::connectUnixSocket(path);
  assert_true(client.ok());
  tandem::UniqueFd accepted(::accept(listener->get(), nullptr, nullptr));
  assert_true(accepted.valid());
  assert_int_equal(::write(client->get(), "x", 1), 1);
  char byte = 0;
  assert_int_equal(::read(accepted.get(), &byte, 1), 1);
  assert_int_equal(byte, 'x');
}

// A socket made after the folder was opened, reached by name, for short and long folders alike;
// a missing one is an error that names its full path.
void a_held_folder_reaches_sockets_made_later(void** state) {
  for (std::string folder : {tempDir(state), tempDir(state) + "/" + std::string(100, 'c')}) {
    assert_true(tandem::makeDirectories(folder).ok());
    auto held = tandem::UnixSocketFolder::open(folder);
    assert_true(held.ok());
    auto listener = tandem::listenUnixSocket(folder + "/vsock.sock_1024");
    assert_true(listener.ok());
    auto client = held->connect("vsock.sock_1024");
    assert_true(client.ok());
    tandem::UniqueFd accepted(::accept(listener->get(), nullptr, nullptr));
    assert_true(accepted.valid());
    auto missing = held->connect("vsock.sock_9");
    assert_false(missing.ok());
    std::string missingPath = folder + "/vsock.sock_9";
    assert_non_null(std::strstr(missing.error().describe().c_str(), missingPath.c_str()));
  }
}

void errors_name_the_path(void** state) {
  std::string path = tempDir(state) + "/nobody-listens";
  auto client = tandem::connectUnixSocket(path);
  assert_false(client.ok());
  assert_non_null(std::strstr(client.error().describe().c_str(), path.c_str()));
  assert_true(tandem::writeFile(path, "").ok());
  auto listener = tandem::listenUnixSocket(path);
  assert_false(listener.ok());
  assert_non_null(std::strstr(listener.error().describe().c_str(), "in the way"));
}

}  // namespace

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(paths_longer_than_sun_path_still_work, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(a_held_folder_reaches_sockets_made_later, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(errors_name_the_path, makeTempDir, removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
