// Which cgroup layout a mountinfo text describes. The texts are real: this machine's hybrid one,
// a systemd host's pure v2 one, and an older host's pure v1 one with co-mounted controllers.
#include <cstring>
#include <string>

#include "common/cgroup_layout.h"
#include "tests/unit/unit_test.h"

using tandem::CgroupLayout;
using tandem::CgroupMounts;
using tandem::parseCgroupMounts;
using tandem::unescapeMountField;

namespace {

// /proc/self/mountinfo of the machine these tests were written on: v1 controllers, each in its
// own hierarchy, beside an empty cgroup2 tree at /sys/fs/cgroup/unified.
constexpr const char* kHybrid =
    "20 25 0:19 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
    "21 25 0:20 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw\n"
    "22 21 0:21 / /sys/fs rw,relatime - tmpfs tmpfs rw\n"
    "25 1 253:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

// A systemd host booted with the unified hierarchy only, with shared-subtree tags.
constexpr const char* kPureV2 =
    "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "23 28 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw\n"
    "28 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro\n"
    "26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n"
    "27 22 0:25 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:10 - pstore pstore rw\n";

// An older host with only v1: cpu and cpuacct co-mounted, as are net_cls and net_prio.
constexpr const char* kPureV1 =
    "18 24 0:17 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw\n"
    "25 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup "
    "cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd\n"
    "29 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup "
    "cgroup rw,cpu,cpuacct\n"
    "30 25 0:26 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:12 - "
    "cgroup cgroup rw,net_cls,net_prio\n"
    "31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup "
    "cgroup rw,memory\n"
    "32 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup "
    "rw,pids\n"
    "33 25 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup "
    "cgroup rw,cpuset\n"
    "34 25 0:30 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:16 - cgroup "
    "cgroup rw,devices\n"
    "35 25 0:31 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:17 - cgroup "
    "cgroup rw,freezer\n"
    "36 25 0:32 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:18 - cgroup "
    "cgroup rw,blkio\n"
    "37 25 0:33 / /sys/fs/cgroup/perf_event rw,nosuid,nodev,noexec,relatime shared:19 - cgroup "
    "cgroup rw,perf_event\n";

CgroupMounts parseOk(const std::string& text) {
  auto mounts = parseCgroupMounts(text);
  if (!mounts.ok()) {
    fail_msg("parseCgroupMounts: %s", mounts.error().describe().c_str());
  }
  return *mounts;
}

std::string v1Mount(const CgroupMounts& mounts, const char* controller) {
  auto it = mounts.v1.find(controller);
  if (it == mounts.v1.end()) {
    fail_msg("no v1 mount for %s", controller);
  }
  return it->second;
}

}  // namespace

