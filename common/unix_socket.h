// Stream Unix sockets by path, for the VMM's vsock ports and the clients that reach them. A
// sockaddr_un holds at most 107 bytes of path, less than a state root in a deep folder needs, so
// a longer path is reached through its folder's descriptor (/proc/self/fd/N/NAME), which the
// kernel resolves like the path itself.
#pragma once

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem {

// A non-blocking listening socket at `path`, which must not exist yet.
Result<UniqueFd> listenUnixSocket(const std::string& path, int backlog = 16);

// A connected stream socket to `path`; non-blocking when asked (connect to a listening Unix
// socket completes at once or fails with EAGAIN when its backlog is full).
Result<UniqueFd> connectUnixSocket(const std::string& path, bool nonBlocking = false);

// A folder of Unix sockets, held open from the start, so that a socket made in it later is
// reached without opening any path: the VMM connects for its guest this way once its seccomp
// filter forbids open.
class UnixSocketFolder {
 public:
  static Result<UnixSocketFolder> open(const std::string& path);
  // As connectUnixSocket, to the socket NAME in this folder.
  Result<UniqueFd> connect(const std::string& name, bool nonBlocking = false) const;

 private:
  UnixSocketFolder(UniqueFd folder, std::string path)
      : folder_(std::move(folder)), path_(std::move(path)) {}

  UniqueFd folder_;
  std::string path_;
};

}  // namespace tandem
