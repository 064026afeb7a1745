# shellcheck shell=bash
# kvm_usable: whether this machine's /dev/kvm runs tandem's microVMs directly: it must be open to
# us and stand on hardware virtualization (vmx or svm). A /dev/kvm without it (kvm_pvm, say)
# cannot boot a stock guest kernel; there, as where /dev/kvm is missing, the microVM tests run in
# the emulated KVM host. Sourced, never run.
kvm_usable() {
  [[ -r /dev/kvm && -w /dev/kvm ]] && grep -qwE 'vmx|svm' /proc/cpuinfo
}
