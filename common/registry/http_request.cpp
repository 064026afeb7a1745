#include "common/registry/http_request.h"

#include <unistd.h>
#include <cctype>
#include <charconv>

#include <cerrno>
#include <nlohmann/json.hpp>

namespace tandem::registry {

namespace {

// Enough for any registry's error JSON; the rest of a large error page is dropped.
constexpr std::size_t kMaxErrorBody = 64 << 10;
constexpr long kConnectTimeoutSeconds = 30;
// A transfer moving less than a byte a second for a minute has stalled: fail it, so the retry
// resumes it on a fresh connection.
constexpr long kStallSeconds = 60;

bool startsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) {
      return false;
    }
  }
  return true;
}

std::string trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

bool isTlsError(CURLcode code) {
  return code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CONNECT_ERROR ||
         code == CURLE_SSL_CACERT_BADFILE || code == CURLE_SSL_CERTPROBLEM;
}

template <class T>
Status setOption(CURL* easy, CURLoption option, T value) {
  if (CURLcode code = curl_easy_setopt(easy, option, value); code != CURLE_OK) {
    return Error(std::string("cannot configure libcurl: ") + curl_easy_strerror(code));
  }
  return okStatus();
}

}  // namespace

Result<std::unique_ptr<HttpRequest>> HttpRequest::create(std::string url,
                                                         const std::vector<std::string>& headers,
                                                         const TlsOptions& tls,
                                                         std::string method) {
  TANDEM_ASSIGN_OR_RETURN(CurlEasy easy, makeCurlEasy());
  std::unique_ptr<HttpRequest> get(
      new HttpRequest(std::move(url), std::move(method), std::move(easy)));
  for (const std::string& line : headers) {
    TANDEM_TRY(get->headers_.append(line));
  }
  CURL* h = get->easy_.get();
  TANDEM_TRY(setOption(h, CURLOPT_URL, get->url_.c_str()));
  TANDEM_TRY(setOption(h, CURLOPT_PROTOCOLS_STR, "http,https"));
  // Blob GETs are redirected to object storage. curl >= 7.58 does not carry a custom
  // Authorization header to another host (or, since 7.83, port or scheme) unless
  // CURLOPT_UNRESTRICTED_AUTH is set, which it is not.
  bool reads = get->method_ == "GET" || get->method_ == "HEAD";
  TANDEM_TRY(setOption(h, CURLOPT_FOLLOWLOCATION, reads ? 1L : 0L));
  TANDEM_TRY(setOption(h, CURLOPT_MAXREDIRS, 10L));
  TANDEM_TRY(setOption(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
  TANDEM_TRY(setOption(h, CURLOPT_HTTPHEADER, get->headers_.get()));
  TANDEM_TRY(setOption(h, CURLOPT_ERRORBUFFER, get->curlError_));
  TANDEM_TRY(setOption(h, CURLOPT_NOSIGNAL, 1L));
  TANDEM_TRY(setOption(h, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds));
  TANDEM_TRY(setOption(h, CURLOPT_LOW_SPEED_LIMIT, 1L));
  TANDEM_TRY(setOption(h, CURLOPT_LOW_SPEED_TIME, kStallSeconds));
  TANDEM_TRY(setOption(h, CURLOPT_USERAGENT, "tandem-registry/0.1"));
  TANDEM_TRY(setOption(h, CURLOPT_HEADERFUNCTION, &HttpRequest::onHeaderLine));
  TANDEM_TRY(setOption(h, CURLOPT_HEADERDATA, get.get()));
  TANDEM_TRY(setOption(h, CURLOPT_WRITEFUNCTION, &HttpRequest::onBody));
  TANDEM_TRY(setOption(h, CURLOPT_WRITEDATA, get.get()));
  if (!tls.caCert.empty()) {
    TANDEM_TRY(setOption(h, CURLOPT_CAINFO, tls.caCert.c_str()));
  }
  if (get->method_ == "HEAD") {
    TANDEM_TRY(setOption(h, CURLOPT_NOBODY, 1L));
  } else if (get->method_ == "POST") {
    // A POST without a body still needs Content-Length: 0, which curl sends for empty fields.
    TANDEM_TRY(setOption(h, CURLOPT_POSTFIELDS, ""));
    TANDEM_TRY(setOption(h, CURLOPT_POSTFIELDSIZE, 0L));
  } else if (get->method_ != "GET") {
    TANDEM_TRY(setOption(h, CURLOPT_CUSTOMREQUEST, get->method_.c_str()));
  }
  return get;
}

Status HttpRequest::streamTo(image::BlobWriter& writer,
                             std::function<void(std::uint64_t)> onBytes) {
  writer_ = &writer;
  onBytes_ = std::move(onBytes);
  rangeStart_ = writer.size();
  if (rangeStart_ > 0) {
    std::string range = std::to_string(rangeStart_) + "-";
    TANDEM_TRY(setOption(easy_.get(), CURLOPT_RANGE, range.c_str()));
  }
  return okStatus();
}

Status HttpRequest::uploadFrom(int fd, std::uint64_t size,
                               std::function<void(std::uint64_t)> onBytes) {
  uploadFd_ = fd;
  uploadLeft_ = size;
  onSent_ = std::move(onBytes);
  CURL* h = easy_.get();
  TANDEM_TRY(setOption(h, CURLOPT_UPLOAD, 1L));
  TANDEM_TRY(setOption(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size)));
  TANDEM_TRY(setOption(h, CURLOPT_READFUNCTION, &HttpRequest::onUpload));
  TANDEM_TRY(setOption(h, CURLOPT_READDATA, this));
  // CURLOPT_UPLOAD means PUT unless told otherwise.
  return setOption(h, CURLOPT_CUSTOMREQUEST, method_.c_str());
}

Status HttpRequest::uploadBytes(std::string bytes) {
  uploadBytes_ = std::move(bytes);
  std::uint64_t size = uploadBytes_.size();
  return uploadFrom(-1, size, nullptr);
}

std::size_t HttpRequest::onUpload(char* data, std::size_t size, std::size_t count, void* self) {
  return static_cast<HttpRequest*>(self)->upload(data, size * count);
}

std::size_t HttpRequest::upload(char* data, std::size_t capacity) {
  std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(capacity, uploadLeft_));
  if (want == 0) {
    return 0;
  }
  std::size_t got = 0;
  if (uploadFd_ < 0) {
    std::size_t offset = uploadBytes_.size() - static_cast<std::size_t>(uploadLeft_);
    uploadBytes_.copy(data, want, offset);
    got = want;
  } else {
    ssize_t n;
    do {
      n = ::read(uploadFd_, data, want);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      sinkError_ = n < 0 ? Error::fromErrno("cannot read the blob being uploaded")
                         : Error("the blob being uploaded ended " + std::to_string(uploadLeft_) +
                                 " bytes early; it changed while tandem read it");
      return CURL_READFUNC_ABORT;
    }
    got = static_cast<std::size_t>(n);
  }
  uploadLeft_ -= got;
  if (onSent_) {
    onSent_(got);
  }
  return got;
}

