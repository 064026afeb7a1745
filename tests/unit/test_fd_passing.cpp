// SCM_RIGHTS passing over a socketpair, with a peer that closes early, sends no descriptor, or
// sends more than one.
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd_passing.h"
#include "tests/unit/unit_test.h"

using tandem::receiveFd;
using tandem::sendFd;
using tandem::UniqueFd;

namespace {

struct SocketPair {
  UniqueFd a;
  UniqueFd b;
};

SocketPair socketPair(int type = SOCK_STREAM) {
  int fds[2];
  assert_int_equal(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Pipe makePipe() {
  int fds[2];
  assert_int_equal(::pipe2(fds, O_CLOEXEC), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

int openFdCount() {
  int count = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  assert_non_null(dir);
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') {
      ++count;
    }
  }
  ::closedir(dir);
  return count - 1;  // the directory's own descriptor
}

bool sameFile(int a, int b) {
  struct stat sa {};
  struct stat sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

// Sends `count` descriptors in one SCM_RIGHTS message, as a hostile peer could.
void sendMany(int socket, const int* fds, int count) {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = CMSG_SPACE(sizeof(int) * count);
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int) * count);
  std::memcpy(CMSG_DATA(header), fds, sizeof(int) * count);
  assert_int_equal(::sendmsg(socket, &message, 0), 1);
}

}  // namespace

static void passes_a_descriptor(void**) {
  for (int type : {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET}) {
    SocketPair sockets = socketPair(type);
    Pipe pipe = makePipe();
    assert_true(sendFd(sockets.a.get(), pipe.write.get()).ok());
    auto received = receiveFd(sockets.b.get());
    if (!received.ok()) {
      fail_msg("receiveFd: %s", received.error().describe().c_str());
    }
    assert_true(received->valid());
    assert_int_not_equal(received->get(), pipe.write.get());
    assert_true(sameFile(received->get(), pipe.write.get()));
    // It is close-on-exec, so it cannot leak into a workload.
    assert_true(::fcntl(received->get(), F_GETFD) & FD_CLOEXEC);

    // It works: what goes into the received end comes out of the pipe.
    assert_int_equal(::write(received->get(), "ok", 2), 2);
    char buffer[2];
    assert_int_equal(::read(pipe.read.get(), buffer, 2), 2);
    assert_memory_equal(buffer, "ok", 2);
  }
}

static void passes_several_in_order(void**) {
  SocketPair sockets = socketPair();
  Pipe first = makePipe();
  Pipe second = makePipe();
  assert_true(sendFd(sockets.a.get(), first.read.get()).ok());
  assert_true(sendFd(sockets.a.get(), second.read.get()).ok());
  auto one = receiveFd(sockets.b.get());
  auto two = receiveFd(sockets.b.get());
  assert_true(one.ok());
  assert_true(two.ok());
  assert_true(sameFile(one->get(), first.read.get()));
  assert_true(sameFile(two->get(), second.read.get()));
}

static void closed_peer_is_an_error(void**) {
  SocketPair sockets = socketPair();
  sockets.a.reset();
  auto received = receiveFd(sockets.b.get());
  assert_false(received.ok());
  assert_false(received.error().message().empty());
}

static void data_without_a_descriptor_is_an_error(void**) {
  SocketPair sockets = socketPair();
  assert_int_equal(::write(sockets.a.get(), "x", 1), 1);
  auto received = receiveFd(sockets.b.get());
  assert_false(received.ok());
}

static void receive_on_a_bad_socket_is_an_error(void**) {
  auto received = receiveFd(-1);
  assert_false(received.ok());
  assert_int_equal(received.error().errnum(), EBADF);
  Pipe pipe = makePipe();
  received = receiveFd(pipe.read.get());
  assert_false(received.ok());
  assert_int_equal(received.error().errnum(), ENOTSOCK);
}

static void send_errors(void**) {
  SocketPair sockets = socketPair();
  // Not a descriptor.
  auto status = sendFd(sockets.a.get(), -1);
  assert_false(status.ok());
  assert_int_equal(status.error().errnum(), EBADF);
  status = sendFd(sockets.a.get(), 987654);
  assert_false(status.ok());
  // No peer: an error, not a SIGPIPE that would kill the runtime.
  Pipe pipe = makePipe();
  sockets.b.reset();
  status = sendFd(sockets.a.get(), pipe.read.get());
  assert_false(status.ok());
  assert_int_equal(status.error().errnum(), EPIPE);
  status = sendFd(-1, pipe.read.get());
  assert_false(status.ok());
}

static void extra_descriptors_do_not_leak(void**) {
  // A peer that sends two descriptors where one is expected must not leave the second open
  // in the runtime.
  SocketPair sockets = socketPair();
  Pipe first = makePipe();
  Pipe second = makePipe();
  int before = openFdCount();
  int fds[2] = {first.write.get(), second.write.get()};
  sendMany(sockets.a.get(), fds, 2);
  {
    auto received = receiveFd(sockets.b.get());
    if (received.ok()) {
      assert_true(sameFile(received->get(), first.write.get()));
    }
  }
  assert_int_equal(openFdCount(), before);
  // With our own write end closed, the pipe reads as ended only if no copy stayed open.
  second.write.reset();
  assert_int_equal(::fcntl(second.read.get(), F_SETFL, O_NONBLOCK), 0);
  char byte;
  assert_int_equal(::read(second.read.get(), &byte, 1), 0);
}

static void many_descriptors_do_not_leak(void**) {
  SocketPair sockets = socketPair();
  Pipe pipe = makePipe();
  int before = openFdCount();
  int fds[8];
  for (int& fd : fds) {
    fd = pipe.write.get();
  }
  sendMany(sockets.a.get(), fds, 8);
  { auto received = receiveFd(sockets.b.get()); }
  assert_int_equal(openFdCount(), before);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(passes_a_descriptor),
      cmocka_unit_test(passes_several_in_order),
      cmocka_unit_test(closed_peer_is_an_error),
      cmocka_unit_test(data_without_a_descriptor_is_an_error),
      cmocka_unit_test(receive_on_a_bad_socket_is_an_error),
      cmocka_unit_test(send_errors),
      cmocka_unit_test(extra_descriptors_do_not_leak),
      cmocka_unit_test(many_descriptors_do_not_leak),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
