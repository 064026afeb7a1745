#!/bin/bash
# --network bridge: a container gets its own address on tandem's bridge, a server in it is
# reachable from the host and from another container, and its veth pair and address lease are
# gone once it stops.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=../vm/http.sh
source "$(dirname "$0")/../vm/http.sh"
need_root "creates bridges, veth pairs and network namespaces"
make_rootfs

tandem_run --network bridge -- true
if [[ $status != 0 && $err == *"module available"* ]]; then
  skip "the kernel lacks bridge or veth support: $err"
fi
assert_status 0 "a first container on the bridge"
leases=/var/lib/tandem/network/tandem0
# stale_lease FILE: whether FILE is a lease whose holder ("PID STARTTIME") is gone. Other tests
# share this state root, and one of them may hold an address again as soon as it is free.
stale_lease() {
  local pid start stat
  read -r pid start 2>/dev/null <"$1" || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  [[ ${stat:0:1} == [ZX] || $(cut -d' ' -f20 <<<"$stat") != "$start" ]]
}

tandem_start --rm --network bridge -- sh -c '
  ip -4 addr show eth0 | grep -o "inet [0-9.]*"
  mkdir /tmp/w && echo from-the-server >/tmp/w/index.html
  trap "exit 0" TERM
  httpd -f -p 8000 -h /tmp/w & wait'
server_pid=$TANDEM_PID
wait_for_output '^inet ' 30
address=$(sed -n 's/^inet //p' "$SCRATCH/out")
[[ -f $leases/$address ]] || fail "no lease file for the server's $address in $leases"

got=''
for ((i = 0; i < 100; i++)); do
  got=$(http_get "$address" 8000 2>/dev/null) && break
  sleep 0.1
done
assert_eq from-the-server "$got" "the host fetching from the container at $address"

tandem_run --network bridge -- sh -c '
  ip -4 addr show eth0 | grep -o "inet [0-9.]*"; ip route | grep -o "default via [0-9.]*"
  wget -q -O - http://'"$address"':8000/'
assert_status 0 "a second container fetching from the first"
client_address=$(sed -n 's/^inet //p' <<<"$out")
[[ -n $client_address && $client_address != "$address" ]] ||
  fail "the client's address '$client_address' is not its own (the server has $address)"
assert_eq "inet $client_address
default via 10.89.0.1
from-the-server" "$out" "the client's address, route and what it fetched"
! stale_lease "$leases/$client_address" || fail "the client's lease $client_address outlived it"

kill -TERM "$server_pid"
TANDEM_PID=$server_pid
tandem_wait 30
! stale_lease "$leases/$address" || fail "the server's lease $address outlived it"
ports=$(ls /sys/class/net/tandem0/brif)
[[ -z $ports ]] || fail "the bridge still has ports once every container stopped: $ports"
