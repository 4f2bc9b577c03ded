// SPDX-License-Identifier: GPL-2.0

//! Access to the Service VM's memory for hypercall arguments (ACRN `copy_from_gpa` /
//! `copy_to_gpa`, `arch/x86/guest/guest_memory.c`).
//!
//! The hypervisor never dereferences a guest address directly: every struct a hypercall
//! names by Service VM physical address is copied in or out through [`GuestMemory`]. The
//! real implementation (arch crate) checks the range with
//! [`ServiceVmMemory::check_access`](crate::memory::ServiceVmMemory::check_access) and copies
//! through the identity map; tests use a `Vec`-backed fake.
//!
//! ACRN's `copy_gpa` fails with **-EINVAL** when any page of the range is not mapped in the
//! Service VM; implementations return that errno (`hv_err!(EINVAL)`), and the handlers map
//! it to whatever ACRN's `hcall_*` returns (often a bare -1).

use crate::error::HvResult;
use acrn_uapi::{acrn, hv};

/// Plain-old-data types that may be copied from guest memory byte by byte.
///
/// # Safety
///
/// Every bit pattern of `size_of::<Self>()` bytes must be a valid `Self` (no references,
/// no `bool`/`char`/enums, no niches). Padding is allowed: [`GuestMemory::read_obj`] only
/// writes bytes into it.
pub unsafe trait FromGuest: Copy + Default {}

/// [`FromGuest`] types that may also be copied *to* guest memory.
///
/// # Safety
///
/// In addition to [`FromGuest`]'s rule, `Self` must have no padding bytes, so that viewing
/// a value as `size_of::<Self>()` initialised bytes is sound.
pub unsafe trait ToGuest: FromGuest {}

// SAFETY: integers accept every bit pattern and have no padding.
unsafe impl FromGuest for u8 {}
// SAFETY: as above.
unsafe impl ToGuest for u8 {}
// SAFETY: as above.
unsafe impl FromGuest for u32 {}
// SAFETY: as above.
unsafe impl ToGuest for u32 {}
// SAFETY: as above.
unsafe impl FromGuest for u64 {}
// SAFETY: as above.
unsafe impl ToGuest for u64 {}
// SAFETY: two `u32`s (8 bytes, `align(8)`): no padding, any bit pattern valid.
unsafe impl FromGuest for hv::HcApiVersion {}
// SAFETY: as above.
unsafe impl ToGuest for hv::HcApiVersion {}
// SAFETY: u16 ×4, [u8; 16], u64 ×3 = 48 bytes with every field naturally aligned
// (offsets 0, 2, 4, 6, 8, 24, 32, 40): no padding, integers only.
unsafe impl FromGuest for acrn::VmCreation {}
// SAFETY: as above.
unsafe impl ToGuest for acrn::VmCreation {}
// SAFETY: integers, integer arrays and the packed `DescriptorPtr` only; the 4 bytes of
// tail padding of `Regs` are only written, never read as bytes.
unsafe impl FromGuest for acrn::VcpuRegs {}
// SAFETY: u16, u16, u32, u32, u64 at offsets 0, 2, 4, 8, 16 (24 bytes, checked by
// `acrn-uapi`): integers only. The 4 bytes at 12..16 are padding, so no `ToGuest`.
unsafe impl FromGuest for hv::SetRegions {}
// SAFETY: u32, u32, u64 ×3 (32 bytes, offsets 0, 4, 8, 16, 24): no padding, integers only.
unsafe impl FromGuest for hv::VmMemoryRegion {}
// SAFETY: as above.
unsafe impl ToGuest for hv::VmMemoryRegion {}
// SAFETY: two u64 (16 bytes, offsets 0 and 8): no padding, integers only.
unsafe impl FromGuest for acrn::MsiEntry {}

/// The Service VM's memory as seen by hypercall handlers.
pub trait GuestMemory {
    /// Copies `buf.len()` bytes from Service VM physical address `gpa`. Fails with -EINVAL
    /// (ACRN `copy_from_gpa`) if the range is not entirely readable Service VM memory or
    /// `gpa + len` overflows.
    fn read_bytes(&self, gpa: u64, buf: &mut [u8]) -> HvResult;

    /// Copies `buf` to Service VM physical address `gpa`. Fails with -EINVAL (ACRN
    /// `copy_to_gpa`) as [`read_bytes`](Self::read_bytes) does.
    fn write_bytes(&mut self, gpa: u64, buf: &[u8]) -> HvResult;

    /// Reads a `T` at `gpa`.
    fn read_obj<T: FromGuest>(&self, gpa: u64) -> HvResult<T> {
        let mut val = T::default();
        // SAFETY: `val` is a live, exclusively borrowed `T` of `size_of::<T>()` bytes, and
        // `T: FromGuest` makes any bytes written into it (padding included) a valid `T`.
        let bytes = unsafe {
            core::slice::from_raw_parts_mut(
                (&mut val as *mut T).cast::<u8>(),
                core::mem::size_of::<T>(),
            )
        };
        self.read_bytes(gpa, bytes)?;
        Ok(val)
    }

    /// Writes `val` at `gpa`.
    fn write_obj<T: ToGuest>(&mut self, gpa: u64, val: &T) -> HvResult {
        // SAFETY: `T: ToGuest` has no padding, so all `size_of::<T>()` bytes of `*val` are
        // initialised; the slice borrows `val` immutably for its lifetime.
        let bytes = unsafe {
            core::slice::from_raw_parts((val as *const T).cast::<u8>(), core::mem::size_of::<T>())
        };
        self.write_bytes(gpa, bytes)
    }
}
