// SPDX-License-Identifier: GPL-2.0

//! A read-only MMIO page telling the guest about its VM: offset 0 = VM id (u64), offset 8 =
//! the eight bytes "acrn-rs!", offset 16 = vCPU count. Lets a tiny guest exercise 1- to
//! 8-byte MMIO reads end to end.

use super::{Action, Device};

pub struct VmInfo {
    pub vmid: u16,
    pub vcpus: u16,
}

/// The signature at offset 8, little-endian "acrn-rs!".
pub const SIGNATURE: u64 = u64::from_le_bytes(*b"acrn-rs!");

impl Device for VmInfo {
    fn read(&mut self, offset: u64, size: u8) -> u64 {
        let regs = [u64::from(self.vmid), SIGNATURE, u64::from(self.vcpus)];
        let (reg, byte) = ((offset / 8) as usize, (offset % 8) as u32);
        let Some(&v) = regs.get(reg) else {
            return 0;
        };
        // Narrow or unaligned reads see the bytes at their offset (the bus masks the width).
        let _ = size;
        v >> (8 * byte)
    }

    fn write(&mut self, _offset: u64, _size: u8, _value: u64) -> Action {
        Action::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_and_narrow_reads() {
        let mut d = VmInfo { vmid: 3, vcpus: 1 };
        assert_eq!(d.read(0, 8), 3);
        assert_eq!(d.read(8, 8), SIGNATURE);
        assert_eq!(d.read(8, 1) & 0xff, u64::from(b'a'));
        assert_eq!(
            d.read(12, 2) & 0xffff,
            u64::from(u16::from_le_bytes(*b"-r"))
        );
        assert_eq!(d.read(16, 4), 1);
        assert_eq!(d.read(64, 8), 0);
    }
}
