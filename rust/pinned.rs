// SPDX-License-Identifier: GPL-2.0

//! Pinned, kernel-mapped user memory: [`PinnedUser`] pins the pages of a range of the current
//! task's address space (`pin_user_pages_fast` with `FOLL_LONGTERM`) and maps them
//! contiguously into the kernel (`vmap`), so that the range is read and written with plain
//! loads and stores instead of user copies, from any task.
//!
//! The pages are those mapped at creation: if the owner maps something else at those
//! addresses later, the mapping keeps the old pages (still pinned, so never freed under it).
//! Users drop and re-create it when told of a change, as vhost does on its metadata updates.
//!
//! The memory is shared with user space, which may write it at any time: every access here
//! is a sequence of naturally aligned atomic (relaxed) loads or stores, 16-bit fields are
//! single accesses, and ordering is the caller's business (fences), as with `get_user` /
//! `put_user`.

use core::{
    ffi::c_void,
    ptr::NonNull,
    sync::atomic::{AtomicU16, AtomicU32, AtomicU8, Ordering},
};
use kernel::{error::from_err_ptr, prelude::*};

extern "C" {
    fn acrn_rs_umap_create(uaddr: u64, len: u64, kaddr: *mut *mut c_void) -> *mut c_void;
    fn acrn_rs_umap_destroy(umap: *mut c_void);
}

/// A pinned, kernel-mapped range of user memory.
///
/// # Invariants
///
/// `raw` is a live `acrn_rs_umap` (rust/shim.c) whose pages hold the `len` bytes of user
/// memory that were at `uaddr` when it was made; they are mapped, writable, at `kaddr` until
/// drop. `len > 0` and `uaddr + len` does not wrap.
pub(crate) struct PinnedUser {
    raw: NonNull<c_void>,
    kaddr: NonNull<u8>,
    uaddr: u64,
    len: u64,
}

// SAFETY: The mapping is global kernel memory, usable from any task; it is freed only on
// drop, which needs process context (any task).
unsafe impl Send for PinnedUser {}
// SAFETY: Shared access only does atomic loads and stores of the mapped memory.
unsafe impl Sync for PinnedUser {}

impl PinnedUser {
    /// Pins and maps `[uaddr, uaddr + len)` of the current task's mm. `EFAULT` if the range
    /// is empty, outside user space or not all mapped writable; `E2BIG` if it is too big
    /// (above 4 MiB); `ENOMEM`.
    pub(crate) fn new(uaddr: u64, len: u64) -> Result<Self> {
        let mut kaddr: *mut c_void = core::ptr::null_mut();
        // SAFETY: `kaddr` is a valid destination; the C side checks the range.
        let raw = from_err_ptr(unsafe { acrn_rs_umap_create(uaddr, len, &mut kaddr) })?;
        let (Some(raw), Some(kaddr)) = (NonNull::new(raw), NonNull::new(kaddr.cast::<u8>())) else {
            // Not reached: success gives both pointers.
            return Err(ENOMEM);
        };
        // INVARIANT: The C side mapped the pages of the checked, non-empty range at `kaddr`.
        Ok(Self {
            raw,
            kaddr,
            uaddr,
            len,
        })
    }

    /// The kernel address of `[uaddr, uaddr + len)` if it lies inside the range, with the
    /// alignment `align` (a power of two) in user and kernel space alike.
    fn at(&self, uaddr: u64, len: usize, align: u64) -> Option<*mut u8> {
        let off = uaddr.checked_sub(self.uaddr)?;
        let end = off.checked_add(len as u64)?;
        if end > self.len || uaddr & (align - 1) != 0 {
            return None;
        }
        // SAFETY: `off + len <= self.len`: within the mapping (type invariant).
        Some(unsafe { self.kaddr.as_ptr().add(off as usize) })
    }

    /// Whether `[uaddr, uaddr + len)` lies inside the range.
    pub(crate) fn contains(&self, uaddr: u64, len: usize) -> bool {
        self.at(uaddr, len, 1).is_some()
    }

