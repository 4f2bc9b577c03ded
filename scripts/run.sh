#!/usr/bin/env bash
# `make run`: install what is missing, build the kernel (cached), our modules, the selftests,
# the initramfs and the hypervisor, then boot the stack in QEMU/TCG: the acrn-rs hypervisor
# with the Linux Service VM on top, a shell on its console. HV=0 boots the Service VM kernel
# alone (no hypervisor). Extra arguments go to the kernel command line (e.g. acrn_rs.hsm=c).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

scripts/deps.sh
KDIR=$(scripts/kernel.sh debug)
make -s initramfs KDIR="$KDIR"
hv=()
if [ "${HV:-1}" != 0 ]; then
	make -s hypervisor
	hv=(--hypervisor build/acrn-hv.elf)
fi
exec scripts/qemu-run.sh --interactive "${hv[@]}" --kernel "$KDIR/arch/x86/boot/bzImage" \
	--initrd build/initramfs.cpio.gz --append "acrn_rs.mode=shell $*"
