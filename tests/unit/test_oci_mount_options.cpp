// A config.json mount's options as mount(2) takes them: flags set and cleared in order, binds,
// propagation changes, and the rest passed to the filesystem as data.
#include <sys/mount.h>

#include <string>
#include <vector>

#include "container/oci/mount_options.h"
#include "tests/unit/unit_test.h"

using tandem::container::MountOptions;
using tandem::container::parseMountOptions;
using tandem::oci::Mount;

namespace {

MountOptions optionsOf(const char* type, std::vector<std::string> options) {
  Mount mount;
  mount.destination = "/mnt";
  mount.source = "/src";
  mount.type = type;
  mount.options = std::move(options);
  return parseMountOptions(mount);
}

void expectFlags(unsigned long actual, unsigned long expected) {
  if (actual != expected) {
    fail_msg("flags are %#lx, expected %#lx", actual, expected);
  }
}

void expectPropagation(const std::vector<unsigned long>& actual,
                       std::vector<unsigned long> expected) {
  if (actual.size() != expected.size()) {
    fail_msg("%zu propagation changes, expected %zu", actual.size(), expected.size());
  }
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] != expected[i]) {
      fail_msg("propagation[%zu] is %#lx, expected %#lx", i, actual[i], expected[i]);
    }
  }
}

}  // namespace

static void no_options_mean_no_flags(void**) {
  MountOptions options = optionsOf("tmpfs", {});
  expectFlags(options.flags, 0);
  assert_true(options.propagation.empty());
  assert_string_equal(options.data.c_str(), "");
  assert_false(options.bind);
  expectFlags(options.bindRemountFlags, 0);
}

static void each_flag_option_sets_its_flag(void**) {
  struct {
    const char* option;
    unsigned long flag;
  } const cases[] = {
      {"ro", MS_RDONLY},         {"nosuid", MS_NOSUID},
      {"nodev", MS_NODEV},       {"noexec", MS_NOEXEC},
      {"sync", MS_SYNCHRONOUS},  {"dirsync", MS_DIRSYNC},
      {"remount", MS_REMOUNT},   {"mand", MS_MANDLOCK},
      {"noatime", MS_NOATIME},   {"nodiratime", MS_NODIRATIME},
      {"relatime", MS_RELATIME}, {"strictatime", MS_STRICTATIME},
      {"silent", MS_SILENT},     {"lazytime", MS_LAZYTIME},
  };
  for (const auto& each : cases) {
    MountOptions options = optionsOf("tmpfs", {each.option});
    if (options.flags != each.flag) {
      fail_msg("\"%s\" gives flags %#lx, expected %#lx", each.option, options.flags, each.flag);
    }
    assert_string_equal(options.data.c_str(), "");
  }
}

static void each_negated_option_clears_the_flag_set_before_it(void**) {
  struct {
    const char* set;
    const char* clear;
  } const cases[] = {
      {"ro", "rw"},
      {"nosuid", "suid"},
      {"nodev", "dev"},
      {"noexec", "exec"},
      {"sync", "async"},
      {"mand", "nomand"},
      {"noatime", "atime"},
      {"nodiratime", "diratime"},
      {"relatime", "norelatime"},
      {"strictatime", "nostrictatime"},
      {"silent", "loud"},
      {"lazytime", "nolazytime"},
  };
  for (const auto& each : cases) {
    MountOptions options = optionsOf("tmpfs", {"nosuid", each.set, each.clear});
    unsigned long expected = std::string(each.set) == "nosuid" ? 0 : MS_NOSUID;
    if (options.flags != expected) {
      fail_msg("\"%s\" then \"%s\" gives flags %#lx, expected %#lx", each.set, each.clear,
               options.flags, expected);
    }
    assert_string_equal(options.data.c_str(), "");
  }
}

static void last_of_ro_and_rw_wins(void**) {
  expectFlags(optionsOf("tmpfs", {"ro", "rw"}).flags, 0);
  expectFlags(optionsOf("tmpfs", {"rw", "ro"}).flags, MS_RDONLY);
  expectFlags(optionsOf("tmpfs", {"ro", "nodev", "rw"}).flags, MS_NODEV);
  // Clearing a flag that was never set changes nothing.
  expectFlags(optionsOf("tmpfs", {"rw", "exec", "suid"}).flags, 0);
}

static void flags_combine(void**) {
  MountOptions options = optionsOf("sysfs", {"nosuid", "noexec", "nodev", "ro"});
  expectFlags(options.flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY);
  assert_false(options.bind);
}

static void bind_option_makes_a_bind_mount(void**) {
  MountOptions options = optionsOf("", {"bind"});
  assert_true(options.bind);
  expectFlags(options.flags, MS_BIND);
}

static void rbind_option_makes_a_recursive_bind(void**) {
  MountOptions options = optionsOf("", {"rbind"});
  assert_true(options.bind);
  expectFlags(options.flags, MS_BIND | MS_REC);
  // A later "bind" does not take the recursion back.
  expectFlags(optionsOf("", {"rbind", "bind"}).flags, MS_BIND | MS_REC);
}

