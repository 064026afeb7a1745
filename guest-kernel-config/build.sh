#!/usr/bin/env bash
# Builds tandem's microVM guest kernel from Debian's linux-source-6.1 with tandem.config on top
# of tinyconfig, and caches the result outside the source tree:
#
#   ${TANDEM_CACHE:-/var/cache/tandem}/guest-kernel/<hash>/{bzImage,vmlinux,config}
#
# <hash> covers tandem.config, this script and the linux-source-6.1 package version, so any
# change to one of them yields a new entry and an existing entry is never rebuilt. The entry's
# path is the last line on stdout (everything else goes to stderr):
#
#   dir=$(guest-kernel-config/build.sh)        # builds if needed (minutes), then prints
#   dir=$(guest-kernel-config/build.sh --print-dir)  # only prints, never builds
#
# ${TANDEM_CACHE:-/var/cache/tandem}/guest-kernel/current links to the entry last built or
# returned; it is where tandem's VMM looks for a kernel by default.
set -euo pipefail

# The whole script is one block, read before any of it runs: a build takes minutes, and bash
# would otherwise read an edited script from the middle of its new text.
{

# Callers capture stdout, so only the final path may reach it; fd 3 keeps the real stdout.
exec 3>&1 1>&2

readonly source_package=linux-source-6.1
readonly tarball=/usr/src/linux-source-6.1.tar.xz
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly here
readonly fragment=$here/tandem.config
readonly self=$here/build.sh
readonly cache_root=${TANDEM_CACHE:-/var/cache/tandem}/guest-kernel

die() {
  echo "guest-kernel: $*" >&2
  exit 1
}

usage() {
  cat <<EOF
usage: $0 [--print-dir]
  Builds the guest kernel into ${cache_root}/<hash>/ unless already cached, then prints that
  folder as the last line on stdout.
  --print-dir  only print the folder the current inputs map to; build nothing
Environment: TANDEM_CACHE (default /var/cache/tandem) is the cache root.
EOF
}

print_only=false
case ${1-} in
  "") ;;
  --print-dir) print_only=true ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    usage
    die "unknown argument '$1'"
    ;;
