#!/usr/bin/env bash
# `make bench`: performance figures of our modules against the C references, measured side
# by side in one QEMU/TCG boot of the release kernel (no debug options). Prints one line per
# figure: bench <name> ours=<value> ref=<value> ratio=<ours/ref>. The HSM figures come from a
# second boot of the same kernel under our hypervisor (they need User VMs).
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
make -s -C "$SRC" selftests KDIR="$KDIR" BUILD="$BUILD/bench" SUITES="vhost_net vhost_blk acrn_hsm" >/dev/null
scripts/initramfs.sh --kernel-dir "$KDIR" --modules "$BUILD/bench/modules" \
	--selftests "$BUILD/bench/selftests" --out "$BUILD/bench/initramfs.cpio.gz"
scripts/qemu-run.sh --timeout 1200 --kernel "$KDIR/arch/x86/boot/bzImage" \
	--initrd "$BUILD/bench/initramfs.cpio.gz" --append "acrn_rs.mode=bench" \
	--log "$BUILD/bench/console.log" >/dev/null || true
# The HSM figures need User VMs: a second boot, under our hypervisor, runs hsm_bench only.
make -s hypervisor BUILD="$BUILD/bench"
scripts/qemu-run.sh --timeout 1200 --hypervisor "$BUILD/bench/acrn-hv.elf" \
	--kernel "$KDIR/arch/x86/boot/bzImage" --initrd "$BUILD/bench/initramfs.cpio.gz" \
	--append "acrn_rs.mode=bench acrn_rs.benches=hsm_bench" \
	--log "$BUILD/bench/console-hv.log" >/dev/null || true
for log in "$BUILD/bench/console.log" "$BUILD/bench/console-hv.log"; do
	if ! grep -q '^acrn-rs-bench: end' "$log"; then
		echo "bench: a benchmark boot did not finish, see $log" >&2
		exit 1
	fi
done
grep -h '^bench ' "$BUILD/bench/console.log" "$BUILD/bench/console-hv.log"
