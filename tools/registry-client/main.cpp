// tandem-registry: pulls an image from an OCI registry into tandem's blob store and prints what
// the caller needs to register it, or pushes a stored image to a registry. A separate, dynamically
// linked program: tandem itself is static and cannot link libcurl, and this keeps TLS and HTTP out
// of the runtime's process.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/image/blob_store.h"
#include "common/image/image_index.h"
#include "common/image/oci.h"
#include "common/image/reference.h"
#include "common/registry/credentials.h"
#include "common/registry/curl_handles.h"
#include "common/registry/image_pull.h"
#include "common/registry/image_push.h"
#include "common/registry/progress_display.h"
#include "common/result.h"

namespace {

using namespace tandem;
using namespace tandem::registry;

constexpr const char* kUsage =
    "usage: tandem-registry pull [--store DIR] [--platform OS/ARCH[/VARIANT]] [--insecure]\n"
    "                            [--ca-cert FILE] [--creds USER:PASS] [--jobs N] [--register]\n"
    "                            REFERENCE\n"
    "\n"
    "Pulls REFERENCE (busybox, localhost:5000/app:1.0, ghcr.io/org/tool@sha256:...) into the\n"
    "blob store under DIR (default /var/lib/tandem): its manifest, config and layers, each\n"
    "checked against its digest and size. Prints one JSON object on stdout: reference,\n"
    "manifestDigest, indexDigest, configDigest, platform, layers, bytesTransferred and\n"
    "blobsReused. Progress goes to stderr. An interrupted pull resumes where it stopped.\n"
    "\n"
    "  --platform    the platform to choose from a multi-platform image (default: this host's)\n"
    "  --insecure    plain HTTP (localhost and 127.0.0.0/8 registries always use it)\n"
    "  --ca-cert     a CA bundle that signed the registry's certificate\n"
    "  --creds       credentials; default: those in $DOCKER_CONFIG or ~/.docker/config.json\n"
    "  --jobs        how many blobs to download at once (default 3)\n"
    "  --register    also register the image and its tag in DIR/index.db\n"
    "\n"
    "usage: tandem-registry push [--store DIR] [--insecure] [--ca-cert FILE] [--creds USER:PASS]\n"
    "                            [--jobs N] IMAGE DESTINATION\n"
    "\n"
    "Pushes IMAGE (an id or a reference the store under DIR knows) to DESTINATION: the blobs\n"
    "the repository lacks, linked from another repository of the same registry when the image\n"
    "came from one, then the manifest exactly as stored, so the image keeps its digest. Prints\n"
    "one JSON object on stdout: reference, manifestDigest, blobsPushed, blobsSkipped and\n"
    "bytesTransferred.\n"
    "\n"
    "Both take --parent PID: stop (SIGTERM) when process PID, the caller, exits, so that a\n"
    "transfer no one waits for does not go on; a pull stopped so resumes at the next.\n";

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct Arguments {
  std::string command;  // pull or push
  std::string store = std::string(image::kDefaultStoreRoot);
  std::optional<std::string> platform;
  bool insecure = false;
  std::string caCert;
  std::optional<std::string> creds;
  std::size_t jobs = kDefaultTransferJobs;
  bool registerImage = false;
  std::optional<pid_t> parent;
  std::string reference;    // what to pull, or the image to push
  std::string destination;  // push only
};

Result<Arguments> parseArguments(int argc, char** argv) {
  Arguments args;
  if (argc < 2 || (std::string_view(argv[1]) != "pull" && std::string_view(argv[1]) != "push")) {
    return Error("the commands are pull and push");
  }
  args.command = argv[1];
  std::vector<std::string> operands;
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= argc) {
        return Error(std::string(arg) + " needs a value");
      }
      return std::string(argv[++i]);
    };
    if (arg == "--store") {
      TANDEM_ASSIGN_OR_RETURN(args.store, value());
    } else if (arg == "--platform" && args.command == "pull") {
      TANDEM_ASSIGN_OR_RETURN(args.platform, value());
    } else if (arg == "--insecure") {
      args.insecure = true;
    } else if (arg == "--ca-cert") {
      TANDEM_ASSIGN_OR_RETURN(args.caCert, value());
    } else if (arg == "--creds") {
      TANDEM_ASSIGN_OR_RETURN(args.creds, value());
    } else if (arg == "--register" && args.command == "pull") {
      args.registerImage = true;
    } else if (arg == "--jobs") {
      TANDEM_ASSIGN_OR_RETURN(std::string text, value());
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), args.jobs);
      if (ec != std::errc() || end != text.data() + text.size() || args.jobs == 0 ||
          args.jobs > 64) {
        return Error("--jobs takes a number from 1 to 64, not " + text);
      }
    } else if (arg == "--parent") {
      TANDEM_ASSIGN_OR_RETURN(std::string text, value());
      pid_t pid = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
      if (ec != std::errc() || end != text.data() + text.size() || pid <= 1) {
        return Error("--parent takes a process id, not " + text);
      }
      args.parent = pid;
    } else if (arg.starts_with("-")) {
      return Error("unknown option " + std::string(arg));
    } else {
      operands.emplace_back(arg);
    }
  }
  if (args.command == "push") {
    if (operands.size() != 2) {
      return Error("push takes IMAGE and DESTINATION");
    }
    args.reference = operands[0];
    args.destination = operands[1];
    return args;
  }
  if (operands.size() != 1) {
    return Error("pull takes one REFERENCE");
  }
  args.reference = operands[0];
  return args;
}

