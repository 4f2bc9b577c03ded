#!/bin/sh
# /init of the acrn-rs test initramfs (busybox sh); installed by scripts/initramfs.sh.
#
# Kernel command line:
#   acrn_rs.mode=test|shell|bench   run the kselftests and power off (default), give a shell
#                          on ttyS0, or run every /selftests/*/*_bench program and power off
#   acrn_rs.suites=a,b        suites to run, in this order (default: all of kselftest-list.txt)
#   acrn_rs.hsm=rust|c        HSM under test: exports HSM_MODULE=acrn_hsm|acrn and HSM_KIND=rust|c
#   acrn_rs.repeat=N          run the selected tests N times over (hunting flaky tests)
#   acrn_rs.benches=a,b       bench mode: only these programs (default: every */*_bench)
#   acrn_rs.bench_filter=S    bench mode: exported as BENCH_FILTER (programs that know it run
#                          only the figures whose name contains a part of S, comma-separated)
#   acrn_rs.profile=1         bench mode: run each program under /selftests/tools/kprof
#   acrn_rs.demo=1            first launch the sample User VM (samples/dm + samples/guests)
#
# Test mode prints "acrn-rs-tests: begin", the TAP 13 stream of the kernel's kselftest runner
# (tools/testing/selftests/kselftest/runner.sh), a kmemleak summary and "acrn-rs-tests: end";
# scripts/results.py parses it from the serial log.

/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
mount -t tmpfs tmpfs /tmp
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/ TERM=${TERM:-linux}

SELFTESTS=/selftests
KMEMLEAK=/sys/kernel/debug/kmemleak
DEFAULT_TIMEOUT=45

mode=test suites= hsm=rust repeat=1 demo=0 benches= profile=0
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	acrn_rs.mode=*) mode=${arg#*=} ;;
	acrn_rs.suites=*) suites=${arg#*=} ;;
	acrn_rs.hsm=*) hsm=${arg#*=} ;;
	acrn_rs.repeat=*) repeat=${arg#*=} ;;
	acrn_rs.demo=*) demo=${arg#*=} ;;
	acrn_rs.benches=*) benches=${arg#*=} ;;
	acrn_rs.bench_filter=*) export BENCH_FILTER=${arg#*=} ;;
	acrn_rs.profile=*) profile=${arg#*=} ;;
	esac
done
case "$hsm" in
c) export HSM_KIND=c HSM_MODULE=acrn ;;
*) export HSM_KIND=rust HSM_MODULE=acrn_hsm ;;
esac

# The "suite:prog" lines to run: all of kselftest-list.txt, or those of the chosen suites
# in the order given. An unknown suite is reported (results.py counts it as a failure).
select_tests() {
	local list s
	list=$SELFTESTS/kselftest-list.txt
	[ -r "$list" ] || return 0
	if [ -z "$suites" ]; then
		grep -v '^[[:space:]]*\(#\|$\)' "$list"
		return 0
	fi
	for s in $(echo "$suites" | tr ',' ' '); do
		grep "^$s:" "$list" || echo "acrn-rs-tests: error: unknown suite $s" >&2
	done
}

# Timeout in seconds of a suite: timeout=N in its settings file, else 45 (0 = none).
suite_timeout() {
	local t
	t=$(sed -n 's/^timeout=\([0-9][0-9]*\).*/\1/p' "$SELFTESTS/$1/settings" 2>/dev/null | tail -n 1)
	echo "${t:-$DEFAULT_TIMEOUT}"
}

