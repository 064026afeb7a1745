#include "common/registry/curl_handles.h"

namespace tandem::registry {

Status CurlHeaders::append(const std::string& line) {
  curl_slist* grown = curl_slist_append(list_, line.c_str());
  if (grown == nullptr) {
    return Error("out of memory adding an HTTP header", ENOMEM);
  }
  list_ = grown;
  return okStatus();
}

Status initCurl() {
  if (CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT); code != CURLE_OK) {
    return Error(std::string("cannot initialise libcurl: ") + curl_easy_strerror(code));
  }
  return okStatus();
}

Result<CurlEasy> makeCurlEasy() {
  CurlEasy handle(curl_easy_init());
  if (!handle) {
    return Error("cannot create a libcurl handle (out of memory?)", ENOMEM);
  }
  return handle;
}

Result<CurlMulti> makeCurlMulti() {
  CurlMulti handle(curl_multi_init());
  if (!handle) {
    return Error("cannot create a libcurl multi handle (out of memory?)", ENOMEM);
  }
  return handle;
}

}  // namespace tandem::registry