Status registerPulled(const PullResult& pulled, const image::BlobStore& store) {
  image::ImageRegistration registration;
  registration.config = pulled.manifest.config.digest;
  registration.manifest = pulled.manifestDigest;
  registration.index = pulled.indexDigest;
  for (const image::Descriptor& layer : pulled.manifest.layers) {
    registration.layers.push_back(layer.digest);
  }
  registration.diffIds = pulled.config.diffIds;
  registration.platform = pulled.platform;
  if (!pulled.reference.tag.empty()) {
    registration.tags.push_back(pulled.reference);
  }
  TANDEM_ASSIGN_OR_RETURN(image::ImageIndex index, image::ImageIndex::open(store.root()));
  TANDEM_TRY(index.registerImage(registration, store));
  return okStatus();
}

// What the command line says about reaching `registry`; credentials from --creds, else docker's
// config.json.
Result<RegistryAccess> accessFor(const Arguments& args, const std::string& registry) {
  RegistryAccess access;
  access.insecure = args.insecure;
  access.tls.caCert = args.caCert;
  access.jobs = args.jobs;
  if (args.creds) {
    TANDEM_ASSIGN_OR_RETURN(access.credentials, parseCredentials(*args.creds));
  } else {
    TANDEM_ASSIGN_OR_RETURN(access.credentials, lookupCredentials(registry));
  }
  return access;
}

Status pull(const Arguments& args) {
  TANDEM_ASSIGN_OR_RETURN(image::Reference reference, image::parseReference(args.reference));
  TANDEM_ASSIGN_OR_RETURN(RegistryAccess access, accessFor(args, reference.registry));
  PullOptions options{access};
  if (args.platform) {
    TANDEM_ASSIGN_OR_RETURN(options.platform, image::parsePlatform(*args.platform));
  }
  TANDEM_ASSIGN_OR_RETURN(image::BlobStore store, image::BlobStore::create(args.store));
  TANDEM_TRY(initCurl());
  ProgressDisplay display(STDERR_FILENO, ::isatty(STDERR_FILENO) == 1);
  TANDEM_ASSIGN_OR_RETURN(PullResult pulled, pullImage(reference, options, store, display));
  if (args.registerImage) {
    TANDEM_TRY(
        registerPulled(pulled, store)
            .context("cannot register " + reference.text() + " in " + store.root() + "/index.db"));
  }
  std::printf("%s\n", pullResultJson(pulled).c_str());
  return okStatus();
}

Status push(const Arguments& args) {
  TANDEM_ASSIGN_OR_RETURN(image::Reference destination, image::parseReference(args.destination));
  TANDEM_ASSIGN_OR_RETURN(PushOptions options, accessFor(args, destination.registry));
  TANDEM_ASSIGN_OR_RETURN(image::BlobStore store, image::BlobStore::create(args.store));
  TANDEM_ASSIGN_OR_RETURN(image::ImageIndex index, image::ImageIndex::open(store.root()));
  TANDEM_ASSIGN_OR_RETURN(auto found, index.find(args.reference));
  if (!found) {
    return Error("no image \"" + args.reference + "\" in " + store.root() +
                     " (tandem images lists them; tandem pull or tandem load adds one)",
                 ENOENT);
  }
  TANDEM_TRY(initCurl());
  ProgressDisplay display(STDERR_FILENO, ::isatty(STDERR_FILENO) == 1, TransferDirection::kPush);
  TANDEM_ASSIGN_OR_RETURN(PushResult pushed,
                          pushImage(*found, destination, options, store, display));
  std::printf("%s\n", pushResultJson(pushed).c_str());
  return okStatus();
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  auto args = parseArguments(argc, argv);
  if (!args) {
    std::fprintf(stderr, "tandem-registry: %s\n%s", args.error().message().c_str(), kUsage);
    return kExitUsage;
  }
  if (args->parent) {
    // The kernel sends SIGTERM when the parent exits; a parent already gone is checked after.
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != *args->parent) {
      std::fprintf(stderr, "tandem-registry: process %d, which started this transfer, is gone\n",
                   static_cast<int>(*args->parent));
      return kExitFailure;
    }
  }
  if (auto status = args->command == "push" ? push(*args) : pull(*args); !status) {
    std::fprintf(stderr, "tandem-registry: %s\n", status.error().describe().c_str());
    return kExitFailure;
  }
  return 0;
}
