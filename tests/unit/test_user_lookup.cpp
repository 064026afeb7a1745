// --user resolved against an image's own /etc/passwd and /etc/group texts, including texts an
// image author could have written badly or on purpose.
#include <cstring>
#include <string>
#include <vector>

#include "container/user_lookup.h"
#include "tests/unit/unit_test.h"

using tandem::container::ResolvedUser;
using tandem::container::resolveUser;

namespace {

constexpr const char* kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
    "alice:x:1000:1000:Alice,,,:/home/alice:/bin/sh\n"
    "bob:x:1001:100::/home/bob:/bin/sh\n"
    "nohome:x:1002:1002:::/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";

constexpr const char* kGroup =
    "root:x:0:\n"
    "daemon:x:1:\n"
    "wheel:x:10:alice,bob\n"
    "www-data:x:33:\n"
    "users:x:100:\n"
    "alice:x:1000:\n"
    "docker:x:999:carol,alice\n"
    "audio:x:29:bob\n"
    "nogroup:x:65534:\n";

ResolvedUser resolveOk(const std::string& spec, const std::string& passwd = kPasswd,
                       const std::string& group = kGroup) {
  auto user = resolveUser(spec, passwd, group);
  if (!user.ok()) {
    fail_msg("resolveUser(\"%s\"): %s", spec.c_str(), user.error().describe().c_str());
  }
  return *user;
}

void expectError(const std::string& spec, const char* needle, const std::string& passwd = kPasswd,
                 const std::string& group = kGroup) {
  auto user = resolveUser(spec, passwd, group);
  if (user.ok()) {
    fail_msg("resolveUser(\"%s\") succeeded with uid %u gid %u", spec.c_str(), user->uid,
             user->gid);
  }
  if (std::strstr(user.error().message().c_str(), needle) == nullptr) {
    fail_msg("error \"%s\" does not mention \"%s\"", user.error().message().c_str(), needle);
  }
}

}  // namespace

static void empty_spec_is_root(void**) {
  ResolvedUser user = resolveOk("");
  assert_int_equal(user.uid, 0);
  assert_int_equal(user.gid, 0);
  assert_string_equal(user.home.c_str(), "/root");
  assert_true(user.additionalGids.empty());
}

static void numeric_user_in_passwd(void**) {
  ResolvedUser user = resolveOk("1000");
  assert_int_equal(user.uid, 1000);
  assert_int_equal(user.gid, 1000);
  assert_string_equal(user.home.c_str(), "/home/alice");
  // alice's memberships, found by the name the number belongs to.
  assert_int_equal(user.additionalGids.size(), 2);
  assert_int_equal(user.additionalGids[0], 10);
  assert_int_equal(user.additionalGids[1], 999);
}

static void numeric_user_absent_from_passwd(void**) {
  ResolvedUser user = resolveOk("4242");
  assert_int_equal(user.uid, 4242);
  assert_int_equal(user.gid, 0);
  assert_string_equal(user.home.c_str(), "/");
  assert_true(user.additionalGids.empty());

  user = resolveOk("4242:4343");
  assert_int_equal(user.uid, 4242);
  assert_int_equal(user.gid, 4343);
}

static void named_user(void**) {
  ResolvedUser user = resolveOk("www-data");
  assert_int_equal(user.uid, 33);
  assert_int_equal(user.gid, 33);
  assert_string_equal(user.home.c_str(), "/var/www");
  assert_true(user.additionalGids.empty());

  user = resolveOk("bob");
  assert_int_equal(user.uid, 1001);
  assert_int_equal(user.gid, 100);
  assert_string_equal(user.home.c_str(), "/home/bob");
  assert_int_equal(user.additionalGids.size(), 2);
  assert_int_equal(user.additionalGids[0], 10);
  assert_int_equal(user.additionalGids[1], 29);
}

