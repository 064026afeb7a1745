// A microVM's volumes as drives: the folder copies made and removed, what a microVM cannot give
// refused with the way forward, and the guest's device names after the disks already attached.
#include "vmm/volume_drives.h"

#include <sys/stat.h>

#include <cstring>

#include "common/file.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using namespace tandem;
using namespace tandem::vmm;

namespace {

Workload withVolumes(std::vector<Volume> volumes) {
  Workload w;
  w.command = {"/bin/true"};
  w.volumes = std::move(volumes);
  return w;
}

template <class T>
void expectError(const Result<T>& result, const char* needle) {
  if (result.ok()) fail_msg("expected an error mentioning \"%s\"", needle);
  if (result.error().message().find(needle) == std::string::npos) {
    fail_msg("\"%s\" does not mention \"%s\"", result.error().message().c_str(), needle);
  }
}

void guest_disk_names_follow_the_order(void**) {
  assert_string_equal(guestDiskName(0).c_str(), "/dev/vda");
  assert_string_equal(guestDiskName(1).c_str(), "/dev/vdb");
  assert_string_equal(guestDiskName(kMaxDisks - 1).c_str(), "/dev/vdh");
}

void drives_come_after_the_attached_disks(void**) {
  Workload w = withVolumes({{"/d/a.ext4", "/a", false, VolumeKind::kDisk},
                            {"/d/b.ext4", "/b", true, VolumeKind::kDisk}});
  auto drives = volumeDrives(w, 2);
  assert_true(drives.ok());
  assert_int_equal(drives->disks.size(), 2);
  assert_string_equal(drives->disks[0].path.c_str(), "/d/a.ext4");
  assert_false(drives->disks[0].readOnly);
  assert_true(drives->disks[1].readOnly);
  assert_string_equal(drives->guestWorkload.volumes[0].source.c_str(), "/dev/vdc");
  assert_string_equal(drives->guestWorkload.volumes[1].source.c_str(), "/dev/vdd");
  assert_string_equal(drives->guestWorkload.volumes[1].target.c_str(), "/b");
  // The host's description keeps the host's paths.
  assert_string_equal(w.volumes[0].source.c_str(), "/d/a.ext4");
}

void drives_stop_at_the_disk_limit(void**) {
  Workload w = withVolumes({{"/d/a.ext4", "/a", false, VolumeKind::kDisk},
                            {"/d/b.ext4", "/b", false, VolumeKind::kDisk}});
  assert_true(volumeDrives(w, kMaxDisks - 2).ok());
  expectError(volumeDrives(w, kMaxDisks - 1), "at most 8 disks");
  expectError(volumeDrives(withVolumes({{"/d", "/d", true, VolumeKind::kBind}}), 0),
              "reached the microVM uncopied");
}

void a_read_only_folder_becomes_a_disk_copy_removed_after(void** state) {
  const std::string& dir = tempDir(state);
  assert_true(makeDirectories(dir + "/data/sub", 0755).ok());
  assert_true(writeFile(dir + "/data/sub/file", "content").ok());
  Workload w = withVolumes({{dir + "/data", "/srv", true, VolumeKind::kBind}});
  std::string copy = dir + "/volume-0.ext4";
  {
    auto copies = FolderVolumeCopies::make(w, dir);
    if (!copies) fail_msg("%s", copies.error().describe().c_str());
    assert_true(w.volumes[0] == (Volume{copy, "/srv", true, VolumeKind::kDisk}));
    auto bytes = readFile(copy);
    assert_true(bytes.ok());
    // ext4's magic, 0xEF53, at byte 1080 of the superblock.
    assert_true(bytes->size() > 1082);
    assert_int_equal(static_cast<unsigned char>((*bytes)[1080]), 0x53);
    assert_int_equal(static_cast<unsigned char>((*bytes)[1081]), 0xef);
  }
  assert_false(pathExists(copy));
}

void what_a_microvm_cannot_give_is_refused(void** state) {
  const std::string& dir = tempDir(state);
  assert_true(makeDirectories(dir + "/data", 0755).ok());
  assert_true(writeFile(dir + "/file", "x").ok());
  auto refused = [&](Volume volume, const char* needle) {
    Workload w = withVolumes({volume});
    expectError(FolderVolumeCopies::make(w, dir), needle);
    assert_true(w.volumes[0] == volume);
  };
  refused({dir + "/data", "/srv", false, VolumeKind::kBind}, "add :ro, or give a disk volume");
  refused({dir + "/file", "/etc/file", true, VolumeKind::kBind}, "give the folder that holds");
  refused({dir + "/missing", "/m", true, VolumeKind::kBind}, "cannot find the host path");
  refused({dir + "/data", "/d", false, VolumeKind::kDisk}, "is neither");
  // A disk volume's file passes as it is.
  Workload disk = withVolumes({{dir + "/file", "/d", false, VolumeKind::kDisk}});
  assert_true(FolderVolumeCopies::make(disk, dir).ok());
  assert_string_equal(disk.volumes[0].source.c_str(), (dir + "/file").c_str());
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(guest_disk_names_follow_the_order),
      cmocka_unit_test(drives_come_after_the_attached_disks),
      cmocka_unit_test(drives_stop_at_the_disk_limit),
      cmocka_unit_test_setup_teardown(a_read_only_folder_becomes_a_disk_copy_removed_after,
                                      makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(what_a_microvm_cannot_give_is_refused, makeTempDir,
                                      removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
