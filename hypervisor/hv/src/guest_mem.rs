// SPDX-License-Identifier: GPL-2.0

//! [`GuestMemory`] over the Service VM's identity map: hypercall arguments and guest page
//! tables are read and written in place, after [`ServiceVmMemory::check_access`] has
//! confirmed the whole range is Service VM RAM (so never hypervisor memory, never MMIO),
//! and only below the hypervisor's own identity map limit (4 GiB).

use acrn_hv_boot::phys::IDENTITY_LIMIT;
use acrn_hv_core::error::{HvResult, EINVAL};
use acrn_hv_core::guest_mem::GuestMemory;
use acrn_hv_core::hv_err;
use acrn_hv_core::memory::ServiceVmMemory;

/// The Service VM's RAM.
pub struct ServiceVmRam {
    map: &'static ServiceVmMemory,
}

impl ServiceVmRam {
    /// Access checked against `map`.
    pub fn new(map: &'static ServiceVmMemory) -> Self {
        Self { map }
    }

    fn check(&self, gpa: u64, len: usize) -> HvResult {
        self.map.check_access(gpa, len as u64)?;
        match gpa.checked_add(len as u64) {
            Some(end) if end <= IDENTITY_LIMIT => Ok(()),
            _ => Err(hv_err!(EINVAL)),
        }
    }
}

impl GuestMemory for ServiceVmRam {
    fn read_bytes(&self, gpa: u64, buf: &mut [u8]) -> HvResult {
        self.check(gpa, buf.len())?;
        // SAFETY: the range is Service VM RAM below 4 GiB, identity mapped in the
        // hypervisor, outside hypervisor memory, so no Rust object lives there; the guest
        // may change it concurrently, which only gives the copy arbitrary bytes.
        unsafe { core::ptr::copy_nonoverlapping(gpa as *const u8, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    fn write_bytes(&mut self, gpa: u64, buf: &[u8]) -> HvResult {
        self.check(gpa, buf.len())?;
        // SAFETY: as in `read_bytes`; the guest asked for this write by passing the address.
        unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), gpa as *mut u8, buf.len()) };
        Ok(())
    }
}
