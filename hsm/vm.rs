// SPDX-License-Identifier: GPL-2.0

//! One User VM per open file of `/dev/acrn_hsm`.
//!
//! A file starts with no VM (`vmid` = `ACRN_INVALID_VMID`) until `ACRN_IOCTL_CREATE_VM`
//! succeeds; until then every other ioctl gets `EINVAL`, as in the C driver.

use crate::{ioctl, kext::ioctl::IoctlArg, kext::miscdev::MiscDevice};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// The VM id of a file that has no VM (`ACRN_INVALID_VMID` in the C driver).
pub(crate) const ACRN_INVALID_VMID: u16 = 0xffff;

/// The mutable state of a VM, behind [`Vm::inner`].
pub(crate) struct VmInner {
    /// The hypervisor's id of the VM, or [`ACRN_INVALID_VMID`].
    pub(crate) vmid: u16,
}

/// A User VM, owned by one open file.
#[pin_data]
pub(crate) struct Vm {
    #[pin]
    pub(crate) inner: Mutex<VmInner>,
}

impl Vm {
    /// The VM id, or [`ACRN_INVALID_VMID`] before `CREATE_VM`.
    pub(crate) fn vmid(&self) -> u16 {
        self.inner.lock().vmid
    }
}

#[vtable]
impl MiscDevice for Vm {
    type Ptr = Pin<KBox<Vm>>;

    fn open() -> Result<Self::Ptr> {
        KBox::pin_init(
            pin_init!(Vm {
                inner <- new_mutex!(VmInner { vmid: ACRN_INVALID_VMID }),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(vm: Pin<&Vm>, arg: IoctlArg) -> Result<isize> {
        ioctl::dispatch(&vm, arg)
    }
}
