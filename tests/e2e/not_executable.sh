#!/bin/bash
# A command that exists but lacks the execute bit exits 126, and leaves nothing behind.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"

printf '#!/bin/sh\necho ran\n' >"$SCRATCH/script"
chmod 0644 "$SCRATCH/script"
make_rootfs --add "$SCRATCH/script:/bin/not-executable"

before=$(host_snapshot)
tandem_run -- /bin/not-executable
assert_status 126 "a command without the execute bit"
[[ $out != *ran* ]] || fail "the non-executable script ran"
assert_nothing_left "$before" "a command without the execute bit"
