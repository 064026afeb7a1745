#include "common/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "common/file.h"

namespace tandem {
namespace {

// `reachable` as a sockaddr_un, or an error naming `path` when it does not fit.
Result<sockaddr_un> addressFor(const std::string& reachable, const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (reachable.size() >= sizeof(address.sun_path)) {
    return Error("the socket name in " + path + " is too long for a Unix socket (at most " +
                     std::to_string(sizeof(address.sun_path) - 20) + " bytes)",
                 ENAMETOOLONG);
  }
  std::memcpy(address.sun_path, reachable.c_str(), reachable.size() + 1);
  return address;
}

bool fitsSunPath(const std::string& path) {
  return path.size() < sizeof(sockaddr_un::sun_path);
}

// `path`, when too long for sun_path, as NAME in the folder open on `folder`.
Result<sockaddr_un> addressThrough(int folder, const std::string& name, const std::string& path) {
  return addressFor("/proc/self/fd/" + std::to_string(folder) + "/" + name, path);
}

Result<UniqueFd> openFolder(const std::string& path) {
  return openPath(path.empty() ? "/" : path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

// The address of `path`, with `folder` holding the folder open while a long path is used.
Result<sockaddr_un> addressOf(const std::string& path, UniqueFd& folder) {
  if (fitsSunPath(path)) {
    return addressFor(path, path);
  }
  auto slash = path.rfind('/');
  std::string directory = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  TANDEM_ASSIGN_OR_RETURN(folder, openFolder(directory));
  return addressThrough(folder.get(), name, path);
}

Result<UniqueFd> streamSocket(bool nonBlocking) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonBlocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) {
    return Error::fromErrno("cannot create a Unix socket");
  }
  return UniqueFd(fd);
}

Result<UniqueFd> connectTo(const sockaddr_un& address, const std::string& path, bool nonBlocking) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd socket, streamSocket(nonBlocking));
  while (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) !=
         0) {
    if (errno != EINTR) {
      return Error::fromErrno("cannot connect to " + path);
    }
  }
  return socket;
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
  return connectTo(address, path, nonBlocking);
}

Result<UnixSocketFolder> UnixSocketFolder::open(const std::string& path) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd folder, openFolder(path));
  return UnixSocketFolder(std::move(folder), path);
}

Result<UniqueFd> UnixSocketFolder::connect(const std::string& name, bool nonBlocking) const {
  std::string path = path_ + "/" + name;
  TANDEM_ASSIGN_OR_RETURN(sockaddr_un address, fitsSunPath(path)
                                                   ? addressFor(path, path)
                                                   : addressThrough(folder_.get(), name, path));
  return connectTo(address, path, nonBlocking);
}

}  // namespace tandem
