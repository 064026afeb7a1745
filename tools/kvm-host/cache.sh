# shellcheck shell=bash
# Sourced by tandem-kvm-host: the cached pieces of the emulated host (Debian's kernel, unpacked,
# and the initramfs parts that do not change between launches), and the cpio helpers the
# launch's own part uses too. Expects prog, cache, tmp, init_script, die and note.

# Bumped whenever what goes into a cached archive changes in a way its key does not show.
readonly archive_format=1
# What the host loads, beside their dependencies: KVM, and virtio-console for the stdout,
# stderr and status ports (an emulated 8250 UART moves under 100 KB/s under TCG); TAP, bridge,
# veth and overlay for the workloads; nftables' NAT for the bridge network's egress, after the
# crc32c that its libcrc32c asks for only as a soft dependency.
# virtio_blk is for the guests, not the host: tandem bench's classic VM boots this kernel for its
# disk (--print-kernel).
readonly wanted_modules=(kvm-amd virtio_pci virtio_console tun bridge veth overlay crc32c_generic nft_chain_nat nft_masq
  virtio_blk)
# Plain cpio rather than gzip: under TCG the host's kernel copies a plain archive faster than
# it inflates a compressed one (README.md has the numbers), and the file stays on this machine.
readonly archive_suffix=cpio

# Several launches may fill the cache at once (parallel tests); each piece is built under this
# lock and renamed into place, so readers only ever see finished pieces.
with_cache_lock() {
  local lock_fd status=0
  exec {lock_fd}>>"$cache/.lock"
  flock "$lock_fd"
  "$@" || status=$?
  exec {lock_fd}>&-
  return "$status"
}

# ---------------------------------------------------------------------------------------------
# The kernel

