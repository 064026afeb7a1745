#!/bin/bash
# Builds the image tandem falls back to when localhost/tandem/busybox:latest is not in its store
# (meson's busybox-image.tar target): a busybox rootfs from tandem-mkrootfs-busybox, packed
# by tandem-mkimage. Runs unprivileged too: mkrootfs gives /home/tandem to uid 1000, which only
# root may do, and --root-owned overrides every owner anyway, so without root that chown is a
# no-op shim.
set -euo pipefail

[[ $# -eq 3 ]] || { echo "usage: ${0##*/} MKROOTFS MKIMAGE OUTPUT.tar" >&2; exit 2; }
mkrootfs=$1
mkimage=$2
output=$3

work=$(mktemp -d "$output.work-XXXXXX")
trap 'rm -rf --one-file-system -- "$work"' EXIT

if [[ $EUID -ne 0 ]]; then
  mkdir "$work/shim"
  printf '#!/bin/sh\nexit 0\n' >"$work/shim/chown"
  chmod +x "$work/shim/chown"
  PATH=$work/shim:$PATH
fi
"$mkrootfs" "$work/rootfs"
# Not SOURCE_DATE_EPOCH from the environment: the embedded image is the same in every build.
"$mkimage" --tag localhost/tandem/busybox:latest --cmd sh \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --epoch 0 --root-owned --output "$output" "$work/rootfs" >/dev/null
