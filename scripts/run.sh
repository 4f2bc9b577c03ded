#!/usr/bin/env bash
# `make run`: install what is missing, build the kernel (cached), our modules, the selftests,
# the initramfs and the hypervisor, then boot the stack in QEMU/TCG: the acrn-rs hypervisor
# with the Linux Service VM on top, which loads the HSM and launches a User VM with the sample
# device model (samples/dm running samples/guests/hello64.S: it prints through the DM's UART
# and exits), then a shell on its console. HV=0 boots the Service VM kernel alone (no
# hypervisor, no User VM). Extra arguments go to the kernel command line (e.g. acrn_rs.hsm=c).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

scripts/deps.sh
KDIR=$(scripts/kernel.sh debug)
make -s initramfs KDIR="$KDIR"
hv=() demo=
if [ "${HV:-1}" != 0 ]; then
	make -s hypervisor
	hv=(--hypervisor build/acrn-hv.elf)
	demo=acrn_rs.demo=1
fi
exec scripts/qemu-run.sh --interactive "${hv[@]}" --kernel "$KDIR/arch/x86/boot/bzImage" \
	--initrd build/initramfs.cpio.gz --append "acrn_rs.mode=shell $demo $*"
