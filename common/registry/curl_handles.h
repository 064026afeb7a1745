// Owners for libcurl's handles, so that every early return releases them.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"

namespace tandem::registry {

struct CurlEasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlMultiDeleter {
  void operator()(CURLM* handle) const { curl_multi_cleanup(handle); }
};
using CurlMulti = std::unique_ptr<CURLM, CurlMultiDeleter>;

// A curl_slist of header lines; curl reads it during the transfer, so it must outlive it.
class CurlHeaders {
 public:
  CurlHeaders() = default;
  ~CurlHeaders() { curl_slist_free_all(list_); }
  CurlHeaders(CurlHeaders&& other) noexcept : list_(std::exchange(other.list_, nullptr)) {}
  CurlHeaders& operator=(CurlHeaders&&) = delete;
  CurlHeaders(const CurlHeaders&) = delete;
  CurlHeaders& operator=(const CurlHeaders&) = delete;

  Status append(const std::string& line);
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

// curl_global_init, once per process, before any thread starts.
Status initCurl();

Result<CurlEasy> makeCurlEasy();
Result<CurlMulti> makeCurlMulti();

}  // namespace tandem::registry