# Sets kernel_dir (the unpacked Debian kernel package, downloaded on first use), kernel_version
# and kernel_image. The versioned package behind linux-image-amd64 moves with Debian's updates,
# and old ones leave the archive, so it is looked up rather than named here.
resolve_kernel() {
  local package='' remembered=$cache/kernel-package newest
  # apt-cache takes 1.5 s (Debian's images keep no pkgcache.bin), and its answer changes only
  # when 'apt-get update' renames new lists into place, which makes the folder newer.
  if [[ -f $remembered && $remembered -nt /var/lib/apt/lists ]]; then
    read -r package <"$remembered" || true
    [[ $package =~ ^linux-image-[0-9][^[:space:]]*-amd64$ ]] || package=''
  fi
  if [[ -z $package ]]; then
    package=$(apt-cache depends linux-image-amd64 2>/dev/null |
      awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }') || true
    if [[ -n $package ]]; then
      echo "$package" >"$remembered.$$"
      mv -f -- "$remembered.$$" "$remembered"
    fi
  fi
  if [[ -z $package ]]; then
    newest=$(ls -1t -- "$cache"/linux-image-*/.complete 2>/dev/null | head -n 1) || true
    [[ -n $newest ]] || die "apt-cache depends linux-image-amd64 names no" \
      "linux-image-<version>-amd64 package; run 'apt-get update' (as root) so apt knows" \
      "Debian's current kernel"
    package=${newest%/.complete}
    package=${package##*/}
    echo "$prog: apt cannot name Debian's current kernel; using the cached $package" >&2
  fi
  kernel_dir=$cache/$package
  kernel_complete || with_cache_lock fetch_kernel "$package"
  read -r kernel_version <"$kernel_dir/.version"
  kernel_image=$kernel_dir/vmlinux
  [[ -f $kernel_image ]] || kernel_image=$(echo "$kernel_dir"/boot/vmlinuz-*)
  cache_used+=("$kernel_dir/.complete")
}

# Only the modules the host loads are kept (a few MB of Debian's 400), so a change to that list
# means unpacking the package again.
kernel_complete() {
  local kept=''
  [[ -f $kernel_dir/.complete ]] || return 1
  read -r kept <"$kernel_dir/.wanted-modules" || true
  [[ $kept == "${wanted_modules[*]}" ]]
}

fetch_kernel() {
  local package=$1 work deb image name file
  ! kernel_complete || return 0
  note "downloading $package (once; cached in $cache)"
  # Left by a launch that failed or was killed halfway; nobody else fetches under the lock.
  rm -rf -- "$cache"/.fetch.*
  work=$(mktemp -d "$cache/.fetch.XXXXXX")
  # apt downloads as the _apt user, and warns when that user cannot reach the folder.
  chmod 0755 "$work"
  if ! (cd "$work" && apt-get download "$package") >"$work/apt.log" 2>&1; then
    cat "$work/apt.log" >&2
    rm -rf -- "$work"
    die "apt-get download $package failed (above); is Debian's archive reachable? Running" \
      "'apt-get update' as root may help"
  fi
  deb=$(echo "$work"/*.deb)
  mkdir "$work/root"
  dpkg -x "$deb" "$work/root" || die "dpkg -x $deb failed (is $cache's disk full?)"
  image=$(echo "$work"/root/boot/vmlinuz-*)
  [[ -f $image ]] || die "$package has no boot/vmlinuz-*; cannot boot it"
  extract_vmlinux "$image" "$work/root/vmlinux"
  dpkg-deb -f "$deb" Version >"$work/root/.version"

  modules_root=$(echo "$work"/root/lib/modules/*)
  [[ -d $modules_root ]] || die "$package has no lib/modules/<version> folder"
  index_modules
  # Not in a $(...): a die in there would end only that subshell.
  for name in "${wanted_modules[@]}"; do
    list_module "$name"
  done >"$work/modules.order"
  while read -r name; do
    file=${module_file[$name]}
    echo "$name ${file#"$work/root/"}"
    module_file[$name]=''
  done <"$work/modules.order" >"$work/root/.modules"
  for file in "${module_file[@]}"; do
    [[ -z $file ]] || printf '%s\0' "$file"
  done | xargs -0 -r rm -f --
  find "$modules_root" -type d -empty -delete
  echo "${wanted_modules[*]}" >"$work/root/.wanted-modules"
  rm -rf -- "${cache:?}/$package"
  mv -- "$work/root" "$cache/$package"
  : >"$cache/$package/.complete"
  rm -rf -- "$work"
  # Kernels that Debian replaced and no launch used for two weeks only take space.
  find "$cache" -mindepth 2 -maxdepth 2 -name .complete -mtime +14 -printf '%h\0' |
    xargs -0 -r rm -rf --
}

# The bzImage decompresses itself, which takes about 5 s under TCG. QEMU boots the ELF inside
# it directly instead (its PVH entry; CONFIG_PVH=y in Debian's kernels) once it is unpacked
# here. Without a usable ELF the launcher boots the bzImage, slower.
extract_vmlinux() {
  local image=$1 out=$2 magic offset tool
  # Debian's kernels are xz-compressed; the others are there in case that changes.
  for magic in $'\xfd7zXZ':xz $'\x28\xb5\x2f\xfd':zstd $'\x1f\x8b\x08':gzip; do
    tool=${magic##*:}
    command -v "$tool" >/dev/null || continue
    for offset in $(LC_ALL=C grep -abo -- "${magic%:*}" "$image" | cut -d: -f1); do
      # The bzImage goes on after the compressed stream: xz can be told to stop there; the
      # others complain about the rest, and the ELF check decides.
      if [[ $tool == xz ]]; then
        xz -dc --single-stream < <(tail -c +$((offset + 1)) -- "$image") >"$out" 2>/dev/null ||
          continue
      else
        "$tool" -dc < <(tail -c +$((offset + 1)) -- "$image") >"$out" 2>/dev/null || true
      fi
      if [[ $(head -c 4 -- "$out" | od -An -c | tr -d ' ') == '177ELF' ]]; then
        return 0
      fi
    done
  done
  rm -f -- "$out"
  echo "$prog: could not unpack the ELF kernel from $image; booting the bzImage (slower)" >&2
}

# ---------------------------------------------------------------------------------------------
# Modules

declare -A module_file=() module_listed=()
index_modules() {
  local file name
  module_file=()
  module_listed=()
  while IFS= read -r -d '' file; do
    name=${file##*/}
    name=${name%%.ko*}
    module_file[${name//-/_}]=$file
  done < <(find "$modules_root" -name '*.ko*' -print0)
}

# Prints module names, each once, dependencies before their users: busybox insmod does not
# resolve them, and Debian's package ships no modules.dep (depmod makes it at install).
list_module() {
  local name=${1//-/_} dep deps
  [[ -z ${module_listed[$name]:-} ]] || return 0
  [[ -n ${module_file[$name]:-} ]] || die "module $1 is not in Debian's ${kernel_dir##*/}"
  deps=$(modinfo -F depends "${module_file[$name]}") || die "modinfo ${module_file[$name]} failed"
  for dep in ${deps//,/ }; do
    list_module "$dep"
  done
  module_listed[$name]=1
  echo "$name"
}

# ---------------------------------------------------------------------------------------------
# cpio helpers

# Writes to stdout the cpio archive of the paths given, absolute, with their parent folders (an
# archive must create them before their contents) and, for folders, all they hold. The paths
# given and their parents are followed where they are symlinks: COMMAND finds the file or
# folder under the name it was included by, wherever it really lives here. Inside an included
# folder symlinks stay symlinks, as with cp -a: a busybox rootfs keeps its ~400 links rather
# than becoming 400 copies of busybox.
cpio_of_paths() {
  local path rel parent parents
  local followed=$tmp/followed.list kept=$tmp/kept.list
  local -A listed=()
  : >"$followed"
  : >"$kept"
  for path in "$@"; do
    rel=${path#/}
    parent=${rel%/*}
    parents=()
    while [[ $parent != "$rel" && -z ${listed[$parent]:-} ]]; do
      listed[$parent]=1
      parents=("$parent" "${parents[@]}")
      [[ $parent == */* ]] || break
      parent=${parent%/*}
    done
    printf '%s\0' "${parents[@]}" "$rel" >>"$followed"
    if [[ -d $path ]]; then
      # -H follows the starting point only, for an included symlink to a folder.
      (cd / && find -H "$rel" -mindepth 1 -print0) >>"$kept" 2>"$tmp/find.err" ||
        die "cannot list $path: $(head -n 3 "$tmp/find.err")"
    fi
  done
  (cd / && cpio -o -H newc -0 -L -R 0:0 --quiet <"$followed" && cpio -o -H newc -0 -R 0:0 --quiet <"$kept") ||
    die "cpio failed while archiving $*"
}

# Prints the shared libraries (and the loader) that the ELF executables and libraries in the
# given paths need, one per line. Each file costs two runs of the loader, about 30 ms here, so
# the answers are kept in the cache by path, size and time: a build folder included launch
# after launch only has its rebuilt files asked about again.
libraries_of() {
  local path file stamp libs rels=() found=() changed=0 known=$cache/libraries
  local -A known_stamp=() known_libs=()
  for path in "$@"; do
    rels+=("${path#/}")
  done
  if [[ -f $known ]]; then
    while IFS= read -r -d '' file && IFS= read -r -d '' stamp && IFS= read -r -d '' libs; do
      known_stamp[$file]=$stamp
      known_libs[$file]=$libs
    done <"$known"
  fi
  while IFS= read -r -d '' stamp && IFS= read -r -d '' file; do
    file=/$file
    if [[ ${known_stamp[$file]:-} != "$stamp" ]]; then
      known_stamp[$file]=$stamp
      known_libs[$file]=$(libraries_of_file "$file")
      changed=1
    fi
    [[ -z ${known_libs[$file]} ]] || found+=("${known_libs[$file]}")
  done < <(cd / && find -H "${rels[@]}" -type f -perm /111 -printf '%s.%T@\0%p\0' 2>/dev/null)
  if ((changed)); then
    for file in "${!known_stamp[@]}"; do
      printf '%s\0%s\0%s\0' "$file" "${known_stamp[$file]}" "${known_libs[$file]}"
    done >"$known.$$"
    mv -f -- "$known.$$" "$known"
  fi
  ((${#found[@]} == 0)) || printf '%s\n' "${found[@]}" | sort -u
}

# Asks the loader itself, as ldd does, without ldd's script around each call (three times
# slower). Prints nothing for anything but a dynamically linked ELF file.
readonly loader=/lib64/ld-linux-x86-64.so.2
libraries_of_file() {
  local file=$1 magic name arrow path _
  LC_ALL=C read -r -N 4 magic <"$file" 2>/dev/null || true
  [[ $magic == $'\x7fELF' ]] || return 0
  # Static executables fail this; tracing them would crash the loader.
  "$loader" --verify "$file" >/dev/null 2>&1 || return 0
  while read -r name arrow path _; do
    if [[ $arrow == "=>" && $path == /* ]]; then
      echo "$path"
    elif [[ $arrow == "=>" ]]; then
      echo "$prog: warning: $file needs $name, which this machine lacks" >&2
    elif [[ $name == /* ]]; then
      echo "$name"
    fi
  done < <("$loader" --list "$file" 2>/dev/null)
}

# ---------------------------------------------------------------------------------------------
# The cached initramfs parts

# Sets base_archive: busybox, the modules and init.sh. Keyed by what goes in: init.sh and
# busybox by content, the modules by the kernel package they come from (an unpacked package is
# never changed).
ensure_base_archive() {
  local key
  [[ -x /bin/busybox ]] || die "/bin/busybox is missing; run scripts/deps.sh as root"
  read -r key _ < <({
    echo "format $archive_format ${wanted_modules[*]} ${kernel_dir##*/} $kernel_version"
    cat -- "$init_script" /bin/busybox
  } | sha256sum)
  base_archive=$cache/initramfs/base-${key:0:16}.$archive_suffix
  [[ -f $base_archive ]] || with_cache_lock build_base_archive
  cache_used+=("$base_archive")
}

build_base_archive() {
  [[ ! -f $base_archive ]] || return 0
  note "building the host's base initramfs (busybox, modules, init; cached)"
  local stage module file
  # Debian's dynamic "busybox" package installs the same path, but that binary would need a
  # libc the host does not have.
  [[ $(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null) == "install ok installed" ]] ||
    die "busybox-static is not installed; run scripts/deps.sh as root"
  # Left by a launch that failed or was killed halfway; nobody else builds under the lock.
  rm -rf -- "$cache"/initramfs/.stage.*
  stage=$(mktemp -d "$cache/initramfs/.stage.XXXXXX")
  mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,kvm-host/modules}
  chmod 1777 "$stage/tmp"
  chmod 0700 "$stage/root"
  cp -- /bin/busybox "$stage/bin/busybox"
  # perl-base is Essential in Debian: one process for ~400 links, where ln would take a second.
  (cd "$stage/bin" && /bin/busybox --list | grep -vx busybox |
    perl -ne 'chomp; symlink("busybox", $_) or die "symlink $_: $!\n"')
  install -m 0755 -- "$init_script" "$stage/init"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$stage/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"

  # The list was made, dependencies first, when the package was unpacked.
  while read -r module file; do
    echo "$module" >>"$stage/kvm-host/modules.order"
    file=$kernel_dir/$file
    # busybox insmod takes only plain .ko files; Debian compresses them in later kernels.
    case $file in
      *.ko) cp -- "$file" "$stage/kvm-host/modules/$module.ko" ;;
      *.ko.xz) xz -dc -- "$file" >"$stage/kvm-host/modules/$module.ko" ;;
      *.ko.zst) zstd -qdc -- "$file" >"$stage/kvm-host/modules/$module.ko" ;;
      *.ko.gz) gzip -dc -- "$file" >"$stage/kvm-host/modules/$module.ko" ;;
      *) die "cannot unpack module $file" ;;
    esac
  done <"$kernel_dir/.modules"

  (cd "$stage" && find . -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z |
    cpio -o -H newc -0 -R 0:0 --quiet) >"$stage.archive" ||
    die "cpio failed while building $base_archive"
  mv -- "$stage.archive" "$base_archive"
  rm -rf -- "$stage"
  # Parts no launch used for two weeks belong to replaced kernels, busyboxes or init.sh's.
  find "$cache/initramfs" -maxdepth 1 -name "*.$archive_suffix" -mtime +14 -delete
}

