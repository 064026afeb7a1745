#include "common/registry/image_pull.h"

#include <curl/curl.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/file.h"
#include "common/registry/registry_auth.h"
#include "common/registry/registry_url.h"

namespace tandem::registry {

namespace {

using image::BlobWriter;
using image::Descriptor;
using image::Digest;
using Clock = std::chrono::steady_clock;

// The manifest media types tandem reads, most preferred first (distribution spec, "Pulling
// manifests": the client lists what it accepts).
std::string manifestAcceptHeader() {
  return "Accept: " + std::string(image::media_type::kOciManifest) + ", " +
         std::string(image::media_type::kOciIndex) + ", " +
         std::string(image::media_type::kDockerManifest) + ", " +
         std::string(image::media_type::kDockerManifestList);
}

std::chrono::milliseconds retryDelay(int attempt) {
  return std::chrono::milliseconds(500 * attempt);
}

struct Document {
  std::string bytes;
  std::string mediaType;  // as served, without parameters
};

struct BlobJob {
  Descriptor descriptor;
  std::size_t row = 0;
  std::optional<BlobWriter> writer;
  std::unique_ptr<HttpRequest> get;
  int failures = 0;
  int unauthorized = 0;
  Clock::time_point notBefore{};
};

class Puller {
 public:
  Puller(const image::Reference& reference, const PullOptions& options,
         const image::BlobStore& store, ProgressDisplay& display)
      : reference_(reference),
        options_(options),
        store_(store),
        display_(display),
        endpoint_(registryEndpoint(reference.registry, options.insecure)),
        auth_(repositoryScope(reference.repository, "pull"), options.credentials, options.tls) {}

  Result<PullResult> run();

 private:
  Result<Document> fetchManifest(const std::string& tagOrDigest);
  Status fetchBlobs(const std::vector<Descriptor>& blobs);
  Status startBlob(BlobJob& job, CURLM* multi, std::map<CURL*, BlobJob*>& active);
  Status finishBlob(BlobJob& job, HttpOutcome outcome, std::deque<BlobJob*>& pending);
  Status commitBlob(BlobJob& job);