# run_one NUM SUITE PROG: one program, output prefixed with "# ", then its TAP result line.
# The program runs in its own session and process group; on timeout the whole group gets
# SIGTERM, then SIGKILL 5 s later, so that children left behind cannot hold the output pipe.
run_one() {
	local num=$1 suite=$2 prog=$3 hdr t rc
	hdr="selftests: $suite: $prog"
	echo "# $hdr"
	if [ ! -e "$SELFTESTS/$suite/$prog" ]; then
		echo "# Warning: file $suite/$prog is missing!"
		echo "not ok $num $hdr"
		return
	fi
	t=$(suite_timeout "$suite")
	rm -f /tmp/.rc /tmp/.timedout
	(
		cd "$SELFTESTS/$suite" || exit 1
		setsid "./$prog" </dev/null 2>&1 &
		pid=$! watchdog=
		if [ "$t" -gt 0 ]; then
			(sleep "$t"; touch /tmp/.timedout; kill -TERM -"$pid"; sleep 5; kill -KILL -"$pid") \
				</dev/null >/dev/null 2>&1 &
			watchdog=$!
		fi
		wait "$pid"
		echo $? >/tmp/.rc
		[ -z "$watchdog" ] || kill "$watchdog" 2>/dev/null
	) 2>&1 | sed 's/^/# /'
	rc=$(cat /tmp/.rc 2>/dev/null || echo 1)
	if [ -e /tmp/.timedout ]; then
		echo "#"
		echo "not ok $num $hdr # TIMEOUT $t seconds"
	elif [ "$rc" = 0 ]; then
		echo "ok $num $hdr"
	elif [ "$rc" = 4 ]; then
		echo "ok $num $hdr # SKIP"
	else
		echo "not ok $num $hdr # exit=$rc"
	fi
}

run_tests() {
	# kmemleak baseline: what boot leaked is reported by a scan and then cleared, so the scan
	# after the tests reports only what leaked while they ran. (A clear alone would not do:
	# it only forgets objects an earlier scan reported.)
	if [ -w "$KMEMLEAK" ]; then
		echo scan >"$KMEMLEAK"
		echo clear >"$KMEMLEAK"
	fi
	echo "acrn-rs-tests: begin"
	select_tests >/tmp/.once 2>/tmp/.errors
	: >/tmp/.tests
	i=0
	while [ "$i" -lt "$repeat" ]; do
		cat /tmp/.once >>/tmp/.tests
		i=$((i + 1))
	done
	cat /tmp/.errors
	echo "TAP version 13"
	echo "1..$(grep -c . /tmp/.tests)"
	num=0
	while IFS=: read -r suite prog; do
		num=$((num + 1))
		run_one "$num" "$suite" "$prog" </dev/null
	done </tmp/.tests
	if [ -e "$KMEMLEAK" ]; then
		sleep 6
		echo scan >"$KMEMLEAK"
		echo scan >"$KMEMLEAK"
		echo "acrn-rs-tests: kmemleak: $(grep -c 'unreferenced object' "$KMEMLEAK")"
		sed 's/^/# kmemleak: /' "$KMEMLEAK"
	fi
	echo "acrn-rs-tests: end"
}

# Benchmarks: each prints "bench <name> ours=<v> ref=<v> ratio=<r>" lines of its own.
run_benches() {
	echo "acrn-rs-bench: begin"
	for b in "$SELFTESTS"/*/*_bench; do
		[ -x "$b" ] || continue
		case ",${benches:-$(basename "$b")}," in
		*",$(basename "$b"),"*) ;;
		*) continue ;;
		esac
		if [ "$profile" = 1 ]; then
			(cd "$(dirname "$b")" && "$SELFTESTS/tools/kprof" -- "./$(basename "$b")") 2>&1 ||
				echo "acrn-rs-bench: $b failed"
		else
			(cd "$(dirname "$b")" && "./$(basename "$b")") 2>&1 || echo "acrn-rs-bench: $b failed"
		fi
	done
	echo "acrn-rs-bench: end"
}

# The main job of `make run`: the HSM loaded, a User VM launched by the sample device model.
run_demo() {
	local status
	echo "acrn-rs-demo: loading $HSM_MODULE, launching a User VM:" \
		"acrn-dm-rs /usr/share/acrn-rs/hello64.bin"
	modprobe "$HSM_MODULE" || { echo "acrn-rs-demo: modprobe $HSM_MODULE failed"; return; }
	acrn-dm-rs --verbose --timeout 120 /usr/share/acrn-rs/hello64.bin
	status=$?
	echo "acrn-rs-demo: the User VM ended with status $status"
}

[ "$demo" = 1 ] && run_demo

if [ "$mode" = bench ]; then
	run_benches
elif [ "$mode" = shell ]; then
	echo "acrn-rs: shell on the console (HSM_MODULE=$HSM_MODULE); tests in $SELFTESTS; exit to power off"
	# This child of PID 1 is no process-group leader: setsid does not fork again, so init waits
	# for the shell (with job control, as cttyhack makes ttyS0 its controlling terminal).
	setsid cttyhack sh
else
	run_tests
fi
sync
poweroff -f
