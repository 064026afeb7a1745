// The container's filesystem plan as data: overlay options, the special mounts for each
// namespace choice, the minimal /dev, and runc's masked and read-only paths.
#include <sys/mount.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "container/mount_plan.h"
#include "tests/unit/unit_test.h"

using tandem::container::defaultDevices;
using tandem::container::devSymlinks;
using tandem::container::maskedPaths;
using tandem::container::MountEntry;
using tandem::container::MountPlanOptions;
using tandem::container::overlayOptions;
using tandem::container::readOnlyPaths;
using tandem::container::specialMounts;

namespace {

const MountEntry* mountAt(const std::vector<MountEntry>& mounts, const char* target) {
  const MountEntry* found = nullptr;
  for (const auto& mount : mounts) {
    if (mount.target == target) {
      if (found != nullptr) {
        fail_msg("%s is mounted twice", target);
      }
      found = &mount;
    }
  }
  return found;
}

std::size_t indexAt(const std::vector<MountEntry>& mounts, const char* target) {
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    if (mounts[i].target == target) {
      return i;
    }
  }
  fail_msg("%s is not mounted", target);
  return mounts.size();
}

bool contains(const std::vector<std::string>& list, const char* path) {
  return std::find(list.begin(), list.end(), path) != list.end();
}

void expectOverlayError(const std::vector<std::string>& lowers, const std::string& upper,
                        const std::string& work, const char* needle) {
  auto options = overlayOptions(lowers, upper, work);
  if (options.ok()) {
    fail_msg("accepted overlay layers, giving \"%s\"", options->c_str());
  }
  if (std::strstr(options.error().message().c_str(), needle) == nullptr) {
    fail_msg("error \"%s\" does not mention \"%s\"", options.error().message().c_str(), needle);
  }
}

}  // namespace

static void overlay_with_upper(void**) {
  auto options = overlayOptions({"/layers/top", "/layers/base"}, "/c/upper", "/c/work");
  assert_true(options.ok());
  assert_string_equal(options->c_str(),
                      "lowerdir=/layers/top:/layers/base,upperdir=/c/upper,workdir=/c/work");
}

static void overlay_without_upper_is_read_only(void**) {
  auto options = overlayOptions({"/layers/a", "/layers/b", "/layers/c"}, "", "");
  assert_true(options.ok());
  assert_string_equal(options->c_str(), "lowerdir=/layers/a:/layers/b:/layers/c");
  // A work dir alone changes nothing: without an upper there is nothing to write.
  options = overlayOptions({"/layers/a"}, "", "/ignored/work");
  assert_true(options.ok());
  assert_string_equal(options->c_str(), "lowerdir=/layers/a");
  assert_null(std::strstr(options->c_str(), "upperdir"));
  assert_null(std::strstr(options->c_str(), "workdir"));
}

static void overlay_needs_a_lower(void**) {
  expectOverlayError({}, "/c/upper", "/c/work", "at least one lower");
  expectOverlayError({}, "", "", "at least one lower");
}

static void overlay_rejects_separators_in_paths(void**) {
  expectOverlayError({"/layers/a,upperdir=/etc"}, "", "", "',' or ':'");
  expectOverlayError({"/layers/a:/etc"}, "", "", "',' or ':'");
  expectOverlayError({"/ok", "/bad,one"}, "", "", "/bad,one");
  expectOverlayError({"/ok"}, "/c/up,per", "/c/work", "/c/up,per");
  expectOverlayError({"/ok"}, "/c/upper", "/c/wo:rk", "/c/wo:rk");
  expectOverlayError({"/ok"}, "/c/upper:x", "/c/work", "',' or ':'");
}

static void overlay_rejects_relative_paths(void**) {
  expectOverlayError({"layers/a"}, "", "", "must be absolute");
  expectOverlayError({"/ok", ""}, "", "", "must be absolute");
  expectOverlayError({""}, "", "", "must be absolute");
  expectOverlayError({"/ok"}, "upper", "/c/work", "must be absolute");
  expectOverlayError({"/ok"}, "/c/upper", "work", "must be absolute");
  // An upper without a work dir cannot be mounted.
  expectOverlayError({"/ok"}, "/c/upper", "", "must be absolute");
  expectOverlayError({"./a"}, "", "", "must be absolute");
}

