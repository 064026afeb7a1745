// tandem-mkinitramfs: packs a rootfs folder into an initramfs ahead of time, so a microVM's
// start need not walk the folder (tandem run --isolation vm --initramfs FILE).
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/file.h"
#include "common/result.h"
#include "tools/mkinitramfs/atomic_file.h"
#include "vmm/cpio_writer.h"

namespace {

using namespace tandem;
using tandem::mkinitramfs::AtomicFile;

constexpr const char* kUsage =
    "usage: tandem-mkinitramfs ROOTFS_DIR OUTPUT\n"
    "\n"
    "Packs the folder ROOTFS_DIR into OUTPUT as an uncompressed newc cpio archive, the\n"
    "initramfs format the Linux kernel unpacks, for tandem run --isolation vm --initramfs OUTPUT.\n"
    "\n"
    "Modes, owners, mtimes, symlinks, device nodes and hard links are kept; symlinks are\n"
    "stored, never followed; folders mounted inside ROOTFS_DIR are stored empty. tandem's guest\n"
    "init and the workload are not packed: the VMM appends them at each boot.\n"
    "\n"
    "OUTPUT is replaced atomically and is readable by its owner only, since it holds every\n"
    "file of the rootfs, /etc/shadow included.\n";

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

Result<std::string> resolve(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    return Error::fromErrno("cannot resolve " + path);
  }
  return std::string(resolved);
}

// The walk would meet the half-written archive and pack it into itself.
Status checkOutsideRootfs(const std::string& rootfs, const std::string& output) {
  auto slash = output.rfind('/');
  std::string outputDir = slash == std::string::npos ? "." : output.substr(0, slash + 1);
  TANDEM_ASSIGN_OR_RETURN(std::string root, resolve(rootfs));
  TANDEM_ASSIGN_OR_RETURN(
      std::string dir, resolve(outputDir).context("the folder to hold " + output + " must exist"));
  if (root == "/" || dir == root || dir.starts_with(root + "/")) {
    return Error("the output " + output + " is inside the rootfs folder " + rootfs +
                 ", and the archive would contain itself; write it elsewhere");
  }
  return okStatus();
}

Status run(const std::string& rootfs, const std::string& output) {
  if (!isDirectory(rootfs)) {
    return Error(rootfs + " is not a directory; give the rootfs folder to pack");
  }
  if (isDirectory(output)) {
    return Error("the output " + output + " is a directory; give a file name");
  }
  TANDEM_TRY(checkOutsideRootfs(rootfs, output));
  TANDEM_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::create(output, 0600));
  vmm::FdSink sink(file.fd(), output);
  vmm::CpioWriter writer(sink);
  TANDEM_TRY(writer.appendTree(rootfs, ""));
  TANDEM_TRY(writer.finish());
  TANDEM_TRY(file.commit());
  std::printf("tandem-mkinitramfs: wrote %s: %llu entries, %llu bytes (%.1f MiB)\n", output.c_str(),
              static_cast<unsigned long long>(writer.entries()),
              static_cast<unsigned long long>(writer.size()),
              static_cast<double>(writer.size()) / (1 << 20));
  return okStatus();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> operands;
  bool optionsEnded = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!optionsEnded && (arg == "-h" || arg == "--help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (!optionsEnded && arg == "--") {
      optionsEnded = true;
    } else if (!optionsEnded && arg.starts_with("-")) {
      std::fprintf(stderr, "tandem-mkinitramfs: unknown option %s\n%s", argv[i], kUsage);
      return kExitUsage;
    } else {
      operands.emplace_back(arg);
    }
  }
  if (operands.size() != 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  if (auto status = run(operands[0], operands[1]); !status) {
    std::fprintf(stderr, "tandem-mkinitramfs: %s\n", status.error().describe().c_str());
    return kExitFailure;
  }
  return 0;
}
