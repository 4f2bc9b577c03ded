// SPDX-License-Identifier: GPL-2.0

//! The I/O permission map (IOPM, 12 KiB: one bit per port) and the MSR permission map
//! (MSRPM, 8 KiB: two bits per MSR, read then write, for the ranges 0..0x1fff,
//! 0xc000_0000.. and 0xc001_0000..; every MSR outside them always exits).
//!
//! The Service VM owns the platform: every port and MSR passes through, except
//! * EFER (read and write): SVME must stay set for VMRUN and be invisible to the guest;
//! * VM_CR and VM_HSAVE_PA: SVM is the hypervisor's — a guest write to VM_HSAVE_PA would
//!   move where the next VMRUN saves host state.

/// IOPM size.
pub const IOPM_SIZE: usize = 3 * 4096;
/// MSRPM size.
pub const MSRPM_SIZE: usize = 2 * 4096;

/// `IA32_EFER`.
pub const MSR_EFER: u32 = 0xc000_0080;
/// `VM_CR`.
pub const MSR_VM_CR: u32 = 0xc001_0114;
/// `VM_HSAVE_PA`.
pub const MSR_VM_HSAVE_PA: u32 = 0xc001_0117;

/// MSRs whose reads and writes exit.
pub const INTERCEPTED_MSRS: [u32; 3] = [MSR_EFER, MSR_VM_CR, MSR_VM_HSAVE_PA];

/// The IOPM: all ports pass through.
#[repr(C, align(4096))]
pub struct Iopm(pub [u8; IOPM_SIZE]);

/// The MSRPM.
#[repr(C, align(4096))]
pub struct Msrpm(pub [u8; MSRPM_SIZE]);

impl Iopm {
    /// Everything passes through.
    pub const PASS_THROUGH: Self = Self([0; IOPM_SIZE]);

    /// Makes accesses to `port` exit.
    pub fn intercept(&mut self, port: u16) {
        self.0[usize::from(port) / 8] |= 1 << (port % 8);
    }
}

impl Msrpm {
    /// Everything passes through.
    pub const PASS_THROUGH: Self = Self([0; MSRPM_SIZE]);

    /// The Service VM's map: [`INTERCEPTED_MSRS`] exit, the rest passes through.
    pub fn service_vm() -> Self {
        let mut m = Self::PASS_THROUGH;
        for msr in INTERCEPTED_MSRS {
            m.intercept(msr, true, true);
        }
        m
    }

    /// Bit index of the read bit of `msr`, if the map covers it.
    pub fn bit(msr: u32) -> Option<usize> {
        let (base, first) = match msr {
            0..=0x1fff => (0, 0),
            0xc000_0000..=0xc000_1fff => (0x800 * 8, 0xc000_0000),
            0xc001_0000..=0xc001_1fff => (0x1000 * 8, 0xc001_0000),
            _ => return None,
        };
        Some(base + 2 * (msr - first) as usize)
    }

    /// Makes reads and/or writes of `msr` exit (MSRs outside the map always exit).
    pub fn intercept(&mut self, msr: u32, read: bool, write: bool) {
        if let Some(b) = Self::bit(msr) {
            if read {
                self.0[b / 8] |= 1 << (b % 8);
            }
            if write {
                self.0[(b + 1) / 8] |= 1 << ((b + 1) % 8);
            }
        }
    }

    /// Whether reads (`write == false`) or writes of `msr` exit.
    pub fn intercepted(&self, msr: u32, write: bool) -> bool {
        match Self::bit(msr) {
            Some(b) => {
                let b = b + usize::from(write);
                self.0[b / 8] & (1 << (b % 8)) != 0
            }
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msr_bits_follow_the_apm() {
        assert_eq!(Msrpm::bit(0), Some(0));
        assert_eq!(Msrpm::bit(0x1fff), Some(0x3ffe));
        assert_eq!(Msrpm::bit(MSR_EFER), Some(0x800 * 8 + 0x100));
        assert_eq!(Msrpm::bit(MSR_VM_HSAVE_PA), Some(0x1000 * 8 + 0x22e));
        assert_eq!(Msrpm::bit(0x2000), None);
    }

    #[test]
    fn service_vm_map() {
        let m = Msrpm::service_vm();
        for msr in INTERCEPTED_MSRS {
            assert!(m.intercepted(msr, false) && m.intercepted(msr, true));
        }
        assert!(!m.intercepted(0x1b, false), "APIC_BASE passes through");
        assert!(!m.intercepted(0xc000_0082, true), "LSTAR passes through");
        assert!(m.intercepted(0x4000_0000, false), "outside the map: exits");
        assert_eq!(m.0.iter().map(|b| b.count_ones()).sum::<u32>(), 6);
        // EFER: byte 0x820, bits 0 and 1.
        assert_eq!(m.0[0x820], 0b11);
    }

    #[test]
    fn iopm() {
        let mut i = Iopm::PASS_THROUGH;
        i.intercept(0xcf9);
        assert_eq!(i.0[0xcf9 / 8], 1 << 1);
    }
}