static void user_and_group(void**) {
  ResolvedUser user = resolveOk("alice:www-data");
  assert_int_equal(user.uid, 1000);
  assert_int_equal(user.gid, 33);
  assert_string_equal(user.home.c_str(), "/home/alice");
  // A group named explicitly replaces the memberships, as in docker.
  assert_true(user.additionalGids.empty());

  user = resolveOk("alice:50");
  assert_int_equal(user.gid, 50);
  user = resolveOk("33:nogroup");
  assert_int_equal(user.uid, 33);
  assert_int_equal(user.gid, 65534);
  user = resolveOk("4242:users");
  assert_int_equal(user.uid, 4242);
  assert_int_equal(user.gid, 100);
  // "USER:" names no group.
  user = resolveOk("alice:");
  assert_int_equal(user.gid, 1000);
  assert_int_equal(user.additionalGids.size(), 2);
}

static void group_only_is_root_with_that_group(void**) {
  ResolvedUser user = resolveOk(":docker");
  assert_int_equal(user.uid, 0);
  assert_int_equal(user.gid, 999);
  user = resolveOk(":7");
  assert_int_equal(user.uid, 0);
  assert_int_equal(user.gid, 7);
  user = resolveOk(":");
  assert_int_equal(user.uid, 0);
  assert_int_equal(user.gid, 0);
}

static void unknown_names_are_errors(void**) {
  expectError("mallory", "mallory");
  expectError("mallory", "/etc/passwd");
  expectError("alice:nosuchgroup", "nosuchgroup");
  expectError("alice:nosuchgroup", "/etc/group");
  expectError(":nosuchgroup", "nosuchgroup");
  // Names are matched exactly.
  expectError("Alice", "Alice");
  expectError("alice ", "alice ");
  expectError(" alice", " alice");
  // A group's name is not a user's.
  expectError("wheel", "wheel");
}

static void odd_numbers_are_names(void**) {
  // Neither is a number, so each must be a name, and none is in passwd.
  for (const char* spec : {"-1", "+5", "1e3", "0x10", "1000 ", "1.0", "99999999999"}) {
    expectError(spec, "/etc/passwd");
  }
  expectError("alice:-1", "/etc/group");
}

// setresuid() and setresgid() read -1 as "leave unchanged": a container asked to run as uid
// 4294967295 would keep running as root.
static void the_unchanged_id_is_refused(void**) {
  auto user = resolveUser("4294967295", kPasswd, kGroup);
  assert_false(user.ok());
  user = resolveUser("1000:4294967295", kPasswd, kGroup);
  assert_false(user.ok());
  user = resolveUser(":4294967295", kPasswd, kGroup);
  assert_false(user.ok());
  // Nor can an image's passwd or group hand it out by name.
  user = resolveUser("ghost", "ghost:x:4294967295:1000::/:/bin/sh\n", kGroup);
  assert_false(user.ok());
  user = resolveUser("alice", "alice:x:1000:4294967295::/:/bin/sh\n", kGroup);
  assert_false(user.ok());
  user = resolveUser("alice:ghosts", kPasswd, "ghosts:x:4294967295:\n");
  assert_false(user.ok());
  // The largest real id still works.
  ResolvedUser ok = resolveOk("4294967294:4294967294");
  assert_int_equal(ok.uid, 4294967294u);
  assert_int_equal(ok.gid, 4294967294u);
}

static void empty_files(void**) {
  ResolvedUser user = resolveOk("", "", "");
  assert_int_equal(user.uid, 0);
  assert_int_equal(user.gid, 0);
  assert_string_equal(user.home.c_str(), "/");
  user = resolveOk("1000:1000", "", "");
  assert_int_equal(user.uid, 1000);
  assert_int_equal(user.gid, 1000);
  assert_true(user.additionalGids.empty());
  expectError("alice", "alice", "", "");
  expectError("0:root", "root", "", "");
}

static void empty_home_is_slash(void**) {
  ResolvedUser user = resolveOk("nohome");
  assert_int_equal(user.uid, 1002);
  assert_string_equal(user.home.c_str(), "/");
}

