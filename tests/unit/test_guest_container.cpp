#include "tools/guest-init/guest_container.h"

#include <string>

#include "tests/unit/unit_test.h"

using namespace tandem;
using namespace tandem::guest_init;

namespace {

void ids_that_could_leave_their_folder_are_refused(void**) {
  assert_true(checkContainerId(std::string(64, 'a')).ok());
  assert_true(checkContainerId("web-1_x.y").ok());
  for (const char* bad : {"", "..", ".hidden", "a/b", "../../etc", "a b", "a\nb", "a,b"}) {
    assert_false(checkContainerId(bad).ok());
  }
  assert_false(checkContainerId(std::string(129, 'a')).ok());
}

void a_container_has_its_cgroup_and_pid_file_by_id(void**) {
  assert_string_equal(containerCgroup("abc").c_str(), "/sys/fs/cgroup/abc");
  assert_string_equal(containerPidFile("abc").c_str(), "/run/tandem/containers/abc.pid");
}

void the_overlay_stacks_the_layer_over_the_image(void**) {
  assert_string_equal(overlayOptions("/.tandem/images/1", "/run/c/upper", "/run/c/work").c_str(),
                      "lowerdir=/.tandem/images/1,upperdir=/run/c/upper,workdir=/run/c/work");
}

void preparing_without_a_mounted_image_fails_before_touching_anything(void**) {
  Workload workload;
  workload.id = "abc";
  workload.rootfs = "/no/such/image/mount";
  auto prepared = GuestContainer::prepare(workload);
  assert_false(prepared.ok());
  assert_non_null(std::strstr(prepared.error().message().c_str(), "not mounted in this microVM"));
  workload.id = "../escape";
  assert_false(GuestContainer::prepare(workload).ok());
}

void joining_a_container_that_is_not_running_fails(void**) {
  auto joined = joinContainer("no-such-container");
  assert_false(joined.ok());
  assert_int_equal(joined.error().errnum(), ESRCH);
}

}  // namespace

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test(ids_that_could_leave_their_folder_are_refused),
      cmocka_unit_test(a_container_has_its_cgroup_and_pid_file_by_id),
      cmocka_unit_test(the_overlay_stacks_the_layer_over_the_image),
      cmocka_unit_test(preparing_without_a_mounted_image_fails_before_touching_anything),
      cmocka_unit_test(joining_a_container_that_is_not_running_fails),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
