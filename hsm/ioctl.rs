// SPDX-License-Identifier: GPL-2.0

//! Decoding of `/dev/acrn_hsm` ioctls: which command, which VM state it needs.
//!
//! This skeleton implements the upstream state rule (no command but `CREATE_VM` before a VM
//! exists: `EINVAL`) and answers `ENOTTY` for everything else; the VM commands follow with the
//! full HSM (see `Documentation/hsm.rst`).

use crate::{
    kext::ioctl::IoctlArg,
    uapi::ACRN_IOCTL_CREATE_VM,
    vm::{Vm, ACRN_INVALID_VMID},
};
use kernel::prelude::*;

/// Handles one ioctl on `vm`'s file.
pub(crate) fn dispatch(vm: &Vm, arg: IoctlArg) -> Result<isize> {
    if vm.vmid() == ACRN_INVALID_VMID && arg.cmd() != ACRN_IOCTL_CREATE_VM {
        return Err(EINVAL);
    }
    Err(ENOTTY)
}
