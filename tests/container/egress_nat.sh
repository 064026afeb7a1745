#!/bin/bash
# NAT for egress: a container on tandem's bridge reaches a server beyond the host. "Beyond" is a
# network namespace this test makes, joined to the host by a veth pair, with no route back to the
# bridge's subnet: only the host's masquerade can bring the answers home.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates bridges, veth pairs and network namespaces"
need_tools nft ip
make_rootfs

outside=tandem-outside-$$
link=tdmout$$
ip netns add "$outside"
at_exit ip netns delete "$outside"
ip link add "$link" type veth peer name eth0 netns "$outside"
at_exit ip link delete "$link"
ip addr add 10.199.0.1/24 dev "$link"
ip link set "$link" up
ip -n "$outside" addr add 10.199.0.2/24 dev eth0
ip -n "$outside" link set eth0 up
mkdir -p "$SCRATCH/www"
echo from-beyond-the-host >"$SCRATCH/www/index.html"
ip netns exec "$outside" busybox httpd -f -p 8000 -h "$SCRATCH/www" &
at_exit kill $!

tandem_run --network bridge -- wget -q -O - http://10.199.0.2:8000/
if [[ $status != 0 && $err == *"module available"* ]]; then
  skip "the kernel lacks bridge or veth support: $err"
fi
assert_status 0 "a container fetching from outside the host"
assert_eq from-beyond-the-host "$out" "what the container fetched through NAT"
rules=$(nft list table ip tandem)
[[ $rules == *"ip saddr 10.89.0.0/16 oifname != \"tandem0\" masquerade"* ]] ||
  fail "tandem's NAT table lacks its masquerade rule: $rules"
