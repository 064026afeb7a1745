#include "vmm/vmm_jail.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <charconv>

#include "common/file.h"
#include "common/mount_calls.h"
#include "common/unique_fd.h"

namespace tandem::vmm {
namespace {

// Where the jail's tmpfs is built before it becomes the root. Mounted over in the monitor's
// own mount namespace only; the host's /tmp is untouched.
constexpr const char* kJailScratch = "/tmp";

std::uint32_t fnv1a(std::string_view text) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : text) {
    hash = (hash ^ c) * 16777619u;
  }
  return hash;
}

Result<std::uint32_t> parseId(std::string_view text, std::string_view whole) {
  std::uint32_t id = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc() || end != text.data() + text.size() || id == 0 || id == 65535 ||
      id == 4294967295u) {
    return Error("--jail takes UID:GID, two ids other than 0 (root), 65535 and 4294967295, not '" +
                     std::string(whole) + "'",
                 EINVAL);
  }
  return id;
}

}  // namespace

JailUser jailUserFor(std::string_view workloadId) {
  std::uint32_t id = kJailIdFirst + fnv1a(workloadId) % kJailIdCount;
  return {id, id};
}

Result<JailUser> parseJailUser(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return Error("--jail takes UID:GID, not '" + std::string(text) + "'", EINVAL);
  }
  TANDEM_ASSIGN_OR_RETURN(std::uint32_t uid, parseId(text.substr(0, colon), text));
  TANDEM_ASSIGN_OR_RETURN(std::uint32_t gid, parseId(text.substr(colon + 1), text));
  return JailUser{uid, gid};
}

std::string jailUserText(const JailUser& user) {
  return std::to_string(user.uid) + ":" + std::to_string(user.gid);
}

Status enterJail(const JailPlan& plan) {
  UniqueFd folder;
  if (!plan.socketFolder.empty()) {
    if (!plan.socketFolder.starts_with('/')) {
      return Error("the jail's socket folder must be an absolute path, not " + plan.socketFolder,
                   EINVAL);
    }
    TANDEM_ASSIGN_OR_RETURN(folder, openPath(plan.socketFolder, O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  for (const std::string& socket : plan.ownSockets) {
    if (::fchownat(AT_FDCWD, socket.c_str(), plan.user.uid, plan.user.gid, AT_SYMLINK_NOFOLLOW) !=
        0) {
      return Error::fromErrno("cannot hand the socket " + socket + " to tandem-vmm's jail user " +
                              jailUserText(plan.user));
    }
  }
  // The working folder moves with the process into its new mount namespace, where a descriptor
  // from the old one cannot be the source of a bind mount: the folder is bound as ".".
  if (folder && ::fchdir(folder.get()) != 0) {
    return Error::fromErrno("cannot enter " + plan.socketFolder);
  }
  if (::unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP) != 0) {
    return Error::fromErrno(
        "cannot give tandem-vmm namespaces of its own for its jail (unshare); a jailed monitor "
        "needs root");
  }
  // Nothing mounted from here on reaches the host's mount table.
  TANDEM_TRY(mountOrError("none", "/", "", MS_REC | MS_PRIVATE, ""));
  TANDEM_TRY(mountOrError("tandem-vmm-jail", kJailScratch, "tmpfs",
                          MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,nr_inodes=64,mode=0755"));
  const std::string scratch = kJailScratch;
  if (folder) {
    std::string inside = scratch + plan.socketFolder;
    TANDEM_TRY(makeDirectories(inside, 0755));
    // Not by its path, which may lie under the scratch mount point.
    TANDEM_TRY(mountOrError(".", inside, "", MS_BIND, ""));
    TANDEM_TRY(mountOrError("none", inside, "",
                            MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC, ""));
    std::string alias = scratch + kJailSocketAlias;
    if (::symlink(plan.socketFolder.c_str(), alias.c_str()) != 0) {
      return Error::fromErrno("cannot link " + alias + " to " + plan.socketFolder +
                              " in tandem-vmm's jail");
    }
  }
  TANDEM_TRY(enterRoot(scratch).context("tandem-vmm's jail"));
  return remountReadOnly("/", MS_NOSUID | MS_NODEV | MS_NOEXEC).context("tandem-vmm's jail");
}

}  // namespace tandem::vmm
