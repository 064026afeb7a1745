// Small, error-reporting wrappers for the file operations both runtimes need.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem {

Result<std::string> readFile(const std::string& path);
// Reads the rest of an open file; `path` names it in errors.
Result<std::string> readFile(int fd, const std::string& path);

// The size of the regular file open as `fd`; a folder, FIFO or device is an error naming `path`.
Result<std::uint64_t> regularFileSize(int fd, const std::string& path);

// Fills `target` from `fd`, through short reads and EINTR; a file that ends first is an error
// naming `source` and how much it held.
Status readExactly(int fd, std::span<std::uint8_t> target, std::string_view source);

// pread and pwrite of the whole span at `offset`, through short transfers and EINTR; a file that
// ends first is EIO. Errors name `path` and the offset.
Status readExactlyAt(int fd, std::span<std::uint8_t> into, std::uint64_t offset,
                     const std::string& path);
Status writeExactlyAt(int fd, std::span<const std::uint8_t> data, std::uint64_t offset,
                      const std::string& path);

// Reads `fd` from its current offset to its end, handing each chunk to `consume` in order;
// stops at the first error, consume's or a read's ("cannot read <source>").
Status readInChunks(int fd, std::string_view source,
                    const std::function<Status(std::span<const std::uint8_t>)>& consume);

// Writes `content` to an existing file (cgroup and /proc files), without O_CREAT or O_TRUNC
// surprises: kernel interface files reject both.
Status writeExistingFile(const std::string& path, std::string_view content);

// Creates or replaces a regular file.
Status writeFile(const std::string& path, std::string_view content, mode_t mode = 0644);

// mkdir -p; succeeds if the directory already exists.
Status makeDirectories(const std::string& path, mode_t mode = 0755);

// rm -rf that never crosses into another mount: a bind mount left inside cannot take the host
// with it.
Status removeTree(const std::string& path);

// Writes all of `bytes` to `fd`, through short writes and EINTR. `destination` names the fd in
// the error ("cannot write to <destination>") and is only turned into text on failure.
Status writeAll(int fd, std::string_view bytes, std::string_view destination);
Status writeAll(int fd, std::span<const std::uint8_t> bytes, std::string_view destination);

Result<UniqueFd> openPath(const std::string& path, int flags, mode_t mode = 0);

bool pathExists(const std::string& path);
bool isDirectory(const std::string& path);

}  // namespace tandem
