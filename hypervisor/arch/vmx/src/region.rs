// SPDX-License-Identifier: GPL-2.0

//! VMXON and VMCS regions (SDM vol. 3C, 25.2 and 25.11.5): one 4 KiB-aligned page each,
//! whose first 32 bits hold the VMCS revision identifier from `IA32_VMX_BASIC` (bit 31
//! clear: not a shadow VMCS). The rest belongs to the CPU.

use crate::caps::{CapError, VmxBasic};

/// Write-back, the only VMCS memory type the backend accepts (IA32_VMX_BASIC 53:50).
pub const MEM_TYPE_WB: u8 = 6;

/// A VMXON or VMCS region.
#[repr(C, align(4096))]
pub struct VmxRegion(pub [u8; 4096]);

impl VmxRegion {
    /// An all-zero region (for statics).
    pub const ZERO: Self = Self([0; 4096]);

    /// Clears the region and stamps the revision id; fails if the CPU wants regions larger
    /// than a page or non-write-back VMCS accesses.
    pub fn init(&mut self, basic: &VmxBasic) -> Result<(), CapError> {
        if basic.region_size == 0 || basic.region_size > 4096 || basic.mem_type != MEM_TYPE_WB {
            return Err(CapError::Region);
        }
        self.0 = [0; 4096];
        self.0[..4].copy_from_slice(&(basic.revision & 0x7fff_ffff).to_le_bytes());
        Ok(())
    }

    /// Physical address (the hypervisor identity-maps its memory).
    pub fn pa(&self) -> u64 {
        self.0.as_ptr() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::tests::skylake;

    #[test]
    fn revision_stamp() {
        let mut r = Box::new(VmxRegion::ZERO);
        r.0[100] = 0xff;
        r.init(&skylake().basic()).unwrap();
        assert_eq!(&r.0[..4], &[4, 0, 0, 0]);
        assert_eq!(r.0[100], 0, "cleared");
        assert_eq!(r.pa() % 4096, 0);
        let b = VmxBasic::decode(0x8000_0000 | 0x0018_1000_0000_0000 | 0x123);
        assert_eq!(b.revision, 0x123, "bit 31 is not part of the revision id");
        assert_eq!(b.region_size, 0x1000);
        r.init(&b).unwrap();
        assert_eq!(u32::from_le_bytes(r.0[..4].try_into().unwrap()), 0x123);
    }

    #[test]
    fn unusable_regions() {
        let mut r = Box::new(VmxRegion::ZERO);
        let mut b = skylake().basic();
        b.region_size = 0x2000;
        assert_eq!(r.init(&b), Err(CapError::Region));
        let mut b = skylake().basic();
        b.mem_type = 0;
        assert_eq!(r.init(&b), Err(CapError::Region));
    }
}
