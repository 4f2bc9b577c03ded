// SPDX-License-Identifier: GPL-2.0

//! CR0/CR4 fixed bits in VMX operation (SDM vol. 3D, A.7-A.8): a bit set in
//! `IA32_VMX_CRx_FIXED0` must be 1, a bit clear in `IA32_VMX_CRx_FIXED1` must be 0, both
//! for the host (before VMXON and while VMX is on) and for the guest at VM entry. With
//! "unrestricted guest", CR0.PE and CR0.PG are exempt for the guest.
//!
//! The guest must not see the bits VMX forces (CR4.VMXE above all): [`GuestCr`] computes
//! the value loaded into the VMCS, the read shadow and the guest/host mask that makes the
//! guest read its own value and exit when it tries to change a forced bit.

/// CR0.PE.
pub const CR0_PE: u64 = 1 << 0;
/// CR0.NE.
pub const CR0_NE: u64 = 1 << 5;
/// CR0.PG.
pub const CR0_PG: u64 = 1 << 31;
/// CR4.VMXE.
pub const CR4_VMXE: u64 = 1 << 13;

/// A fixed-bit MSR pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fixed {
    /// Bits that must be 1.
    pub fixed0: u64,
    /// Bits that may be 1.
    pub fixed1: u64,
}

impl Fixed {
    /// `value` with the must-be-1 bits set and the must-be-0 bits cleared.
    pub const fn adjust(&self, value: u64) -> u64 {
        (value | self.fixed0) & self.fixed1
    }

    /// Whether `value` already satisfies both MSRs.
    pub const fn allows(&self, value: u64) -> bool {
        self.adjust(value) == value
    }

    /// The bits VMX decides (must be 1 or must be 0): the guest/host mask.
    pub const fn forced(&self) -> u64 {
        self.fixed0 | !self.fixed1
    }

    /// CR0's constraints for a guest: PE and PG are free under unrestricted guest.
    pub const fn guest_cr0(self, unrestricted: bool) -> Self {
        if unrestricted {
            Self {
                fixed0: self.fixed0 & !(CR0_PE | CR0_PG),
                fixed1: self.fixed1,
            }
        } else {
            self
        }
    }
}

/// A control register as VMX holds it for the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestCr {
    /// Loaded into the guest-state field (what the CPU runs with).
    pub value: u64,
    /// The read shadow: what the guest reads for masked bits (its own value).
    pub shadow: u64,
    /// The guest/host mask: the forced bits.
    pub mask: u64,
}

impl GuestCr {
    /// The register for a guest that wants `value`, under `fixed`.
    pub const fn new(value: u64, fixed: Fixed) -> Self {
        Self {
            value: fixed.adjust(value),
            shadow: value,
            mask: fixed.forced() & 0xffff_ffff,
        }
    }

    /// What the guest reads: its shadow for masked bits, the real value for the others.
    pub const fn guest_view(real: u64, shadow: u64, mask: u64) -> u64 {
        (real & !mask) | (shadow & mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::tests::skylake;

    fn cr0() -> Fixed {
        let m = skylake();
        Fixed {
            fixed0: m.cr0_fixed0,
            fixed1: m.cr0_fixed1,
        }
    }

    fn cr4() -> Fixed {
        let m = skylake();
        Fixed {
            fixed0: m.cr4_fixed0,
            fixed1: m.cr4_fixed1,
        }
    }

    #[test]
    fn host_adjustment() {
        // A 64-bit host without NE: NE forced on.
        assert_eq!(cr0().adjust(0x8000_0011), 0x8000_0031);
        assert!(!cr0().allows(0x8000_0011));
        assert!(cr0().allows(0x8000_0031));
        // CR4: VMXE forced on; bits beyond FIXED1 (e.g. 1 << 25) forced off.
        assert_eq!(cr4().adjust(0x20 | (1 << 25)), 0x20 | CR4_VMXE);
        assert!(cr4().allows(0x20 | CR4_VMXE));
    }

    #[test]
    fn unrestricted_guest_frees_pe_and_pg() {
        let g = cr0().guest_cr0(true);
        assert_eq!(g.adjust(0), CR0_NE);
        assert_eq!(cr0().guest_cr0(false).adjust(0), CR0_PE | CR0_NE | CR0_PG);
    }

    #[test]
    fn guest_never_sees_vmxe() {
        let c = GuestCr::new(0x20, cr4());
        assert_eq!(c.value, 0x20 | CR4_VMXE);
        assert_eq!(c.shadow, 0x20);
        assert_ne!(c.mask & CR4_VMXE, 0);
        assert_eq!(GuestCr::guest_view(c.value, c.shadow, c.mask), 0x20);
        let c0 = GuestCr::new(0x8000_0011, cr0().guest_cr0(true));
        assert_eq!(c0.value, 0x8000_0031);
        assert_eq!(
            GuestCr::guest_view(c0.value, c0.shadow, c0.mask),
            0x8000_0011
        );
    }
}
