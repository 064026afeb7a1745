// What a pull or a push shows while it runs: one row per blob, as `docker pull` and `docker push`
// print them. The model is
// plain state and rendering to strings, so tests check it without a terminal; ProgressDisplay
// writes it out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/image/digest.h"

namespace tandem::registry {

// The phases are named for a pull; a push shows the same ones in its own words (Preparing,
// Pushing, Layer already exists, Pushed).
enum class TransferDirection { kPull, kPush };

enum class BlobPhase {
  kWaiting,
  kDownloading,       // pushing, for a push
  kAlreadyExists,     // in the store, or for a push in the registry's repository
  kDownloadComplete,  // every byte is in; the digest is being checked
  kPullComplete,      // verified and in the store, or pushed
  kMounted,           // a push only: the registry linked it from another repository
  kFailed,
};

struct BlobProgress {
  image::Digest digest;
  std::uint64_t total = 0;
  std::uint64_t done = 0;
  std::uint64_t resumedFrom = 0;
  int attempt = 1;
  BlobPhase phase = BlobPhase::kWaiting;
  std::string mountedFrom;  // the repository a mounted blob came from
};

class TransferProgress {
 public:
  explicit TransferProgress(TransferDirection direction = TransferDirection::kPull)
      : direction_(direction) {}

  // Returns the row's number, for the other calls.
  std::size_t add(const image::Digest& digest, std::uint64_t total);

  void alreadyExists(std::size_t row);
  void started(std::size_t row, std::uint64_t offset);
  // `done` is what the partial holds now: it drops to 0 when a server ignores a Range request.
  void advanced(std::size_t row, std::uint64_t done);
  void retrying(std::size_t row);
  void downloaded(std::size_t row);
  void completed(std::size_t row);
  void failed(std::size_t row);
  void mounted(std::size_t row, std::string fromRepository);

  const std::vector<BlobProgress>& rows() const { return rows_; }

  // Every row on its own line, each ending in '\n', for a terminal `width` columns wide.
  std::string renderTerminal(std::size_t width) const;
  // The line a log gets for a row's latest event (start, resume, completion), with '\n'.
  std::string plainLine(std::size_t row) const;

 private:
  // The words a row's phase is shown with.
  std::string phaseLabel(const BlobProgress& row) const;

  TransferDirection direction_;
  std::vector<BlobProgress> rows_;
};

// docker's decimal units: "512B", "1.2kB", "34.5MB".
std::string humanBytes(std::uint64_t bytes);

}  // namespace tandem::registry
