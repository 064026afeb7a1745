#!/bin/bash
# tandem-oci carries out config.json (runtime-spec config.md, config-linux.md): the six kinds
# of hooks in their order, each with the state on stdin, in the right namespaces; a failing hook
# undoes the create; mounts with their options; devices; sysctl; rlimits; user, groups, env,
# cwd and hostname; masked and read-only paths; a seccomp profile; a namespace joined by path;
# cgroup limits visible through the cgroup mount; the pty sent to --console-socket.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=oci_lib.sh
source "$(dirname "$0")/oci_lib.sh"
need_root "creates namespaces and cgroups"
need_tools jq python3 ip
make_rootfs

# Hooks: each appends its kind, the state's status and id, and its mount namespace to one log.
hook_log=$SCRATCH/hooks.log
cat >"$SCRATCH/hook" <<HOOK
#!/bin/sh
state=\$(cat)
echo "\$1 \$(echo "\$state" | jq -r '.status + " " + .id') \$(readlink /proc/self/ns/mnt)" >>$hook_log
HOOK
chmod +x "$SCRATCH/hook"
# startContainer runs after the pivot, so its path resolves in the container: a copy in the
# rootfs, with the log reached through a bind of the scratch folder.
cat >"$ROOTFS/bin/start-hook" <<'HOOK'
#!/bin/sh
cat >/dev/null
echo "startContainer $(readlink /proc/self/ns/mnt)" >>/scratch/hooks.log
HOOK
chmod +x "$ROOTFS/bin/start-hook"
hook() { echo "{\"path\": \"$SCRATCH/hook\", \"args\": [\"hook\", \"$1\"], \"env\": [\"PATH=/usr/bin:/bin\"]}"; }
make_bundle hooked '.process.args = ["sh", "-c", "grep SigIgn /proc/self/status > /scratch/sigign"]
  | .mounts += [{"destination": "/scratch", "type": "bind", "source": "'"$SCRATCH"'", "options": ["rbind"]}]
  | .hooks = {"prestart": ['"$(hook prestart)"'], "createRuntime": ['"$(hook createRuntime)"'],
              "createContainer": ['"$(hook createContainer)"'],
              "startContainer": [{"path": "/bin/start-hook"}],
              "poststart": ['"$(hook poststart)"'], "poststop": ['"$(hook poststop)"']}'
