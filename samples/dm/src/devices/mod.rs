// SPDX-License-Identifier: GPL-2.0

//! Emulated devices and the bus that routes guest accesses to them.
//!
//! A device claims a range of ports or of guest physical addresses and sees offsets into it.
//! Accesses nobody claims read as all ones and writes are dropped (what a real bus does for
//! absent devices); they are counted, and logged with `--verbose`.

pub mod doorbell;
pub mod exit;
pub mod info;
pub mod uart;

use crate::ioreq::{Request, Space};
use std::io;
use std::ops::Range;

/// What the DM does after an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue,
    /// The guest asked to stop with this status.
    Exit(u8),
    /// The guest asked for an interrupt with this vector.
    Interrupt(u8),
}

pub trait Device {
    /// A read of `size` bytes at `offset`.
    fn read(&mut self, offset: u64, size: u8) -> u64;
    /// A write of `size` bytes at `offset`.
    fn write(&mut self, offset: u64, size: u8, value: u64) -> Action;
}

struct Claim {
    space: Space,
    range: Range<u64>,
    device: Box<dyn Device>,
}

#[derive(Default)]
pub struct Bus {
    claims: Vec<Claim>,
    /// Accesses no device claimed.
    pub unclaimed: u64,
    pub verbose: bool,
}

impl Bus {
    /// An empty bus; `verbose` logs unclaimed accesses.
    pub fn new(verbose: bool) -> Self {
        Self {
            verbose,
            ..Default::default()
        }
    }

    /// Gives `range` of `space` to `device`; `InvalidInput` if the range is empty or overlaps
    /// a claim (two devices configured on the same ports or addresses).
    pub fn claim(
        &mut self,
        space: Space,
        range: Range<u64>,
        device: Box<dyn Device>,
    ) -> io::Result<()> {
        let overlaps = self
            .claims
            .iter()
            .any(|c| c.space == space && c.range.start < range.end && range.start < c.range.end);
        if overlaps || range.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{space:?} {range:#x?} overlaps another device or is empty"),
            ));
        }
        self.claims.push(Claim {
            space,
            range,
            device,
        });
        Ok(())
    }

    /// Serves `req`: for a read, fills `req.value` (masked to its width).
    pub fn handle(&mut self, req: &mut Request) -> Action {
        let claim = self
            .claims
            .iter_mut()
            .find(|c| c.space == req.space && c.range.contains(&req.addr));
        let Some(c) = claim else {
            self.unclaimed += 1;
            if self.verbose {
                eprintln!("acrn-dm-rs: unclaimed {:?}", req);
            }
            if !req.write {
                req.value = mask(u64::MAX, req.size);
            }
            return Action::Continue;
        };
        let offset = req.addr - c.range.start;
        if req.write {
            c.device.write(offset, req.size, mask(req.value, req.size))
        } else {
            req.value = mask(c.device.read(offset, req.size), req.size);
            Action::Continue
        }
    }
}

/// The low `size` bytes of `v`.
fn mask(v: u64, size: u8) -> u64 {
    match size {
        1 => v & 0xff,
        2 => v & 0xffff,
        4 => v & 0xffff_ffff,
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(u64);
    impl Device for Echo {
        fn read(&mut self, offset: u64, _size: u8) -> u64 {
            self.0 + offset
        }
        fn write(&mut self, _offset: u64, _size: u8, value: u64) -> Action {
            self.0 = value;
            Action::Continue
        }
    }

    fn req(space: Space, write: bool, addr: u64, size: u8, value: u64) -> Request {
        Request {
            space,
            write,
            addr,
            size,
            value,
        }
    }

    #[test]
    fn routes_by_space_and_range_and_masks_widths() {
        let mut bus = Bus::default();
        assert!(bus
            .claim(Space::Pio, 0x10..0x18, Box::new(Echo(0x1234_5678_9abc)))
            .is_ok());
        assert!(bus
            .claim(Space::Pio, 0x17..0x20, Box::new(Echo(0)))
            .is_err());
        assert!(bus
            .claim(Space::Pio, 0x30..0x30, Box::new(Echo(0)))
            .is_err());
        assert!(bus
            .claim(Space::Mmio, 0x10..0x18, Box::new(Echo(7)))
            .is_ok());
        let mut r = req(Space::Pio, false, 0x12, 2, 0);
        bus.handle(&mut r);
        assert_eq!(r.value, 0x9abe);
        let mut r = req(Space::Mmio, false, 0x10, 8, 0);
        bus.handle(&mut r);
        assert_eq!(r.value, 7);
        assert_eq!(bus.unclaimed, 0);
    }

    #[test]
    fn unclaimed_reads_are_all_ones() {
        let mut bus = Bus::default();
        let mut r = req(Space::Pio, false, 0x80, 1, 0);
        bus.handle(&mut r);
        assert_eq!(r.value, 0xff);
        let mut r = req(Space::Mmio, false, 0xfee0_0000, 4, 0);
        bus.handle(&mut r);
        assert_eq!(r.value, 0xffff_ffff);
        let mut r = req(Space::Pio, true, 0x80, 1, 5);
        assert_eq!(bus.handle(&mut r), Action::Continue);
        assert_eq!(bus.unclaimed, 3);
    }
}
