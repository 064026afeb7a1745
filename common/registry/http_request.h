// One HTTP request through libcurl: its easy handle and header list, the body it sends (a blob
// streamed from its file, or a document), the response's status and the headers a registry
// client reads, and where the response body goes: a BlobWriter for blobs, a capped string for
// documents. finish() turns the outcome into what the caller does next: use it, authenticate,
// retry, or give up.
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

class HttpRequest {
 public:
  // `headers` are whole lines ("Accept: ..."). GET and HEAD follow redirects; the others do
  // not, since a body streamed from a file cannot be sent twice.
  static Result<std::unique_ptr<HttpRequest>> create(std::string url,
                                                     const std::vector<std::string>& headers,
                                                     const TlsOptions& tls,
                                                     std::string method = "GET");
  HttpRequest(const HttpRequest&) = delete;
  HttpRequest& operator=(const HttpRequest&) = delete;

  // Streams a 2xx body into `writer`, asking for the bytes from writer->size() on when the
  // partial holds some. `onBytes` sees every chunk written.
  Status streamTo(image::BlobWriter& writer, std::function<void(std::uint64_t)> onBytes);
  // Keeps a 2xx body in memory, aborting the transfer past `limit` bytes.
  void collect(std::size_t limit) { limit_ = limit; }
  // The request body: `size` bytes read from `fd` from its current offset on, `onBytes` seeing
  // every chunk sent; or bytes held in memory.
  Status uploadFrom(int fd, std::uint64_t size, std::function<void(std::uint64_t)> onBytes);
  Status uploadBytes(std::string bytes);
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
  const std::string& location() const { return location_; }
  const std::string& dockerContentDigest() const { return dockerContentDigest_; }
  // "PUT https://...", for messages.
  std::string what() const { return method_ + " " + url_; }
  std::uint64_t bytesReceived() const { return received_; }

 private:
  HttpRequest(std::string url, std::string method, CurlEasy easy)
      : url_(std::move(url)), method_(std::move(method)), easy_(std::move(easy)) {}
  static std::size_t onHeaderLine(char* data, std::size_t size, std::size_t count, void* self);
  static std::size_t onBody(char* data, std::size_t size, std::size_t count, void* self);
  static std::size_t onUpload(char* data, std::size_t size, std::size_t count, void* self);
  std::size_t upload(char* data, std::size_t capacity);
  std::size_t header(std::string_view line);
  std::size_t body(std::string_view bytes);
  // Decides, at the first byte of the final response, what its body is.
  bool startBody();
  std::string registryMessage() const;

  std::string url_;
  std::string method_;
  CurlEasy easy_;
  CurlHeaders headers_;
  char curlError_[CURL_ERROR_SIZE] = {};

  image::BlobWriter* writer_ = nullptr;
  std::function<void(std::uint64_t)> onBytes_;
  std::uint64_t rangeStart_ = 0;

  int uploadFd_ = -1;  // borrowed: the caller keeps the blob's file open for the transfer
  std::string uploadBytes_;
  std::uint64_t uploadLeft_ = 0;
  std::function<void(std::uint64_t)> onSent_;
  std::size_t limit_ = 0;

  bool bodyStarted_ = false;
  bool errorBody_ = false;  // a non-2xx response's body, kept for the registry's message
  long status_ = 0;
  CURLcode code_ = CURLE_OK;
  std::string body_;
  std::string contentType_;
  std::string contentRange_;
  std::string wwwAuthenticate_;
  std::string location_;
  std::string dockerContentDigest_;
  std::uint64_t received_ = 0;
  std::optional<Error> sinkError_;  // the writer refused bytes, or the body grew too large
  std::optional<Error> error_;
};

}  // namespace tandem::registry
