#include "common/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "common/file.h"

namespace tandem {
namespace {

// The address of `path`, with `folder` holding the folder open while a long path is used.
Result<sockaddr_un> addressOf(const std::string& path, UniqueFd& folder) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string reachable = path;
  if (path.size() >= sizeof(address.sun_path)) {
    auto slash = path.rfind('/');
    std::string directory = slash == std::string::npos ? "." : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    TANDEM_ASSIGN_OR_RETURN(
        folder, openPath(directory.empty() ? "/" : directory, O_PATH | O_DIRECTORY | O_CLOEXEC));
    reachable = "/proc/self/fd/" + std::to_string(folder.get()) + "/" + name;
    if (reachable.size() >= sizeof(address.sun_path)) {
      return Error("the socket name in " + path + " is too long for a Unix socket (at most " +
                       std::to_string(sizeof(address.sun_path) - 20) + " bytes)",
                   ENAMETOOLONG);
    }
  }
  std::memcpy(address.sun_path, reachable.c_str(), reachable.size() + 1);
  return address;
}

Result<UniqueFd> streamSocket(bool nonBlocking) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonBlocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) {
    return Error::fromErrno("cannot create a Unix socket");
  }
  return UniqueFd(fd);
}

}  // namespace

Result<UniqueFd> listenUnixSocket(const std::string& path, int backlog) {
  UniqueFd folder;
  TANDEM_ASSIGN_OR_RETURN(sockaddr_un address, addressOf(path, folder));
  TANDEM_ASSIGN_OR_RETURN(UniqueFd socket, streamSocket(true));
  if (::bind(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return Error::fromErrno("cannot create the socket " + path +
                            (errno == EADDRINUSE ? " (a file is in the way; remove it)" : ""));
  }
  if (::listen(socket.get(), backlog) != 0) {
    return Error::fromErrno("cannot listen on " + path);
  }
  return socket;
}

Result<UniqueFd> connectUnixSocket(const std::string& path, bool nonBlocking) {
  UniqueFd folder;
  TANDEM_ASSIGN_OR_RETURN(sockaddr_un address, addressOf(path, folder));
  TANDEM_ASSIGN_OR_RETURN(UniqueFd socket, streamSocket(nonBlocking));
  while (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) !=
         0) {
    if (errno != EINTR) {
      return Error::fromErrno("cannot connect to " + path);
    }
  }
  return socket;
}

}  // namespace tandem
