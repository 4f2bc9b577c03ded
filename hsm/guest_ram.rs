// SPDX-License-Identifier: GPL-2.0

//! A VM's guest RAM as the kernel sees it (C `struct vm_memory_mapping`): each RAM
//! `SET_MEMSEG` pins its pages and maps them contiguously into the kernel (`vmap`), so kernel
//! I/O clients can reach guest memory by guest-physical address ([`GuestRam::map`], exported
//! as `acrn_hsm_vm_map_guest`).
//!
//! Lifetime: the table belongs to the VM's [`Ioreqs`](crate::ioreq::Ioreqs), the object a VM
//! reference (`acrn_hsm_vm_get`) keeps alive. `DESTROY_VM` closes the table (later lookups
//! fail with `ENODEV`), but the pages stay pinned and mapped until the last reference is
//! dropped, so a pointer a client got stays valid while it holds its VM reference even if the
//! VM is destroyed under it. `VM_PFNMAP` ranges are not in the table (nothing is pinned for
//! them, as in C).

use crate::mm::PinnedPages;
use core::{ffi::c_void, ptr::NonNull};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

extern "C" {
    fn acrn_hsm_vmap(pages: *mut c_void, count: u32) -> *mut c_void;
    fn acrn_hsm_vunmap(addr: *mut c_void);
}

/// Upper bound of RAM mappings per VM (`ACRN_MEM_MAPPING_MAX` in the C driver).
pub(crate) const MEM_MAPPING_MAX: usize = 256;

/// Pinned guest RAM `[gpa, gpa + len)` and its kernel mapping.
///
/// # Invariants
///
/// `va` is the `vmap` of all of `pages` (`len` bytes), unmapped only by `Drop`, before the
/// pages are unpinned.
pub(crate) struct RamMapping {
    va: NonNull<u8>,
    gpa: u64,
    len: u64,
    /// Kept pinned while mapped; only dropped.
    _pages: PinnedPages,
}

// SAFETY: `va` is a kernel mapping usable from any task; `PinnedPages` is `Send`.
unsafe impl Send for RamMapping {}
// SAFETY: `&RamMapping` only reads the fields.
unsafe impl Sync for RamMapping {}

impl RamMapping {
    /// Maps `pages` into the kernel (`ENOMEM` if `vmap` fails) as guest RAM at `gpa`.
    pub(crate) fn new(pages: PinnedPages, gpa: u64) -> Result<Self> {
        let count = u32::try_from(pages.len()).map_err(|_| EINVAL)?;
        let len = (pages.len() as u64)
            .checked_mul(crate::mm::PAGE_SIZE)
            .ok_or(EINVAL)?;
        // SAFETY: `pages.as_ptr()` is an array of `count` pinned `struct page *`, which stay
        // pinned until after the `vunmap` in `Drop`.
        let va = unsafe { acrn_hsm_vmap(pages.as_ptr().cast_mut().cast(), count) };
        let va = NonNull::new(va.cast::<u8>()).ok_or(ENOMEM)?;
        // INVARIANT: `va` maps all of `pages`.
        Ok(Self {
            va,
            gpa,
            len,
            _pages: pages,
        })
    }

    /// The kernel address of `[gpa, gpa + len)` if it lies wholly inside this mapping.
    fn translate(&self, gpa: u64, len: u64) -> Option<NonNull<u8>> {
        let offset = gpa.checked_sub(self.gpa)?;
        if offset.checked_add(len)? > self.len {
            return None;
        }
        // SAFETY: `offset < self.len`, the size of the `vmap` area at `va`.
        NonNull::new(unsafe { self.va.as_ptr().add(offset as usize) })
    }
}

impl Drop for RamMapping {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `va` is our `vmap`, not unmapped yet; the pages are
        // unpinned after this (field drop).
        unsafe { acrn_hsm_vunmap(self.va.as_ptr().cast()) };
    }
}

/// The table behind [`GuestRam::inner`].
struct Table {
    /// False from `DESTROY_VM` on: no lookups, no additions.
    open: bool,
    maps: KVec<RamMapping>,
}

/// The RAM mappings of one VM.
#[pin_data]
pub(crate) struct GuestRam {
    #[pin]
    inner: Mutex<Table>,
}

impl GuestRam {
    /// An empty, open table.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                inner <- new_mutex!(Table {
                    open: true,
                    maps: KVec::new(),
                }),
            }),
            GFP_KERNEL,
        )
    }

    /// Records `map`: `ENOMEM` if the VM has [`MEM_MAPPING_MAX`] mappings already (C: "Run
    /// out of memory mapping slots"), `ENODEV` once closed.
    pub(crate) fn add(&self, map: RamMapping) -> Result {
        let mut table = self.inner.lock();
        if !table.open {
            return Err(ENODEV);
        }
        if table.maps.len() >= MEM_MAPPING_MAX {
            return Err(ENOMEM);
        }
        table.maps.push(map, GFP_KERNEL)?;
        Ok(())
    }

    /// Closes the table at `DESTROY_VM`; the mappings live on with the last reference.
    pub(crate) fn close(&self) {
        self.inner.lock().open = false;
    }

    /// The kernel address of guest-physical `[gpa, gpa + len)`: `EINVAL` if `len` is 0 or the
    /// range wraps, `ENODEV` once the VM is destroyed, `EFAULT` unless the range lies wholly
    /// inside one RAM `SET_MEMSEG` (ranges spanning two segments are refused even if they
    /// are adjacent: their kernel mappings are not).
    ///
    /// The memory is shared with the running guest and the device model: access it with
    /// volatile or byte copies, never as a Rust reference. It stays mapped while `self`
    /// lives. Takes a mutex (process context).
    pub(crate) fn map(&self, gpa: u64, len: u64) -> Result<NonNull<u8>> {
        if len == 0 || gpa.checked_add(len).is_none() {
            return Err(EINVAL);
        }
        let table = self.inner.lock();
        if !table.open {
            return Err(ENODEV);
        }
        table
            .maps
            .iter()
            .find_map(|m| m.translate(gpa, len))
            .ok_or(EFAULT)
    }
}
