// The container process's configuration as it crosses the re-exec into the sealed copy.
#include <sys/socket.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "container/container_process.h"

namespace tandem::container {

nlohmann::json seccompProgramToJson(const std::vector<sock_filter>& program) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& insn : program) {
    out.push_back({insn.code, insn.jt, insn.jf, insn.k});
  }
  return out;
}

std::string serializeConfig(const ContainerProcessConfig& config) {
  nlohmann::json program = seccompProgramToJson(config.seccompProgram);
  nlohmann::json mask = nlohmann::json::array();
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&config.workloadSignalMask, sig) == 1) {
      mask.push_back(sig);
    }
  }
  const RootfsLayout& rootfs = config.rootfs;
  return nlohmann::json{
      {"workload", toJson(config.workload)},
      {"rootfs",
       {{"image", rootfs.image},
        {"skeleton", rootfs.skeleton},
        {"upper", rootfs.upper},
        {"work", rootfs.work},
        {"merged", rootfs.merged},
        {"layerDisk", rootfs.layerDisk},
        {"readOnly", rootfs.readOnly},
        {"userNamespace", rootfs.userNamespace},
        {"ownNetworkNamespace", rootfs.plan.ownNetworkNamespace},
        {"ownIpcNamespace", rootfs.plan.ownIpcNamespace}}},
      {"capabilities", config.capabilities},
      {"seccompProgram", program},
      {"ownNetwork", config.ownNetwork},
      {"userNamespace", config.userNamespace},
      {"syncSocket", config.syncSocket},
      {"errorPipe", config.errorPipe},
      {"signalMask", mask},
      {"logLevel", spdlog::level::to_string_view(spdlog::get_level()).data()},
  }
      .dump();
}

namespace {

// nlohmann's get<> narrows silently; a field that does not fit is an error here.
template <class T>
T narrow(const nlohmann::json& value) {
  auto wide = value.get<std::uint64_t>();
  if (wide > std::numeric_limits<T>::max()) {
    throw nlohmann::json::out_of_range::create(406, "value out of range", &value);
  }
  return static_cast<T>(wide);
}

}  // namespace

std::vector<sock_filter> seccompProgramFromJson(const nlohmann::json& json) {
  std::vector<sock_filter> program;
  for (const auto& insn : json) {
    program.push_back({narrow<__u16>(insn.at(0)), narrow<__u8>(insn.at(1)),
                       narrow<__u8>(insn.at(2)), narrow<__u32>(insn.at(3))});
  }
  return program;
}

Result<ContainerProcessConfig> parseConfig(const std::string& text) {
  try {
    auto json = nlohmann::json::parse(text);
    ContainerProcessConfig config;
    TANDEM_ASSIGN_OR_RETURN(config.workload, workloadFromJson(json.at("workload")));
    const auto& rootfs = json.at("rootfs");
    config.rootfs.image = rootfs.at("image").get<std::vector<std::string>>();
    config.rootfs.skeleton = rootfs.at("skeleton").get<std::string>();
    config.rootfs.upper = rootfs.at("upper").get<std::string>();
    config.rootfs.work = rootfs.at("work").get<std::string>();
    config.rootfs.merged = rootfs.at("merged").get<std::string>();
    config.rootfs.layerDisk = rootfs.at("layerDisk").get<std::string>();
    config.rootfs.readOnly = rootfs.at("readOnly").get<bool>();
    config.rootfs.userNamespace = rootfs.at("userNamespace").get<bool>();
    config.rootfs.plan.ownNetworkNamespace = rootfs.at("ownNetworkNamespace").get<bool>();
    config.rootfs.plan.ownIpcNamespace = rootfs.at("ownIpcNamespace").get<bool>();
    config.capabilities = json.at("capabilities").get<std::vector<cap_value_t>>();
    config.seccompProgram = seccompProgramFromJson(json.at("seccompProgram"));
    config.ownNetwork = json.at("ownNetwork").get<bool>();
    config.userNamespace = json.at("userNamespace").get<bool>();
    config.syncSocket = json.at("syncSocket").get<int>();
    config.errorPipe = json.at("errorPipe").get<int>();
    sigemptyset(&config.workloadSignalMask);
    for (int sig : json.at("signalMask").get<std::vector<int>>()) {
      sigaddset(&config.workloadSignalMask, sig);
    }
    // The runtime's --log-level reaches the container's setup too.
    if (json.contains("logLevel")) {
      (void)setLogLevel(json.at("logLevel").get<std::string>());
    }
    return config;
  } catch (const nlohmann::json::exception& e) {
    return Error(std::string("invalid container process configuration: ") + e.what());
  }
}

namespace {

// The runtime's hard cap on a configuration, so a confused peer cannot make it allocate wildly.
constexpr std::uint32_t kMaxConfigBytes = 16u << 20;

Status transfer(int socket, char* data, std::size_t size, bool sending) {
  while (size > 0) {
    ssize_t n = sending ? ::send(socket, data, size, MSG_NOSIGNAL) : ::recv(socket, data, size, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return Error::fromErrno(sending ? "cannot send the container's configuration"
                                      : "cannot receive the container's configuration",
                              n < 0 ? errno : EPIPE);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return okStatus();
}

}  // namespace

Status sendFramedText(int socket, const std::string& text) {
  auto length = static_cast<std::uint32_t>(text.size());
  TANDEM_TRY(transfer(socket, reinterpret_cast<char*>(&length), sizeof length, true));
  std::string copy = text;
  return transfer(socket, copy.data(), copy.size(), true);
}

Result<std::string> receiveFramedText(int socket) {
  std::uint32_t length = 0;
  TANDEM_TRY(transfer(socket, reinterpret_cast<char*>(&length), sizeof length, false));
  if (length == 0 || length > kMaxConfigBytes) {
    return Error("the container's configuration claims " + std::to_string(length) +
                 " bytes, outside 1 to " + std::to_string(kMaxConfigBytes));
  }
  std::string text(length, '\0');
  TANDEM_TRY(transfer(socket, text.data(), text.size(), false));
  return text;
}

Status sendConfig(int socket, const ContainerProcessConfig& config) {
  return sendFramedText(socket, serializeConfig(config));
}

Result<ContainerProcessConfig> receiveConfig(int socket) {
  TANDEM_ASSIGN_OR_RETURN(std::string text, receiveFramedText(socket));
  return parseConfig(text);
}

}  // namespace tandem::container
