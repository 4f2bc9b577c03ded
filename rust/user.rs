// SPDX-License-Identifier: GPL-2.0

//! Raw user-memory accesses that `UserSlice` does not give: the `access_ok()` range check,
//! and single 16-bit loads and stores (`get_user`/`put_user`) for indices another agent
//! updates concurrently, which a byte copy could tear.
//!
//! All act on the current task's address space (for a [`Worker`], the owner's).
//!
//! [`Worker`]: super::worker::Worker

use kernel::prelude::*;

extern "C" {
    fn acrn_rs_access_ok(addr: u64, size: u64) -> bool;
    fn acrn_rs_get_user_u16(addr: u64, val: *mut u16) -> i32;
    fn acrn_rs_put_user_u16(addr: u64, val: u16) -> i32;
}

/// `access_ok()`: `[addr, addr + size)` lies in user space (says nothing about mappings).
pub(crate) fn access_ok(addr: u64, size: u64) -> bool {
    // SAFETY: A pure range check against the current task's address limit.
    unsafe { acrn_rs_access_ok(addr, size) }
}

/// Loads the `u16` at user address `addr` with one access; `EFAULT` if it faults.
pub(crate) fn get_user_u16(addr: u64) -> Result<u16> {
    let mut val = 0u16;
    // SAFETY: `get_user` checks `addr` and handles faults; `val` is a valid destination.
    match unsafe { acrn_rs_get_user_u16(addr, &mut val) } {
        0 => Ok(val),
        _ => Err(EFAULT),
    }
}

/// Stores `val` at user address `addr` with one access; `EFAULT` if it faults.
pub(crate) fn put_user_u16(addr: u64, val: u16) -> Result {
    // SAFETY: `put_user` checks `addr` and handles faults.
    match unsafe { acrn_rs_put_user_u16(addr, val) } {
        0 => Ok(()),
        _ => Err(EFAULT),
    }
}
