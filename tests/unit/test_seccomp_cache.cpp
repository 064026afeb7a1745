// The on-disk cache of compiled seccomp programs: keyed by what the program depends on, and
// never trusting a file that cannot be a whole program.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/capabilities.h"
#include "container/seccomp.h"
#include "container/seccomp_cache.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/unit_test.h"

using tandem::readFile;
using tandem::writeFile;
using tandem::container::cachedSeccompProgram;
using tandem::container::compileDefaultSeccompProgram;
using tandem::resolveCapabilities;
using tandem::container::seccompCacheKey;

namespace {

std::vector<cap_value_t> capsWith(std::vector<std::string> add) {
  auto caps = resolveCapabilities(add, {});
  assert_true(caps.ok());
  return *caps;
}

std::vector<sock_filter> load(const std::string& dir, const std::vector<cap_value_t>& caps) {
  auto program = cachedSeccompProgram(dir, caps);
  if (!program.ok()) {
    fail_msg("cachedSeccompProgram: %s", program.error().describe().c_str());
  }
  assert_false(program->empty());
  return *program;
}

bool samePrograms(const std::vector<sock_filter>& a, const std::vector<sock_filter>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof a[0]) == 0;
}

std::vector<std::string> filesIn(const std::string& dir) {
  std::vector<std::string> names;
  DIR* stream = ::opendir(dir.c_str());
  if (stream == nullptr) {
    return names;
  }
  while (dirent* entry = ::readdir(stream)) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) {
      names.push_back(entry->d_name);
    }
  }
  ::closedir(stream);
  return names;
}

// The one cache file in `dir`.
std::string cacheFile(const std::string& dir) {
  auto names = filesIn(dir);
  if (names.size() != 1) {
    fail_msg("%zu files in the cache, expected 1", names.size());
  }
  const std::string& name = names[0];
  assert_true(name.rfind("seccomp-", 0) == 0);
  assert_true(name.size() > 4 && name.compare(name.size() - 4, 4, ".bpf") == 0);
  return dir + "/" + name;
}

// Replaces the cache file's content and checks the next load recompiles over it.
void expectRecompiledOver(const std::string& dir, const std::string& content) {
  auto caps = capsWith({});
  std::vector<sock_filter> original = load(dir, caps);
  std::string path = cacheFile(dir);
  assert_true(writeFile(path, content).ok());

  std::vector<sock_filter> again = load(dir, caps);
  assert_true(samePrograms(original, again));
  // And the damaged file was replaced by the whole program.
  auto stored = readFile(path);
  assert_true(stored.ok());
  // The program, then an 8-byte digest of the key and the program.
  assert_int_equal(stored->size(), original.size() * sizeof(sock_filter) + 8);
  assert_int_equal(
      std::memcmp(stored->data(), original.data(), original.size() * sizeof(sock_filter)), 0);
  assert_int_equal(filesIn(dir).size(), 1);
}

}  // namespace

static void key_is_stable(void**) {
  auto caps = capsWith({});
  assert_true(seccompCacheKey(caps) == seccompCacheKey(caps));
  assert_true(seccompCacheKey(capsWith({"SYS_ADMIN"})) == seccompCacheKey(capsWith({"SYS_ADMIN"})));
}

static void key_depends_on_the_capabilities(void**) {
  auto base = capsWith({});
  auto admin = capsWith({"SYS_ADMIN"});
  auto ptrace = capsWith({"SYS_PTRACE"});
  assert_true(seccompCacheKey(base) != seccompCacheKey(admin));
  assert_true(seccompCacheKey(base) != seccompCacheKey(ptrace));
  assert_true(seccompCacheKey(admin) != seccompCacheKey(ptrace));
  assert_true(seccompCacheKey({}) != seccompCacheKey(base));
  // One capability more or less is a different key.
  std::vector<cap_value_t> fewer(base.begin(), base.end() - 1);
  assert_true(seccompCacheKey(fewer) != seccompCacheKey(base));
}

