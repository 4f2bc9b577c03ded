// SPDX-License-Identifier: GPL-2.0

//! Physical memory access for boot-time parsing (multiboot information, ACPI tables,
//! modules) behind a trait, so that the parsers run on fake memory in host tests.
//!
//! The hypervisor's implementation, [`IdentityMap`], reads through the boot identity map of
//! `[0, 4 GiB)` set up by [`entry`](crate::entry).

/// Physical memory.
pub trait PhysMem {
    /// Copies `buf.len()` bytes from physical address `pa`; false if out of range.
    fn read(&self, pa: u64, buf: &mut [u8]) -> bool;
    /// Copies `buf` to physical address `pa`; false if out of range.
    fn write(&mut self, pa: u64, buf: &[u8]) -> bool;

    /// Reads a little-endian `u32`.
    fn read_u32(&self, pa: u64) -> Option<u32> {
        let mut b = [0; 4];
        self.read(pa, &mut b).then(|| u32::from_le_bytes(b))
    }

    /// Reads a little-endian `u64`.
    fn read_u64(&self, pa: u64) -> Option<u64> {
        let mut b = [0; 8];
        self.read(pa, &mut b).then(|| u64::from_le_bytes(b))
    }
}

/// First physical address the boot identity map does not cover.
pub const IDENTITY_LIMIT: u64 = 1 << 32;

/// Physical memory through the hypervisor's identity map of `[0, 4 GiB)`.
///
/// Which addresses are safe to touch is the caller's business (the constructor is unsafe):
/// the boot code only reads firmware tables and loader data and writes the Service VM's
/// boot structures and the MADT.
pub struct IdentityMap(());

impl IdentityMap {
    /// The identity map.
    ///
    /// # Safety
    ///
    /// `[0, 4 GiB)` must be identity mapped, and every range later passed to
    /// [`PhysMem::read`] / [`PhysMem::write`] must be memory (not MMIO with read side
    /// effects) that no Rust reference aliases.
    pub const unsafe fn new() -> Self {
        Self(())
    }
}

fn in_range(pa: u64, len: usize) -> bool {
    pa.checked_add(len as u64)
        .is_some_and(|end| end <= IDENTITY_LIMIT)
}

impl PhysMem for IdentityMap {
    fn read(&self, pa: u64, buf: &mut [u8]) -> bool {
        if !in_range(pa, buf.len()) {
            return false;
        }
        // SAFETY: the range is identity mapped and holds plain memory that no reference
        // aliases (constructor contract); `buf` is a distinct Rust buffer.
        unsafe { core::ptr::copy_nonoverlapping(pa as *const u8, buf.as_mut_ptr(), buf.len()) };
        true
    }

    fn write(&mut self, pa: u64, buf: &[u8]) -> bool {
        if !in_range(pa, buf.len()) {
            return false;
        }
        // SAFETY: as in `read`; the caller of `new` vouches that writing there is wanted.
        unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), pa as *mut u8, buf.len()) };
        true
    }
}

/// A `Vec`-backed fake physical memory starting at address 0, for tests.
#[cfg(test)]
pub struct FakePhys(pub std::vec::Vec<u8>);

#[cfg(test)]
impl PhysMem for FakePhys {
    fn read(&self, pa: u64, buf: &mut [u8]) -> bool {
        let (Ok(s), n) = (usize::try_from(pa), buf.len()) else {
            return false;
        };
        match self.0.get(s..s + n) {
            Some(src) => {
                buf.copy_from_slice(src);
                true
            }
            None => false,
        }
    }

    fn write(&mut self, pa: u64, buf: &[u8]) -> bool {
        let (Ok(s), n) = (usize::try_from(pa), buf.len()) else {
            return false;
        };
        match self.0.get_mut(s..s + n) {
            Some(dst) => {
                dst.copy_from_slice(buf);
                true
            }
            None => false,
        }
    }
}
