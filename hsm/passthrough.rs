// SPDX-License-Identifier: GPL-2.0

//! Requests the HSM forwards to the hypervisor unchanged (Linux `hsm.c`): device
//! pass-through (`ASSIGN`/`DEASSIGN_PCIDEV`, `..._MMIODEV`), virtual devices
//! (`CREATE`/`DESTROY_VDEV`), pass-through interrupt routing (`SET`/`RESET_PTDEV_INTR`) and
//! interrupt injection (`INJECT_MSI`, `SET_IRQLINE`).
//!
//! As in the C driver: the argument struct is copied into kernel memory (`EFAULT` on a bad
//! pointer), no field is checked here (the hypervisor owns these policies), and the
//! hypervisor's answer is the ioctl's. `SET_IRQLINE` passes its `u64` by value (upstream
//! quirk: the ioctl is encoded `_IOW` but the argument is not a pointer).

use crate::{
    acrn::{Mmiodev, MsiEntry, Pcidev, PtdevIrq, Vdev},
    hypercall::{self, VmStructArg},
    kext::ioctl::IoctlArg,
    vm::Vm,
};
use kernel::{prelude::*, types::FromBytes};

// SAFETY: `repr(C)` structs of integers (and arrays and a union of them): every bit pattern
// is valid.
unsafe impl FromBytes for Mmiodev {}
// SAFETY: As above.
unsafe impl FromBytes for Pcidev {}
// SAFETY: As above.
unsafe impl FromBytes for Vdev {}
// SAFETY: As above.
unsafe impl FromBytes for PtdevIrq {}
// SAFETY: As above.
unsafe impl FromBytes for MsiEntry {}

/// Copies the DM's `T` in and hands it to hypercall `id` for `vm`.
pub(crate) fn forward<T: VmStructArg + FromBytes>(
    vm: &Vm,
    arg: &IoctlArg,
    id: u64,
) -> Result<isize> {
    let mut data = KBox::new(arg.read::<T>()?, GFP_KERNEL)?;
    let inner = vm.inner.lock();
    hypercall::vm_struct_call(id, inner.id()?, &mut data).map(|()| 0)
}

/// `ACRN_IOCTL_SET_IRQLINE`: the argument itself is the operation.
pub(crate) fn set_irqline(vm: &Vm, arg: &IoctlArg) -> Result<isize> {
    let inner = vm.inner.lock();
    hypercall::set_irqline(inner.id()?, arg.value() as u64).map(|()| 0)
}
