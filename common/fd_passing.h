// Passing a file descriptor over a Unix socket (SCM_RIGHTS), as a console socket does.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

namespace tandem {

Status sendFd(int socket, int fd);
Result<UniqueFd> receiveFd(int socket);

}  // namespace tandem
