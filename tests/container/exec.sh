#!/bin/bash
# tandem exec in a running container, as `docker exec` runs one: the command joins the
# container's namespaces (its pid namespace, hostname, root and network) and its cgroup, with the
# container's environment, capabilities, seccomp filter and no_new_privs, and -e, -w, -u, -i on
# top. Its exit code, a missing command's 127 and a signal come back as tandem's; a command
# script whose interpreter is /proc/self/exe finds a tandem that cannot be written, and the host
# binary is intact. An ended container refuses exec, and a container's end ends what runs in it.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
need_tools jq
make_rootfs
printf '#!/proc/self/exe\n' >"$ROOTFS/evil"
chmod +x "$ROOTFS/evil"

id=$(t run -d --isolation container --rootfs "$ROOTFS" --name target -e FROM_RUN=yes \
  --memory 64M -- sh -c "echo \$\$ >/tmp/first; exec $IN_PROBE sleep 600 $MARKER" </dev/null)
x() {  # ARGS...: tandem exec; sets status, out and err
  status=0
  timeout --kill-after=5 30 "$TANDEM" --state-root "$OWN_STATE" exec "$@" \
    </dev/null >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
  out=$(<"$SCRATCH/out")
  err=$(<"$SCRATCH/err")
}

x target sh -c 'echo $FROM_RUN; hostname; echo $(tr "\0" " " </proc/1/cmdline); cat /tmp/first'
assert_status 0 "exec of sh"
assert_eq "yes
${id:0:12}
$IN_PROBE sleep 600 $MARKER
1" "$out" "exec: the container's environment, hostname, pid namespace and root"

x target sh -c 'readlink /proc/self/ns/net /proc/self/ns/ipc /proc/self/ns/mnt'
exec_ns=$out
x target sh -c 'readlink /proc/1/ns/net /proc/1/ns/ipc /proc/1/ns/mnt'
assert_eq "$out" "$exec_ns" "exec: the container's network, ipc and mount namespaces"

x target sh -c 'grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status'
exec_security=$out
x target sh -c 'grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/1/status'
assert_eq "$out" "$exec_security" "exec: the container's capabilities, no_new_privs and seccomp"
[[ $exec_security == *"Seccomp:	2"* && $exec_security == *"NoNewPrivs:	1"* ]] ||
  fail "exec runs unfiltered: $exec_security"

x -e EXTRA=1 -e FROM_RUN=no -w /tmp -u nobody target sh -c 'echo $EXTRA $FROM_RUN $(pwd) $(id -u):$(id -g)'
assert_eq "1 no /tmp 65534:65534" "$out" "exec -e -w -u NAME"
x -u 1234:2345 target sh -c 'id -u; id -g'
assert_eq "1234
2345" "$out" "exec -u UID:GID"

x target sh -c 'exit 7'
assert_status 7 "exec: the command's exit code"
x target nosuchcommand
assert_status 127 "exec of a missing command"
[[ $err == *"nosuchcommand"*"not found"* ]] || fail "exec of a missing command said: $err"
x -w /no/such/dir target true
assert_status 126 "exec -w of a missing folder"
[[ $err == *"/no/such/dir"* ]] || fail "exec -w of a missing folder said: $err"

# stdin only with -i.
status=0
out=$(echo piped | "$TANDEM" --state-root "$OWN_STATE" exec -i target cat) || status=$?
assert_eq "0 piped" "$status $out" "exec -i: stdin reaches the command"
out=$(echo piped | "$TANDEM" --state-root "$OWN_STATE" exec target cat)
assert_eq "" "$out" "exec without -i: the command reads end-of-input"

# In the container's cgroup while it runs, and a signal to tandem exec reaches it.
"$TANDEM" --state-root "$OWN_STATE" exec target sleep 300 </dev/null &
exec_pid=$!
processes() { t stats --no-stream --json target | jq -r .processes; }
until_true 10 eval '[[ $(processes) == 2 ]]' || fail "the exec'd sleep is not in the container's cgroup: $(processes)"
kill -TERM "$exec_pid"
status=0
wait "$exec_pid" || status=$?
assert_status 143 "exec'd command ended by a SIGTERM to tandem exec"

# CVE-2019-5736: an interpreter of /proc/self/exe leads to a tandem that cannot be written.
before=$(sha256sum <"$TANDEM")
x target /evil
# A static tandem starts and refuses the script as a command; a dynamically linked one (a
# sanitizer build) cannot even start there, its loader being outside the container's root.
[[ $err == *'unknown command "/evil"'* || $err == *'cannot execute /evil: No such file'* ]] ||
  fail "the /proc/self/exe script ran something else: $out $err"
x target sh -c 'printf x >>/proc/self/exe 2>/dev/null && echo writable || echo unwritable'
assert_eq unwritable "$out" "the exec'd command's own executable"
assert_eq "$before" "$(sha256sum <"$TANDEM")" "tandem's binary on disk"

# A container's end ends what was exec'd in it; an ended container refuses exec.
"$TANDEM" --state-root "$OWN_STATE" exec target sleep 300 </dev/null &
exec_pid=$!
until_true 10 eval '[[ $(processes) == 2 ]]' || fail "the second exec'd sleep never started"
t kill target >/dev/null
status=0
wait "$exec_pid" || status=$?
assert_status 137 "exec'd command when its container is killed"
x target true
assert_status 125 "exec in an ended container"
[[ $err == *"is not running"* ]] || fail "exec in an ended container said: $err"