static void special_mounts_with_own_namespaces(void**) {
  auto mounts = specialMounts(MountPlanOptions{});
  const MountEntry* proc = mountAt(mounts, "/proc");
  assert_non_null(proc);
  assert_string_equal(proc->fstype.c_str(), "proc");
  assert_true(proc->flags & MS_NOSUID);
  assert_true(proc->flags & MS_NODEV);
  assert_true(proc->flags & MS_NOEXEC);

  const MountEntry* sys = mountAt(mounts, "/sys");
  assert_non_null(sys);
  assert_string_equal(sys->fstype.c_str(), "sysfs");
  assert_true(sys->flags & MS_RDONLY);
  assert_false(sys->flags & MS_BIND);

  const MountEntry* mqueue = mountAt(mounts, "/dev/mqueue");
  assert_non_null(mqueue);
  assert_string_equal(mqueue->fstype.c_str(), "mqueue");

  const MountEntry* pts = mountAt(mounts, "/dev/pts");
  assert_non_null(pts);
  assert_string_equal(pts->fstype.c_str(), "devpts");
  assert_non_null(std::strstr(pts->data.c_str(), "newinstance"));
  assert_non_null(std::strstr(pts->data.c_str(), "ptmxmode=0666"));

  const MountEntry* shm = mountAt(mounts, "/dev/shm");
  assert_non_null(shm);
  assert_string_equal(shm->fstype.c_str(), "tmpfs");

  const MountEntry* dev = mountAt(mounts, "/dev");
  assert_non_null(dev);
  assert_string_equal(dev->fstype.c_str(), "tmpfs");
  assert_true(dev->flags & MS_NOSUID);
  // /dev holds the device nodes, so it must not be nodev.
  assert_false(dev->flags & MS_NODEV);

  // Parents before children: /dev before everything under it.
  assert_true(indexAt(mounts, "/dev") < indexAt(mounts, "/dev/pts"));
  assert_true(indexAt(mounts, "/dev") < indexAt(mounts, "/dev/shm"));
  assert_true(indexAt(mounts, "/dev") < indexAt(mounts, "/dev/mqueue"));

  for (const auto& mount : mounts) {
    assert_true(mount.target.front() == '/');
    assert_false(mount.source.empty());
    // Nothing the container gets may allow setuid binaries.
    assert_true(mount.flags & MS_NOSUID);
  }
}

static void special_mounts_on_the_host_network(void**) {
  MountPlanOptions options;
  options.ownNetworkNamespace = false;
  auto mounts = specialMounts(options);
  const MountEntry* sys = mountAt(mounts, "/sys");
  assert_non_null(sys);
  // A fresh sysfs shows the network namespace of its mounter, so the host's is bound instead.
  assert_true(sys->fstype.empty());
  assert_string_equal(sys->source.c_str(), "/sys");
  assert_true(sys->flags & MS_BIND);
  assert_true(sys->flags & MS_REC);
  assert_true(sys->flags & MS_RDONLY);
  for (const auto& mount : mounts) {
    assert_true(mount.fstype != "sysfs");
  }
}

static void special_mounts_without_own_ipc(void**) {
  MountPlanOptions options;
  options.ownIpcNamespace = false;
  auto mounts = specialMounts(options);
  // The host's message queues must not be mounted into the container.
  assert_null(mountAt(mounts, "/dev/mqueue"));
  assert_non_null(mountAt(mounts, "/proc"));
  assert_non_null(mountAt(mounts, "/sys"));
  assert_int_equal(mounts.size() + 1, specialMounts(MountPlanOptions{}).size());
}

static void masks_runcs_defaults(void**) {
  const auto& masked = maskedPaths();
  for (const char* path :
       {"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"}) {
    if (!contains(masked, path)) {
      fail_msg("%s is not masked", path);
    }
  }
  const auto& readOnly = readOnlyPaths();
  for (const char* path :
       {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
    if (!contains(readOnly, path)) {
      fail_msg("%s is not read-only", path);
    }
  }
  for (const auto& path : masked) {
    assert_true(path.front() == '/');
    assert_false(contains(readOnly, path.c_str()));
  }
  for (const auto& path : readOnly) {
    assert_true(path.front() == '/');
  }
  // Hiding these would break the container itself.
  for (const char* path : {"/proc", "/sys", "/proc/self", "/dev"}) {
    assert_false(contains(masked, path));
    assert_false(contains(readOnly, path));
  }
}

static void minimal_dev(void**) {
  const struct {
    const char* path;
    unsigned major;
    unsigned minor;
  } expected[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
                  {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
  const auto& devices = defaultDevices();
  assert_int_equal(devices.size(), sizeof expected / sizeof expected[0]);
  for (const auto& want : expected) {
    auto it = std::find_if(devices.begin(), devices.end(),
                           [&](const auto& device) { return device.path == want.path; });
    if (it == devices.end()) {
      fail_msg("%s is missing", want.path);
    }
    assert_int_equal(it->major, want.major);
    assert_int_equal(it->minor, want.minor);
  }

  const auto& links = devSymlinks();
  auto target = [&](const char* path) -> std::string {
    for (const auto& link : links) {
      if (link.path == path) {
        return link.target;
      }
    }
    fail_msg("no symlink at %s", path);
    return "";
  };
  assert_string_equal(target("/dev/fd").c_str(), "/proc/self/fd");
  assert_string_equal(target("/dev/stdin").c_str(), "/proc/self/fd/0");
  assert_string_equal(target("/dev/stdout").c_str(), "/proc/self/fd/1");
  assert_string_equal(target("/dev/stderr").c_str(), "/proc/self/fd/2");
  // Relative, so it resolves to the container's own devpts instance.
  assert_string_equal(target("/dev/ptmx").c_str(), "pts/ptmx");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(overlay_with_upper),
      cmocka_unit_test(overlay_without_upper_is_read_only),
      cmocka_unit_test(overlay_needs_a_lower),
      cmocka_unit_test(overlay_rejects_separators_in_paths),
      cmocka_unit_test(overlay_rejects_relative_paths),
      cmocka_unit_test(special_mounts_with_own_namespaces),
      cmocka_unit_test(special_mounts_on_the_host_network),
      cmocka_unit_test(special_mounts_without_own_ipc),
      cmocka_unit_test(masks_runcs_defaults),
      cmocka_unit_test(minimal_dev),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