static void skips_malformed_lines(void**) {
  std::string passwd =
      "\n"
      "garbage\n"
      "# a comment:x:0:0::/root:/bin/sh\n"
      "short:x:5:5\n"
      "baduid:x:abc:5::/home/baduid:/bin/sh\n"
      "badgid:x:6:-1::/home/badgid:/bin/sh\n"
      "negative:x:-7:7::/home/negative:/bin/sh\n"
      "overflow:x:4294967296:8::/home/overflow:/bin/sh\n"
      ":x:9:9::/home/empty:/bin/sh\n"
      "::::::\n"
      "root:x:0:0:root:/root:/bin/bash\n"
      "alice:x:1000:1000::/home/alice:/bin/sh\n";
  std::string group =
      "garbage\n"
      "wheel:x:ten:alice\n"
      ":::\n"
      "staff:x:50:alice\n"
      "odd:x:51:,,alice,,\n"
      "short:x\n";
  for (const char* name : {"short", "baduid", "badgid", "negative", "overflow", "garbage"}) {
    expectError(name, name, passwd, group);
  }
  expectError("alice:wheel", "wheel", passwd, group);
  ResolvedUser user = resolveOk("alice", passwd, group);
  assert_int_equal(user.uid, 1000);
  assert_int_equal(user.gid, 1000);
  assert_string_equal(user.home.c_str(), "/home/alice");
  assert_int_equal(user.additionalGids.size(), 2);
  assert_int_equal(user.additionalGids[0], 50);
  assert_int_equal(user.additionalGids[1], 51);
  // The first well-formed line for an id wins over later ones.
  user = resolveOk("0", passwd + "toor:x:0:7::/toor:/bin/sh\n", group);
  assert_string_equal(user.home.c_str(), "/root");
}

static void lines_without_trailing_newline(void**) {
  ResolvedUser user =
      resolveOk("carol", "carol:x:2000:2000::/home/carol:/bin/sh", "docker:x:999:carol");
  assert_int_equal(user.uid, 2000);
  assert_int_equal(user.gid, 2000);
  assert_int_equal(user.additionalGids.size(), 1);
  assert_int_equal(user.additionalGids[0], 999);
}

static void primary_group_is_not_repeated(void**) {
  std::string group = std::string(kGroup) + "alice2:x:1000:alice\n";
  ResolvedUser user = resolveOk("alice", kPasswd, group);
  for (gid_t gid : user.additionalGids) {
    assert_int_not_equal(gid, 1000);
  }
}

static void members_match_whole_names(void**) {
  std::string group = "g1:x:300:alicex\ng2:x:301:xalice\ng3:x:302:ali\ng4:x:303: alice\n";
  ResolvedUser user = resolveOk("alice", kPasswd, group);
  assert_true(user.additionalGids.empty());
}

static void survives_huge_texts(void**) {
  std::string passwd;
  for (int i = 0; i < 20000; ++i) {
    passwd += "u" + std::to_string(i) + ":x:" + std::to_string(10000 + i) + ":100::/h:/bin/sh\n";
  }
  std::string members;
  for (int i = 0; i < 20000; ++i) {
    members += (i ? "," : "") + std::string("u") + std::to_string(i);
  }
  std::string group = "big:x:500:" + members + "\n";
  ResolvedUser user = resolveOk("u19999", passwd, group);
  assert_int_equal(user.uid, 29999);
  assert_int_equal(user.additionalGids.size(), 1);
  assert_int_equal(user.additionalGids[0], 500);
  std::string oneLine(1 << 20, ':');
  expectError("x", "x", oneLine, oneLine);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(empty_spec_is_root),
      cmocka_unit_test(numeric_user_in_passwd),
      cmocka_unit_test(numeric_user_absent_from_passwd),
      cmocka_unit_test(named_user),
      cmocka_unit_test(user_and_group),
      cmocka_unit_test(group_only_is_root_with_that_group),
      cmocka_unit_test(unknown_names_are_errors),
      cmocka_unit_test(odd_numbers_are_names),
      cmocka_unit_test(the_unchanged_id_is_refused),
      cmocka_unit_test(empty_files),
      cmocka_unit_test(empty_home_is_slash),
      cmocka_unit_test(skips_malformed_lines),
      cmocka_unit_test(lines_without_trailing_newline),
      cmocka_unit_test(primary_group_is_not_repeated),
      cmocka_unit_test(members_match_whole_names),
      cmocka_unit_test(survives_huge_texts),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