static void first_call_stores_second_call_reads(void** state) {
  const std::string& dir = tempDir(state);
  auto caps = capsWith({});
  std::vector<sock_filter> first = load(dir, caps);
  auto compiled = compileDefaultSeccompProgram(caps);
  assert_true(compiled.ok());
  assert_true(samePrograms(first, *compiled));

  std::string path = cacheFile(dir);
  auto stored = readFile(path);
  assert_true(stored.ok());
  assert_int_equal(stored->size(), first.size() * sizeof(sock_filter) + 8);
  struct stat st {};
  assert_int_equal(::stat(path.c_str(), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);

  // The second call reads the file rather than writing a new one: same inode, same content.
  std::vector<sock_filter> second = load(dir, caps);
  assert_true(samePrograms(second, first));
  struct stat after {};
  assert_int_equal(::stat(path.c_str(), &after), 0);
  assert_int_equal(after.st_ino, st.st_ino);
  assert_int_equal(filesIn(dir).size(), 1);
}

// A well-formed but altered program fails its digest and is compiled over, never installed.
static void a_tampered_program_is_recompiled(void** state) {
  const std::string& dir = tempDir(state);
  auto caps = capsWith({});
  std::vector<sock_filter> first = load(dir, caps);
  std::string path = cacheFile(dir);
  auto stored = readFile(path);
  assert_true(stored.ok());
  std::string tampered = *stored;
  tampered[4] ^= 0x5a;  // inside the first instruction's k
  assert_true(writeFile(path, tampered).ok());
  assert_true(samePrograms(load(dir, caps), first));
  // Cut at an instruction boundary: also refused.
  assert_true(writeFile(path, stored->substr(0, 8 * sizeof(sock_filter))).ok());
  assert_true(samePrograms(load(dir, caps), first));
}

static void different_capabilities_get_different_files(void** state) {
  const std::string& dir = tempDir(state);
  std::vector<sock_filter> base = load(dir, capsWith({}));
  std::vector<sock_filter> admin = load(dir, capsWith({"SYS_ADMIN"}));
  assert_int_equal(filesIn(dir).size(), 2);
  assert_false(samePrograms(base, admin));
  assert_true(samePrograms(load(dir, capsWith({"SYS_ADMIN"})), admin));
  assert_true(samePrograms(load(dir, capsWith({})), base));
  assert_int_equal(filesIn(dir).size(), 2);
}

static void creates_a_missing_cache_dir(void** state) {
  std::string dir = tempDir(state) + "/a/b/cache";
  load(dir, capsWith({}));
  cacheFile(dir);
  struct stat st {};
  assert_int_equal(::stat(dir.c_str(), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
}

static void an_unusable_cache_dir_still_gives_a_program(void** state) {
  // A file where the directory should be: nothing can be stored, but the workload still runs.
  std::string dir = tempDir(state) + "/in-the-way";
  assert_true(writeFile(dir, "not a directory").ok());
  auto caps = capsWith({});
  std::vector<sock_filter> program = load(dir, caps);
  auto compiled = compileDefaultSeccompProgram(caps);
  assert_true(compiled.ok());
  assert_true(samePrograms(program, *compiled));
  auto content = readFile(dir);
  assert_true(content.ok());
  assert_string_equal(content->c_str(), "not a directory");
  assert_int_equal(filesIn(tempDir(state)).size(), 1);
}

static void an_empty_file_is_recompiled(void** state) {
  expectRecompiledOver(tempDir(state), "");
}

static void an_odd_sized_file_is_recompiled(void** state) {
  const std::string& dir = tempDir(state);
  std::vector<sock_filter> program = load(dir, capsWith({}));
  std::string whole(reinterpret_cast<const char*>(program.data()),
                    program.size() * sizeof(sock_filter));
  // Cut mid-instruction, as a torn write would leave it.
  expectRecompiledOver(dir, whole.substr(0, whole.size() - 3));
  expectRecompiledOver(dir, whole.substr(0, 1));
  expectRecompiledOver(dir, whole + "x");
}

static void an_oversized_file_is_recompiled(void** state) {
  // More instructions than the kernel takes (BPF_MAXINSNS) cannot be a program it would load.
  expectRecompiledOver(tempDir(state), std::string(4097 * sizeof(sock_filter), '\0'));
}

static void a_directory_in_place_of_the_file_is_survived(void** state) {
  const std::string& dir = tempDir(state);
  auto caps = capsWith({});
  std::vector<sock_filter> original = load(dir, caps);
  std::string path = cacheFile(dir);
  assert_int_equal(::unlink(path.c_str()), 0);
  assert_int_equal(::mkdir(path.c_str(), 0700), 0);
  assert_true(samePrograms(load(dir, caps), original));
  // No temporary file is left behind when the rename fails.
  assert_int_equal(filesIn(dir).size(), 1);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(key_is_stable),
      cmocka_unit_test(key_depends_on_the_capabilities),
      cmocka_unit_test_setup_teardown(a_tampered_program_is_recompiled, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(first_call_stores_second_call_reads, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(different_capabilities_get_different_files, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(creates_a_missing_cache_dir, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(an_unusable_cache_dir_still_gives_a_program, makeTempDir,
                                      removeTempDir),
      cmocka_unit_test_setup_teardown(an_empty_file_is_recompiled, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(an_odd_sized_file_is_recompiled, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(an_oversized_file_is_recompiled, makeTempDir, removeTempDir),
      cmocka_unit_test_setup_teardown(a_directory_in_place_of_the_file_is_survived, makeTempDir,
                                      removeTempDir),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
