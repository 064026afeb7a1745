#include "vmm/kvm_stats.h"

#include <linux/kvm.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tests/unit/unit_test.h"

using tandem::vmm::parseKvmStats;

namespace {

constexpr std::uint32_t kNameSize = 48;
// kvm_stats_desc's fixed part as C lays it out (flags, exponent, size, offset, bucket_size);
// C++ gives the struct a different size because of its flexible-array name.
constexpr std::uint32_t kDescriptorFixedBytes = 16;
constexpr std::size_t kFlagsAt = 0, kSizeAt = 6, kOffsetAt = 8;
constexpr std::uint32_t kDescriptorSize = kDescriptorFixedBytes + kNameSize;

struct Stat {
  std::string name;
  std::uint32_t flags;
  std::uint16_t size;
  std::vector<std::uint64_t> values;
};

// A stats file laid out as KVM does (api.rst 4.133): header, id string, descriptors (each
// followed by its name), then the data block that descriptors point into.
class StatsFile {
 public:
  explicit StatsFile(const std::vector<Stat>& stats) {
    header_.name_size = kNameSize;
    header_.num_desc = static_cast<std::uint32_t>(stats.size());
    header_.id_offset = sizeof(kvm_stats_header);
    header_.desc_offset = header_.id_offset + kNameSize;
    header_.data_offset = header_.desc_offset + kDescriptorSize * header_.num_desc;
    bytes_.resize(header_.data_offset);
    std::memcpy(bytes_.data() + header_.id_offset, "kvm-1234/vcpu0", 14);

    std::uint32_t dataOffset = 0;
    for (std::size_t i = 0; i < stats.size(); ++i) {
      put(descriptorOffset(i) + kFlagsAt, stats[i].flags);
      setDescriptorSize(i, stats[i].size);
      setDescriptorOffset(i, dataOffset);
      std::memcpy(bytes_.data() + descriptorOffset(i) + kDescriptorFixedBytes, stats[i].name.data(),
                  std::min<std::size_t>(stats[i].name.size(), kNameSize));
      for (std::uint64_t value : stats[i].values) {
        appendData(value);
      }
      dataOffset += static_cast<std::uint32_t>(stats[i].values.size() * sizeof(std::uint64_t));
    }
    writeHeader();
  }

  std::size_t descriptorOffset(std::size_t index) const {
    return header_.desc_offset + index * kDescriptorSize;
  }

  kvm_stats_header& header() { return header_; }
  void writeHeader() { std::memcpy(bytes_.data(), &header_, sizeof(header_)); }

  void setDescriptorOffset(std::size_t index, std::uint32_t offset) {
    put(descriptorOffset(index) + kOffsetAt, offset);
  }
  void setDescriptorSize(std::size_t index, std::uint16_t size) {
    put(descriptorOffset(index) + kSizeAt, size);
  }

  std::vector<std::uint8_t>& bytes() { return bytes_; }

 private:
  template <class T>
  void put(std::size_t at, T value) {
    std::memcpy(bytes_.data() + at, &value, sizeof(value));
  }

  void appendData(std::uint64_t value) {
    std::uint8_t raw[sizeof(value)];
    std::memcpy(raw, &value, sizeof(value));
    bytes_.insert(bytes_.end(), raw, raw + sizeof(raw));
  }

  kvm_stats_header header_{};
  std::vector<std::uint8_t> bytes_;
};

constexpr std::uint32_t kCumulative = KVM_STATS_TYPE_CUMULATIVE;
constexpr std::uint32_t kNanoseconds = KVM_STATS_UNIT_SECONDS | KVM_STATS_BASE_POW10;

// Statistics of every kind KVM reports, and a cumulative one wider than a single value.
std::vector<Stat> vcpuStats() {
  return {
      {"halt_successful_poll", kCumulative | KVM_STATS_UNIT_NONE, 1, {11}},
      {"halt_poll_fail_ns", kCumulative | kNanoseconds, 1, {2200}},
      {"halt_wait_hist", KVM_STATS_TYPE_LOG_HIST | kNanoseconds, 4, {1, 2, 3, 4}},
      {"blocking", KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_BOOLEAN, 1, {1}},
      {"max_mmu_rmap_size", KVM_STATS_TYPE_PEAK, 1, {77}},
      {"io_exits", kCumulative, 1, {5000}},
      {"exits", kCumulative, 1, {123456789012}},
      {"halt_poll_success_hist", KVM_STATS_TYPE_LINEAR_HIST | kNanoseconds, 2, {5, 6}},
      {"wide_counter", kCumulative, 2, {7, 8}},
  };
}

std::map<std::string, std::uint64_t> parsed(StatsFile& file) {
  auto counters = parseKvmStats(file.bytes());
  if (!counters.ok()) {
    fail_msg("%s", counters.error().message().c_str());
  }
  return *counters;
}

void expectMalformed(StatsFile& file) {
  auto counters = parseKvmStats(file.bytes());
  assert_false(counters.ok());
  assert_int_equal(counters.error().errnum(), EINVAL);
  assert_non_null(strstr(counters.error().message().c_str(), "malformed"));
}

}  // namespace