Status HttpRequest::basicAuth(const std::string& username, const std::string& password) {
  TANDEM_TRY(setOption(easy_.get(), CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC)));
  TANDEM_TRY(setOption(easy_.get(), CURLOPT_USERNAME, username.c_str()));
  return setOption(easy_.get(), CURLOPT_PASSWORD, password.c_str());
}

std::size_t HttpRequest::onHeaderLine(char* data, std::size_t size, std::size_t count, void* self) {
  return static_cast<HttpRequest*>(self)->header(std::string_view(data, size * count));
}

std::size_t HttpRequest::onBody(char* data, std::size_t size, std::size_t count, void* self) {
  return static_cast<HttpRequest*>(self)->body(std::string_view(data, size * count));
}

std::size_t HttpRequest::header(std::string_view line) {
  // Each response of a redirect chain starts with its status line; only the last one counts.
  if (line.starts_with("HTTP/")) {
    contentType_.clear();
    contentRange_.clear();
    wwwAuthenticate_.clear();
    location_.clear();
    dockerContentDigest_.clear();
  } else if (startsWithNoCase(line, "location:")) {
    location_ = trim(line.substr(9));
  } else if (startsWithNoCase(line, "docker-content-digest:")) {
    dockerContentDigest_ = trim(line.substr(22));
  } else if (startsWithNoCase(line, "content-type:")) {
    contentType_ = trim(line.substr(13));
  } else if (startsWithNoCase(line, "content-range:")) {
    contentRange_ = trim(line.substr(14));
  } else if (startsWithNoCase(line, "www-authenticate:")) {
    // Several challenges may come in separate headers; the parser reads a comma-joined list.
    std::string value = trim(line.substr(17));
    wwwAuthenticate_ += wwwAuthenticate_.empty() ? value : ", " + value;
  }
  return line.size();
}

