#!/usr/bin/env bash
# Build the Service VM test kernel from Debian's linux-source-6.12 with LLVM and Rust.
#
#   scripts/kernel.sh [debug|release]          build (or reuse) and print the build directory
#   scripts/kernel.sh --print-dir [flavour]    print the build directory without building
#
# The build lives in $ACRN_RS_CACHE/kernel/<version>-<flavour>-<hash>, keyed by the kernel
# source version, the config fragments in scripts/kconfig/ and the toolchain versions; a
# finished build (marked by .done) is reused as is. Config: tinyconfig + base + flavour.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

print_only=0
if [ "${1:-}" = --print-dir ]; then print_only=1; shift; fi
flavour=${1:-debug}
[ -f "$REPO_ROOT/scripts/kconfig/$flavour.config" ] || die "no fragment scripts/kconfig/$flavour.config"

out=$(kernel_dir "$flavour")
if [ $print_only = 1 ]; then echo "$out"; exit 0; fi
if [ -f "$out/.done" ]; then echo "$out"; exit 0; fi

log() { printf 'kernel: %s\n' "$*" >&2; }

# Unpack the source once per source version.
src=$ACRN_RS_CACHE/src/linux-$(kernel_src_version)
if [ ! -f "$src/.unpacked" ]; then
	[ -f "$KERNEL_TARBALL" ] || die "$KERNEL_TARBALL missing: run 'make deps'"
	log "unpacking $KERNEL_TARBALL"
	rm -rf "$src.tmp" && mkdir -p "$src.tmp"
	tar -xf "$KERNEL_TARBALL" -C "$src.tmp" --strip-components=1
	rm -rf "$src" && mv "$src.tmp" "$src"
	touch "$src/.unpacked"
fi

kmake() { make -s -C "$src" O="$out" ARCH=x86_64 LLVM="$LLVM_SUFFIX" "$@"; }

start=$(date +%s)
rm -rf "$out" && mkdir -p "$out"
log "configuring $flavour in $out"
kmake tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
	"$REPO_ROOT/scripts/kconfig/base.config" "$REPO_ROOT/scripts/kconfig/$flavour.config" >/dev/null
kmake olddefconfig >/dev/null

# Every line of the fragments must have survived olddefconfig (a missing dependency drops
# an option silently otherwise).
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) want=$line; sym=${line%%=*} ;;
	"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *}; want="# $sym is not set" ;;
	*) continue ;;
	esac
	got=$(grep -E "^($sym=|# $sym is not set)" "$out/.config" || true)
	if [ "$want" != "$got" ] && ! { [ -z "$got" ] && [ "${want#\#}" != "$want" ]; }; then
		log "config: wanted '$want', got '${got:-<unset>}'"
		bad=1
	fi
done < <(cat "$REPO_ROOT/scripts/kconfig/base.config" "$REPO_ROOT/scripts/kconfig/$flavour.config")
[ $bad = 0 ] || die "config fragments not satisfied"

log "building bzImage and modules with $NPROC jobs"
kmake -j"$NPROC" bzImage modules
kmake INSTALL_MOD_PATH="$out/modroot" INSTALL_MOD_STRIP=1 modules_install >/dev/null
end=$(date +%s)
echo $((end - start)) > "$out/build-seconds"
log "built in $((end - start)) s"
touch "$out/.done"

# Keep the two newest builds of this flavour (the one before may serve another checkout).
ls -dt "$ACRN_RS_CACHE/kernel/"linux-*-"$flavour"-* 2>/dev/null | tail -n +3 | while read -r old; do
	log "removing old build $old"
	rm -rf "$old"
done
echo "$out"
