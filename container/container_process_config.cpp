// The container process's configuration as it crosses the re-exec into the sealed copy.
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "container/container_process.h"

namespace tandem::container {

std::string serializeConfig(const ContainerProcessConfig& config) {
  nlohmann::json program = nlohmann::json::array();
  for (const auto& insn : config.seccompProgram) {
    program.push_back({insn.code, insn.jt, insn.jf, insn.k});
  }
  nlohmann::json mask = nlohmann::json::array();
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&config.originalSignalMask, sig) == 1) {
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

Result<ContainerProcessConfig> parseConfig(const std::string& text) {
  try {
    auto json = nlohmann::json::parse(text);
    ContainerProcessConfig config;
    TANDEM_ASSIGN_OR_RETURN(config.workload, workloadFromJson(json.at("workload")));
    const auto& rootfs = json.at("rootfs");
    config.rootfs.image = rootfs.at("image").get<std::string>();
    config.rootfs.skeleton = rootfs.at("skeleton").get<std::string>();
    config.rootfs.upper = rootfs.at("upper").get<std::string>();
    config.rootfs.work = rootfs.at("work").get<std::string>();
    config.rootfs.merged = rootfs.at("merged").get<std::string>();
    config.rootfs.readOnly = rootfs.at("readOnly").get<bool>();
    config.rootfs.userNamespace = rootfs.at("userNamespace").get<bool>();
    config.rootfs.plan.ownNetworkNamespace = rootfs.at("ownNetworkNamespace").get<bool>();
    config.rootfs.plan.ownIpcNamespace = rootfs.at("ownIpcNamespace").get<bool>();
    config.capabilities = json.at("capabilities").get<std::vector<cap_value_t>>();
    for (const auto& insn : json.at("seccompProgram")) {
      config.seccompProgram.push_back({narrow<__u16>(insn.at(0)), narrow<__u8>(insn.at(1)),
                                       narrow<__u8>(insn.at(2)), narrow<__u32>(insn.at(3))});
    }
    config.ownNetwork = json.at("ownNetwork").get<bool>();
    config.userNamespace = json.at("userNamespace").get<bool>();
    config.syncSocket = json.at("syncSocket").get<int>();
    config.errorPipe = json.at("errorPipe").get<int>();
    sigemptyset(&config.originalSignalMask);
    for (int sig : json.at("signalMask").get<std::vector<int>>()) {
      sigaddset(&config.originalSignalMask, sig);
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

}  // namespace tandem::container