static void keeps_cumulative_single_counters(void**) {
  StatsFile file(vcpuStats());
  const std::map<std::string, std::uint64_t> expected = {
      {"halt_successful_poll", 11},
      {"halt_poll_fail_ns", 2200},
      {"io_exits", 5000},
      {"exits", 123456789012},
  };
  assert_true(parsed(file) == expected);
}

static void name_filling_its_field(void**) {
  const std::string longest(kNameSize, 'n');
  StatsFile file({{longest, kCumulative, 1, {3}}});
  auto counters = parsed(file);
  assert_int_equal(counters.size(), 1);
  assert_int_equal(counters.at(longest), 3);
}

static void no_statistics(void**) {
  StatsFile file({});
  assert_true(parsed(file).empty());
}

static void rejects_a_file_shorter_than_its_header(void**) {
  StatsFile file(vcpuStats());
  file.bytes().resize(sizeof(kvm_stats_header) - 1);
  expectMalformed(file);
  file.bytes().clear();
  expectMalformed(file);
}

static void rejects_descriptors_out_of_range(void**) {
  {
    StatsFile file(vcpuStats());
    file.header().name_size = 0;
    file.writeHeader();
    expectMalformed(file);
  }
  {
    StatsFile file(vcpuStats());
    file.header().desc_offset = static_cast<std::uint32_t>(file.bytes().size() + 1);
    file.writeHeader();
    expectMalformed(file);
  }
  {
    StatsFile file(vcpuStats());
    file.header().desc_offset = 0xffffffff;
    file.writeHeader();
    expectMalformed(file);
  }
  {
    StatsFile file(vcpuStats());
    file.header().num_desc = 0xffffffff;
    file.writeHeader();
    expectMalformed(file);
  }
  {
    // A name size large enough to wrap 32-bit arithmetic.
    StatsFile file(vcpuStats());
    file.header().name_size = 0xfffffff0;
    file.writeHeader();
    expectMalformed(file);
  }
  {
    // Descriptors cut off by the end of the file.
    StatsFile file(vcpuStats());
    file.bytes().resize(file.descriptorOffset(3) + 4);
    expectMalformed(file);
  }
}

static void rejects_data_out_of_range(void**) {
  {
    StatsFile file(vcpuStats());
    file.setDescriptorOffset(0, static_cast<std::uint32_t>(file.bytes().size()));
    expectMalformed(file);
  }
  {
    StatsFile file(vcpuStats());
    file.setDescriptorOffset(0, 0xfffffff8);
    expectMalformed(file);
  }
  {
    StatsFile file(vcpuStats());
    file.header().data_offset = 0xfffffff0;
    file.writeHeader();
    expectMalformed(file);
  }
  {
    // A histogram that claims more buckets than the file holds: skipped kinds are still
    // checked, a file that lies about one statistic is not trusted for the others.
    StatsFile file(vcpuStats());
    file.setDescriptorSize(2, 0xffff);
    expectMalformed(file);
  }
  {
    // The last counter's value cut short.
    StatsFile file(vcpuStats());
    file.bytes().resize(file.bytes().size() - 1);
    expectMalformed(file);
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(keeps_cumulative_single_counters),
      cmocka_unit_test(name_filling_its_field),
      cmocka_unit_test(no_statistics),
      cmocka_unit_test(rejects_a_file_shorter_than_its_header),
      cmocka_unit_test(rejects_descriptors_out_of_range),
      cmocka_unit_test(rejects_data_out_of_range),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
