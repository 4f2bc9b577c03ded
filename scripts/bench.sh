#!/usr/bin/env bash
# `make bench`: performance figures of our modules against the C references, measured side
# by side in one QEMU/TCG boot of the release kernel (no debug options). Prints one line per
# figure: bench <name> ours=<value> ref=<value> ratio=<ours/ref>. The HSM figures come from a
# second boot of the same kernel under our hypervisor (they need User VMs).
#
# Our modules are built against the release kernel in a copy of the source tree under
# build/bench-src, so the debug build in the tree is left alone.
#
# BENCHES=a,b runs only these programs (a boot is left out if none of its programs is
# chosen), FILTER=s,t only the figures whose name contains s or t (selftests/include/
# bench_filter.h; it replaces the third boot's own choice too),
# PROFILE=1 runs each program under kprof and prints the "# " comment lines too, among them
# kprof's: where the CPU time of all CPUs went, by kernel symbol and by thread.
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
make -s -C "$SRC" selftests KDIR="$KDIR" BUILD="$BUILD/bench" \
	SUITES="vhost_net vhost_blk acrn_hsm tools" >/dev/null
scripts/initramfs.sh --kernel-dir "$KDIR" --modules "$BUILD/bench/modules" \
	--selftests "$BUILD/bench/selftests" --out "$BUILD/bench/initramfs.cpio.gz"

# The programs of each boot: the HSM figures need User VMs, so hsm_bench runs in a second
# boot, under our hypervisor; the first runs the others. A third boot runs vhost_net_bench
# and vhost_blk_bench again with guest time counted in instructions (qemu-run.sh --icount):
# its figures, named with "_icount", do not move with the host's load, which shifts single
# runs of the first boot by a third either way (Documentation/performance.rst). It leaves out
# the figures whose driver or worker spins (_polled, _busypoll): under --icount a spinning
# vCPU keeps its turn until its next timer tick, and the turns would set the rate.
plain=vhost_net_bench,vhost_blk_bench hv=hsm_bench ic=vhost_net_bench,vhost_blk_bench
ic_filter=${FILTER:-vhost_net_tx,_qd1_iops,_qd64_iops}
if [ -n "${BENCHES:-}" ]; then
	chosen() { tr ',' '\n' <<<"$BENCHES" | grep -Fx -f <(tr ',' '\n' <<<"$1") | paste -sd, - || true; }
	plain=$(chosen "$plain") hv=$(chosen "$hv") ic=$(chosen "$ic")
fi
extra= ic_extra=" acrn_rs.bench_filter=$ic_filter"
[ -n "${FILTER:-}" ] && extra+=" acrn_rs.bench_filter=$FILTER"
[ "${PROFILE:-0}" = 1 ] && extra+=" acrn_rs.profile=1" ic_extra+=" acrn_rs.profile=1"
logs=()
rm -f "$BUILD/bench/console.log" "$BUILD/bench/console-hv.log" "$BUILD/bench/console-icount.log"
if [ -n "$plain" ]; then
	scripts/qemu-run.sh --timeout 1200 --kernel "$KDIR/arch/x86/boot/bzImage" \
		--initrd "$BUILD/bench/initramfs.cpio.gz" \
		--append "acrn_rs.mode=bench acrn_rs.benches=$plain$extra" \
		--log "$BUILD/bench/console.log" >/dev/null || true
	logs+=("$BUILD/bench/console.log")
fi
if [ -n "$hv" ]; then
	make -s hypervisor BUILD="$BUILD/bench"
	scripts/qemu-run.sh --timeout 1200 --hypervisor "$BUILD/bench/acrn-hv.elf" \
		--kernel "$KDIR/arch/x86/boot/bzImage" --initrd "$BUILD/bench/initramfs.cpio.gz" \
		--append "acrn_rs.mode=bench acrn_rs.benches=$hv$extra" \
		--log "$BUILD/bench/console-hv.log" >/dev/null || true
	logs+=("$BUILD/bench/console-hv.log")
fi
if [ -n "$ic" ]; then
	scripts/qemu-run.sh --timeout 1200 --icount 0 --kernel "$KDIR/arch/x86/boot/bzImage" \
		--initrd "$BUILD/bench/initramfs.cpio.gz" \
		--append "acrn_rs.mode=bench acrn_rs.benches=$ic$ic_extra" \
		--log "$BUILD/bench/console-icount.log" >/dev/null || true
	# Named apart from the first boot's figures.
	sed -i 's/^bench \([^ ]*\)/bench \1_icount/' "$BUILD/bench/console-icount.log"
	logs+=("$BUILD/bench/console-icount.log")
fi
[ ${#logs[@]} -gt 0 ] || { echo "bench: no benchmark chosen by BENCHES=$BENCHES" >&2; exit 1; }
for log in "${logs[@]}"; do
	if ! grep -q '^acrn-rs-bench: end' "$log"; then
		echo "bench: a benchmark boot did not finish, see $log" >&2
		exit 1
	fi
done
if [ "${PROFILE:-0}" = 1 ]; then
	grep -h -e '^bench ' -e '^# ' "${logs[@]}"
else
	grep -h '^bench ' "${logs[@]}"
fi
