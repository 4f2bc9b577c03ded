#!/usr/bin/env bash
# Build the test initramfs: static busybox, /init (scripts/init.sh), the kernel's modules plus
# ours (in extra/, indexed with the host's depmod) and a kselftest tree under /selftests.
#
#   scripts/initramfs.sh --kernel-dir KDIR --modules DIR --selftests DIR [--extra DIR]
#                        --out FILE.cpio.gz
#
# KDIR is a scripts/kernel.sh build (modules in KDIR/modroot/lib/modules/<kver>); every *.ko in
# --modules goes to lib/modules/<kver>/extra/. --selftests holds kselftest-list.txt ("suite:prog"
# lines) and <suite>/<prog>, <suite>/settings. Programs must be static: no libraries are copied.
# --extra is a tree copied over the root as it is (the sample DM and guests); its programs
# must be static too.
# Output: gzip'd newc cpio, owned by root, timestamps set to SOURCE_DATE_EPOCH (default 0).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() { sed -n '2,10s/^# \{0,1\}//p' "$0" >&2; exit 2; }

kdir= moddir= selftests= extra= out=
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel-dir) kdir=${2:?}; shift 2 ;;
	--modules) moddir=${2:?}; shift 2 ;;
	--selftests) selftests=${2:?}; shift 2 ;;
	--extra) extra=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	-h|--help) usage ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[ -n "$kdir" ] && [ -n "$moddir" ] && [ -n "$selftests" ] && [ -n "$out" ] || usage

busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox missing: install busybox-static ('make deps')"
modules=$kdir/modroot/lib/modules
[ -d "$modules" ] || die "$modules missing: not a finished scripts/kernel.sh build"
mapfile -t kvers < <(ls "$modules")
[ ${#kvers[@]} = 1 ] || die "expected one kernel version in $modules, found: ${kvers[*]:-none}"
kver=${kvers[0]}
[ -d "$moddir" ] || die "--modules $moddir: no such directory"
[ -f "$selftests/kselftest-list.txt" ] || die "--selftests $selftests: no kselftest-list.txt"

# is_dynamic FILE: true for an ELF file that asks for a program interpreter (ld.so).
is_dynamic() {
	[ "$(head -c4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ] || return 1
	LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'program interpreter'
}

root=$(mktemp -d "${TMPDIR:-/tmp}/acrn-rs-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,lib/modules}
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
install -m 0755 "$REPO_ROOT/scripts/init.sh" "$root/init"

# Kernel modules: the build's tree (without the build/source links into the build directory),
# ours in extra/, then the index busybox modprobe reads (modules.dep, modules.alias, ...).
cp -a "$modules/$kver" "$root/lib/modules/"
rm -f "$root/lib/modules/$kver/build" "$root/lib/modules/$kver/source"
shopt -s nullglob
kos=("$moddir"/*.ko)
shopt -u nullglob
if [ ${#kos[@]} -gt 0 ]; then
	mkdir -p "$root/lib/modules/$kver/extra"
	install -m 0644 "${kos[@]}" "$root/lib/modules/$kver/extra/"
fi
sysmap=()
[ -f "$kdir/System.map" ] && sysmap=(-F "$kdir/System.map")
depmod -b "$root" "${sysmap[@]}" "$kver"

# The kselftest tree: every listed program must exist and be static.
cp -a "$selftests" "$root/selftests"
while IFS=: read -r suite prog; do
	case "$suite" in ''|'#'*) continue ;; esac
	f=$root/selftests/$suite/$prog
	[ -f "$f" ] || die "kselftest-list.txt names $suite:$prog, but $selftests/$suite/$prog is missing"
	! is_dynamic "$f" || die "$selftests/$suite/$prog is dynamically linked (build it with -static)"
done <"$root/selftests/kselftest-list.txt"

# Extra files (samples): copied over the root; no dynamically linked program.
if [ -n "$extra" ]; then
	[ -d "$extra" ] || die "--extra $extra: no such directory"
	cp -a "$extra/." "$root/"
	while IFS= read -r -d '' f; do
		! is_dynamic "$f" || die "$f is dynamically linked (build it static)"
	done < <(find "$extra" -type f -print0)
fi

mkdir -p "$(dirname "$out")"
epoch=${SOURCE_DATE_EPOCH:-0}
find "$root" -exec touch -h -d "@$epoch" {} +
(cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null --create --format=newc --reproducible --owner=0:0 --quiet) |
	gzip -n -6 >"$out.tmp"
mv "$out.tmp" "$out"
