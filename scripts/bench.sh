#!/usr/bin/env bash
# `make bench`: performance figures of our modules against the C references, measured side
# by side in one QEMU/TCG boot of the release kernel (no debug options). Prints one line per
# figure: bench <name> ours=<value> ref=<value> ratio=<ours/ref>.
#
# Our modules are built against the release kernel in a copy of the source tree under
# build/bench-src, so the debug build in the tree is left alone.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

BUILD=${BUILD:-$REPO_ROOT/build}
scripts/deps.sh >/dev/null
KDIR=$(scripts/kernel.sh release)
SRC=$BUILD/bench-src
rm -rf "$SRC" && mkdir -p "$SRC"
git ls-files -co --exclude-standard | grep -v '^build/' | tar -cf - -T - | tar -xf - -C "$SRC"
make -s -C "$SRC" modules KDIR="$KDIR" BUILD="$BUILD/bench" >/dev/null
make -s -C "$SRC" selftests KDIR="$KDIR" BUILD="$BUILD/bench" SUITES="vhost_net vhost_blk" >/dev/null
scripts/initramfs.sh --kernel-dir "$KDIR" --modules "$BUILD/bench/modules" \
	--selftests "$BUILD/bench/selftests" --out "$BUILD/bench/initramfs.cpio.gz"
scripts/qemu-run.sh --timeout 1200 --kernel "$KDIR/arch/x86/boot/bzImage" \
	--initrd "$BUILD/bench/initramfs.cpio.gz" --append "acrn_rs.mode=bench" \
	--log "$BUILD/bench/console.log" >/dev/null || true
if ! grep -q '^acrn-rs-bench: end' "$BUILD/bench/console.log"; then
	echo "bench: the benchmark boot did not finish, see $BUILD/bench/console.log" >&2
	exit 1
fi
grep '^bench ' "$BUILD/bench/console.log"