bool HttpRequest::startBody() {
  bodyStarted_ = true;
  curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &status_);
  if (status_ < 200 || status_ >= 300) {
    errorBody_ = true;
    return true;
  }
  if (writer_ == nullptr || rangeStart_ == 0) {
    return true;
  }
  if (status_ == 206) {
    // "bytes <first>-<last>/<total>": the server must continue where the partial ends.
    std::string_view range = contentRange_;
    std::uint64_t first = 0;
    if (range.starts_with("bytes ")) {
      range.remove_prefix(6);
    }
    auto [end, ec] = std::from_chars(range.data(), range.data() + range.size(), first);
    if (ec != std::errc() || first != rangeStart_) {
      sinkError_ = Error("asked for the bytes from " + std::to_string(rangeStart_) +
                         " on, the server answered with the range \"" + contentRange_ + "\"");
      return false;
    }
    return true;
  }
  // A 200 to a Range request: the server ignored it and sends the whole blob.
  if (Status restarted = writer_->restart(); !restarted) {
    sinkError_ = std::move(restarted).error();
    return false;
  }
  rangeStart_ = 0;
  return true;
}

std::size_t HttpRequest::body(std::string_view bytes) {
  if (!bodyStarted_ && !startBody()) {
    return 0;  // curl ends the transfer with CURLE_WRITE_ERROR
  }
  if (errorBody_) {
    body_.append(bytes.substr(0, kMaxErrorBody - std::min(kMaxErrorBody, body_.size())));
    return bytes.size();
  }
  if (writer_ != nullptr) {
    if (Status written = writer_->write(bytes); !written) {
      sinkError_ = std::move(written).error();
      return 0;
    }
    received_ += bytes.size();
    if (onBytes_) {
      onBytes_(bytes.size());
    }
    return bytes.size();
  }
  if (body_.size() + bytes.size() > limit_) {
    sinkError_ = Error("the document is larger than " + std::to_string(limit_) +
                       " bytes, the most tandem accepts; the registry may be misbehaving");
    return 0;
  }
  body_.append(bytes);
  received_ += bytes.size();
  return bytes.size();
}

std::string HttpRequest::registryMessage() const {
  auto json = nlohmann::json::parse(body_, nullptr, /*allow_exceptions=*/false);
  if (json.is_object()) {
    auto errors = json.find("errors");
    if (errors != json.end() && errors->is_array() && !errors->empty() &&
        (*errors)[0].is_object()) {
      const auto& first = (*errors)[0];
      auto message = first.find("message");
      auto code = first.find("code");
      std::string text;
      if (code != first.end() && code->is_string()) {
        text = code->get<std::string>();
      }
      if (message != first.end() && message->is_string()) {
        text += (text.empty() ? "" : ": ") + message->get<std::string>();
      }
      return text;
    }
  }
  return "";
}

HttpOutcome HttpRequest::finish(CURLcode code) {
  code_ = code;
  if (status_ == 0) {
    curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &status_);
  }
  if (sinkError_) {
    error_ = sinkError_->context(what());
    return HttpOutcome::kFailed;
  }
  if (code != CURLE_OK) {
    std::string detail = curlError_[0] != '\0' ? curlError_ : curl_easy_strerror(code);
    if (isTlsError(code)) {
      error_ = Error(what() + ": TLS failed: " + detail +
                     "; if the registry's certificate is signed by a private CA, pass "
                     "--ca-cert FILE, or --insecure if it serves plain HTTP");
      return HttpOutcome::kFailed;
    }
    error_ = Error(what() + ": " + detail);
    return HttpOutcome::kRetryable;
  }
  if (status_ >= 200 && status_ < 300) {
    return HttpOutcome::kOk;
  }
  std::string message = what() + ": HTTP " + std::to_string(status_);
  if (std::string fromRegistry = registryMessage(); !fromRegistry.empty()) {
    message += ": " + fromRegistry;
  }
  error_ = Error(std::move(message));
  if (status_ == 401) {
    return HttpOutcome::kUnauthorized;
  }
  if (status_ >= 500 || status_ == 429 || status_ == 408) {
    return HttpOutcome::kRetryable;
  }
  return HttpOutcome::kFailed;
}

}  // namespace tandem::registry