static void type_bind_makes_a_bind_without_the_option(void**) {
  MountOptions options = optionsOf("bind", {"ro"});
  assert_true(options.bind);
  expectFlags(options.flags, MS_BIND | MS_RDONLY);
  assert_string_equal(options.data.c_str(), "");
  MountOptions recursive = optionsOf("bind", {"rbind"});
  expectFlags(recursive.flags, MS_BIND | MS_REC);
}

static void other_types_without_bind_options_are_not_binds(void**) {
  assert_false(optionsOf("", {"ro"}).bind);
  assert_false(optionsOf("tmpfs", {"ro"}).bind);
  assert_false(optionsOf("proc", {}).bind);
}

static void propagation_options_are_listed_in_order(void**) {
  MountOptions options = optionsOf("bind", {"rprivate"});
  expectPropagation(options.propagation, {MS_PRIVATE | MS_REC});
  // Propagation is changed after the mount, never passed with it.
  expectFlags(options.flags, MS_BIND);

  options = optionsOf("", {"rbind", "shared", "rslave", "private", "runbindable", "rshared",
                           "slave", "unbindable"});
  expectPropagation(options.propagation,
                    {MS_SHARED, MS_SLAVE | MS_REC, MS_PRIVATE, MS_UNBINDABLE | MS_REC,
                     MS_SHARED | MS_REC, MS_SLAVE, MS_UNBINDABLE});
  expectFlags(options.flags, MS_BIND | MS_REC);
  assert_string_equal(options.data.c_str(), "");
}

static void unknown_options_become_data_in_order(void**) {
  MountOptions options = optionsOf("tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"});
  assert_string_equal(options.data.c_str(), "mode=755,size=65536k");
  expectFlags(options.flags, MS_NOSUID | MS_STRICTATIME);

  options = optionsOf("devpts",
                      {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"});
  assert_string_equal(options.data.c_str(), "newinstance,ptmxmode=0666,mode=0620,gid=5");
  expectFlags(options.flags, MS_NOSUID | MS_NOEXEC);

  options = optionsOf("overlay", {"lowerdir=/l", "ro", "upperdir=/u"});
  assert_string_equal(options.data.c_str(), "lowerdir=/l,upperdir=/u");
  expectFlags(options.flags, MS_RDONLY);
}

static void defaults_and_fstab_noops_are_ignored(void**) {
  MountOptions options = optionsOf("tmpfs", {"defaults", "auto", "noauto", "nofail", "_netdev",
                                             "user", "nouser", "users", "mode=1777"});
  expectFlags(options.flags, 0);
  assert_string_equal(options.data.c_str(), "mode=1777");
  assert_true(options.propagation.empty());
  assert_false(options.bind);
}

static void bind_remount_flags_are_the_ones_a_bind_ignores(void**) {
  MountOptions options = optionsOf("", {"rbind", "ro", "nosuid", "nodev", "noexec", "rprivate"});
  expectFlags(options.flags, MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  expectFlags(options.bindRemountFlags, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);

  options = optionsOf("bind", {"noatime", "nodiratime", "relatime", "strictatime"});
  expectFlags(options.bindRemountFlags, MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME);

  // Neither the bind flags themselves nor flags a remount cannot change are included.
  options = optionsOf("", {"bind", "ro", "sync", "dirsync"});
  expectFlags(options.bindRemountFlags, MS_RDONLY);

  // A plain bind has nothing to remount with.
  expectFlags(optionsOf("", {"bind"}).bindRemountFlags, 0);
  // ro then rw: nothing left to remount with.
  expectFlags(optionsOf("", {"bind", "ro", "rw"}).bindRemountFlags, 0);
}

static void bind_remount_flags_only_for_binds(void**) {
  MountOptions options = optionsOf("tmpfs", {"ro", "nosuid", "nodev", "noexec"});
  expectFlags(options.flags, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  expectFlags(options.bindRemountFlags, 0);
  expectFlags(optionsOf("proc", {"nosuid", "noexec", "nodev"}).bindRemountFlags, 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(no_options_mean_no_flags),
      cmocka_unit_test(each_flag_option_sets_its_flag),
      cmocka_unit_test(each_negated_option_clears_the_flag_set_before_it),
      cmocka_unit_test(last_of_ro_and_rw_wins),
      cmocka_unit_test(flags_combine),
      cmocka_unit_test(bind_option_makes_a_bind_mount),
      cmocka_unit_test(rbind_option_makes_a_recursive_bind),
      cmocka_unit_test(type_bind_makes_a_bind_without_the_option),
      cmocka_unit_test(other_types_without_bind_options_are_not_binds),
      cmocka_unit_test(propagation_options_are_listed_in_order),
      cmocka_unit_test(unknown_options_become_data_in_order),
      cmocka_unit_test(defaults_and_fstab_noops_are_ignored),
      cmocka_unit_test(bind_remount_flags_are_the_ones_a_bind_ignores),
      cmocka_unit_test(bind_remount_flags_only_for_binds),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
