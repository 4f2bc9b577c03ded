// SPDX-License-Identifier: GPL-2.0

//! Decoding of `/dev/acrn_hsm` ioctls (Linux `acrn_dev_ioctl`): which command, which VM state
//! it needs, argument copies and the reserved-field checks.
//!
//! Upstream rules: no command but `CREATE_VM` before a VM exists (`EINVAL`); reserved fields
//! must be zero (`EINVAL`); a bad argument pointer gives `EFAULT`; unknown commands `ENOTTY`.
//! Each command is decoded here and handled by the file that owns the concept.

use crate::{
    acrn::{
        self, Ioeventfd, IoreqNotify, Irqfd, Mmiodev, MsiEntry, Pcidev, PtdevIrq, VcpuRegs, Vdev,
        VmCreation, VmMemmap,
    },
    hv, hypercall,
    kext::ioctl::IoctlArg,
    passthrough::{self, forward},
    pm,
    vm::{Vm, ACRN_INVALID_VMID},
};
use kernel::{
    prelude::*,
    types::{AsBytes, FromBytes},
};

// SAFETY: `VmCreation` is `repr(C)` with integer fields only: every bit pattern is valid.
unsafe impl FromBytes for VmCreation {}
// SAFETY: `VmCreation` is `repr(C)`, 48 bytes of integers without padding (2+2+2+2+16+8+8+8).
unsafe impl AsBytes for VmCreation {}
// SAFETY: `VcpuRegs` is `repr(C)` (with `repr(C, packed)` members) of integers only: every bit
// pattern is valid.
unsafe impl FromBytes for VcpuRegs {}
// SAFETY: `VmMemmap` is `repr(C)` of `u32`/`u64` fields and a union of two `u64`s: every bit
// pattern is valid.
unsafe impl FromBytes for VmMemmap {}
// SAFETY: `IoreqNotify` is `repr(C)` of integers only: every bit pattern is valid.
unsafe impl FromBytes for IoreqNotify {}
// SAFETY: `Ioeventfd` is `repr(C)` of integers only: every bit pattern is valid.
unsafe impl FromBytes for Ioeventfd {}
// SAFETY: `Irqfd` is `repr(C)` of integers (and `MsiEntry`, integers): every bit pattern is
// valid.
unsafe impl FromBytes for Irqfd {}

