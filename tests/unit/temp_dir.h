// A fresh folder under /tmp as a CMocka fixture's state: makeTempDir as the setup,
// removeTempDir as the teardown, tempDir(state) inside the test.
#pragma once

#include <stdlib.h>

#include <string>

#include "common/file.h"

inline int makeTempDir(void** state) {
  char templ[] = "/tmp/tandem-unit-XXXXXX";
  if (::mkdtemp(templ) == nullptr) {
    return -1;
  }
  *state = new std::string(templ);
  return 0;
}

inline int removeTempDir(void** state) {
  auto* dir = static_cast<std::string*>(*state);
  int rc = tandem::removeTree(*dir).ok() ? 0 : -1;
  delete dir;
  return rc;
}

inline const std::string& tempDir(void** state) {
  return *static_cast<std::string*>(*state);
}
