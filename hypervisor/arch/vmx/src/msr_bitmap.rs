// SPDX-License-Identifier: GPL-2.0

//! The MSR bitmaps (SDM vol. 3C, 25.6.9): one page, read bitmaps for MSRs 0-0x1fff and
//! 0xc000_0000-0xc000_1fff, then the write bitmaps. A set bit makes RDMSR/WRMSR exit; MSRs
//! outside both ranges always exit.
//!
//! The Service VM's map passes everything through except `IA32_FEATURE_CONTROL` and the
//! VMX capability MSRs (0x480-0x491): VMX is hidden from the guest (CPUID.1:ECX.VMX clear).

use crate::caps::MSR_FEATURE_CONTROL;

/// First VMX capability MSR.
pub const MSR_VMX_FIRST: u32 = 0x480;
/// Last VMX capability MSR.
pub const MSR_VMX_LAST: u32 = 0x491;

/// The MSR bitmap page.
#[repr(C, align(4096))]
pub struct MsrBitmap(pub [u8; 4096]);

impl MsrBitmap {
    /// Nothing intercepted.
    pub const PASS_THROUGH: Self = Self([0; 4096]);

    fn bit(msr: u32, write: bool) -> Option<usize> {
        let base = match msr {
            0..=0x1fff => 0,
            0xc000_0000..=0xc000_1fff => 1024,
            _ => return None,
        };
        Some((base + if write { 2048 } else { 0 }) * 8 + (msr & 0x1fff) as usize)
    }

    /// Makes reads (and writes if `write`) of `msr` exit; MSRs outside the ranges always do.
    pub fn intercept(&mut self, msr: u32, write: bool) {
        for w in [false, write] {
            if let Some(b) = Self::bit(msr, w) {
                self.0[b / 8] |= 1 << (b % 8);
            }
        }
    }

    /// Whether a read (or write) of `msr` exits.
    pub fn intercepted(&self, msr: u32, write: bool) -> bool {
        Self::bit(msr, write).is_none_or(|b| self.0[b / 8] & (1 << (b % 8)) != 0)
    }

    /// The Service VM's bitmap.
    pub fn service_vm() -> Self {
        let mut m = Self::PASS_THROUGH;
        m.intercept(MSR_FEATURE_CONTROL, true);
        for msr in MSR_VMX_FIRST..=MSR_VMX_LAST {
            m.intercept(msr, true);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let m = MsrBitmap::service_vm();
        assert!(m.intercepted(0x3a, false) && m.intercepted(0x3a, true));
        // 0x480 read: byte 0x90, bit 0; write: byte 2048 + 0x90.
        assert_eq!(m.0[0x90], 0xff);
        assert_eq!(m.0[2048 + 0x90], 0xff);
        assert!(m.intercepted(0x491, false) && !m.intercepted(0x492, false));
        assert!(!m.intercepted(0xc000_0080, false), "EFER passes through");
        assert!(m.intercepted(0x4000_0000, false), "outside the ranges");
        let mut h = MsrBitmap::PASS_THROUGH;
        h.intercept(0xc000_0081, false);
        assert_eq!(h.0[1024 + 0x10], 2);
        assert!(!h.intercepted(0xc000_0081, true));
    }
}