# Sets qemu_archive: qemu-system-x86_64, its libraries and the firmware a microvm needs, at
# their paths here. Keyed by the files' names, sizes and times rather than their ~50 MB of
# content, which hashing would cost on every launch.
readonly qemu_files=(/usr/bin/qemu-system-x86_64 /usr/share/qemu/bios-microvm.bin
  /usr/share/qemu/qboot.rom /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/pvh.bin)
ensure_qemu_archive() {
  local key file
  mapfile -t qemu_libraries < <(libraries_of /usr/bin/qemu-system-x86_64)
  for file in "${qemu_files[@]}" "${qemu_libraries[@]}"; do
    [[ -e $file ]] || die "$file is missing; run scripts/deps.sh as root (package qemu-system-x86)"
  done
  read -r key _ < <({
    echo "format $archive_format"
    stat -L -c '%n %s %Y' -- "${qemu_files[@]}" "${qemu_libraries[@]}"
  } | sha256sum)
  qemu_archive=$cache/initramfs/qemu-${key:0:16}.$archive_suffix
  [[ -f $qemu_archive ]] || with_cache_lock build_qemu_archive
  cache_used+=("$qemu_archive")
}

build_qemu_archive() {
  [[ ! -f $qemu_archive ]] || return 0
  note "building the initramfs part holding QEMU (cached)"
  rm -f -- "$cache"/initramfs/*.partial
  cpio_of_paths "${qemu_files[@]}" "${qemu_libraries[@]}" >"$qemu_archive.partial"
  mv -- "$qemu_archive.partial" "$qemu_archive"
}
