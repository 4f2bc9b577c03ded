#!/usr/bin/env bash
# `make run`: install what is missing, build the kernel (cached), our modules, the selftests
# and the initramfs, then boot the Service VM in QEMU/TCG with a shell on its console.
# Extra arguments go to the kernel command line (e.g. acrn_rs.hsm=c).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

scripts/deps.sh
KDIR=$(scripts/kernel.sh debug)
make -s initramfs KDIR="$KDIR"
exec scripts/qemu-run.sh --interactive --kernel "$KDIR/arch/x86/boot/bzImage" \
	--initrd build/initramfs.cpio.gz --append "acrn_rs.mode=shell $*"
