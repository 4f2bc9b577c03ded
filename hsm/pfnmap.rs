// SPDX-License-Identifier: GPL-2.0

//! RAM `SET_MEMSEG` of a `VM_PFNMAP` range (C `acrn_vm_ram_map`, first branch): memory the
//! device model mapped with `remap_pfn_range` (`/dev/mem`, a driver's reserved memory), which
//! has no refcounted pages to pin. It is mapped as one write-back region if it is physically
//! contiguous, lies in one VMA and is not ordinary kernel-managed RAM.

use crate::acrn::VmMemmap;
use crate::hv;
use core::ffi::c_void;
use kernel::prelude::*;

extern "C" {
    fn acrn_hsm_mmap_read_lock();
    fn acrn_hsm_mmap_read_unlock();
    fn acrn_hsm_pfnmap_vma(addr: u64, end: *mut u64) -> *mut c_void;
    fn acrn_hsm_follow_pfn(vma: *mut c_void, addr: u64, pfn: *mut u64, writable: *mut bool) -> i32;
    fn acrn_hsm_pfn_refcounted(pfn: u64) -> bool;
}

/// The read side of the calling task's mmap lock, held while alive.
struct MmapReadGuard(());

impl MmapReadGuard {
    fn lock() -> Self {
        // SAFETY: Called from an ioctl, i.e. by a user task, whose `mm` is set.
        unsafe { acrn_hsm_mmap_read_lock() };
        Self(())
    }
}

impl Drop for MmapReadGuard {
    fn drop(&mut self) {
        // SAFETY: Taken in `lock` by this task.
        unsafe { acrn_hsm_mmap_read_unlock() };
    }
}

/// The Service VM physical start of `memmap`'s `nr` pages if `vma_base` lies in a `VM_PFNMAP`
/// VMA, `None` if it does not (then the pages are pinned as usual). Errors as upstream:
/// `EINVAL` if the range runs past the VMA's end or is not physically contiguous, `EFAULT` if
/// `memmap` asks for write access to a read-only PTE or a page is refcounted (valid and not
/// reserved), the errno of `follow_pfnmap_start` for an unmapped page.
pub(crate) fn start(memmap: &VmMemmap, nr: usize) -> Result<Option<u64>> {
    let base = memmap.vma_base();
    let _lock = MmapReadGuard::lock();
    let mut end = 0u64;
    // SAFETY: The mmap lock is held; `end` is a valid output.
    let vma = unsafe { acrn_hsm_pfnmap_vma(base, &mut end) };
    if vma.is_null() {
        return Ok(None);
    }
    // Upstream's `vma_base + len` can wrap and pass; a wrapping range is refused here.
    match base.checked_add(memmap.len) {
        Some(last) if last <= end => {}
        _ => return Err(EINVAL),
    }
    let mut start_pfn = 0;
    for i in 0..nr as u64 {
        let (mut pfn, mut writable) = (0u64, false);
        // SAFETY: `vma` was found under the mmap lock, which is still held; the address is
        // inside it (checked above); the outputs are valid.
        let ret = unsafe {
            acrn_hsm_follow_pfn(
                vma,
                base + i * crate::mm::PAGE_SIZE,
                &mut pfn,
                &mut writable,
            )
        };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        if i == 0 {
            start_pfn = pfn;
        }
        if !writable && memmap.attr & hv::MEM_ACCESS_WRITE != 0 {
            return Err(EFAULT);
        }
        // SAFETY: Only looks the PFN up in the memory map.
        if unsafe { acrn_hsm_pfn_refcounted(pfn) } {
            return Err(EFAULT);
        }
        if pfn != start_pfn.wrapping_add(i) {
            return Err(EINVAL);
        }
    }
    Ok(Some(start_pfn << 12))
}
