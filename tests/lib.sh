# shellcheck shell=bash
# Shared by the container and e2e test scripts: assertions, skips, a scratch rootfs with the
# probe in it, runs of tandem that capture everything, and the host snapshots that show whether a
# run left anything behind. Sourced, never run.

: "${TANDEM:?TANDEM must name the tandem binary (meson sets it)}"
: "${PROBE:?PROBE must name the static tandem-probe binary (meson sets it)}"
: "${MKROOTFS:?MKROOTFS must name tandem-mkrootfs-busybox (meson sets it)}"

# shellcheck source=kvm_usable.sh
source "$(dirname "${BASH_SOURCE[0]}")/kvm_usable.sh"

# Where the probe sits inside every test rootfs.
readonly IN_PROBE=/bin/tandem-probe
readonly STATE_ROOT=/var/lib/tandem/containers
# Where each workload's monitor keeps its log, at either isolation level.
readonly WORKLOADS_ROOT=/var/lib/tandem/workloads

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# meson counts exit status 77 as a skipped test.
skip() {
  echo "SKIP: $*"
  exit 77
}

need_root() {
  [[ $EUID -eq 0 ]] || skip "needs root ($1)"
}

# need_tools TOOL...: skips unless every TOOL is on PATH.
need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || skip "needs $tool (scripts/deps.sh installs it)"
  done
}

# Cleanup actions run in reverse order when the script exits, however it exits.
_exit_actions=()
at_exit() {
  _exit_actions+=("$(printf '%q ' "$@")")
}
_run_exit_actions() {
  local i
  for ((i = ${#_exit_actions[@]} - 1; i >= 0; i--)); do
    eval "${_exit_actions[i]}" || true
  done
}
trap _run_exit_actions EXIT

# One scratch folder per test. Its unique name doubles as MARKER: it is in tandem's command line
# (through --rootfs) and tests pass it to workloads, so a process search by MARKER finds both.
SCRATCH=$(mktemp -d /tmp/tandem-test.XXXXXX)
MARKER=${SCRATCH##*/}
ROOTFS=$SCRATCH/rootfs
# --one-file-system: a mount a broken runtime left inside the rootfs must not lead rm into the
# host's files.
at_exit rm -rf --one-file-system -- "$SCRATCH"

# A failed test must not leave its workload running on the machine. tandem's janitor shares
# tandem's command line but is spared: it is what removes the cgroup and state of a killed run.
# The workload's monitor (tandem-monitor) and log relay (tandem-log) share it too, and go.
kill_marked() {
  local pid _
  while read -r pid _; do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == tandem-janitor ]] && continue
    kill -KILL "$pid" 2>/dev/null || true
  done < <(processes_matching "$MARKER")
}
at_exit kill_marked

# A state root of the test's own, for tests of the store's verbs: other tests' workloads never
# show in its ps, count in its admission or hold its names. t ARGS... runs tandem there, bounded.
OWN_STATE=$SCRATCH/state
t() {
  timeout --kill-after=5 60 "$TANDEM" --state-root "$OWN_STATE" "$@"
}

# monitor_pid: the tandem-monitor that runs this test's workload (its command line holds MARKER).
monitor_pid() {
  local pid _
  while read -r pid _; do
    if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == tandem-monitor ]]; then
      echo "$pid"
      return 0
    fi
  done < <(processes_matching "$MARKER")
  return 1
}

# make_rootfs [--add FILE:PATH]...: a busybox rootfs at $ROOTFS with the probe at $IN_PROBE.
# shellcheck disable=SC2120 # most tests need no extra files
make_rootfs() {
  "$MKROOTFS" "$ROOTFS" --add "$PROBE:$IN_PROBE" "$@"
}

# Sets status, out and err. --rm keeps the state directory from piling up across tests; tests of
# the state directory itself start tandem on their own. stdin is /dev/null so a terminal the test
# happens to run on never reaches the workload.
tandem_run() {
  status=0
  timeout --kill-after=5 30 "$TANDEM" run --isolation container --rootfs "$ROOTFS" --rm "$@" \
    </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
  out=$(<"$SCRATCH/out")
  err=$(<"$SCRATCH/err")
}

# tandem_start ARGS...: like tandem_run but in the background, for tests that act on the run
# while it lasts. Sets TANDEM_PID; collect the result with tandem_wait.
tandem_start() {
  # Emptied here, not by the child's redirection: wait_for_output must never see a line an
  # earlier run left in the file before the child gets to truncate it.
  : >"$SCRATCH/out"
  "$TANDEM" run --isolation container --rootfs "$ROOTFS" "$@" \
    </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" &
  TANDEM_PID=$!
}

