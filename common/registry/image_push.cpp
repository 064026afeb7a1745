#include "common/registry/image_push.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "common/file.h"
#include "common/image/oci.h"
#include "common/registry/image_pull.h"
#include "common/registry/registry_auth.h"
#include "common/registry/registry_url.h"

namespace tandem::registry {

namespace {

using image::Descriptor;
using image::Digest;

// Answers to HEAD, POST and PUT are empty or a registry's error JSON.
constexpr std::size_t kMaxAnswerBytes = 64 << 10;

std::chrono::milliseconds retryDelay(int attempt) {
  return std::chrono::milliseconds(500 * attempt);
}

class Pusher {
 public:
  Pusher(const image::ImageRecord& image, const image::Reference& destination,
         const PushOptions& options, const image::BlobStore& store, ProgressDisplay& display)
      : image_(image),
        destination_(destination),
        options_(options),
        store_(store),
        display_(display),
        endpoint_(registryEndpoint(destination.registry, options.insecure)),
        mountFrom_(mountSource(image, destination)),
        auth_(repositoryScope(destination.repository, "pull,push") +
                  (mountFrom_ ? " " + repositoryScope(*mountFrom_, "pull") : ""),
              options.credentials, options.tls) {}

  Result<PushResult> run();

 private:
  using Prepare = std::function<Status(HttpRequest&)>;

  // Sends a request until it gets an answer that is not a 401 or a retryable failure, and
  // returns it whatever its status: a HEAD's 404 or a mount's 202 is the caller's to read.
  // `url` is asked again on each attempt, since a loopback registry may turn out to be http.
  Result<std::unique_ptr<HttpRequest>> send(const std::string& method,
                                            const std::function<std::string()>& url,
                                            const std::vector<std::string>& headers,
                                            const Prepare& prepare);
  Status pushBlobs(const std::vector<Descriptor>& blobs);
  Status pushBlob(const Descriptor& blob, std::size_t row);
  // Opens an upload, or finishes the blob by mounting it; answers the upload's URL, or nothing
  // when mounted.
  Result<std::optional<std::string>> startUpload(const Descriptor& blob, std::size_t row);
  Status upload(const Descriptor& blob, std::size_t row, const std::string& location);
  Status pushManifest(const std::string& bytes, const std::string& mediaType, const Digest& digest);

  const image::ImageRecord& image_;
  const image::Reference& destination_;
  const PushOptions& options_;
  const image::BlobStore& store_;