oci create --bundle "$SCRATCH/hooked" hooked || fail "create with hooks: $(<"$SCRATCH/oci.err")"
oci start hooked || fail "start with hooks: $(<"$SCRATCH/oci.err")"
wait_for_status hooked stopped 10
oci delete hooked || fail "delete with hooks: $(<"$SCRATCH/oci.err")"
host_ns=$(readlink /proc/self/ns/mnt)
mapfile -t lines <"$hook_log"
assert_eq 6 "${#lines[@]}" "hook runs ($(<"$hook_log"))"
assert_eq "prestart creating hooked $host_ns" "${lines[0]}" "prestart: first, in the runtime's namespace"
assert_eq "createRuntime creating hooked $host_ns" "${lines[1]}" "createRuntime: second, in the runtime's namespace"
assert_match "^createContainer creating hooked mnt:" "${lines[2]}" "createContainer: third"
[[ ${lines[2]##* } != "$host_ns" ]] || fail "the createContainer hook ran in the host's mount namespace"
assert_match "^startContainer mnt:" "${lines[3]}" "startContainer: fourth"
[[ ${lines[3]##* } != "$host_ns" ]] || fail "the startContainer hook ran in the host's mount namespace"
assert_match "^poststart running hooked " "${lines[4]}" "poststart: fifth, once started"
assert_eq "poststop stopped hooked $host_ns" "${lines[5]}" "poststop: last, at delete"
# The hooks run inside the container's first process; what they change of it (SIGPIPE ignored,
# to write their stdin) must not reach the user's program: bit 13 is SIGPIPE.
sigign=$(awk '{print $2}' "$SCRATCH/sigign")
((((16#$sigign >> 12) & 1) == 0)) || fail "the process starts with SIGPIPE ignored (SigIgn $sigign)"

# A createRuntime hook that fails stops the create and leaves nothing behind.
make_bundle badhook '.process.args = ["true"] | .hooks = {"createRuntime": [{"path": "/bin/false"}]}'
oci create --bundle "$SCRATCH/badhook" badhook && fail "create with a failing hook succeeded"
assert_match 'createRuntime hook 0 \(/bin/false\) failed' "$(<"$SCRATCH/oci.err")" "a failing hook's error"
[[ ! -e $OCI_ROOT/badhook ]] || fail "a failed create left its state"
[[ -z $(find /sys/fs/cgroup -maxdepth 3 -type d -name badhook) ]] || fail "a failed create left its cgroup"

# The process's world, as config.json describes it, seen by the probe.
mkdir -p "$SCRATCH/ro-source" "$ROOTFS/secretdir"
echo secret >"$ROOTFS/etc/secret"
echo secret >"$ROOTFS/secretdir/file"
echo kept >"$SCRATCH/ro-source/file"
make_bundle world '.process.args = ["sh", "-c", "
    id; echo cwd=$(pwd); echo host=$(hostname); echo env=$GREETING; echo nofile=$(ulimit -n);
    echo fwd=$(cat /proc/sys/net/ipv4/ip_forward);
    stat -c \"dev=%F %t:%T %a\" /dev/tandem-full;
    mount | grep \" /scratch-tmp \" | grep -o size=[0-9]*k;
    touch /ro/new 2>/dev/null && echo ro=writable || echo ro=refused;
    echo masked-file=$(cat /etc/secret) masked-dir=$(ls /secretdir);
    echo 1 > /proc/sys/kernel/shmmni 2>/dev/null && echo procsys=writable || echo procsys=refused;
    mkdir /tmp/blocked 2>/dev/null && echo mkdir=allowed || echo mkdir=refused;
    cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null | head -1 | sed s/^/memory=/;
    echo links=$(ls /sys/class/net | tr \"\\n\" \" \")"]
  | .process.user = {"uid": 1000, "gid": 1000, "additionalGids": [2000]}
  | .process.cwd = "/tmp/work"
  | .process.env += ["GREETING=hello"]
  | .process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]
  | .hostname = "oci-world"
  | .mounts += [{"destination": "/scratch-tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=2048k"]},
                {"destination": "/ro", "type": "bind", "source": "'"$SCRATCH/ro-source"'", "options": ["rbind", "ro"]}]
  | .linux.devices = [{"path": "/dev/tandem-full", "type": "c", "major": 1, "minor": 7, "fileMode": 416}]
  | .linux.resources.devices += [{"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"}]
  | .linux.resources.memory = {"limit": 67108864}
  | .linux.sysctl = {"net.ipv4.ip_forward": "1"}
  | .linux.maskedPaths += ["/etc/secret", "/secretdir"]
  | .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                      "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
  | .root.readonly = false'
status=0
oci_run run --bundle "$SCRATCH/world" world || status=$?
out=$(<"$SCRATCH/oci.out")
err=$(<"$SCRATCH/oci.err")
assert_status 0 "run of the world bundle"
assert_match '^uid=1000[^ ]* gid=1000[^ ]* groups=2000' "$out" "user and additionalGids"
assert_match 'cwd=/tmp/work' "$out" "cwd, made when missing"
assert_match 'host=oci-world' "$out" "hostname"
assert_match 'env=hello' "$out" "env"
assert_match 'nofile=123' "$out" "rlimits"
assert_match 'fwd=1' "$out" "sysctl in the container's network namespace"
assert_match 'dev=character special file 1:7 640' "$out" "linux.devices: type, numbers and mode"
assert_match 'size=2048k' "$out" "a tmpfs mount with its options"
assert_match 'ro=refused' "$out" "a read-only bind"
assert_match $'masked-file= masked-dir=\n' "$out" "maskedPaths: a file and a folder"
assert_match 'procsys=refused' "$out" "readonlyPaths: /proc/sys"
assert_match 'mkdir=refused' "$out" "the seccomp profile's rule"
assert_match 'memory=67108864' "$out" "resources.memory.limit, read through the cgroup mount"
assert_match 'links=lo$' "$out" "a new network namespace has only lo"

# A network namespace named by path is joined, not made.
netns=tandem-oci-$MARKER
ip netns add "$netns"
at_exit ip netns delete "$netns"
ip -n "$netns" link add oci-veth0 type veth peer name oci-veth1
make_bundle joined '.process.args = ["sh", "-c", "ls /sys/class/net | tr \"\\n\" \" \""]
  | .linux.namespaces |= map(if .type == "network" then .path = "/var/run/netns/'"$netns"'" else . end)'
oci_run run --bundle "$SCRATCH/joined" joined || fail "run in a joined netns: $(<"$SCRATCH/oci.err")"
assert_match 'oci-veth0' "$(<"$SCRATCH/oci.out")" "the joined network namespace's links"

# A user namespace of its own, with config.json's id mappings: root inside is host uid 100000,
# and the host's root, unmapped, shows as the overflow id. That root must reach the bundle's
# root folder, as under runc.
chmod 0755 "$SCRATCH"
make_bundle userns '.process.args = ["sh", "-c", "id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox"]
  | .linux.namespaces += [{"type": "user"}]
  | .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
  | .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
oci_run run --bundle "$SCRATCH/userns" userns || fail "run in a user namespace: $(<"$SCRATCH/oci.err")"
mapfile -t lines <"$SCRATCH/oci.out"
assert_eq 0 "${lines[0]}" "uid inside the user namespace"
assert_match '^ *0 +100000 +65536$' "${lines[1]}" "the uid map, as config.json gives it"
assert_eq 65534 "${lines[2]}" "the host's root, unmapped inside"

# A time namespace of its own (runtime-spec 1.2), made at clone.
make_bundle timens '.process.args = ["readlink", "/proc/self/ns/time"] | .linux.namespaces += [{"type": "time"}]'
oci_run run --bundle "$SCRATCH/timens" timens || fail "run in a time namespace: $(<"$SCRATCH/oci.err")"
assert_match '^time:\[[0-9]+\]$' "$(<"$SCRATCH/oci.out")" "the time namespace inside"
[[ $(<"$SCRATCH/oci.out") != "$(readlink /proc/self/ns/time)" ]] || fail "the container shares the host's time namespace"

# process.terminal: the pty's master goes to --console-socket, and the process runs on the slave.
make_bundle tty '.process.terminal = true | .process.args = ["sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty"]'
python3 - "$SCRATCH/console.sock" "$SCRATCH/console.out" <<'PY' &
import os, socket, sys
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sys.argv[1]); server.listen(1)
conn, _ = server.accept()
_, fds, _, _ = socket.recv_fds(conn, 1, 1)
master = fds[0]
out = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
open(sys.argv[2], "wb").write(out)
PY
receiver=$!
wait_for_file "$SCRATCH/console.sock" 10
oci create --bundle "$SCRATCH/tty" --console-socket "$SCRATCH/console.sock" tty ||
  fail "create with a terminal: $(<"$SCRATCH/oci.err")"
oci start tty || fail "start with a terminal: $(<"$SCRATCH/oci.err")"
wait_for_status tty stopped 10
wait "$receiver" || fail "the console receiver failed"
assert_match '/dev/pts/0' "$(<"$SCRATCH/console.out")" "the process's terminal is the container's pty"
assert_match 'stdin-is-a-tty' "$(<"$SCRATCH/console.out")" "stdin is the pty"
oci delete tty || fail "delete: $(<"$SCRATCH/oci.err")"

echo "ok"
