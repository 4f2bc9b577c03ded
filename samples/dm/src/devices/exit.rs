// SPDX-License-Identifier: GPL-2.0

//! A debug exit port (QEMU's `isa-debug-exit` convention, port 0xf4 by default): a write of
//! `n` ends the VM with status `n`.

use super::{Action, Device};

pub struct ExitPort;

impl Device for ExitPort {
    fn read(&mut self, _offset: u64, _size: u8) -> u64 {
        0
    }

    fn write(&mut self, _offset: u64, _size: u8, value: u64) -> Action {
        Action::Exit(value as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_exits_with_its_value() {
        assert_eq!(ExitPort.write(0, 1, 0x2a), Action::Exit(0x2a));
        assert_eq!(ExitPort.write(0, 4, 0x1_0003), Action::Exit(3));
    }
}