  const image::Reference& reference_;
  const PullOptions& options_;
  const image::BlobStore& store_;
  ProgressDisplay& display_;
  RegistryEndpoint endpoint_;
  RegistryAuth auth_;
  std::uint64_t transferred_ = 0;
  std::size_t reused_ = 0;
};

Result<Document> Puller::fetchManifest(const std::string& tagOrDigest) {
  std::string url = manifestUrl(endpoint_, reference_.repository, tagOrDigest);
  int failures = 0;
  int unauthorized = 0;
  while (true) {
    std::vector<std::string> headers = {manifestAcceptHeader()};
    if (!auth_.header().empty()) {
      headers.push_back(auth_.header());
    }
    TANDEM_ASSIGN_OR_RETURN(auto get, HttpRequest::create(url, headers, options_.tls));
    get->collect(image::kMaxDocumentBytes);
    switch (get->finish(get->perform())) {
      case HttpOutcome::kOk: {
        endpoint_.plainHttpFallback = false;
        std::string type = get->contentType().substr(0, get->contentType().find(';'));
        return Document{get->takeBody(), std::move(type)};
      }
      case HttpOutcome::kUnauthorized:
        // One answer earns a token; a second 401 after it means the token is not enough.
        if (++unauthorized > 2) {
          return get->error().context("the registry refused access to " + reference_.name() +
                                      "; check the credentials and that the image exists");
        }
        TANDEM_TRY(auth_.answer(get->wwwAuthenticate(), get->what()));
        break;
      case HttpOutcome::kRetryable:
        if (++failures > kTransferRetries) {
          return get->error().context("gave up after " + std::to_string(failures) + " attempts");
        }
        std::this_thread::sleep_for(retryDelay(failures));
        break;
      case HttpOutcome::kFailed:
        // Whatever answered on the loopback port does not speak TLS: a plain http registry.
        if (endpoint_.plainHttpFallback && get->curlCode() == CURLE_SSL_CONNECT_ERROR) {
          endpoint_.scheme = "http";
          endpoint_.plainHttpFallback = false;
          url = manifestUrl(endpoint_, reference_.repository, tagOrDigest);
          break;
        }
        if (get->status() == 404) {
          return get->error().context("the registry has no manifest " + tagOrDigest + " for " +
                                      reference_.name());
        }
        return get->error();
    }
  }
}

Status Puller::commitBlob(BlobJob& job) {
  display_.model().downloaded(job.row);
  display_.event(job.row);
  TANDEM_TRY(job.writer->commit().context(
      "blob " + job.descriptor.digest.text() + " from " +
      blobUrl(endpoint_, reference_.repository, job.descriptor.digest)));
  display_.model().completed(job.row);
  display_.event(job.row);
  job.writer.reset();
  return okStatus();
}

Status Puller::startBlob(BlobJob& job, CURLM* multi, std::map<CURL*, BlobJob*>& active) {
  const Descriptor& blob = job.descriptor;
  if (!job.writer) {
    TANDEM_ASSIGN_OR_RETURN(BlobWriter writer,
                            store_.beginIngest(blob.digest, static_cast<std::uint64_t>(blob.size),
                                               image::IngestMode::kResumable));
    if (writer.alreadyStored()) {
      // Another process stored it while this one waited for the partial's lock.
      ++reused_;
      display_.model().alreadyExists(job.row);
      display_.event(job.row);
      return okStatus();
    }
    job.writer.emplace(std::move(writer));
  }
  if (job.writer->size() == static_cast<std::uint64_t>(blob.size)) {
    return commitBlob(job);  // an earlier run got every byte but stopped before the rename
  }
  std::vector<std::string> headers;
  if (!auth_.header().empty()) {
    headers.push_back(auth_.header());
  }
  TANDEM_ASSIGN_OR_RETURN(
      job.get, HttpRequest::create(blobUrl(endpoint_, reference_.repository, blob.digest), headers,
                                   options_.tls));
  BlobJob* self = &job;
  TANDEM_TRY(job.get->streamTo(*job.writer, [this, self](std::uint64_t bytes) {
    transferred_ += bytes;
    display_.model().advanced(self->row, self->writer->size());
  }));
  display_.model().started(job.row, job.writer->size());
  display_.event(job.row);
  if (CURLMcode code = curl_multi_add_handle(multi, job.get->handle()); code != CURLM_OK) {
    return Error(std::string("cannot start a transfer: ") + curl_multi_strerror(code));
  }
  active[job.get->handle()] = &job;
  return okStatus();
}

Status Puller::finishBlob(BlobJob& job, HttpOutcome outcome, std::deque<BlobJob*>& pending) {
  std::unique_ptr<HttpRequest> get = std::move(job.get);
  switch (outcome) {
    case HttpOutcome::kOk:
      return commitBlob(job);
    case HttpOutcome::kUnauthorized:
      // The token may have expired during a long pull.
      if (++job.unauthorized > 2) {
        return get->error().context("the registry refused access to the blob");
      }
      TANDEM_TRY(auth_.answer(get->wwwAuthenticate(), get->what()));
      pending.push_front(&job);
      return okStatus();
    case HttpOutcome::kRetryable:
      if (++job.failures > kTransferRetries) {
        return get->error().context("gave up after " + std::to_string(job.failures) + " attempts");
      }
      display_.model().retrying(job.row);
      display_.event(job.row);
      job.notBefore = Clock::now() + retryDelay(job.failures);
      pending.push_back(&job);
      return okStatus();
    case HttpOutcome::kFailed:
      break;
  }
  return get->error();
}

Status Puller::fetchBlobs(const std::vector<Descriptor>& blobs) {
  std::vector<BlobJob> jobs;
  jobs.reserve(blobs.size());
  std::set<Digest> seen;
  for (const Descriptor& blob : blobs) {
    // The same blob twice (empty layers often repeat) is one download: two writers of one
    // digest on one thread would wait for each other.
    if (seen.insert(blob.digest).second) {
      BlobJob job;
      job.descriptor = blob;
      job.row = display_.model().add(blob.digest, static_cast<std::uint64_t>(blob.size));
      jobs.push_back(std::move(job));
    }
  }
  std::deque<BlobJob*> pending;
  for (BlobJob& job : jobs) {
    if (store_.has(job.descriptor.digest)) {
      ++reused_;
      display_.model().alreadyExists(job.row);
      display_.event(job.row);
    } else {
      pending.push_back(&job);
    }
  }

  TANDEM_ASSIGN_OR_RETURN(CurlMulti multi, makeCurlMulti());
  std::map<CURL*, BlobJob*> active;
  Status failure;
  std::size_t jobsAtOnce = std::max<std::size_t>(options_.jobs, 1);
  while (failure && (!pending.empty() || !active.empty())) {
    for (std::size_t n = pending.size(); n > 0 && active.size() < jobsAtOnce && failure; --n) {
      BlobJob* job = pending.front();
      pending.pop_front();
      if (job->notBefore > Clock::now()) {
        pending.push_back(job);
        continue;
      }
      failure = startBlob(*job, multi.get(), active);
      if (!failure) {
        display_.model().failed(job->row);
      }
    }
    int running = 0;
    curl_multi_perform(multi.get(), &running);
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
      if (message->msg != CURLMSG_DONE) {
        continue;
      }
      CURL* handle = message->easy_handle;
      CURLcode code = message->data.result;
      curl_multi_remove_handle(multi.get(), handle);
      BlobJob* job = active.at(handle);
      active.erase(handle);
      HttpOutcome outcome = job->get->finish(code);
      if (Status finished = finishBlob(*job, outcome, pending); !finished && failure) {
        display_.model().failed(job->row);
        failure = std::move(finished);
      }
    }
    display_.tick();
    if (!active.empty()) {
      curl_multi_poll(multi.get(), nullptr, 0, 100, nullptr);
    } else if (!pending.empty() && failure) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  // A failure stops the other transfers; what they wrote stays in their partials for a retry.
  for (auto& [handle, job] : active) {
    curl_multi_remove_handle(multi.get(), handle);
    job->get.reset();
  }
  display_.finish();
  return failure;
}

Result<PullResult> Puller::run() {
  PullResult result;
  result.reference = reference_;
  bool pinned = reference_.digest.has_value();
  TANDEM_ASSIGN_OR_RETURN(Document top,
                          fetchManifest(pinned ? reference_.digest->text() : reference_.tag));
  // The digest is computed from the bytes: Docker-Content-Digest is the server's claim.
  Digest topDigest = Digest::ofText(top.bytes);
  if (pinned && topDigest != *reference_.digest) {
    return Error("the registry served " + reference_.text() + " with digest " + topDigest.text() +
                 ", not the one the reference pins; refusing it");
  }
  TANDEM_ASSIGN_OR_RETURN(image::DocumentKind kind, image::documentKind(top.bytes, top.mediaType));
  Document manifestDocument = top;
  Digest manifestDigest = topDigest;
  image::Platform wanted = options_.platform.value_or(image::hostPlatform());
  if (kind == image::DocumentKind::kIndex) {
    TANDEM_ASSIGN_OR_RETURN(image::Index index, image::parseIndex(top.bytes).context(
                                                    "the index of " + reference_.text()));
    TANDEM_ASSIGN_OR_RETURN(
        Descriptor chosen,
        image::choosePlatform(index, wanted).context("pulling " + reference_.text()));
    TANDEM_ASSIGN_OR_RETURN(manifestDocument, fetchManifest(chosen.digest.text()));
    manifestDigest = Digest::ofText(manifestDocument.bytes);
    if (manifestDigest != chosen.digest ||
        manifestDocument.bytes.size() != static_cast<std::size_t>(chosen.size)) {
      return Error("the registry served the " + wanted.text() + " manifest of " +
                   reference_.text() + " with digest " + manifestDigest.text() + " and " +
                   std::to_string(manifestDocument.bytes.size()) + " bytes, but the index says " +
                   chosen.digest.text() + " and " + std::to_string(chosen.size) +
                   " bytes; refusing it");
    }
    TANDEM_ASSIGN_OR_RETURN(
        kind, image::documentKind(manifestDocument.bytes, manifestDocument.mediaType));
    if (kind != image::DocumentKind::kManifest) {
      return Error("the index of " + reference_.text() + " points to another index for " +
                   wanted.text() + "; nested indexes are not supported");
    }
    result.indexDigest = topDigest;
  }
  TANDEM_ASSIGN_OR_RETURN(result.manifest, image::parseManifest(manifestDocument.bytes)
                                               .context("the manifest " + manifestDigest.text() +
                                                        " of " + reference_.text()));
  result.manifestDigest = manifestDigest;
  const Descriptor& config = result.manifest.config;
  if (config.size < 0 || static_cast<std::size_t>(config.size) > image::kMaxDocumentBytes) {
    return Error("the config of " + reference_.text() + " claims " + std::to_string(config.size) +
                 " bytes, more than tandem accepts");
  }

  // The config first: it says the platform, which may refuse the image before its layers come.
  TANDEM_TRY(fetchBlobs({config}).context("pulling " + reference_.text()));
  TANDEM_ASSIGN_OR_RETURN(std::string configBytes, readFile(store_.path(config.digest)));
  TANDEM_ASSIGN_OR_RETURN(result.config, image::parseImageConfig(configBytes)
                                             .context("the config " + config.digest.text() +
                                                      " of " + reference_.text()));
  result.platform = result.config.platform.text();
  if (!result.indexDigest && options_.platform &&
      !image::platformMatches(result.config.platform, *options_.platform)) {
    return Error(reference_.text() + " is an image for " + result.platform + " only, not " +
                     options_.platform->text() + " as --platform asks",
                 ENOENT);
  }
  TANDEM_TRY(fetchBlobs(result.manifest.layers).context("pulling " + reference_.text()));
  // Manifests go in last: a store holding an image's manifest holds all of its blobs.
  TANDEM_TRY(store_.ingestBytes(
      std::span(reinterpret_cast<const std::uint8_t*>(manifestDocument.bytes.data()),
                manifestDocument.bytes.size()),
      manifestDigest));
  if (result.indexDigest) {
    TANDEM_TRY(store_.ingestBytes(
        std::span(reinterpret_cast<const std::uint8_t*>(top.bytes.data()), top.bytes.size()),
        topDigest));
  }
  result.bytesTransferred = transferred_;
  result.blobsReused = reused_;
  return result;
}

}  // namespace

Result<PullResult> pullImage(const image::Reference& reference, const PullOptions& options,
                             const image::BlobStore& store, ProgressDisplay& display) {
  Puller puller(reference, options, store, display);
  return puller.run();
}

std::string pullResultJson(const PullResult& result) {
  nlohmann::json layers = nlohmann::json::array();
  for (const Descriptor& layer : result.manifest.layers) {
    layers.push_back(
        {{"digest", layer.digest.text()}, {"size", layer.size}, {"mediaType", layer.mediaType}});
  }
  nlohmann::json out = {
      {"reference", result.reference.text()},
      {"manifestDigest", result.manifestDigest.text()},
      {"indexDigest",
       result.indexDigest ? nlohmann::json(result.indexDigest->text()) : nlohmann::json(nullptr)},
      {"configDigest", result.manifest.config.digest.text()},
      {"platform", result.platform},
      {"layers", layers},
      {"bytesTransferred", result.bytesTransferred},
      {"blobsReused", result.blobsReused},
  };
  return out.dump();
}

}  // namespace tandem::registry
