#include "common/log.h"

int main() {
  tandem::initLogging();
  return 0;
}
