#include "container/seccomp_cache.h"

#include <seccomp.h>
#include <stdio.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "common/file.h"
#include "common/log.h"
#include "container/seccomp.h"

namespace tandem::container {

namespace {

// BPF_MAXINSNS: the kernel refuses longer classic programs.
constexpr std::size_t kMaxInstructions = 4096;

class Fnv1a {
 public:
  void add(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) {
      hash_ = (hash_ ^ bytes[i]) * 0x100000001b3ULL;
    }
  }
  void add(const std::string& text) { add(text.c_str(), text.size() + 1); }
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

std::string hex(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// The file is the program followed by a hash of the key and the program: a truncated, torn or
// foreign file is recompiled, never installed.
std::uint64_t programDigest(const char* bytes, std::size_t size, std::uint64_t key) {
  Fnv1a hash;
  hash.add(&key, sizeof key);
  hash.add(bytes, size);
  return hash.value();
}

std::string encodeCachedProgram(const std::vector<sock_filter>& program, std::uint64_t key) {
  std::string content(reinterpret_cast<const char*>(program.data()),
                      program.size() * sizeof(sock_filter));
  std::uint64_t digest = programDigest(content.data(), content.size(), key);
  content.append(reinterpret_cast<const char*>(&digest), sizeof digest);
  return content;
}

std::optional<std::vector<sock_filter>> decodeCachedProgram(const std::string& content,
                                                            std::uint64_t key) {
  if (content.size() < sizeof(std::uint64_t)) {
    return std::nullopt;
  }
  std::size_t size = content.size() - sizeof(std::uint64_t);
  std::size_t count = size / sizeof(sock_filter);
  std::uint64_t digest = 0;
  std::memcpy(&digest, content.data() + size, sizeof digest);
  if (count == 0 || count > kMaxInstructions || size % sizeof(sock_filter) != 0 ||
      digest != programDigest(content.data(), size, key)) {
    return std::nullopt;
  }
  std::vector<sock_filter> program(count);
  std::memcpy(program.data(), content.data(), size);
  return program;
}

}  // namespace

std::uint64_t seccompCacheKey(const std::vector<cap_value_t>& caps) {
  Fnv1a hash;
  for (const auto& name : defaultAllowedSyscalls()) hash.add(name);
  hash.add("--tracing--");
  for (const auto& name : tracingSyscalls()) hash.add(name);
  for (const auto& gated : capabilityGatedSyscalls()) {
    hash.add(&gated.capability, sizeof gated.capability);
    for (const auto& name : gated.names) hash.add(name);
  }
  hash.add("--caps--");
  for (cap_value_t cap : caps) hash.add(&cap, sizeof cap);
  const scmp_version* version = seccomp_version();
  hash.add(version, sizeof *version);
  // Which ABIs the kernel runs can only change across a reboot, so the boot's id keys them
  // without probing on every start.
  auto bootId = readFile("/proc/sys/kernel/random/boot_id");
  hash.add(bootId ? *bootId : std::string("unknown boot"));
  return hash.value();
}

Result<std::vector<sock_filter>> cachedSeccompProgram(const std::string& cacheDir,
                                                      const std::vector<cap_value_t>& caps) {
  std::uint64_t key = seccompCacheKey(caps);
  std::string path = cacheDir + "/seccomp-" + hex(key) + ".bpf";
  if (auto content = readFile(path); content) {
    if (auto program = decodeCachedProgram(*content, key)) {
      return std::move(*program);
    }
    spdlog::warn("ignoring the damaged seccomp cache file {}", path);
  }
  TANDEM_ASSIGN_OR_RETURN(auto program, compileDefaultSeccompProgram(caps));
  // Written beside and renamed, so a concurrent reader sees the old file or the whole new one.
  std::string temporary = path + "." + std::to_string(::getpid()) + ".tmp";
  auto stored = makeDirectories(cacheDir, 0700);
  if (stored) {
    stored = writeFile(temporary, encodeCachedProgram(program, key), 0600);
  }
  if (stored && ::rename(temporary.c_str(), path.c_str()) != 0) {
    stored = Error::fromErrno("cannot store " + path);
  }
  if (!stored) {
    ::unlink(temporary.c_str());
    spdlog::debug("seccomp program not cached: {}", stored.error().describe());
  }
  return program;
}

}  // namespace tandem::container
