#include "common/registry/transfer_progress.h"

#include <cstdio>

namespace tandem::registry {

namespace {

constexpr std::size_t kBarWidth = 40;

std::string bar(std::uint64_t done, std::uint64_t total) {
  std::size_t filled = total == 0 ? kBarWidth : static_cast<std::size_t>(done * kBarWidth / total);
  if (filled > kBarWidth) {
    filled = kBarWidth;
  }
  std::string out = "[";
  out.append(filled, '=');
  if (filled < kBarWidth) {
    out += '>';
    out.append(kBarWidth - filled - 1, ' ');
  }
  out += ']';
  return out;
}

}  // namespace

std::string humanBytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  if (bytes < 1000) {
    return std::to_string(bytes) + "B";
  }
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1000 && unit + 1 < std::size(kUnits)) {
    value /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%s", value, kUnits[unit]);
  return text;
}

std::size_t TransferProgress::add(const image::Digest& digest, std::uint64_t total) {
  rows_.push_back(BlobProgress{.digest = digest, .total = total});
  return rows_.size() - 1;
}

void TransferProgress::alreadyExists(std::size_t row) {
  rows_[row].phase = BlobPhase::kAlreadyExists;
  rows_[row].done = rows_[row].total;
}

void TransferProgress::started(std::size_t row, std::uint64_t offset) {
  rows_[row].phase = BlobPhase::kDownloading;
  rows_[row].done = offset;
  if (rows_[row].attempt == 1) {
    rows_[row].resumedFrom = offset;
  }
}

void TransferProgress::advanced(std::size_t row, std::uint64_t done) {
  rows_[row].done = done;
}

void TransferProgress::retrying(std::size_t row) {
  ++rows_[row].attempt;
  rows_[row].phase = BlobPhase::kWaiting;
}

void TransferProgress::downloaded(std::size_t row) {
  rows_[row].phase = BlobPhase::kDownloadComplete;
}

void TransferProgress::completed(std::size_t row) {
  rows_[row].phase = BlobPhase::kPullComplete;
  rows_[row].done = rows_[row].total;
}

void TransferProgress::failed(std::size_t row) {
  rows_[row].phase = BlobPhase::kFailed;
}

void TransferProgress::mounted(std::size_t row, std::string fromRepository) {
  rows_[row].phase = BlobPhase::kMounted;
  rows_[row].done = rows_[row].total;
  rows_[row].mountedFrom = std::move(fromRepository);
}

std::string TransferProgress::phaseLabel(const BlobProgress& row) const {
  bool push = direction_ == TransferDirection::kPush;
  switch (row.phase) {
    case BlobPhase::kWaiting:
      if (row.attempt > 1) {
        return "Retrying (attempt " + std::to_string(row.attempt) + ")";
      }
      return push ? "Preparing" : "Waiting";
    case BlobPhase::kDownloading:
      return push ? "Pushing" : "Downloading";
    case BlobPhase::kAlreadyExists:
      return push ? "Layer already exists" : "Already exists";
    case BlobPhase::kDownloadComplete:
      return push ? "Pushed" : "Download complete";
    case BlobPhase::kPullComplete:
      return push ? "Pushed" : "Pull complete";
    case BlobPhase::kMounted:
      return "Mounted from " + row.mountedFrom;
    case BlobPhase::kFailed:
      return "Failed";
  }
  return "";
}

std::string TransferProgress::renderTerminal(std::size_t width) const {
  std::string out;
  for (const BlobProgress& row : rows_) {
    std::string line = row.digest.shortId() + ": ";
    line += phaseLabel(row);
    if (row.phase == BlobPhase::kDownloading) {
      line +=
          " " + bar(row.done, row.total) + " " + humanBytes(row.done) + "/" + humanBytes(row.total);
    }
    // A line wider than the terminal wraps, and the cursor movement that redraws it miscounts.
    if (width > 0 && line.size() >= width) {
      line.resize(width - 1);
    }
    out += line + '\n';
  }
  return out;
}

std::string TransferProgress::plainLine(std::size_t row) const {
  const BlobProgress& blob = rows_[row];
  std::string line = blob.digest.shortId() + ": ";
  switch (blob.phase) {
    case BlobPhase::kWaiting:
      line += "retrying, attempt " + std::to_string(blob.attempt);
      break;
    case BlobPhase::kDownloading:
      line += direction_ == TransferDirection::kPush ? "pushing " : "downloading ";
      line += std::to_string(blob.total) + " bytes";
      if (blob.done > 0 && direction_ == TransferDirection::kPull) {
        line += ", resuming at " + std::to_string(blob.done) + " bytes";
      }
      break;
    case BlobPhase::kAlreadyExists:
    case BlobPhase::kDownloadComplete:
    case BlobPhase::kMounted:
      line += phaseLabel(blob);
      break;
    case BlobPhase::kPullComplete:
      line += phaseLabel(blob) + " (" + std::to_string(blob.total) + " bytes)";
      break;
    case BlobPhase::kFailed:
      line += "failed";
      break;
  }
  return line + '\n';
}

}  // namespace tandem::registry
