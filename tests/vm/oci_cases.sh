# shellcheck shell=bash
# Cases of cases.sh (sourced by it): OCI bundles at VM level through tandem-oci, the annotation
# io.tandem.isolation=vm selecting a microVM behind the same runtime contract: create leaves
# the microVM's process waiting, start boots it, exec reaches the guest through its agent, kill
# and delete end it; run gives back the guest workload's exit code.

# oci_bundle DIR ARGS_JSON: a bundle whose root is the guest rootfs, at VM level.
oci_bundle() {
  mkdir -p "$1"
  cat >"$1/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": $2,
              "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/"},
  "root": {"path": "$GUEST_ROOTFS"},
  "hostname": "oci-vm",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
  "annotations": {"io.tandem.isolation": "vm"},
  "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}],
            "resources": {"memory": {"limit": 268435456}}}
}
JSON
}

oci() {
  bounded "$TANDEM_OCI" --root "$scratch/oci-root" "$@" </dev/null
}

oci_status() {
  oci state "$1" 2>/dev/null | grep -o '"status": "[a-z]*"' | sed 's/.*: "//; s/"//'
}

if [[ -n ${TANDEM_OCI:-} && -d /sys/fs/cgroup ]]; then
  oci_bundle "$scratch/oci-vm" '["sh", "-c", "echo vm-ready; uname -r; trap \"exit 0\" TERM; while :; do sleep 0.1; done"]'
  problems=()
  oci create --bundle "$scratch/oci-vm" ovm >"$scratch/oci-vm.out" 2>"$scratch/oci-vm.err" ||
    problems+=("create failed: $(cat "$scratch/oci-vm.err")")
  [[ $(oci_status ovm) == created ]] || problems+=("status after create: $(oci_status ovm)")
  oci start ovm 2>>"$scratch/oci-vm.err" || problems+=("start failed: $(cat "$scratch/oci-vm.err")")
  for _ in $(seq 600); do
    grep -q vm-ready "$scratch/oci-vm.out" 2>/dev/null && break
    sleep 0.1
  done
  [[ $(oci_status ovm) == running ]] || problems+=("status after start: $(oci_status ovm)")
  guest_kernel=$(sed -n 2p "$scratch/oci-vm.out")
  [[ -n $guest_kernel && $guest_kernel != "$(uname -r)" ]] ||
    problems+=("the process ran on kernel '$guest_kernel', the host's is $(uname -r)")
  exec_status=0
  exec_out=$(oci exec ovm sh -c 'echo exec-out; hostname; exit 4' 2>"$scratch/oci-exec.err") || exec_status=$?
  [[ $exec_status == 4 && $exec_out == "exec-out
oci-vm" ]] || problems+=("exec: status $exec_status, stdout '$exec_out', stderr $(cat "$scratch/oci-exec.err")")
  oci kill ovm TERM || problems+=("kill failed")
  for _ in $(seq 300); do
    [[ $(oci_status ovm) == stopped ]] && break
    sleep 0.1
  done
  [[ $(oci_status ovm) == stopped ]] || problems+=("status after kill: $(oci_status ovm)")
  oci delete ovm || problems+=("delete failed")
  [[ ! -e $scratch/oci-root/ovm ]] || problems+=("delete left $scratch/oci-root/ovm")
  [[ -z $(tandem_pids) ]] || problems+=("tandem processes left: $(tandem_pids)")
  if ((${#problems[@]} == 0)); then
    ok "OCI bundle at VM level: create waits, start boots the guest kernel, exec through the agent, kill, delete"
  else
    not_ok "OCI bundle at VM level: create waits, start boots the guest kernel, exec through the agent, kill, delete" \
      "${problems[@]}" "microVM stdout: $(cat "$scratch/oci-vm.out")" "stderr: $(cat "$scratch/oci-vm.err")"
  fi

  oci_bundle "$scratch/oci-run" '["sh", "-c", "echo from-the-guest; exit 3"]'
  run_status=0
  run_out=$(oci run --bundle "$scratch/oci-run" orun 2>"$scratch/oci-run.err") || run_status=$?
  if [[ $run_status == 3 && $run_out == from-the-guest && ! -e $scratch/oci-root/orun ]]; then
    ok "OCI run at VM level gives back the guest workload's output and exit code"
  else
    not_ok "OCI run at VM level gives back the guest workload's output and exit code" \
      "status $run_status (want 3)" "stdout: $run_out" "stderr: $(cat "$scratch/oci-run.err")"
  fi
else
  ok "OCI bundles at VM level # SKIP needs TANDEM_OCI and cgroups"
fi

# podman (when the suite brought it in) driving tandem-oci at VM level through the annotation:
# run with the exit code back, run -d, exec, logs, stop, rm.
if [[ -n ${TANDEM_OCI:-} && -n ${PODMAN_IMAGE_ARCHIVE:-} ]] && command -v podman >/dev/null &&
  command -v conmon >/dev/null; then
  mkdir -p /var/tmp "$scratch/podman"
  # podman gives its runtime none of this environment: tandem-oci finds the guest kernel where
  # guest-kernel-config/build.sh leaves it, as on an installed host.
  default_kernel=/var/cache/tandem/guest-kernel/current/bzImage
  if [[ ! -e $default_kernel ]]; then
    mkdir -p "${default_kernel%/*}"
    ln -s "$TANDEM_GUEST_KERNEL" "$default_kernel"
  fi
  cat >"$scratch/podman/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "tandem"
[engine.runtimes]
tandem = ["$TANDEM_OCI"]
CONF
  pm() {
    CONTAINERS_CONF=$scratch/podman/containers.conf TMPDIR=/tmp bounded podman --storage-driver vfs \
      --root "$scratch/podman/storage" --runroot "$scratch/podman/run" "$@" </dev/null
  }
  problems=()
  pm load -i "$PODMAN_IMAGE_ARCHIVE" >/dev/null 2>"$scratch/pm.err" ||
    problems+=("podman load: $(cat "$scratch/pm.err")")
  vm_opts=(--network none --annotation io.tandem.isolation=vm)
  image=localhost/tandem/busybox
  pm_status=0
  pm_out=$(pm run --rm "${vm_opts[@]}" "$image" sh -c 'echo in-a-microvm; uname -r; exit 7' 2>"$scratch/pm.err") ||
    pm_status=$?
  [[ $pm_status == 7 && $(echo "$pm_out" | head -1) == in-a-microvm &&
    $(echo "$pm_out" | sed -n 2p) != "$(uname -r)" ]] ||
    problems+=("podman run: status $pm_status, stdout '$pm_out', stderr $(cat "$scratch/pm.err")")
  pm run -d --name vmsrv "${vm_opts[@]}" "$image" sh -c 'echo serving; while :; do sleep 0.1; done' \
    >/dev/null 2>"$scratch/pm.err" || problems+=("podman run -d: $(cat "$scratch/pm.err")")
  if pm ps --format '{{.Names}}' | grep -q vmsrv; then
    for _ in $(seq 300); do
      [[ $(pm logs vmsrv 2>/dev/null) == serving ]] && break
      sleep 0.2
    done
  fi
  [[ $(pm logs vmsrv 2>&1) == serving ]] || problems+=("podman logs: $(pm logs vmsrv 2>&1)")
  pm_status=0
  pm_out=$(pm exec vmsrv sh -c 'echo exec-out; echo exec-err >&2; exit 4' 2>"$scratch/pm.err") || pm_status=$?
  [[ $pm_status == 4 && $pm_out == exec-out && $(cat "$scratch/pm.err") == exec-err ]] ||
    problems+=("podman exec: status $pm_status, stdout '$pm_out', stderr '$(cat "$scratch/pm.err")'")
  pm stop -t 5 vmsrv >/dev/null 2>"$scratch/pm.err" || problems+=("podman stop: $(cat "$scratch/pm.err")")
  [[ $(pm ps -a --format '{{.Status}}' --filter name=vmsrv) == Exited* ]] ||
    problems+=("after podman stop: $(pm ps -a --format '{{.Status}}' --filter name=vmsrv)")
  pm rm vmsrv >/dev/null 2>"$scratch/pm.err" || problems+=("podman rm: $(cat "$scratch/pm.err")")
  [[ -z $(ls /run/tandem-oci 2>/dev/null) ]] || problems+=("tandem-oci state left: $(ls /run/tandem-oci)")
  [[ -z $(tandem_pids) ]] || problems+=("tandem processes left: $(tandem_pids)")
  if ((${#problems[@]} == 0)); then
    ok "podman with tandem-oci at VM level: run and its exit code, run -d, logs, exec, stop, rm"
  else
    not_ok "podman with tandem-oci at VM level: run and its exit code, run -d, logs, exec, stop, rm" \
      "${problems[@]}"
  fi
else
  ok "podman at VM level # SKIP needs podman, conmon and an image archive in the emulated host"
fi
