#include "common/oci/container_directory.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/process_identity.h"

namespace tandem::oci {

namespace {

constexpr const char* kStateFile = "state.json";
constexpr const char* kConfigCopy = "config.json";

Result<std::string> absolutePath(const std::string& path, const std::string& what) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    return Error::fromErrno(what + " " + path + " is not usable");
  }
  return std::string(resolved);
}

}  // namespace

Status writeAtomically(const std::string& path, const std::string& content) {
  std::string temporary = path + ".tmp";
  TANDEM_TRY(writeFile(temporary, content, 0644));
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    return Error::fromErrno("cannot write " + path);
  }
  return okStatus();
}

Status ContainerDirectory::create() const {
  TANDEM_TRY(checkContainerId(id_));
  // Searchable by all, as runc's: a process in a user namespace, whose root is another host
  // uid, opens the exec FIFO (0622) by its path. Listing stays root's.
  TANDEM_TRY(makeDirectories(root_, 0711));
  if (::mkdir(path_.c_str(), 0711) != 0) {
    if (errno == EEXIST) return Error("container with id " + id_ + " already exists");
    return Error::fromErrno("cannot create the container's state folder " + path_);
  }
  return okStatus();
}

Status ContainerDirectory::save(const ContainerRecord& record) const {
  return writeAtomically(path_ + "/" + kStateFile, toJson(record).dump() + "\n");
}

Status ContainerDirectory::saveConfig(const std::string& specText) const {
  return writeFile(path_ + "/" + kConfigCopy, specText, 0600);
}

Status ContainerDirectory::makeExecFifo() const {
  // Writable by all, whatever the umask: the container's root may be another host uid.
  if (::mkfifo(fifoPath().c_str(), 0622) != 0 || ::chmod(fifoPath().c_str(), 0622) != 0) {
    return Error::fromErrno("cannot create the exec FIFO " + fifoPath());
  }
  return okStatus();
}

Result<UniqueFd> ContainerDirectory::lock() const {
  TANDEM_TRY(checkContainerId(id_));
  UniqueFd folder(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!folder) {
    if (errno == ENOENT) return Error("container does not exist", ENOENT);
    return Error::fromErrno("cannot open the container's state folder " + path_);
  }
  while (::flock(folder.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return Error::fromErrno("cannot lock " + path_);
  }
  return folder;
}

Result<LoadedContainer> ContainerDirectory::load() const {
  TANDEM_TRY(checkContainerId(id_));
  auto text = readFile(path_ + "/" + kStateFile);
  if (!text) {
    if (text.error().errnum() == ENOENT) return Error("container does not exist", ENOENT);
    return std::move(text).error();
  }
  auto json = nlohmann::json::parse(*text, nullptr, false);
  if (json.is_discarded()) return Error("the state record of container " + id_ + " is damaged");
  TANDEM_ASSIGN_OR_RETURN(ContainerRecord record, recordFromJson(json));
  bool running = record.pid > 0 && sameProcess(record.pid, record.pidStartTime);
  bool waiting = pathExists(fifoPath());
  return LoadedContainer{record, observedStatus(record, running, waiting)};
}

Result<std::string> ContainerDirectory::recordedConfig() const {
  return readFile(path_ + "/" + kConfigCopy);
}

Result<Bundle> openBundle(const std::string& path) {
  Bundle bundle;
  TANDEM_ASSIGN_OR_RETURN(bundle.path, absolutePath(path, "bundle"));
  TANDEM_ASSIGN_OR_RETURN(bundle.specText, readFile(bundle.path + "/config.json"));
  auto parsed = parseSpec(bundle.specText);
  if (!parsed) return std::move(parsed).error().context("bundle " + bundle.path);
  bundle.spec = std::move(parsed).value();
  if (!bundle.spec.process) return Error("config.json: process is required to create a container");
  const std::string& root = bundle.spec.rootPath;
  TANDEM_ASSIGN_OR_RETURN(
      bundle.rootfs,
      absolutePath(root.front() == '/' ? root : bundle.path + "/" + root, "root.path"));
  return bundle;
}

Status awaitStart(const std::string& fifo) {
  UniqueFd writer(::open(fifo.c_str(), O_WRONLY | O_CLOEXEC));
  if (!writer) return Error::fromErrno("cannot open the exec FIFO");
  char go = '0';
  if (::write(writer.get(), &go, 1) != 1) return Error::fromErrno("cannot write the exec FIFO");
  return okStatus();
}

}  // namespace tandem::oci
