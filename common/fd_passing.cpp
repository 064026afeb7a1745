#include "common/fd_passing.h"

#include <sys/socket.h>

#include <cstring>
#include <utility>

namespace tandem {

namespace {

// One data byte (SCM_RIGHTS needs some data to ride on) and room for one descriptor. It points
// into itself, so it stays where it was made.
struct FdMessage {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};

  FdMessage() {
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;
};

}  // namespace

Status sendFd(int socket, int fd) {
  FdMessage fdMessage;
  msghdr& message = fdMessage.header;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  while (::sendmsg(socket, &message, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) {
      return Error::fromErrno("cannot pass a file descriptor over the runtime's socket");
    }
  }
  return okStatus();
}

Result<UniqueFd> receiveFd(int socket) {
  FdMessage fdMessage;
  msghdr& message = fdMessage.header;
  ssize_t n;
  while ((n = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno != EINTR) {
      return Error::fromErrno("cannot receive a file descriptor over the runtime's socket");
    }
  }
  // The peer may pass more descriptors than the one wanted; none may stay open in the runtime.
  UniqueFd fd;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) {
      continue;
    }
    std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int received = -1;
      std::memcpy(&received, CMSG_DATA(header) + i * sizeof(int), sizeof received);
      UniqueFd owned(received);
      if (!fd) {
        fd = std::move(owned);
      }
    }
  }
  if (n == 0 || !fd) {
    return Error("the container's process closed its socket without passing a file descriptor");
  }
  return fd;
}

}  // namespace tandem
