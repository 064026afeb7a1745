#include "container/user_lookup.h"

#include <algorithm>
#include <charconv>
#include <sstream>

namespace tandem::container {

namespace {

std::vector<std::string> splitFields(const std::string& line, char separator) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream stream(line);
  while (std::getline(stream, field, separator)) {
    fields.push_back(field);
  }
  if (!line.empty() && line.back() == separator) {
    fields.emplace_back();
  }
  return fields;
}

// (uid_t)-1 is no id: setresuid() and setresgid() read it as "leave unchanged", which would
// keep the container's process root.
bool parseId(const std::string& text, std::uint32_t& id) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() &&
         id != static_cast<std::uint32_t>(-1);
}

struct PasswdEntry {
  std::string name;
  uid_t uid;
  gid_t gid;
  std::string home;
};

std::vector<PasswdEntry> parsePasswd(const std::string& text) {
  std::vector<PasswdEntry> entries;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto fields = splitFields(line, ':');
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    // name:password:uid:gid:gecos:home:shell
    if (fields.size() < 6 || !parseId(fields[2], uid) || !parseId(fields[3], gid)) {
      continue;
    }
    entries.push_back({fields[0], uid, gid, fields[5]});
  }
  return entries;
}

struct GroupEntry {
  std::string name;
  gid_t gid;
  std::vector<std::string> members;
};

std::vector<GroupEntry> parseGroup(const std::string& text) {
  std::vector<GroupEntry> entries;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto fields = splitFields(line, ':');
    std::uint32_t gid = 0;
    // name:password:gid:member,member
    if (fields.size() < 3 || !parseId(fields[2], gid)) {
      continue;
    }
    entries.push_back(
        {fields[0], gid,
         fields.size() > 3 ? splitFields(fields[3], ',') : std::vector<std::string>{}});
  }
  return entries;
}

}  // namespace

Result<ResolvedUser> resolveUser(const std::string& spec, const std::string& passwd,
                                 const std::string& group) {
  auto colon = spec.find(':');
  // An empty user part means root, as in docker's "--user :GROUP".
  std::string userPart = colon == 0 || spec.empty() ? std::string(1, '0') : spec.substr(0, colon);
  std::string groupPart = colon == std::string::npos ? "" : spec.substr(colon + 1);
  auto users = parsePasswd(passwd);
  auto groups = parseGroup(group);

  ResolvedUser resolved;
  std::string userName;
  std::uint32_t number = 0;
  const PasswdEntry* entry = nullptr;
  if (parseId(userPart, number)) {
    resolved.uid = number;
    for (const auto& candidate : users) {
      if (candidate.uid == number) {
        entry = &candidate;
        break;
      }
    }
  } else {
    for (const auto& candidate : users) {
      if (candidate.name == userPart) {
        entry = &candidate;
        break;
      }
    }
    if (entry == nullptr) {
      return Error("user \"" + userPart + "\" is not in the rootfs's /etc/passwd");
    }
    resolved.uid = entry->uid;
  }
  if (entry != nullptr) {
    resolved.gid = entry->gid;
    resolved.home = entry->home.empty() ? "/" : entry->home;
    userName = entry->name;
  }

  if (!groupPart.empty()) {
    if (parseId(groupPart, number)) {
      resolved.gid = number;
    } else {
      auto found = std::find_if(groups.begin(), groups.end(),
                                [&](const GroupEntry& g) { return g.name == groupPart; });
      if (found == groups.end()) {
        return Error("group \"" + groupPart + "\" is not in the rootfs's /etc/group");
      }
      resolved.gid = found->gid;
    }
  } else if (!userName.empty()) {
    // Supplementary groups come from membership only when no group was named explicitly.
    for (const auto& g : groups) {
      if (g.gid != resolved.gid &&
          std::find(g.members.begin(), g.members.end(), userName) != g.members.end()) {
        resolved.additionalGids.push_back(g.gid);
      }
    }
  }
  return resolved;
}

}  // namespace tandem::container
