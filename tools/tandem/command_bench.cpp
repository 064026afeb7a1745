// tandem bench: tandem's two isolation levels beside runc, crun, bwrap, QEMU and libvirt, measured
// in one run, with a report to read. The measuring is the benchmarks/ suite's (bench.sh and the
// scripts beside it drive the peers' own command lines); this verb finds the suite, checks the
// options and hands over, naming itself as the tandem under test.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "common/file.h"
#include "common/process.h"
#include "tools/tandem/commands.h"
#include "tools/tandem/verb_options.h"

namespace tandem::cli {

namespace po = boost::program_options;

namespace {

constexpr const char* kDriver = "bench.sh";

// The suite runs from a source tree: it builds rootfs folders, the guest kernel and the emulated
// KVM host from the scripts there. $TANDEM_BENCHMARKS names one; else the tree this tandem was
// built from.
std::vector<std::string> suiteCandidates() {
  std::vector<std::string> folders;
  if (const char* dir = std::getenv("TANDEM_BENCHMARKS"); dir != nullptr && *dir != '\0') {
    folders.emplace_back(dir);
  }
  folders.emplace_back(TANDEM_SOURCE_ROOT "/benchmarks");
  return folders;
}

Result<std::string> findDriver() {
  std::string tried;
  for (const auto& folder : suiteCandidates()) {
    std::string path = folder + "/" + kDriver;
    if (pathExists(path)) return path;
    tried += (tried.empty() ? "" : ", ") + path;
  }
  return Error("cannot find the benchmark suite: no " + std::string(kDriver) + " at " + tried +
               "; set TANDEM_BENCHMARKS to the benchmarks/ folder of a tandem source tree");
}

}  // namespace

int benchCommand(const GlobalOptions&, const std::vector<std::string>& args, char**) {
  po::options_description options(
      "usage: tandem bench [--quick | --full] [--output DIR]\n"
      "Runs the same workloads under tandem's container and microVM levels, runc, crun, bwrap, "
      "QEMU's microvm machine and a classic q35 VM through libvirt, side by side in one run, "
      "and writes a report: report.md with SVG plots, and samples.json with every sample. "
      "Startup (with phases), memory per workload, density, a compute loop and I/O. VMs run "
      "inside the emulated KVM host where /dev/kvm is missing, and the report says so. Needs "
      "root.\noptions");
  options.add_options()("help,h", "show this help")(
      "quick", po::bool_switch(), "few repeats; about 10 minutes on 2 cores (the default)")(
      "full", po::bool_switch(), "more repeats, and more workloads side by side")(
      "output,o", po::value<std::string>()->default_value("tandem-bench"),
      "the folder the report goes to");
  po::variables_map vm;
  if (auto done = parseVerbOptions(args, options, {}, vm)) return *done;
  if (vm["quick"].as<bool>() && vm["full"].as<bool>()) {
    return fail(Error("--quick and --full exclude each other"));
  }
  auto driver = findDriver();
  if (!driver) return fail(driver.error());
  auto self = ownExecutablePath();
  if (!self) return fail(self.error());
  std::vector<std::string> words = {"bash",
                                    *driver,
                                    vm["full"].as<bool>() ? "--full" : "--quick",
                                    "--output",
                                    vm["output"].as<std::string>(),
                                    "--tandem",
                                    *self};
  std::vector<char*> argv = execArgv(words);
  ::execvp("bash", argv.data());
  return fail(Error::fromErrno("cannot run " + *driver + " with bash"));
}

}  // namespace tandem::cli
