// SPDX-License-Identifier: GPL-2.0

//! Guest memory (Linux `drivers/virt/acrn/mm.c`): pinned Service VM user pages and the
//! `vm_memory_region_op` batches that map them, or MMIO, into a User VM.

use crate::{acrn::VmMemmap, hv};
use core::ffi::c_void;
use kernel::{alloc::KVVec, bindings, prelude::*};

// `struct page` is passed as `void *`: some configurations give it fields that
// `improper_ctypes` rejects.
extern "C" {
    fn acrn_hsm_page_to_phys(page: *mut c_void) -> u64;
    fn acrn_hsm_page_address(page: *mut c_void) -> *mut c_void;
}

/// Page size of the Service VM (and of the hypervisor's mappings).
pub(crate) const PAGE_SIZE: u64 = 4096;

/// User pages pinned with `pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM)`.
///
/// # Invariants
///
/// Every entry of `pages` is a page pinned by this object, and unpinned only by `Drop`.
pub(crate) struct PinnedPages {
    pages: KVVec<*mut bindings::page>,
}

// SAFETY: The pins are plain references on `struct page`s; unpinning is allowed from any task.
unsafe impl Send for PinnedPages {}
// SAFETY: `&PinnedPages` only reads the page pointers and their physical addresses.
unsafe impl Sync for PinnedPages {}

impl PinnedPages {
    /// Pins `nr` pages of the current task from user address `uaddr`, for writing and for a
    /// long time. `EFAULT` unless all `nr` pages could be pinned (none stay pinned then).
    pub(crate) fn pin(uaddr: u64, nr: usize) -> Result<Self> {
        let count = i32::try_from(nr).map_err(|_| EINVAL)?;
        let mut pages = KVVec::from_elem(core::ptr::null_mut(), nr, GFP_KERNEL)?;
        // SAFETY: `pages` has room for `nr` page pointers; the call faults user memory in as
        // needed and handles bad addresses by returning fewer pages or an error.
        let ret = unsafe {
            bindings::pin_user_pages_fast(
                uaddr as usize,
                count,
                bindings::FOLL_WRITE | bindings::FOLL_LONGTERM,
                pages.as_mut_ptr(),
            )
        };
        let pinned = usize::try_from(ret).unwrap_or(0).min(nr);
        // SAFETY: `pinned <= nr == len`; the elements are raw pointers, which need no drop.
        unsafe { pages.set_len(pinned) };
        // INVARIANT: exactly the first `pinned` entries were pinned by the call above.
        let this = Self { pages };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        if pinned != nr {
            return Err(EFAULT);
        }
        Ok(this)
    }

    /// Number of pinned pages.
    pub(crate) fn len(&self) -> usize {
        self.pages.len()
    }

    /// The `struct page *` array, for `vmap`.
    pub(crate) fn as_ptr(&self) -> *const *mut bindings::page {
        self.pages.as_ptr()
    }

    /// Physical address of page `i`.
    pub(crate) fn phys(&self, i: usize) -> u64 {
        // SAFETY: By the type invariant the page is pinned, so the pointer is valid.
        unsafe { acrn_hsm_page_to_phys(self.pages[i].cast()) }
    }

    /// Kernel (direct-map) address of page `i`, valid while `self` lives.
    pub(crate) fn kernel_addr(&self, i: usize) -> *mut c_void {
        // SAFETY: By the type invariant the page is pinned; on x86-64 every page is in the
        // direct map, so `page_address` is never NULL.
        unsafe { acrn_hsm_page_address(self.pages[i].cast()) }
    }
}

impl Drop for PinnedPages {
    fn drop(&mut self) {
        if self.pages.is_empty() {
            return;
        }
        // SAFETY: By the type invariant these pages are pinned by us, and are not used again.
        unsafe { bindings::unpin_user_pages(self.pages.as_mut_ptr(), self.pages.len()) };
    }
}

