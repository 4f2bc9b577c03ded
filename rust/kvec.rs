// SPDX-License-Identifier: GPL-2.0

//! `KVec` operations that 6.12's `kernel` crate lacks, for buffers allocated once and reused
//! in a data path: [`clear`] (empty, keep the capacity) and [`push_within`] (append without
//! allocating).
//!
//! `KVec::push` takes allocation flags and goes through `reserve` even when the capacity is
//! there; in a loop run per packet that is an out-of-line call with the reallocation path
//! behind it. [`push_within`] is the vector's spare capacity written in place, inlined.

use kernel::prelude::*;

/// Empties `v`, keeping its capacity. Only for element types without drop glue (checked at
/// compile time).
#[inline]
pub(crate) fn clear<T>(v: &mut KVec<T>) {
    const { assert!(!core::mem::needs_drop::<T>()) };
    // SAFETY: 0 is at most the length, and `T` has no destructor that would be skipped.
    unsafe { v.set_len(0) };
}

/// Appends `x` to `v` if the capacity allows, without allocating; gives `x` back if `v` is
/// full.
#[inline]
pub(crate) fn push_within<T>(v: &mut KVec<T>, x: T) -> core::result::Result<(), T> {
    let Some(slot) = v.spare_capacity_mut().first_mut() else {
        return Err(x);
    };
    slot.write(x);
    let len = v.len() + 1;
    // SAFETY: The element at the old length was written just above, within the capacity.
    unsafe { v.set_len(len) };
    Ok(())
}