    /// Reads `buf.len()` bytes at user address `uaddr`; `false` (nothing read) if they are
    /// not all inside the range. Aligned 4-byte words (2-byte halves) are read with single
    /// accesses.
    pub(crate) fn read(&self, uaddr: u64, buf: &mut [u8]) -> bool {
        let Some(p) = self.at(uaddr, buf.len(), 1) else {
            return false;
        };
        let words = (uaddr | buf.len() as u64) & 3 == 0;
        let halves = (uaddr | buf.len() as u64) & 1 == 0;
        if words {
            for (i, dst) in buf.chunks_exact_mut(4).enumerate() {
                // SAFETY: Inside the mapping (checked above), 4-aligned (the kernel mapping
                // keeps the page offset); accessed only atomically from the kernel.
                let v = unsafe { AtomicU32::from_ptr(p.add(4 * i).cast::<u32>()) }
                    .load(Ordering::Relaxed);
                dst.copy_from_slice(&v.to_ne_bytes());
            }
        } else if halves {
            for (i, dst) in buf.chunks_exact_mut(2).enumerate() {
                // SAFETY: As above, 2-aligned.
                let v = unsafe { AtomicU16::from_ptr(p.add(2 * i).cast::<u16>()) }
                    .load(Ordering::Relaxed);
                dst.copy_from_slice(&v.to_ne_bytes());
            }
        } else {
            for (i, dst) in buf.iter_mut().enumerate() {
                // SAFETY: As above; bytes need no alignment.
                *dst = unsafe { AtomicU8::from_ptr(p.add(i)) }.load(Ordering::Relaxed);
            }
        }
        true
    }

    /// Writes `buf` at user address `uaddr`; `false` (nothing written) if it does not fit
    /// inside the range. Aligned words and halves are single stores, as for [`Self::read`].
    pub(crate) fn write(&self, uaddr: u64, buf: &[u8]) -> bool {
        let Some(p) = self.at(uaddr, buf.len(), 1) else {
            return false;
        };
        let words = (uaddr | buf.len() as u64) & 3 == 0;
        let halves = (uaddr | buf.len() as u64) & 1 == 0;
        if words {
            for (i, src) in buf.chunks_exact(4).enumerate() {
                let v = u32::from_ne_bytes([src[0], src[1], src[2], src[3]]);
                // SAFETY: As in `read`.
                unsafe { AtomicU32::from_ptr(p.add(4 * i).cast::<u32>()) }
                    .store(v, Ordering::Relaxed);
            }
        } else if halves {
            for (i, src) in buf.chunks_exact(2).enumerate() {
                let v = u16::from_ne_bytes([src[0], src[1]]);
                // SAFETY: As in `read`.
                unsafe { AtomicU16::from_ptr(p.add(2 * i).cast::<u16>()) }
                    .store(v, Ordering::Relaxed);
            }
        } else {
            for (i, &v) in buf.iter().enumerate() {
                // SAFETY: As in `read`.
                unsafe { AtomicU8::from_ptr(p.add(i)) }.store(v, Ordering::Relaxed);
            }
        }
        true
    }

    /// Loads the little-endian `u16` at `uaddr` (2-aligned) with one access; `None` if it is
    /// not inside the range or misaligned.
    pub(crate) fn read_u16(&self, uaddr: u64) -> Option<u16> {
        let p = self.at(uaddr, 2, 2)?;
        // SAFETY: Inside the mapping and 2-aligned (checked by `at`).
        let v = unsafe { AtomicU16::from_ptr(p.cast::<u16>()) }.load(Ordering::Relaxed);
        Some(u16::from_le(v))
    }

    /// Stores `val` little-endian at `uaddr` (2-aligned) with one access; `false` if it is not
    /// inside the range or misaligned.
    pub(crate) fn write_u16(&self, uaddr: u64, val: u16) -> bool {
        let Some(p) = self.at(uaddr, 2, 2) else {
            return false;
        };
        // SAFETY: Inside the mapping and 2-aligned (checked by `at`).
        unsafe { AtomicU16::from_ptr(p.cast::<u16>()) }.store(val.to_le(), Ordering::Relaxed);
        true
    }
}

impl Drop for PinnedUser {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `raw` is live; nothing uses the mapping after this.
        unsafe { acrn_rs_umap_destroy(self.raw.as_ptr()) };
    }
}