/// Handles one ioctl on `vm`'s file.
pub(crate) fn dispatch(vm: &Vm, arg: IoctlArg) -> Result<isize> {
    let cmd = arg.cmd();
    // ATTACH and NOTIFY, the DM's per-request calls, check for the VM themselves (`Vm::io`,
    // same `EINVAL`): one lock less per request.
    let self_checked = matches!(
        cmd,
        acrn::ACRN_IOCTL_CREATE_VM
            | acrn::ACRN_IOCTL_ATTACH_IOREQ_CLIENT
            | acrn::ACRN_IOCTL_NOTIFY_REQUEST_FINISH
    );
    if !self_checked && vm.vmid() == ACRN_INVALID_VMID {
        return Err(EINVAL);
    }
    match cmd {
        acrn::ACRN_IOCTL_CREATE_VM => vm.create(arg),
        acrn::ACRN_IOCTL_DESTROY_VM => vm.inner.lock().destroy().map(|()| 0),
        acrn::ACRN_IOCTL_START_VM => vm.vm_op(hypercall::start_vm).map(|()| 0),
        acrn::ACRN_IOCTL_PAUSE_VM => vm.vm_op(hypercall::pause_vm).map(|()| 0),
        acrn::ACRN_IOCTL_RESET_VM => vm.vm_op(hypercall::reset_vm).map(|()| 0),
        acrn::ACRN_IOCTL_SET_VCPU_REGS => {
            let regs = KBox::new(arg.read::<VcpuRegs>()?, GFP_KERNEL)?;
            check_vcpu_regs(&regs)?;
            vm.set_vcpu_regs(&regs).map(|()| 0)
        }
        acrn::ACRN_IOCTL_SET_MEMSEG => vm.set_memseg(&arg.read::<VmMemmap>()?).map(|()| 0),
        acrn::ACRN_IOCTL_UNSET_MEMSEG => vm.unset_memseg(&arg.read::<VmMemmap>()?).map(|()| 0),
        acrn::ACRN_IOCTL_ASSIGN_MMIODEV => forward::<Mmiodev>(vm, &arg, hv::HC_ASSIGN_MMIODEV),
        acrn::ACRN_IOCTL_DEASSIGN_MMIODEV => forward::<Mmiodev>(vm, &arg, hv::HC_DEASSIGN_MMIODEV),
        acrn::ACRN_IOCTL_ASSIGN_PCIDEV => forward::<Pcidev>(vm, &arg, hv::HC_ASSIGN_PCIDEV),
        acrn::ACRN_IOCTL_DEASSIGN_PCIDEV => forward::<Pcidev>(vm, &arg, hv::HC_DEASSIGN_PCIDEV),
        acrn::ACRN_IOCTL_CREATE_VDEV => forward::<Vdev>(vm, &arg, hv::HC_ADD_VDEV),
        acrn::ACRN_IOCTL_DESTROY_VDEV => forward::<Vdev>(vm, &arg, hv::HC_REMOVE_VDEV),
        acrn::ACRN_IOCTL_SET_PTDEV_INTR => {
            forward::<PtdevIrq>(vm, &arg, hv::HC_SET_PTDEV_INTR_INFO)
        }
        acrn::ACRN_IOCTL_RESET_PTDEV_INTR => {
            forward::<PtdevIrq>(vm, &arg, hv::HC_RESET_PTDEV_INTR_INFO)
        }
        acrn::ACRN_IOCTL_INJECT_MSI => forward::<MsiEntry>(vm, &arg, hv::HC_INJECT_MSI),
        acrn::ACRN_IOCTL_SET_IRQLINE => passthrough::set_irqline(vm, &arg),
        acrn::ACRN_IOCTL_VM_INTR_MONITOR => vm.intr_monitor(arg.value() as u64).map(|()| 0),
        acrn::ACRN_IOCTL_PM_GET_CPU_STATE => pm::get_cpu_state(&arg),
        acrn::ACRN_IOCTL_CREATE_IOREQ_CLIENT => vm.io()?.ioreqs.create_default().map(|()| 0),
        acrn::ACRN_IOCTL_ATTACH_IOREQ_CLIENT => vm.io()?.ioreqs.attach().map(|()| 0),
        acrn::ACRN_IOCTL_DESTROY_IOREQ_CLIENT => {
            vm.io()?.ioreqs.destroy_default();
            Ok(0)
        }
        acrn::ACRN_IOCTL_CLEAR_VM_IOREQ => {
            vm.io()?.ioreqs.clear();
            Ok(0)
        }
        acrn::ACRN_IOCTL_NOTIFY_REQUEST_FINISH => {
            let io = vm.io()?;
            let notify = arg.read::<IoreqNotify>()?;
            if notify.reserved != 0 {
                return Err(EINVAL);
            }
            // C passes the u32 vCPU to a u16 parameter: keep the truncation.
            io.ioreqs.notify_finish(notify.vcpu as u16).map(|()| 0)
        }
        acrn::ACRN_IOCTL_IOEVENTFD => {
            let args = arg.read::<Ioeventfd>()?;
            if args.reserved != 0 {
                return Err(EINVAL);
            }
            vm.io()?.ioeventfds.config(&args).map(|()| 0)
        }
        acrn::ACRN_IOCTL_IRQFD => vm.io()?.irqfds.config(&arg.read::<Irqfd>()?).map(|()| 0),
        _ => Err(ENOTTY),
    }
}

/// The reserved fields of `acrn_vcpu_regs` must all be zero, as in the C driver.
fn check_vcpu_regs(regs: &VcpuRegs) -> Result {
    let r = &regs.vcpu_regs;
    // Packed members are copied out by value, never referenced.
    let (gdt, idt) = ({ r.gdt.reserved }, { r.idt.reserved });
    let nonzero = regs.reserved.iter().any(|&v| v != 0)
        || r.reserved_32.iter().any(|&v| v != 0)
        || r.reserved_64.iter().any(|&v| v != 0)
        || gdt.iter().any(|&v| v != 0)
        || idt.iter().any(|&v| v != 0);
    if nonzero {
        return Err(EINVAL);
    }
    Ok(())
}
