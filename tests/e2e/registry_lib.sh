# shellcheck shell=bash
# Shared by the registry tests: a free local port, and Debian's docker-registry serving on
# 127.0.0.1 from a folder of the test's scratch space, stopped when the test exits. Sourced after
# lib.sh, never run.

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_registry NAME PORT [TLS_LINES]: a registry on 127.0.0.1:PORT storing under SCRATCH/NAME,
# logging to SCRATCH/NAME.log; REGISTRY_LOG_LEVEL=info adds a line per request.
start_registry() {
  local name=$1 port=$2 tls=${3:-}
  mkdir -p "$SCRATCH/$name"
  cat >"$SCRATCH/$name.yml" <<CONFIG
version: 0.1
log:
  level: ${REGISTRY_LOG_LEVEL:-warn}
storage:
  filesystem:
    rootdirectory: $SCRATCH/$name
http:
  addr: 127.0.0.1:$port
$tls
CONFIG
  docker-registry serve "$SCRATCH/$name.yml" >"$SCRATCH/$name.log" 2>&1 &
  local pid=$!
  at_exit kill "$pid"
  until_true 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null ||
    skip "docker-registry did not start on 127.0.0.1:$port: $(tail -3 "$SCRATCH/$name.log")"
}
