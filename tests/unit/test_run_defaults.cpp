#include <string>

#include "common/image/run_defaults.h"
#include "tests/unit/unit_test.h"

using namespace tandem::image;
using tandem::Workload;

namespace {

ContainerDefaults busyboxLike() {
  ContainerDefaults image;
  image.entrypoint = {"/bin/sh", "-c"};
  image.cmd = {"echo default"};
  image.env = {"PATH=/opt/bin:/bin", "LANG=C"};
  image.workingDir = "srv";
  image.user = "1000:1000";
  return image;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) {
    out += (out.empty() ? "" : "|") + word;
  }
  return out;
}

}  // namespace

static void image_fills_what_the_user_left_out(void**) {
  Workload w;
  assert_true(applyImageDefaults(busyboxLike(), RunOverrides{}, w).ok());
  assert_string_equal(joined(w.command).c_str(), "/bin/sh|-c|echo default");
  assert_string_equal(joined(w.env).c_str(), "PATH=/opt/bin:/bin|LANG=C");
  assert_string_equal(w.workdir.c_str(), "/srv");
  assert_string_equal(w.user.spec->c_str(), "1000:1000");
}

static void arguments_replace_cmd_but_keep_entrypoint(void**) {
  Workload w;
  RunOverrides given;
  given.args = {"echo mine"};
  assert_true(applyImageDefaults(busyboxLike(), given, w).ok());
  assert_string_equal(joined(w.command).c_str(), "/bin/sh|-c|echo mine");
}

static void entrypoint_override_drops_cmd(void**) {
  Workload w;
  RunOverrides given;
  given.entrypoint = std::vector<std::string>{"/bin/true"};
  assert_true(applyImageDefaults(busyboxLike(), given, w).ok());
  assert_string_equal(joined(w.command).c_str(), "/bin/true");

  given.entrypoint = std::vector<std::string>{};
  given.args = {"/bin/echo", "x"};
  assert_true(applyImageDefaults(busyboxLike(), given, w).ok());
  assert_string_equal(joined(w.command).c_str(), "/bin/echo|x");
}

static void user_settings_win(void**) {
  Workload w;
  w.env = {"LANG=en_US.UTF-8", "EXTRA=1"};
  w.workdir = "/tmp";
  w.user.spec = "0";
  RunOverrides given;
  given.workdirGiven = true;
  given.userGiven = true;
  assert_true(applyImageDefaults(busyboxLike(), given, w).ok());
  assert_string_equal(joined(w.env).c_str(), "PATH=/opt/bin:/bin|LANG=en_US.UTF-8|EXTRA=1");
  assert_string_equal(w.workdir.c_str(), "/tmp");
  assert_string_equal(w.user.spec->c_str(), "0");
}

static void a_path_is_always_set(void**) {
  Workload w;
  ContainerDefaults image;
  image.cmd = {"sh"};
  assert_true(applyImageDefaults(image, RunOverrides{}, w).ok());
  assert_string_equal(joined(w.env).c_str(), kDefaultPath);
  assert_string_equal(w.workdir.c_str(), "/");
  assert_false(w.user.spec.has_value());
}

static void no_command_is_an_error(void**) {
  Workload w;
  auto status = applyImageDefaults(ContainerDefaults{}, RunOverrides{}, w);
  assert_false(status.ok());
  assert_non_null(strstr(status.error().message().c_str(), "neither Entrypoint nor Cmd"));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(image_fills_what_the_user_left_out),
      cmocka_unit_test(arguments_replace_cmd_but_keep_entrypoint),
      cmocka_unit_test(entrypoint_override_drops_cmd),
      cmocka_unit_test(user_settings_win),
      cmocka_unit_test(a_path_is_always_set),
      cmocka_unit_test(no_command_is_an_error),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