esac
(($# <= 1)) || die "expected at most one argument, got $#; see --help"

[[ -f $fragment ]] || die "the config fragment $fragment is missing"

# The package version, not the tarball's bytes, keys the cache: hashing 140 MB on every call
# would make even a cache hit slow, and Debian changes the version with every source change.
source_version=$(dpkg-query -W -f='${Version}' "$source_package" 2>/dev/null) ||
  die "package $source_package is not installed; run scripts/deps.sh as root (it installs it)"
[[ -n $source_version ]] ||
  die "package $source_package is not fully installed; run scripts/deps.sh as root"

key=$({
  printf 'source %s %s\n' "$source_package" "$source_version"
  printf 'fragment\n'
  cat "$fragment"
  printf 'build.sh\n'
  cat "$self"
} | sha256sum | cut -c1-16)
readonly entry=$cache_root/$key

if $print_only; then
  echo "$entry" >&3
  exit 0
fi

entry_complete() {
  [[ -f $entry/bzImage && -f $entry/vmlinux && -f $entry/config ]]
}
# Renaming a fresh link over the old one, so the VMM never sees `current` missing.
point_current() {
  local link
  link=$(mktemp -u "$cache_root/.current.XXXXXX")
  if ln -s "$key" "$link" 2>/dev/null && mv -T "$link" "$cache_root/current" 2>/dev/null; then
    return 0
  fi
  rm -f -- "$link"
  echo "guest-kernel: warning: could not point $cache_root/current at $key (not writable?)" >&2
}
# A cache hit needs none of the build tools, so they are checked only when about to build.
if entry_complete; then
  point_current
  echo "$entry" >&3
  exit 0
fi

check_build_tools() {
  local missing=() pair tool package
  # tool:package pairs; headers are checked by path since they have no command.
  for pair in make:make gcc:gcc ld:binutils objcopy:binutils flex:flex bison:bison bc:bc \
    xz:xz-utils lz4:lz4 perl:perl-base flock:util-linux sha256sum:coreutils; do
    tool=${pair%%:*}
    package=${pair#*:}
    command -v "$tool" >/dev/null || missing+=("$package (for $tool)")
  done
  [[ -f /usr/include/gelf.h ]] || missing+=("libelf-dev (for gelf.h, objtool needs it)")
  [[ -f /usr/include/openssl/opensslv.h ]] || missing+=("libssl-dev (for openssl headers)")
  [[ -f $tarball ]] || missing+=("$source_package (for $tarball)")
  if ((${#missing[@]} > 0)); then
    printf 'guest-kernel: missing: %s\n' "${missing[@]}" >&2
    die "install them with scripts/deps.sh (as root), then rerun"
  fi
}
check_build_tools

if ! mkdir -p "$cache_root" 2>/dev/null || [[ ! -w $cache_root ]]; then
  die "cannot write to $cache_root; run as root or set TANDEM_CACHE to a writable folder"
fi

# One lock for the whole cache: the extracted source and the build folder are shared by every
# entry, and a second caller usually wants the very entry the first is building.
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
  echo "guest-kernel: another build holds $cache_root/.lock; waiting" >&2
  flock 9
fi
if entry_complete; then
  point_current
  echo "$entry" >&3
  exit 0
fi

started=$SECONDS
temporaries=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local path
  for path in "${temporaries[@]}"; do
    rm -rf -- "$path"
  done
}
trap cleanup EXIT

# The source is extracted once per package version and never written to afterwards (builds
# use O=), so it stays valid for every fragment; extracting into a temporary folder and
# renaming means a killed extraction leaves no half tree behind.
source_dir=$cache_root/source/$source_version
if [[ ! -f $source_dir/Makefile ]]; then
  mkdir -p "$cache_root/source"
  rm -rf -- "$source_dir"
  extracting=$(mktemp -d "$cache_root/source/.extract.XXXXXX")
  temporaries+=("$extracting")
  echo "guest-kernel: extracting $tarball (once per version; about a minute)" >&2
  tar -xJf "$tarball" -C "$extracting" --strip-components=1 ||
    die "extracting $tarball failed; check free space under $cache_root"
  [[ -f $extracting/Makefile ]] || die "$tarball holds no top-level Makefile; is it a kernel tree?"
  mv -T "$extracting" "$source_dir"
fi

# The object folder is kept between builds so a changed fragment recompiles only what it
# touches. A compiler killed mid-write can leave a truncated object that make would trust, so
# a build that did not finish marks the folder, and the next one starts it afresh.
build_dir=$cache_root/build/$source_version
unfinished=$build_dir/.tandem-unfinished
if [[ -e $unfinished ]]; then
  echo "guest-kernel: the previous build in $build_dir did not finish; starting it afresh" >&2
  rm -rf -- "$build_dir"
fi
mkdir -p "$build_dir"
log=$build_dir/build.log
: >"$log"

kmake() {
  make -C "$source_dir" O="$build_dir" KBUILD_BUILD_USER=tandem KBUILD_BUILD_HOST=tandem "$@" \
    >>"$log" 2>&1
}
fail_with_log() {
  tail -n 40 "$log" >&2
  die "$1 failed; the full log is $log"
}

echo "guest-kernel: configuring (tinyconfig + $fragment)" >&2
kmake tinyconfig || fail_with_log "make tinyconfig"
# allnoconfig-based merging (-n) rather than olddefconfig: options that only become visible
# through the fragment (IPv6 under INET, I/O schedulers under BLOCK, ...) then default to off
# instead of to their usual defaults, which keeps the kernel as small as tinyconfig meant.
(cd "$build_dir" && "$source_dir/scripts/kconfig/merge_config.sh" -n -O "$build_dir" \
  "$build_dir/.config" "$fragment") >>"$log" 2>&1 ||
  fail_with_log "merging $fragment (scripts/kconfig/merge_config.sh)"

# Kconfig silently drops any requested option whose dependencies are off, so every line of the
# fragment is checked against the final .config.
verify_config() {
  local -A actual=()
  local line name value dropped=() number=0
  while IFS= read -r line; do
    if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
      actual[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
    fi
  done <"$build_dir/.config"
  while IFS= read -r line || [[ -n $line ]]; do
    number=$((number + 1))
    if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
      name=${BASH_REMATCH[1]}
      value=${BASH_REMATCH[2]}
      if [[ ${actual[$name]-} != "$value" ]]; then
        dropped+=("$name: asked $value, got ${actual[$name]-not set} (line $number)")
      fi
    elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
      name=${BASH_REMATCH[1]}
      if [[ -n ${actual[$name]-} ]]; then
        dropped+=("$name: asked off, got ${actual[$name]} (line $number)")
      fi
    elif [[ -n $line && ! $line =~ ^[[:space:]]*# ]]; then
      die "$fragment line $number is neither CONFIG_X=value, '# CONFIG_X is not set' nor a comment"
    fi
  done <"$fragment"
  if ((${#dropped[@]} > 0)); then
    printf '  %s\n' "${dropped[@]}" >&2
    die "${#dropped[@]} option(s) of $fragment did not survive into $build_dir/.config (usually a dependency is off: add it to the fragment)"
  fi
}
verify_config

touch "$unfinished"
jobs=$(nproc)
echo "guest-kernel: compiling with $jobs jobs (several minutes; log: $log)" >&2
kmake -j"$jobs" bzImage vmlinux || fail_with_log "compiling the kernel"
rm -f "$unfinished"

# Only a hand-made or damaged folder can be here (entries appear by rename); it is not ours to
# trust, and rename needs the name free.
rm -rf -- "$entry"
# Staged beside the entry and renamed into place, so readers see a whole entry or none.
staging=$(mktemp -d "$cache_root/.$key.XXXXXX")
temporaries+=("$staging")
cp "$build_dir/arch/x86/boot/bzImage" "$staging/bzImage"
# PVH boots this ELF directly; debug sections are only weight (the config builds none anyway).
objcopy --strip-debug "$build_dir/vmlinux" "$staging/vmlinux"
cp "$build_dir/.config" "$staging/config"
chmod 0755 "$staging"
chmod 0644 "$staging"/*
mv -T "$staging" "$entry" || die "could not move the finished build into $entry"

point_current
echo "guest-kernel: built $entry in $((SECONDS - started)) s" >&2
echo "$entry" >&3
exit 0
}
