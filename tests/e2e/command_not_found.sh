#!/bin/bash
# A command that does not exist exits 127, by path or by name looked up in PATH, and leaves nothing
# behind.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

for command in /bin/no-such-command no-such-command; do
  before=$(host_snapshot)
  tandem_run -- "$command"
  assert_status 127 "command $command"
  assert_nothing_left "$before" "command $command"
done
