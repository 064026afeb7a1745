#include "container/oci/seccomp_filter.h"

#include <seccomp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <memory>
#include <set>

#include "common/log.h"
#include "common/seccomp_context.h"
#include "container/seccomp.h"

namespace tandem::container {

namespace {

Result<std::uint32_t> action(const std::string& name, std::optional<std::uint32_t> errnoRet,
                             const std::string& where) {
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errnoRet.value_or(EPERM));
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errnoRet.value_or(EPERM));
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") {
    return Error(where +
                 ": SCMP_ACT_NOTIFY needs a listener (linux.seccomp.listenerPath), "
                 "which this runtime does not offer");
  }
  return Error(where + ": unknown action \"" + name + "\"");
}

Result<scmp_compare> comparison(const std::string& op, const std::string& where) {
  if (op == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (op == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (op == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (op == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (op == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (op == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (op == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  return Error(where + ": unknown comparison \"" + op + "\"");
}

Status check(int rc, const std::string& what) {
  if (rc < 0) return Error("libseccomp: " + what, -rc);
  return okStatus();
}

// "SCMP_ARCH_X86_64" as libseccomp's own name, "x86_64".
std::string architectureName(const std::string& name) {
  std::string stem = name.starts_with("SCMP_ARCH_") ? name.substr(10) : name;
  std::transform(stem.begin(), stem.end(), stem.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return stem;
}

}  // namespace

Result<std::vector<sock_filter>> compileSeccompProfile(const oci::Seccomp& profile) {
  TANDEM_ASSIGN_OR_RETURN(std::uint32_t defaultAction,
                          action(profile.defaultAction, profile.defaultErrnoRet, "defaultAction"));
  SeccompContext filter(seccomp_init(defaultAction));
  if (!filter) return Error("libseccomp cannot create a filter");
  for (const std::string& arch : profile.architectures) {
    std::uint32_t token = seccomp_arch_resolve_name(architectureName(arch).c_str());
    if (token == 0) {
      spdlog::debug("seccomp: architecture {} unknown to libseccomp; skipped", arch);
      continue;
    }
    int rc = seccomp_arch_add(filter.get(), token);
    if (rc != 0 && rc != -EEXIST) {
      TANDEM_TRY(check(rc, "cannot add architecture " + arch));
    }
  }
  for (const std::string& flag : profile.flags) {
    spdlog::debug("seccomp: flag {} does not change the program; ignored", flag);
  }
  for (std::size_t i = 0; i < profile.syscalls.size(); ++i) {
    const oci::SeccompRule& rule = profile.syscalls[i];
    std::string where = "syscalls[" + std::to_string(i) + "]";
    TANDEM_ASSIGN_OR_RETURN(std::uint32_t ruleAction, action(rule.action, rule.errnoRet, where));
    if (ruleAction == defaultAction) continue;
    std::vector<scmp_arg_cmp> conditions;
    std::set<unsigned> indexes;
    bool repeated = false;
    for (const oci::SeccompArg& arg : rule.args) {
      TANDEM_ASSIGN_OR_RETURN(scmp_compare op, comparison(arg.op, where));
      conditions.push_back(scmp_arg_cmp{arg.index, op, arg.value, arg.valueTwo});
      repeated = repeated || !indexes.insert(arg.index).second;
    }
    for (const std::string& name : rule.names) {
      int number = seccomp_syscall_resolve_name(name.c_str());
      if (number == __NR_SCMP_ERROR) {
        spdlog::debug("seccomp: syscall {} unknown to libseccomp; skipped", name);
        continue;
      }
      if (!repeated) {
        TANDEM_TRY(check(
            seccomp_rule_add_array(filter.get(), ruleAction, number,
                                   static_cast<unsigned>(conditions.size()), conditions.data()),
            "cannot add the rule for " + name + " (" + where + ")"));
        continue;
      }
      for (const scmp_arg_cmp& condition : conditions) {
        TANDEM_TRY(check(seccomp_rule_add_array(filter.get(), ruleAction, number, 1, &condition),
                         "cannot add the rule for " + name + " (" + where + ")"));
      }
    }
  }
  return exportSeccompProgram(filter.get());
}

Result<std::vector<sock_filter>> seccompProgramFor(const oci::Spec& spec) {
  if (!spec.linux.seccomp) return std::vector<sock_filter>();
  auto compiled = compileSeccompProfile(*spec.linux.seccomp);
  if (!compiled) return std::move(compiled).error().context("linux.seccomp");
  return compiled;
}

}  // namespace tandem::container
