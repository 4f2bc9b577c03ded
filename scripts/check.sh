#!/usr/bin/env bash
# `make check`: every test of acrn-rs, in order, ending with one line `N passed, N failed`.
#
#   1. deps and the cached debug kernel (built on first use)
#   2. host tests: `cargo test` of every host-testable Rust crate, the script unit tests
#   3. lint: rustfmt and clippy (clippy runs on kernel code through the module build)
#   4. module build (also through DKMS), selftest build, initramfs
#   5. one QEMU/TCG boot of the Service VM running all selftest suites
#   6. the hypervisor (build, lint) and two more boots: hypervisor + Service VM running the
#      acrn_hsm, hypervisor and dm suites, with the C acrn.ko (acrn_rs.hsm=c), then with ours;
#      each first launches the sample User VM as `make run` does (acrn_rs.demo=1)
#
# A failed build or lint step counts as one failed test; passing build steps count nothing.
# Logs go to build/results/<stage>.log, summaries to build/results/<stage>.summary.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

BUILD=${BUILD:-$REPO_ROOT/build}
RESULTS=$BUILD/results
HOST_CRATES=(uapi/rust hypervisor rust/vring samples/dm)
rm -rf "$RESULTS" && mkdir -p "$RESULTS"

say() { printf 'check: %s\n' "$*"; }

# run_step NAME CMD...: a step that is no test by itself; its failure counts as one.
run_step() {
	local name=$1; shift
	local t0=$SECONDS
	if "$@" >"$RESULTS/$name.log" 2>&1; then
		echo "0 passed, 0 failed" >"$RESULTS/$name.summary"
		say "$name: ok ($((SECONDS - t0)) s)"
		return 0
	fi
	echo "0 passed, 1 failed" >"$RESULTS/$name.summary"
	say "$name: FAILED ($((SECONDS - t0)) s), last lines of $RESULTS/$name.log:"
	tail -n 25 "$RESULTS/$name.log" | sed 's/^/    /'
	return 1
}

# run_tests NAME "MODE [ARGS]" CMD...: a test run whose log `results.py MODE LOG ARGS` counts.
run_tests() {
	local name=$1 parser
	read -ra parser <<<"$2"
	shift 2
	local t0=$SECONDS
	"$@" >"$RESULTS/$name.log" 2>&1
	scripts/results.py "${parser[0]}" "$RESULTS/$name.log" "${parser[@]:1}" >"$RESULTS/$name.out" 2>&1
	tail -n 1 "$RESULTS/$name.out" >"$RESULTS/$name.summary"
	grep '^FAIL' "$RESULTS/$name.out" | sed 's/^/    /'
	say "$name: $(cat "$RESULTS/$name.summary") ($((SECONDS - t0)) s)"
}

# expect_line NAME REGEX LOG: one test, passed if a line of LOG matches REGEX.
expect_line() {
	if grep -q "$2" "$3"; then
		echo "1 passed, 0 failed" >"$RESULTS/$1.summary"
		say "$1: 1 passed, 0 failed"
	else
		echo "0 passed, 1 failed" >"$RESULTS/$1.summary"
		say "$1: FAILED: no line '$2' in $3"
	fi
}

finish() {
	scripts/results.py sum "$RESULTS"/*.summary
	exit $?
}

run_step deps scripts/deps.sh || finish
run_step kernel scripts/kernel.sh debug || finish
KDIR=$(scripts/kernel.sh --print-dir debug)
export ACRN_KERNEL_SRC=$KDIR/source
say "kernel: $KDIR (built in $(cat "$KDIR/build-seconds") s)"

for crate in "${HOST_CRATES[@]}"; do
	name=host-$(echo "$crate" | tr / -)
	run_tests "$name" cargo cargo test --locked --manifest-path "$crate/Cargo.toml"
	run_step "lint-$name" sh -c "cargo fmt --all --manifest-path $crate/Cargo.toml --check &&
		cargo clippy --locked --manifest-path $crate/Cargo.toml --all-targets -- -D warnings"
done
run_tests host-scripts unittest python3 -m unittest discover -s scripts/tests -v
run_step lint-kernel-rustfmt sh -c "git ls-files -co --exclude-standard '*.rs' |
	grep -v -e '^uapi/rust/' -e '^hypervisor/' | xargs -r rustfmt --check --edition 2021"

# Kernel code is linted by clippy during the module build (CLIPPY=1, warnings are errors).
guest_ok=0
run_step modules make -s modules KDIR="$KDIR" &&
	run_step selftests make -s selftests KDIR="$KDIR" &&
	run_step initramfs make -s initramfs KDIR="$KDIR" && guest_ok=1
# The same modules built the way a distribution does: DKMS (dkms.conf), in a scratch tree.
run_step dkms scripts/dkms.sh test "$KDIR"
if [ $guest_ok = 1 ]; then
	run_tests guest "guest --expect-end" scripts/qemu-run.sh --timeout 1500 \
		--kernel "$KDIR/arch/x86/boot/bzImage" --initrd "$BUILD/initramfs.cpio.gz" \
		--log "$RESULTS/guest-console.log"
fi

# The hypervisor (x86_64-unknown-none, linted here since the host lint above covers only its
# host-testable crates), then two boots of it with the same kernel as its Service VM, running
# the suites that exercise it: once with the C acrn.ko as HSM, once with our acrn_hsm.ko.
if run_step hypervisor sh -c "make -s hypervisor BUILD='$BUILD' && cd hypervisor &&
	cargo clippy --locked --release -p acrn-hv --target x86_64-unknown-none -- -D warnings" &&
	[ $guest_ok = 1 ]; then
	for hsm in c rust; do
		run_tests "guest-hypervisor-$hsm-hsm" "guest --expect-end" scripts/qemu-run.sh \
			--timeout 600 --hypervisor "$BUILD/acrn-hv.elf" \
			--kernel "$KDIR/arch/x86/boot/bzImage" --initrd "$BUILD/initramfs.cpio.gz" \
			--append "acrn_rs.hsm=$hsm acrn_rs.suites=acrn_hsm,hypervisor,dm acrn_rs.demo=1" \
			--log "$RESULTS/guest-hypervisor-$hsm-hsm-console.log"
		# What `make run` does first (acrn_rs.demo=1): launch the sample User VM.
		expect_line "run-demo-$hsm-hsm" '^acrn-rs-demo: the User VM ended with status 0[[:cntrl:]]\{0,1\}$' \
			"$RESULTS/guest-hypervisor-$hsm-hsm-console.log"
	done
fi
finish