  // Workers share these; one lock keeps it simple, since none is held across a transfer.
  std::mutex mutex_;
  ProgressDisplay& display_;
  RegistryEndpoint endpoint_;
  std::optional<std::string> mountFrom_;
  RegistryAuth auth_;
  std::uint64_t transferred_ = 0;
  std::size_t pushed_ = 0;
  std::size_t skipped_ = 0;
};

Result<std::unique_ptr<HttpRequest>> Pusher::send(const std::string& method,
                                                  const std::function<std::string()>& url,
                                                  const std::vector<std::string>& headers,
                                                  const Prepare& prepare) {
  int failures = 0;
  int unauthorized = 0;
  while (true) {
    std::vector<std::string> lines = headers;
    {
      std::lock_guard lock(mutex_);
      if (!auth_.header().empty()) {
        lines.push_back(auth_.header());
      }
    }
    TANDEM_ASSIGN_OR_RETURN(auto request, HttpRequest::create(url(), lines, options_.tls, method));
    request->collect(kMaxAnswerBytes);
    if (prepare) {
      TANDEM_TRY(prepare(*request));
    }
    switch (request->finish(request->perform())) {
      case HttpOutcome::kOk: {
        std::lock_guard lock(mutex_);
        endpoint_.plainHttpFallback = false;
        return request;
      }
      case HttpOutcome::kUnauthorized: {
        // One answer earns a token; a second 401 after it means the token is not enough.
        if (++unauthorized > 2) {
          return request->error().context("the registry refused to let tandem push to " +
                                          destination_.name() +
                                          "; check the credentials (--creds USER:PASS)");
        }
        std::lock_guard lock(mutex_);
        TANDEM_TRY(auth_.answer(request->wwwAuthenticate(), request->what()));
        break;
      }
      case HttpOutcome::kRetryable:
        if (++failures > kTransferRetries) {
          return request->error().context("gave up after " + std::to_string(failures) +
                                          " attempts");
        }
        std::this_thread::sleep_for(retryDelay(failures));
        break;
      case HttpOutcome::kFailed: {
        std::lock_guard lock(mutex_);
        // Whatever answered on the loopback port does not speak TLS: a plain http registry.
        // Another worker may have found that out while this request was on its way.
        bool raced = endpoint_.scheme == "http" && request->url().starts_with("https://");
        if ((endpoint_.plainHttpFallback || raced) &&
            request->curlCode() == CURLE_SSL_CONNECT_ERROR) {
          endpoint_.scheme = "http";
          endpoint_.plainHttpFallback = false;
          break;
        }
        if (request->status() == 0) {
          return request->error();  // no answer at all: TLS, or the body could not be read
        }
        return request;
      }
    }
  }
}

Result<std::optional<std::string>> Pusher::startUpload(const Descriptor& blob, std::size_t row) {
  if (mountFrom_) {
    std::string from = *mountFrom_;
    TANDEM_ASSIGN_OR_RETURN(auto post, send(
                                           "POST",
                                           [&] {
                                             std::lock_guard lock(mutex_);
                                             return mountUrl(endpoint_, destination_.repository,
                                                             blob.digest, from);
                                           },
                                           {}, nullptr));
    if (post->status() == 201) {
      std::lock_guard lock(mutex_);
      ++skipped_;
      display_.model().mounted(row, from);
      display_.event(row);
      return std::optional<std::string>();
    }
    if (post->status() == 202 && !post->location().empty()) {
      return std::optional<std::string>(resolveLocation(post->url(), post->location()));
    }
    // A registry that does not mount may refuse the query outright; a plain upload still works.
  }
  TANDEM_ASSIGN_OR_RETURN(auto post, send(
                                         "POST",
                                         [&] {
                                           std::lock_guard lock(mutex_);
                                           return uploadStartUrl(endpoint_,
                                                                 destination_.repository);
                                         },
                                         {}, nullptr));
  if (post->status() != 202) {
    return post->error().context("cannot start the upload of " + blob.digest.text());
  }
  if (post->location().empty()) {
    return Error(post->what() +
                 ": the registry opened an upload without a Location header "
                 "saying where to send the blob");
  }
  return std::optional<std::string>(resolveLocation(post->url(), post->location()));
}

Status Pusher::upload(const Descriptor& blob, std::size_t row, const std::string& location) {
  TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, store_.open(blob.digest));
  auto size = static_cast<std::uint64_t>(blob.size);
  std::string url = uploadCompleteUrl(location, blob.digest);
  std::uint64_t sentThisAttempt = 0;
  Prepare prepare = [&](HttpRequest& request) -> Status {
    // Each attempt sends the whole blob again: a monolithic upload has no offset to resume at.
    if (::lseek(fd.get(), 0, SEEK_SET) != 0) {
      return Error::fromErrno("cannot rewind " + store_.path(blob.digest));
    }
    {
      std::lock_guard lock(mutex_);
      transferred_ -= sentThisAttempt;
      sentThisAttempt = 0;
      display_.model().started(row, 0);
      display_.event(row);
    }
    return request.uploadFrom(fd.get(), size, [&, row](std::uint64_t bytes) {
      std::lock_guard lock(mutex_);
      sentThisAttempt += bytes;
      transferred_ += bytes;
      display_.model().advanced(row, sentThisAttempt);
      display_.tick();
    });
  };
  TANDEM_ASSIGN_OR_RETURN(auto put, send(
                                        "PUT", [&] { return url; },
                                        {"Content-Type: application/octet-stream"}, prepare));
  if (put->status() != 201 && put->status() != 204) {
    return put->error().context("cannot upload " + blob.digest.text());
  }
  if (!put->dockerContentDigest().empty() && put->dockerContentDigest() != blob.digest.text()) {
    return Error(put->what() + ": the registry stored the blob as " + put->dockerContentDigest() +
                 ", not " + blob.digest.text());
  }
  std::lock_guard lock(mutex_);
  ++pushed_;
  display_.model().completed(row);
  display_.event(row);
  return okStatus();
}

Status Pusher::pushBlob(const Descriptor& blob, std::size_t row) {
  TANDEM_ASSIGN_OR_RETURN(auto head, send(
                                         "HEAD",
                                         [&] {
                                           std::lock_guard lock(mutex_);
                                           return blobUrl(endpoint_, destination_.repository,
                                                          blob.digest);
                                         },
                                         {}, nullptr));
  if (head->status() == 200) {
    std::lock_guard lock(mutex_);
    ++skipped_;
    display_.model().alreadyExists(row);
    display_.event(row);
    return okStatus();
  }
  if (head->status() != 404) {
    return head->error().context("cannot ask whether the registry holds " + blob.digest.text());
  }
  TANDEM_ASSIGN_OR_RETURN(std::optional<std::string> location, startUpload(blob, row));
  if (!location) {
    return okStatus();
  }
  return upload(blob, row, *location);
}

Status Pusher::pushBlobs(const std::vector<Descriptor>& blobs) {
  std::vector<std::pair<Descriptor, std::size_t>> work;
  std::set<Digest> seen;
  for (const Descriptor& blob : blobs) {
    // Empty layers often repeat; one upload serves every place the manifest names it.
    if (seen.insert(blob.digest).second) {
      work.emplace_back(blob,
                        display_.model().add(blob.digest, static_cast<std::uint64_t>(blob.size)));
    }
  }
  std::atomic<std::size_t> next = 0;
  std::optional<Error> failure;
  auto worker = [&] {
    while (true) {
      {
        std::lock_guard lock(mutex_);
        if (failure) {
          return;
        }
      }
      std::size_t at = next++;
      if (at >= work.size()) {
        return;
      }
      const auto& [blob, row] = work[at];
      if (Status pushed = pushBlob(blob, row); !pushed) {
        std::lock_guard lock(mutex_);
        display_.model().failed(row);
        display_.event(row);
        if (!failure) {
          failure = std::move(pushed).error().context("pushing " + blob.digest.text());
        }
      }
    }
  };
  std::size_t count = std::min(std::max<std::size_t>(options_.jobs, 1), work.size());
  std::vector<std::thread> workers;
  for (std::size_t i = 0; i < count; ++i) {
    workers.emplace_back(worker);
  }
  for (std::thread& thread : workers) {
    thread.join();
  }
  display_.finish();
  if (failure) {
    return std::move(*failure);
  }
  return okStatus();
}

Status Pusher::pushManifest(const std::string& bytes, const std::string& mediaType,
                            const Digest& digest) {
  // A tag names what to update; a reference pinned by digest alone is pushed by that digest.
  std::string target = destination_.tag.empty() ? digest.text() : destination_.tag;
  TANDEM_ASSIGN_OR_RETURN(auto put,
                          send(
                              "PUT",
                              [&] {
                                std::lock_guard lock(mutex_);
                                return manifestUrl(endpoint_, destination_.repository, target);
                              },
                              {"Content-Type: " + mediaType},
                              [&](HttpRequest& request) { return request.uploadBytes(bytes); }));
  if (put->status() != 201 && put->status() != 200) {
    return put->error().context("the registry refused the manifest of " + destination_.text());
  }
  if (!put->dockerContentDigest().empty() && put->dockerContentDigest() != digest.text()) {
    return Error(put->what() + ": the registry stored the manifest as " +
                 put->dockerContentDigest() + ", not " + digest.text() +
                 "; it rewrote the document, so the image's digest would not survive the push");
  }
  return okStatus();
}

Result<PushResult> Pusher::run() {
  const Digest& manifestDigest = image_.manifestDigest;
  if (destination_.digest && *destination_.digest != manifestDigest) {
    return Error("cannot push " + image_.id.shortId() + " as " + destination_.text() +
                 ": its manifest is " + manifestDigest.text() + ", not the pinned digest");
  }
  TANDEM_ASSIGN_OR_RETURN(UniqueFd fd, store_.open(manifestDigest));
  TANDEM_ASSIGN_OR_RETURN(std::string bytes, readFile(fd.get(), store_.path(manifestDigest)));
  TANDEM_ASSIGN_OR_RETURN(image::Manifest manifest, image::parseManifest(bytes).context(
                                                        "the manifest " + manifestDigest.text() +
                                                        " of " + image_.id.shortId()));
  std::vector<Descriptor> blobs = manifest.layers;
  blobs.push_back(manifest.config);
  TANDEM_TRY(pushBlobs(blobs));
  TANDEM_TRY(pushManifest(bytes, manifest.mediaType, manifestDigest));
  PushResult result;
  result.reference = destination_;
  result.manifestDigest = manifestDigest;
  result.blobsPushed = pushed_;
  result.blobsSkipped = skipped_;
  result.bytesTransferred = transferred_;
  return result;
}

}  // namespace

std::optional<std::string> mountSource(const image::ImageRecord& image,
                                       const image::Reference& destination) {
  for (const image::Reference& tag : image.tags) {
    if (tag.registry == destination.registry && tag.repository != destination.repository) {
      return tag.repository;
    }
  }
  return std::nullopt;
}

Result<PushResult> pushImage(const image::ImageRecord& image, const image::Reference& destination,
                             const PushOptions& options, const image::BlobStore& store,
                             ProgressDisplay& display) {
  Pusher pusher(image, destination, options, store, display);
  return pusher.run().context("pushing " + image.id.shortId() + " to " + destination.text());
}

std::string pushResultJson(const PushResult& result) {
  nlohmann::json out = {
      {"reference", result.reference.text()},
      {"manifestDigest", result.manifestDigest.text()},
      {"blobsPushed", result.blobsPushed},
      {"blobsSkipped", result.blobsSkipped},
      {"bytesTransferred", result.bytesTransferred},
  };
  return out.dump();
}

}  // namespace tandem::registry
