#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/capabilities.h"
#include "tests/unit/unit_test.h"

using tandem::applyCapabilities;
using tandem::capabilityMask;
using tandem::capabilityName;
using tandem::defaultCapabilityNames;
using tandem::dropBoundingSet;
using tandem::resolveCapabilities;

namespace {

constexpr std::uint64_t kDefaultMask = 0xa80425fb;

std::uint64_t maskOf(const std::vector<std::string>& add, const std::vector<std::string>& drop) {
  auto caps = resolveCapabilities(add, drop);
  if (!caps) {
    fail_msg("resolveCapabilities: %s", caps.error().describe().c_str());
  }
  return capabilityMask(*caps);
}

std::uint64_t allMask() {
  return cap_max_bits() >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << cap_max_bits()) - 1;
}

// Reads a hex capability line ("CapEff:\t00000000a80425fb") of /proc/self/status.
bool statusMask(const char* field, std::uint64_t& mask) {
  auto status = tandem::readFile("/proc/self/status");
  if (!status) {
    return false;
  }
  std::string key = std::string("\n") + field + ":\t";
  auto at = status->find(key);
  return at != std::string::npos &&
         std::sscanf(status->c_str() + at + key.size(), "%" SCNx64, &mask) == 1;
}

}  // namespace

static void default_set_has_the_oci_mask(void**) {
  assert_int_equal(defaultCapabilityNames().size(), 14);
  assert_string_equal(defaultCapabilityNames().front().c_str(), "CAP_CHOWN");
  assert_int_equal(maskOf({}, {}), kDefaultMask);
}

static void adds_and_drops_in_any_spelling(void**) {
  assert_int_equal(maskOf({"SYS_ADMIN"}, {}), kDefaultMask | (1u << CAP_SYS_ADMIN));
  assert_int_equal(maskOf({"cap_sys_admin", "Sys_Admin"}, {}),
                   kDefaultMask | (1u << CAP_SYS_ADMIN));
  assert_int_equal(maskOf({}, {"net_raw", "CAP_MKNOD"}),
                   kDefaultMask & ~((1u << CAP_NET_RAW) | (1u << CAP_MKNOD)));
  // An explicit add wins over an explicit drop, as in docker.
  assert_int_equal(maskOf({"kill"}, {"KILL"}), kDefaultMask);
}

static void all_follows_docker(void**) {
  assert_int_equal(maskOf({}, {"ALL"}), 0);
  assert_int_equal(maskOf({"chown", "kill"}, {"all"}), (1u << CAP_CHOWN) | (1u << CAP_KILL));
  assert_int_equal(maskOf({"ALL"}, {}), allMask());
  assert_int_equal(maskOf({"all"}, {"SYS_ADMIN"}),
                   allMask() & ~(std::uint64_t{1} << CAP_SYS_ADMIN));
}

static void result_is_sorted_and_unique(void**) {
  auto caps = resolveCapabilities({"SYS_ADMIN", "chown", "AUDIT_CONTROL"}, {});
  assert_true(caps.ok());
  assert_int_equal(caps->size(), 16);
  for (std::size_t i = 1; i < caps->size(); ++i) {
    assert_true((*caps)[i - 1] < (*caps)[i]);
  }
}

static void unknown_names_are_errors_naming_them(void**) {
  auto added = resolveCapabilities({"CAP_FOO"}, {});
  assert_false(added.ok());
  assert_string_equal(added.error().message().c_str(),
                      "unknown capability \"CAP_FOO\" in --cap-add");
  auto dropped = resolveCapabilities({}, {"chown2"});
  assert_false(dropped.ok());
  assert_string_equal(dropped.error().message().c_str(),
                      "unknown capability \"chown2\" in --cap-drop");
  assert_false(resolveCapabilities({"12"}, {}).ok());
  assert_false(resolveCapabilities({"CAP_CHOWN2"}, {}).ok());
  assert_false(resolveCapabilities({""}, {}).ok());
}

static void names_capabilities(void**) {
  assert_string_equal(capabilityName(CAP_SYS_ADMIN).c_str(), "CAP_SYS_ADMIN");
  assert_string_equal(capabilityName(CAP_CHECKPOINT_RESTORE).c_str(), "CAP_CHECKPOINT_RESTORE");
}

// Drops to CAP_CHOWN and CAP_KILL in a child, then reads back what the kernel shows.
static void child_ends_with_exactly_the_kept_set(void**) {
  std::uint64_t effective = 0;
  const std::vector<cap_value_t> keep = {CAP_CHOWN, CAP_KILL};
  const std::uint64_t want = capabilityMask(keep);
  const std::uint64_t needed = want | capabilityMask({CAP_SETPCAP});
  if (geteuid() != 0 || !statusMask("CapEff", effective) || (effective & needed) != needed) {
    std::printf("skipped: needs root with CAP_CHOWN, CAP_KILL and CAP_SETPCAP\n");
    skip();
  }
  std::fflush(nullptr);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    tandem::Status result = dropBoundingSet(keep);
    if (result) {
      result = applyCapabilities(keep);
    }
    if (!result) {
      std::fprintf(stderr, "%s\n", result.error().describe().c_str());
      _exit(1);
    }
    std::uint64_t bounding = 0, now = 0, permitted = 0, inheritable = 0, ambient = 1;
    if (!statusMask("CapBnd", bounding) || !statusMask("CapEff", now) ||
        !statusMask("CapPrm", permitted) || !statusMask("CapInh", inheritable) ||
        !statusMask("CapAmb", ambient)) {
      _exit(2);
    }
    bool exact =
        bounding == want && now == want && permitted == want && inheritable == 0 && ambient == 0;
    if (!exact) {
      std::fprintf(stderr,
                   "want %" PRIx64 ", got CapBnd %" PRIx64 " CapEff %" PRIx64 " CapPrm %" PRIx64
                   " CapInh %" PRIx64 " CapAmb %" PRIx64 "\n",
                   want, bounding, now, permitted, inheritable, ambient);
    }
    _exit(exact ? 0 : 3);
  }
  int status = 0;
  assert_int_equal(waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(default_set_has_the_oci_mask),
      cmocka_unit_test(adds_and_drops_in_any_spelling),
      cmocka_unit_test(all_follows_docker),
      cmocka_unit_test(result_is_sorted_and_unique),
      cmocka_unit_test(unknown_names_are_errors_naming_them),
      cmocka_unit_test(names_capabilities),
      cmocka_unit_test(child_ends_with_exactly_the_kept_set),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
