// SPDX-License-Identifier: GPL-2.0

//! The owner of a vhost device (`VHOST_SET_OWNER`): the process whose address space holds
//! the rings and the guest memory, and the worker thread running in it; plus
//! [`OwnerAccess`], the ring code's view of that address space.

use crate::{
    kext::{
        user,
        worker::{WorkHandler, Worker},
    },
    vring::{Error as RingError, UserAccess},
};
use kernel::{prelude::*, str::CStr, sync::Arc, uaccess::UserSlice};

extern "C" {
    fn acrn_rs_current_mm() -> *mut core::ffi::c_void;
}

/// The current task's mm, as an identity.
pub(crate) fn current_mm() -> usize {
    // SAFETY: Reads `current->mm`, always valid to read.
    unsafe { acrn_rs_current_mm() as usize }
}

/// The owner: its mm (as an identity; the worker holds a reference on it) and the worker.
pub(crate) struct Owner<T: WorkHandler> {
    /// The owner's mm, as an identity.
    pub(crate) mm: usize,
    /// The worker thread, running in the owner's mm.
    pub(crate) worker: Arc<Worker<T>>,
}

impl<T: WorkHandler> Owner<T> {
    /// `VHOST_SET_OWNER`: `EBUSY` if `slot` has an owner, else the caller becomes it with a
    /// worker named `name` running `handler`.
    pub(crate) fn set(slot: &mut Option<Self>, name: &'static CStr, handler: Arc<T>) -> Result {
        if slot.is_some() {
            return Err(EBUSY);
        }
        let worker = Worker::new(name, handler)?;
        *slot = Some(Self {
            mm: current_mm(),
            worker: Arc::new(worker, GFP_KERNEL)?,
        });
        Ok(())
    }

    /// `vhost_dev_check_owner`: the caller's mm is the owner's, else `EPERM`.
    pub(crate) fn check(slot: &Option<Self>) -> Result<&Self> {
        match slot {
            Some(owner) if owner.mm == current_mm() => Ok(owner),
            _ => Err(EPERM),
        }
    }
}

/// The owner's address space, reached from its worker thread (which runs in it) or from
/// an ioctl of the owner.
pub(crate) struct OwnerAccess;

impl UserAccess for OwnerAccess {
    fn read_user(&self, uaddr: u64, buf: &mut [u8]) -> core::result::Result<(), RingError> {
        UserSlice::new(uaddr as usize, buf.len())
            .reader()
            .read_slice(buf)
            .map_err(|_| RingError::Fault)
    }

    fn write_user(&self, uaddr: u64, buf: &[u8]) -> core::result::Result<(), RingError> {
        UserSlice::new(uaddr as usize, buf.len())
            .writer()
            .write_slice(buf)
            .map_err(|_| RingError::Fault)
    }

    fn read_user_u16(&self, uaddr: u64) -> core::result::Result<u16, RingError> {
        user::get_user_u16(uaddr).map_err(|_| RingError::Fault)
    }

    fn write_user_u16(&self, uaddr: u64, val: u16) -> core::result::Result<(), RingError> {
        user::put_user_u16(uaddr, val).map_err(|_| RingError::Fault)
    }

    fn check_user(&self, uaddr: u64, len: u64) -> core::result::Result<(), RingError> {
        if user::access_ok(uaddr, len) {
            Ok(())
        } else {
            Err(RingError::Fault)
        }
    }
}
