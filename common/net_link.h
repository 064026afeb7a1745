// The little network setup a fresh network namespace needs.
#pragma once

#include "common/result.h"

namespace tandem {

// A new network namespace has only "lo", and it starts down.
Status bringLoopbackUp();

}  // namespace tandem
