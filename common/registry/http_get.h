// One HTTP GET through libcurl: its easy handle and header list, the response's status and the
// headers a registry client reads, and where the body goes: a BlobWriter for blobs, a capped
// string for documents. finish() turns the outcome into what the caller does next: use it,
// authenticate, retry, or give up.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/image/blob_store.h"
#include "common/registry/curl_handles.h"
#include "common/result.h"

namespace tandem::registry {

struct TlsOptions {
  std::string caCert;  // a CA bundle to trust besides the system's; empty for none
};

enum class HttpOutcome {
  kOk,
  kUnauthorized,  // 401: answer the challenge in wwwAuthenticate() and ask again
  kRetryable,     // the network failed, or the server did (5xx, 429)
  kFailed,        // a 4xx, a digest or size mismatch, a body over the limit
};

class HttpGet {
 public:
  // `headers` are whole lines ("Accept: ..."); the handle follows redirects.
  static Result<std::unique_ptr<HttpGet>> create(std::string url,
                                                 const std::vector<std::string>& headers,
                                                 const TlsOptions& tls);
  HttpGet(const HttpGet&) = delete;
  HttpGet& operator=(const HttpGet&) = delete;

  // Streams a 2xx body into `writer`, asking for the bytes from writer->size() on when the
  // partial holds some. `onBytes` sees every chunk written.
  Status streamTo(image::BlobWriter& writer, std::function<void(std::uint64_t)> onBytes);
  // Keeps a 2xx body in memory, aborting the transfer past `limit` bytes.
  void collect(std::size_t limit) { limit_ = limit; }
  // Basic authentication for this request only (a token server's).
  Status basicAuth(const std::string& username, const std::string& password);

  CURL* handle() const { return easy_.get(); }
  const std::string& url() const { return url_; }
  // Runs the transfer on this thread; the outcome comes from finish().
  CURLcode perform() { return curl_easy_perform(easy_.get()); }
  // Classifies a completed transfer; error() explains anything but kOk.
  HttpOutcome finish(CURLcode code);

  long status() const { return status_; }
  CURLcode curlCode() const { return code_; }
  const Error& error() const { return *error_; }
  std::string takeBody() { return std::move(body_); }
  const std::string& contentType() const { return contentType_; }
  const std::string& wwwAuthenticate() const { return wwwAuthenticate_; }
  std::uint64_t bytesReceived() const { return received_; }

 private:
  HttpGet(std::string url, CurlEasy easy) : url_(std::move(url)), easy_(std::move(easy)) {}
  static std::size_t onHeaderLine(char* data, std::size_t size, std::size_t count, void* self);
  static std::size_t onBody(char* data, std::size_t size, std::size_t count, void* self);
  std::size_t header(std::string_view line);
  std::size_t body(std::string_view bytes);
  // Decides, at the first byte of the final response, what its body is.
  bool startBody();
  std::string registryMessage() const;

  std::string url_;
  CurlEasy easy_;
  CurlHeaders headers_;
  char curlError_[CURL_ERROR_SIZE] = {};

  image::BlobWriter* writer_ = nullptr;
  std::function<void(std::uint64_t)> onBytes_;
  std::uint64_t rangeStart_ = 0;
  std::size_t limit_ = 0;

  bool bodyStarted_ = false;
  bool errorBody_ = false;  // a non-2xx response's body, kept for the registry's message
  long status_ = 0;
  CURLcode code_ = CURLE_OK;
  std::string body_;
  std::string contentType_;
  std::string contentRange_;
  std::string wwwAuthenticate_;
  std::uint64_t received_ = 0;
  std::optional<Error> sinkError_;  // the writer refused bytes, or the body grew too large
  std::optional<Error> error_;
};

}  // namespace tandem::registry
