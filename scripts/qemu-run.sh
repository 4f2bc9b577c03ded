#!/usr/bin/env bash
# Boot a kernel and initramfs in QEMU (TCG, q35, -cpu max with SVM) with the console on ttyS0.
#
#   scripts/qemu-run.sh --kernel BZIMAGE --initrd CPIO [--append "extra args"] [--log FILE]
#                       [--timeout SEC] [--smp N] [--mem SIZE] [--interactive] [--icount N]
#                       [--hypervisor ELF [--hv-append "hypervisor args"]]
#
# Default: the serial console goes to stdout and to --log, stdin is /dev/null, and QEMU is
# killed after --timeout seconds (default 900; "qemu-run: timeout after N s" is logged and the
# exit status is 124). Otherwise the exit status is QEMU's. --interactive: serial and QEMU
# monitor on the terminal (Ctrl-A X quits, Ctrl-A C switches to the monitor), no timeout.
# --icount N: guest time counts instructions (2^N ns each), not the host's clock; the vCPUs
# take turns on one host thread. Timing no longer depends on the host's load (scripts/bench.sh).
# A vCPU that spins keeps its turn until its next timer deadline: an interrupt sent to another
# vCPU (a wakeup) waits for that, so programs measured this way should sleep, not spin.
# SMP and MEM in the environment give the defaults of --smp (2) and --mem (2G).
# --hypervisor: boot the acrn-rs hypervisor ELF (multiboot1) as -kernel; the bzImage with its
# command line and the initrd become its multiboot modules (-initrd "bzImage args,initrd";
# commas in the command line are doubled for QEMU); --hv-append is the hypervisor's own
# command line (e.g. loglevel=4). The hypervisor runs the kernel as its Service VM on pCPU 0.
set -euo pipefail

usage() { sed -n '2,18s/^# \{0,1\}//p' "$0" >&2; exit 2; }
die() { printf 'qemu-run: %s\n' "$*" >&2; exit 2; }

kernel= initrd= extra= log= timeout=900 smp=${SMP:-2} mem=${MEM:-2G} interactive=0 hv= hv_append= icount=
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=${2:?}; shift 2 ;;
	--initrd) initrd=${2:?}; shift 2 ;;
	--append) extra=${2?}; shift 2 ;;
	--log) log=${2:?}; shift 2 ;;
	--timeout) timeout=${2:?}; shift 2 ;;
	--smp) smp=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--interactive) interactive=1; shift ;;
	--hypervisor) hv=${2:?}; shift 2 ;;
	--hv-append) hv_append=${2?}; shift 2 ;;
	--icount) icount=${2:?}; shift 2 ;;
	-h|--help) usage ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[ -n "$kernel" ] && [ -n "$initrd" ] || usage
[ -f "$kernel" ] || die "kernel $kernel not found"
[ -f "$initrd" ] || die "initrd $initrd not found"
case "$timeout" in ''|*[!0-9]*) die "--timeout wants whole seconds" ;; esac

append="console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 oops=panic printk.time=1 loglevel=7"
[ -z "$extra" ] || append="$append $extra"
qemu=(qemu-system-x86_64 -accel tcg -cpu max -machine q35 -m "$mem" -smp "$smp"
	-nographic -no-reboot)
[ -z "$icount" ] || qemu+=(-icount "shift=$icount,sleep=off")
if [ -n "$hv" ]; then
	[ -f "$hv" ] || die "hypervisor $hv not found"
	case "$kernel$initrd" in *,*|*' '*) die "--hypervisor: no commas or spaces in file names" ;; esac
	qemu+=(-kernel "$hv" -append "$hv_append" -initrd "$kernel ${append//,/,,},$initrd")
else
	qemu+=(-kernel "$kernel" -initrd "$initrd" -append "$append")
fi

if [ $interactive = 1 ]; then
	exec "${qemu[@]}" -serial mon:stdio
fi

[ -n "$log" ] || log=/dev/null
[ "$log" = /dev/null ] || mkdir -p "$(dirname "$log")"
set +e
timeout --kill-after=10 "$timeout" "${qemu[@]}" -serial stdio -monitor none </dev/null 2>&1 |
	tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	msg="qemu-run: timeout after $timeout s"
	echo "$msg"
	[ "$log" = /dev/null ] || echo "$msg" >>"$log"
	exit 124
fi
exit "$rc"