# tandem_wait SECONDS: waits for the background tandem and sets status, out and err. It polls
# for the zombie instead of arming a watchdog process: a watchdog's sleep would outlive the test
# and hold meson's output pipe open. A tandem still running at the deadline is killed, and that
# is reported as a hang, never mistaken for a SIGKILL exit.
tandem_wait() {
  local deadline=$((SECONDS + $1)) stat
  while read -r stat 2>/dev/null <"/proc/$TANDEM_PID/stat" && [[ ${stat##*) } != Z* ]]; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$TANDEM_PID"
      fail "tandem did not exit within $1s"
    fi
    sleep 0.05
  done
  status=0
  wait "$TANDEM_PID" || status=$?
  out=$(<"$SCRATCH/out")
  err=$(<"$SCRATCH/err")
}

# wait_for_output REGEX SECONDS: until the background run's stdout has a matching line.
wait_for_output() {
  local regex=$1 deadline=$((SECONDS + $2))
  until grep -qE -- "$regex" "$SCRATCH/out"; do
    ((SECONDS < deadline)) || fail "no line matching '$regex' on stdout within $2s; stderr: $(<"$SCRATCH/err")"
    sleep 0.05
  done
}

show_run() {
  printf 'exit status %s\n--- stdout\n%s\n--- stderr\n%s\n' "$status" "$out" "$err" >&2
}

assert_status() {
  local expected=$1 what=$2
  if [[ $status != "$expected" ]]; then
    show_run
    fail "$what: exit status $status, expected $expected"
  fi
}

assert_eq() {
  local expected=$1 actual=$2 what=$3
  [[ $actual == "$expected" ]] || fail "$what: got '$actual', expected '$expected'"
}

assert_match() {
  local regex=$1 actual=$2 what=$3
  [[ $actual =~ $regex ]] || fail "$what: '$actual' does not match /$regex/"
}

# The contract for runtime errors: exit 125 and exactly one stderr line, starting "tandem: ".
assert_runtime_error() {
  local what=$1
  assert_status 125 "$what"
  if [[ $(wc -l <"$SCRATCH/err") != 1 || $err != "tandem: "* ]]; then
    show_run
    fail "$what: stderr must be exactly one line starting 'tandem: '"
  fi
}

# read_command_line /proc/PID: sets CMDLINE to the process's arguments joined by spaces. It sets
# a variable instead of printing because this runs once per process on the machine, and a
# command substitution's fork each would make a scan take seconds.
read_command_line() {
  local args
  mapfile -d '' args 2>/dev/null <"$1/cmdline" || return 1
  CMDLINE="${args[*]}"
}

# Every process whose command line contains $1, as "PID CMDLINE", except this script's own.
processes_matching() {
  local needle=$1 dir pid
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [[ $pid != "$$" ]] || continue
    read_command_line "$dir" || continue
    if [[ $CMDLINE == *"$needle"* ]]; then
      echo "$pid $CMDLINE"
    fi
  done
}

# The PID of the process whose command line starts with $1. tandem's own command line holds the
# workload's too, so a plain search could name tandem instead.
pid_of_command() {
  local prefix=$1 dir
  for dir in /proc/[0-9]*; do
    read_command_line "$dir" || continue
    if [[ $CMDLINE == "$prefix"* ]]; then
      echo "${dir#/proc/}"
      return 0
    fi
  done
  return 1
}

# The contract's cgroup places: <controller>/tandem/ID on v1 and hybrid, tandem/ID on pure v2.
cgroup_dirs() {
  local dir
  for dir in /sys/fs/cgroup/tandem/*/ /sys/fs/cgroup/*/tandem/*/; do
    [[ -d $dir ]] && echo "${dir%/}"
  done
  return 0
}

state_dirs() {
  local dir
  for dir in "$STATE_ROOT"/*/ "$WORKLOADS_ROOT"/*/; do
    [[ -d $dir ]] && echo "${dir%/}"
  done
  return 0
}

# What a run may leave on the host, as one sorted list; compare one taken before with one after.
host_snapshot() {
  { cgroup_dirs; state_dirs; } | sort
}

# leftovers BEFORE_SNAPSHOT [ID]: prints what a run left behind, nothing if it left nothing: new
# cgroup or state directories, processes carrying MARKER, host mounts naming the rootfs (or the
# container ID, when known).
leftovers() {
  local before=$1 id=${2:-}
  comm -13 <(echo "$before") <(host_snapshot)
  processes_matching "$MARKER"
  grep -F -e "$ROOTFS" ${id:+-e "$id"} /proc/self/mountinfo || true
}

assert_nothing_left() {
  local before=$1 what=$2 id=${3:-} found
  found=$(leftovers "$before" "$id")
  [[ -z $found ]] || fail "$what: left behind:"$'\n'"$found"
}

# until_true SECONDS COMMAND...: polls COMMAND until it succeeds; returns 1 on timeout.
until_true() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Names, types, modes, owners, symlink targets and file sizes, then file checksums. Directory
# sizes and mtimes depend on the filesystem and on the unpacker, not on the image.
tree_of() {
  (
    cd "$1" || exit
    find . -mindepth 1 \( -type d -printf '%P %y %m %U %G\n' \) -o -printf '%P %y %m %U %G %l %s\n' |
      LC_ALL=C sort
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
  )
}

# same_tree WHAT A B: fails naming WHAT unless the trees at A and B are the same, file for file.
same_tree() {
  if ! diff -u <(tree_of "$2") <(tree_of "$3") >"$SCRATCH/tree.diff"; then
    head -40 "$SCRATCH/tree.diff" >&2
    fail "$1: the trees differ"
  fi
}
