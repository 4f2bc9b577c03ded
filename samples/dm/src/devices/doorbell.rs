// SPDX-License-Identifier: GPL-2.0

//! An interrupt doorbell (port 0xf0 by default): a write of `v` asks the DM to inject an MSI
//! with vector `v` into vCPU 0 (fixed delivery). Lets a tiny guest check interrupt delivery.

use super::{Action, Device};

pub struct Doorbell;

impl Device for Doorbell {
    fn read(&mut self, _offset: u64, _size: u8) -> u64 {
        0
    }

    fn write(&mut self, _offset: u64, _size: u8, value: u64) -> Action {
        match value as u8 {
            // Vectors 0-15 are exceptions/reserved: no MSI can carry them.
            v @ 16..=255 => Action::Interrupt(v),
            _ => Action::Continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_ring_valid_vectors_only() {
        assert_eq!(Doorbell.write(0, 1, 0x40), Action::Interrupt(0x40));
        assert_eq!(Doorbell.write(0, 1, 0x10f), Action::Continue);
        assert_eq!(Doorbell.write(0, 1, 3), Action::Continue);
    }
}