/// The `MR_ADD` regions mapping `pages` at `memmap.user_vm_pa`, one per physically contiguous
/// run of pages, write-back with the access rights of `memmap.attr` (C: one per compound
/// page).
pub(crate) fn ram_regions(
    memmap: &VmMemmap,
    pages: &PinnedPages,
) -> Result<KVec<hv::VmMemoryRegion>> {
    let prot = hv::MEM_TYPE_WB | (memmap.attr & hv::MEM_ACCESS_RIGHT_MASK);
    let mut regions = KVec::<hv::VmMemoryRegion>::new();
    let mut gpa = memmap.user_vm_pa;
    for i in 0..pages.len() {
        let pa = pages.phys(i);
        match regions.last_mut() {
            Some(last) if last.service_vm_gpa.wrapping_add(last.size) == pa => {
                last.size += PAGE_SIZE;
            }
            _ => regions.push(
                hv::VmMemoryRegion {
                    r#type: hv::MR_ADD,
                    prot,
                    gpa,
                    service_vm_gpa: pa,
                    size: PAGE_SIZE,
                },
                GFP_KERNEL,
            )?,
        }
        gpa = gpa.wrapping_add(PAGE_SIZE);
    }
    Ok(regions)
}

/// Applies `regions` to VM `vmid` with one `HC_VM_SET_MEMORY_REGIONS`.
///
/// # Safety
///
/// Every RAM page the regions name must stay pinned for as long as the hypervisor may map it
/// (until the VM is destroyed, or the regions are removed).
pub(crate) unsafe fn set_regions(vmid: u16, regions: &KVec<hv::VmMemoryRegion>) -> Result {
    let mr_num = u32::try_from(regions.len()).map_err(|_| EINVAL)?;
    let batch = KBox::new(
        hv::SetRegions {
            vmid,
            mr_num,
            regions_gpa: crate::hypercall::kmalloc_phys(regions.as_ptr()),
            ..Default::default()
        },
        GFP_KERNEL,
    )?;
    // SAFETY: `regions` is a kmalloc array of `mr_num` regions alive across the call; the
    // caller guarantees the pages.
    unsafe { crate::hypercall::set_memory_regions(&batch) }
}

/// One `MR_ADD` region: `[user_gpa, + size)` of the User VM to Service VM `service_gpa`, with
/// memory type `mem_type` and the access rights of `attr` (C `acrn_mm_region_add`).
pub(crate) fn add_region(
    user_gpa: u64,
    service_gpa: u64,
    size: u64,
    mem_type: u32,
    attr: u32,
) -> Result<KVec<hv::VmMemoryRegion>> {
    let mut regions = KVec::with_capacity(1, GFP_KERNEL)?;
    regions.push(
        hv::VmMemoryRegion {
            r#type: hv::MR_ADD,
            prot: (mem_type & hv::MEM_TYPE_MASK) | (attr & hv::MEM_ACCESS_RIGHT_MASK),
            gpa: user_gpa,
            service_vm_gpa: service_gpa,
            size,
        },
        GFP_KERNEL,
    )?;
    Ok(regions)
}

/// One region of `memmap` as MMIO: `MR_ADD` uncached, or `MR_DEL` if `add` is false.
pub(crate) fn mmio_region(memmap: &VmMemmap, add: bool) -> Result<KVec<hv::VmMemoryRegion>> {
    if add {
        return add_region(
            memmap.user_vm_pa,
            memmap.service_vm_pa(),
            memmap.len,
            hv::MEM_TYPE_UC,
            memmap.attr,
        );
    }
    let mut regions = KVec::with_capacity(1, GFP_KERNEL)?;
    regions.push(
        hv::VmMemoryRegion {
            r#type: hv::MR_DEL,
            prot: 0,
            gpa: memmap.user_vm_pa,
            service_vm_gpa: 0,
            size: memmap.len,
        },
        GFP_KERNEL,
    )?;
    Ok(regions)
}
