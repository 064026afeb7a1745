#include "vmm/task_vm.h"

#include <string>

#include "tests/unit/unit_test.h"

using namespace tandem;
using namespace tandem::vmm;

namespace {

Workload member() {
  Workload workload;
  workload.isolation = Isolation::kVm;
  workload.network = NetworkMode::kContainer;
  workload.networkPeer = NetworkPeer{.id = "sandbox"};
  return workload;
}

void only_a_vm_level_workload_joining_a_peer_runs_in_a_task_vm(void**) {
  assert_true(runsInTaskVm(member()));
  Workload own = member();
  own.networkPeer.reset();
  assert_false(runsInTaskVm(own));
  Workload container = member();
  container.isolation = Isolation::kContainer;
  assert_false(runsInTaskVm(container));
  Workload bridged = member();
  bridged.network = NetworkMode::kBridge;
  assert_false(runsInTaskVm(bridged));
}

void each_disk_has_one_stable_mount_point(void**) {
  std::string a = guestImageMount("/var/lib/tandem/disks/aaaa.ext4");
  std::string b = guestImageMount("/var/lib/tandem/disks/bbbb.ext4");
  assert_string_equal(a.c_str(), guestImageMount("/var/lib/tandem/disks/aaaa.ext4").c_str());
  assert_string_not_equal(a.c_str(), b.c_str());
  assert_true(a.starts_with("/.tandem/images/"));
  assert_int_equal(a.size(), std::string("/.tandem/images/").size() + 16);
  // The name is a path component, whatever the disk's path holds.
  std::string odd = guestImageMount("/tmp/a b/../c:d,e.ext4");
  assert_int_equal(odd.find_first_not_of("/.tandemimgs0123456789abcdef"), std::string::npos);
}

void an_image_disk_is_a_read_only_disk_volume(void**) {
  Volume volume = imageDiskVolume("/store/disks/x.ext4");
  assert_string_equal(volume.source.c_str(), "/store/disks/x.ext4");
  assert_string_equal(volume.target.c_str(), guestImageMount("/store/disks/x.ext4").c_str());
  assert_true(volume.readOnly);
  assert_int_equal(static_cast<int>(volume.kind), static_cast<int>(VolumeKind::kDisk));
}

}  // namespace

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test(only_a_vm_level_workload_joining_a_peer_runs_in_a_task_vm),
      cmocka_unit_test(each_disk_has_one_stable_mount_point),
      cmocka_unit_test(an_image_disk_is_a_read_only_disk_volume),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