static void reads_this_machines_hybrid_layout(void**) {
  CgroupMounts mounts = parseOk(kHybrid);
  assert_true(mounts.layout == CgroupLayout::kHybrid);
  assert_string_equal(tandem::toString(mounts.layout), "hybrid");
  assert_string_equal(mounts.unified.c_str(), "/sys/fs/cgroup/unified");
  for (const char* controller :
       {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"}) {
    assert_string_equal(v1Mount(mounts, controller).c_str(),
                        (std::string("/sys/fs/cgroup/") + controller).c_str());
  }
  // name=systemd carries no limit: it is not a controller tandem manages.
  assert_int_equal(mounts.v1.size(), 8);
  assert_int_equal(mounts.v1.count("name=systemd"), 0);
  assert_int_equal(mounts.v1.count("systemd"), 0);
}

static void reads_a_pure_v2_layout(void**) {
  CgroupMounts mounts = parseOk(kPureV2);
  assert_true(mounts.layout == CgroupLayout::kV2);
  assert_string_equal(tandem::toString(mounts.layout), "v2");
  assert_string_equal(mounts.unified.c_str(), "/sys/fs/cgroup");
  assert_true(mounts.v1.empty());
}

static void reads_a_pure_v1_layout_with_comounted_controllers(void**) {
  CgroupMounts mounts = parseOk(kPureV1);
  assert_true(mounts.layout == CgroupLayout::kV1);
  assert_string_equal(tandem::toString(mounts.layout), "v1");
  assert_true(mounts.unified.empty());
  assert_string_equal(v1Mount(mounts, "cpu").c_str(), "/sys/fs/cgroup/cpu,cpuacct");
  assert_string_equal(v1Mount(mounts, "cpuacct").c_str(), "/sys/fs/cgroup/cpu,cpuacct");
  assert_string_equal(v1Mount(mounts, "memory").c_str(), "/sys/fs/cgroup/memory");
  assert_string_equal(v1Mount(mounts, "pids").c_str(), "/sys/fs/cgroup/pids");
  assert_string_equal(v1Mount(mounts, "cpuset").c_str(), "/sys/fs/cgroup/cpuset");
  assert_string_equal(v1Mount(mounts, "devices").c_str(), "/sys/fs/cgroup/devices");
  assert_string_equal(v1Mount(mounts, "freezer").c_str(), "/sys/fs/cgroup/freezer");
  assert_string_equal(v1Mount(mounts, "blkio").c_str(), "/sys/fs/cgroup/blkio");
  assert_int_equal(mounts.v1.count("net_cls"), 0);
  assert_int_equal(mounts.v1.count("perf_event"), 0);
  assert_int_equal(mounts.v1.size(), 8);
}

static void a_systemd_only_v1_hierarchy_beside_v2_is_still_v2(void**) {
  std::string text = std::string(kPureV2) +
                     "40 26 0:40 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime - "
                     "cgroup cgroup rw,xattr,name=systemd\n";
  CgroupMounts mounts = parseOk(text);
  assert_true(mounts.layout == CgroupLayout::kV2);
  assert_true(mounts.v1.empty());
}

static void first_mount_of_a_hierarchy_wins(void**) {
  // A container runtime's bind of the same hierarchy appears after the host's own mount.
  std::string text = std::string(kHybrid) +
                     "50 25 0:31 / /run/other/memory rw,relatime - cgroup cgroup rw,memory\n"
                     "51 25 0:37 / /run/other/unified rw,relatime - cgroup2 cgroup2 rw\n";
  CgroupMounts mounts = parseOk(text);
  assert_string_equal(v1Mount(mounts, "memory").c_str(), "/sys/fs/cgroup/memory");
  assert_string_equal(mounts.unified.c_str(), "/sys/fs/cgroup/unified");
}

static void no_cgroup_mount_is_an_error(void**) {
  const char* without =
      "20 25 0:19 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
      "25 1 253:0 / / rw,relatime - ext4 /dev/vda rw\n"
      "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n";
  for (const char* text : {without, "", "\n", "\n\n\n"}) {
    auto mounts = parseCgroupMounts(text);
    assert_false(mounts.ok());
    assert_non_null(std::strstr(mounts.error().message().c_str(), "cgroup"));
  }
  // Hierarchies with nothing tandem manages count as none.
  auto mounts = parseCgroupMounts(
      "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
      "41 30 0:38 / /sys/fs/cgroup/net_cls rw,relatime - cgroup cgroup rw,net_cls\n");
  assert_false(mounts.ok());
}

static void unescapes_mount_points(void**) {
  std::string text =
      "25 1 253:0 / / rw,relatime - ext4 /dev/vda rw\n"
      "60 25 0:50 / /mnt/my\\040cgroups rw,relatime - cgroup2 cgroup2 rw\n"
      "61 25 0:51 / /mnt/tab\\011and\\134slash rw,relatime - cgroup cgroup rw,pids\n";
  CgroupMounts mounts = parseOk(text);
  assert_true(mounts.layout == CgroupLayout::kHybrid);
  assert_string_equal(mounts.unified.c_str(), "/mnt/my cgroups");
  assert_string_equal(v1Mount(mounts, "pids").c_str(), "/mnt/tab\tand\\slash");
}

static void skips_garbage_lines(void**) {
  std::string text =
      "garbage\n"
      "\n"
      "1 2 3\n"
      "- - - - - - - -\n"
      "40 30 0:37 / /a rw - cgroup2\n"           // no source or super options
      "40 30 0:37 / rw - cgroup2 cgroup2 rw\n"   // too few fields before the separator
      "40 30 0:37 / /b rw cgroup2 cgroup2 rw\n"  // no separator at all
      "   \t  \n"
      "\x01\xff\xfe - cgroup cgroup memory\n"
      "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "41 30 0:38 / /sys/fs/cgroup/x rw - cgroup cgroup ,,,pids,,\n"
      "42 30 0:39 / /sys/fs/cgroup/y rw - cgroup cgroup \n"
      "trailing line without newline - cgroup2 cgroup2";
  CgroupMounts mounts = parseOk(text);
  assert_true(mounts.layout == CgroupLayout::kV1);
  assert_true(mounts.unified.empty());
  assert_int_equal(mounts.v1.size(), 2);
  assert_string_equal(v1Mount(mounts, "memory").c_str(), "/sys/fs/cgroup/memory");
  assert_string_equal(v1Mount(mounts, "pids").c_str(), "/sys/fs/cgroup/x");
}

static void survives_pathological_text(void**) {
  // Only separators, a line of a million spaces, and a very long mount point.
  assert_false(parseCgroupMounts(std::string(100000, '\n')).ok());
  assert_false(parseCgroupMounts(std::string(1000000, ' ')).ok());
  assert_false(parseCgroupMounts(std::string(1000, '-')).ok());
  assert_false(parseCgroupMounts(std::string("- - - - - - - - - -")).ok());
  std::string longPath = "/" + std::string(100000, 'p');
  CgroupMounts mounts = parseOk("1 2 0:1 / " + longPath + " rw - cgroup2 cgroup2 rw");
  assert_string_equal(mounts.unified.c_str(), longPath.c_str());
  // A NUL inside a line is only another byte.
  std::string withNul = "1 2 0:1 / /nul rw - cgroup2 cgroup2 rw\n";
  withNul.insert(14, 1, '\0');
  mounts = parseOk(withNul);
  assert_int_equal(mounts.unified.size(), 5);
  assert_int_equal(mounts.unified[4], '\0');
}

static void unescapes_fields(void**) {
  assert_string_equal(unescapeMountField("/plain/path").c_str(), "/plain/path");
  assert_string_equal(unescapeMountField("").c_str(), "");
  assert_string_equal(unescapeMountField("a\\040b").c_str(), "a b");
  assert_string_equal(unescapeMountField("\\040").c_str(), " ");
  assert_string_equal(unescapeMountField("\\011\\012\\134").c_str(), "\t\n\\");
  assert_string_equal(unescapeMountField("end\\040").c_str(), "end ");
  // Not an escape: left as it is.
  assert_string_equal(unescapeMountField("a\\04").c_str(), "a\\04");
  assert_string_equal(unescapeMountField("a\\0").c_str(), "a\\0");
  assert_string_equal(unescapeMountField("\\").c_str(), "\\");
  assert_string_equal(unescapeMountField("a\\089b").c_str(), "a\\089b");
  assert_string_equal(unescapeMountField("a\\x20b").c_str(), "a\\x20b");
  assert_string_equal(unescapeMountField("\\\\040").c_str(), "\\ ");
  // Octal up to \377 is one byte.
  assert_int_equal(static_cast<unsigned char>(unescapeMountField("\\377")[0]), 0xff);
  assert_int_equal(unescapeMountField("\\377").size(), 1);
  std::string nul = unescapeMountField("a\\000b");
  assert_int_equal(nul.size(), 3);
  assert_int_equal(nul[1], '\0');
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reads_this_machines_hybrid_layout),
      cmocka_unit_test(reads_a_pure_v2_layout),
      cmocka_unit_test(reads_a_pure_v1_layout_with_comounted_controllers),
      cmocka_unit_test(a_systemd_only_v1_hierarchy_beside_v2_is_still_v2),
      cmocka_unit_test(first_mount_of_a_hierarchy_wins),
      cmocka_unit_test(no_cgroup_mount_is_an_error),
      cmocka_unit_test(unescapes_mount_points),
      cmocka_unit_test(skips_garbage_lines),
      cmocka_unit_test(survives_pathological_text),
      cmocka_unit_test(unescapes_fields),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
