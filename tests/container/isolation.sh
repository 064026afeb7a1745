#!/bin/bash
# The workload is PID 1 of its own pid namespace, sees no host process, has its own hostname and
# mount table, and with --network none has no interface but lo.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
make_rootfs

tandem_run -- "$IN_PROBE" pid
assert_status 0 "probe pid"
assert_eq "pid=1" "$out" "the workload's pid"

# The shell expands the glob itself, without a child process: it must find only itself.
tandem_run -- /bin/sh -c 'echo /proc/[0-9]*'
assert_status 0 "listing /proc"
assert_eq "/proc/1" "$out" "processes visible inside"

host_hostname=$(hostname)
tandem_run --hostname tandem-isolation -- /bin/hostname
assert_status 0 "hostname"
assert_eq "tandem-isolation" "$out" "hostname inside"
assert_eq "$host_hostname" "$(hostname)" "host hostname after the run"

# Namespace links name the namespace by inode, so equal links mean a shared namespace.
namespaces="mnt pid uts ipc net"
tandem_run --network none -- /bin/sh -c "for ns in $namespaces; do readlink /proc/self/ns/\$ns; done"
assert_status 0 "reading namespace links"
host_links=$(for ns in $namespaces; do readlink "/proc/self/ns/$ns"; done)
[[ $(wc -l <<<"$out") == 5 ]] || fail "expected 5 namespace links, got: $out"
shared=$(comm -12 <(sort <<<"$out") <(sort <<<"$host_links"))
[[ -z $shared ]] || fail "the container shares these namespaces with the host: $shared"

# Mounts the runtime makes for the container stay in its namespace.
tandem_run -- /bin/cat /proc/self/mountinfo
assert_status 0 "reading mountinfo"
[[ $out != "$(cat /proc/self/mountinfo)" ]] || fail "the container shows the host's mount table"
leftover=$(grep -F "$ROOTFS" /proc/self/mountinfo || true)
[[ -z $leftover ]] || fail "host mounts name the rootfs: $leftover"

# /proc/net/dev: two header lines, then one "name:" line per interface.
tandem_run --network none -- /bin/cat /proc/net/dev
assert_status 0 "reading /proc/net/dev"
interfaces=$(tail -n +3 <<<"$out" | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')
assert_eq "lo " "$interfaces" "interfaces with --network none"
