# shellcheck shell=bash
# http_get ADDRESS PORT: the body of GET / from an HTTP server, through bash's /dev/tcp: the
# hosts these tests run on may have no HTTP client, and a static busybox's resolver is not to be
# trusted outside its own rootfs. Fails unless the answer is a 200. Sourced by the vm cases and
# the container suite.
http_get() {
  local reply
  exec 3<>"/dev/tcp/$1/$2" || return 1
  printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" >&3
  reply=$(timeout 10 cat <&3)
  exec 3<&-
  [[ $reply == "HTTP/1."*" 200 "* ]] || return 1
  printf '%s\n' "${reply#*$'\r\n\r\n'}"
}
