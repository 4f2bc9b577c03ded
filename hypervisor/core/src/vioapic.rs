// SPDX-License-Identifier: GPL-2.0

//! A minimal virtual IOAPIC per User VM, enough for SET_IRQLINE (ACRN `dm/vioapic.c`):
//! 24 pins, the indirect register window the guest programs (IOREGSEL at +0x00, IOWIN at
//! +0x10 of [`IOAPIC_BASE`]), and line changes from the device model turned into vectors
//! for the vLAPIC. A pin delivers when its line goes from low to high and its redirection
//! entry is unmasked, whatever its trigger mode: level-triggered lines are not re-delivered
//! after EOI (no remote IRR), polarity is ignored. There is no vPIC: GSIs below 16 reach the
//! guest only through the vIOAPIC.

use crate::vlapic::{DeliveryMode, Msi};
use acrn_uapi::hv::{GSI_FALLING_PULSE, GSI_RAISING_PULSE, GSI_SET_HIGH, GSI_SET_LOW};

/// Guest physical base of the IOAPIC page.
pub const IOAPIC_BASE: u64 = 0xfec0_0000;
/// Size of the IOAPIC page.
pub const IOAPIC_SIZE: u64 = 0x1000;
/// Pins (ACRN `VIOAPIC_RTE_NUM`).
pub const PINS: usize = 24;
/// IOAPIC version register: version 0x11 (ACRN's `IOAPIC_VERSION`), maximum entry 23.
pub const VERSION: u32 = 0x11 | ((PINS as u32 - 1) << 16);

const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const RTE_MASKED: u64 = 1 << 16;
/// Bits of a redirection entry the guest may write (vector, delivery mode, destination
/// mode, polarity, trigger mode, mask, destination); delivery status and remote IRR are
/// read-only.
const RTE_WRITABLE: u64 = 0xff00_0000_0001_afff;

/// One VM's vIOAPIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vioapic {
    /// IOAPIC id (register 0, bits 27:24).
    pub id: u32,
    /// IOREGSEL.
    pub regsel: u32,
    /// Redirection entries.
    pub rte: [u64; PINS],
    /// Line levels (bit n = pin n high).
    pub lines: u32,
}

impl Default for Vioapic {
    fn default() -> Self {
        Self::RESET
    }
}

/// Why SET_IRQLINE was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqlineError {
    /// GSI beyond the pins.
    BadGsi,
    /// Unknown operation.
    BadOp,
}

impl Vioapic {
    /// Power-on state: every entry masked, lines low.
    pub const RESET: Self = Self {
        id: 0,
        regsel: 0,
        rte: [RTE_MASKED; PINS],
        lines: 0,
    };

    /// A guest read of the IOAPIC page at `offset` (32-bit registers; other offsets read 0).
    pub fn mmio_read(&self, offset: u64) -> u32 {
        match offset {
            IOREGSEL => self.regsel,
            IOWIN => self.read_reg(self.regsel),
            _ => 0,
        }
    }

    /// A guest write to the IOAPIC page.
    pub fn mmio_write(&mut self, offset: u64, value: u32) {
        match offset {
            IOREGSEL => self.regsel = value & 0xff,
            IOWIN => self.write_reg(self.regsel, value),
            _ => {}
        }
    }

    fn read_reg(&self, reg: u32) -> u32 {
        match reg {
            0 => self.id << 24,
            1 => VERSION,
            2 => self.id << 24,
            0x10..=0x3f => {
                let (pin, high) = (((reg - 0x10) / 2) as usize, reg & 1 != 0);
                let e = self.rte[pin];
                if high {
                    (e >> 32) as u32
                } else {
                    e as u32
                }
            }
            _ => 0,
        }
    }

    fn write_reg(&mut self, reg: u32, value: u32) {
        match reg {
            0 => self.id = (value >> 24) & 0xf,
            0x10..=0x3f => {
                let (pin, high) = (((reg - 0x10) / 2) as usize, reg & 1 != 0);
                let e = &mut self.rte[pin];
                let new = if high {
                    (*e & 0xffff_ffff) | (u64::from(value) << 32)
                } else {
                    (*e & !0xffff_ffff) | u64::from(value)
                };
                *e = (*e & !RTE_WRITABLE) | (new & RTE_WRITABLE);
            }
            _ => {}
        }
    }

    /// The interrupt pin `pin` sends, if unmasked.
    pub fn route(&self, pin: usize) -> Option<Msi> {
        let e = *self.rte.get(pin)?;
        if e & RTE_MASKED != 0 {
            return None;
        }
        let mode = match (e >> 8) & 7 {
            0 => DeliveryMode::Fixed,
            1 => DeliveryMode::LowestPriority,
            m => DeliveryMode::Other(m as u8),
        };
        Some(Msi {
            dest: (e >> 56) as u8,
            logical: e & (1 << 11) != 0,
            vector: e as u8,
            mode,
        })
    }

    /// ACRN `vioapic_set_irqline_lock`: applies `op` to line `gsi`; returns the interrupt
    /// to deliver if the line went from low to high on an unmasked pin.
    pub fn set_irqline(&mut self, gsi: u32, op: u32) -> Result<Option<Msi>, IrqlineError> {
        let pin = usize::try_from(gsi)
            .ok()
            .filter(|&p| p < PINS)
            .ok_or(IrqlineError::BadGsi)?;
        let bit = 1u32 << pin;
        let was_high = self.lines & bit != 0;
        let (rises, high_after) = match op {
            GSI_SET_HIGH => (!was_high, true),
            GSI_SET_LOW => (false, false),
            GSI_RAISING_PULSE => (true, false),
            GSI_FALLING_PULSE => (true, true),
            _ => return Err(IrqlineError::BadOp),
        };
        if high_after {
            self.lines |= bit;
        } else {
            self.lines &= !bit;
        }
        Ok(if rises { self.route(pin) } else { None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(v: &mut Vioapic, pin: u32, lo: u32, hi: u32) {
        v.mmio_write(IOREGSEL, 0x10 + 2 * pin);
        v.mmio_write(IOWIN, lo);
        v.mmio_write(IOREGSEL, 0x11 + 2 * pin);
        v.mmio_write(IOWIN, hi);
    }

    #[test]
    fn registers() {
        let mut v = Vioapic::RESET;
        v.mmio_write(IOREGSEL, 1);
        assert_eq!(v.mmio_read(IOWIN), VERSION);
        assert_eq!(v.mmio_read(IOREGSEL), 1);
        v.mmio_write(IOREGSEL, 0x10);
        assert_eq!(v.mmio_read(IOWIN), 1 << 16, "masked after reset");
        program(&mut v, 3, 0x8045 | (1 << 12) | (1 << 14), 0x0100_0000);
        v.mmio_write(IOREGSEL, 0x16);
        assert_eq!(
            v.mmio_read(IOWIN),
            0x8045,
            "delivery status, remote IRR read-only"
        );
        v.mmio_write(IOREGSEL, 0x17);
        assert_eq!(v.mmio_read(IOWIN), 0x0100_0000);
        v.mmio_write(IOREGSEL, 0);
        v.mmio_write(IOWIN, 0x0500_0000);
        assert_eq!(v.mmio_read(IOWIN), 0x0500_0000);
        v.mmio_write(IOREGSEL, 0x40);
        assert_eq!(v.mmio_read(IOWIN), 0);
    }

    #[test]
    fn lines_deliver_on_rising_edges_of_unmasked_pins() {
        let mut v = Vioapic::RESET;
        assert_eq!(v.set_irqline(5, GSI_RAISING_PULSE), Ok(None), "masked");
        program(&mut v, 5, 0x45, 0x0200_0000);
        let m = v.set_irqline(5, GSI_RAISING_PULSE).unwrap().unwrap();
        assert_eq!((m.vector, m.dest, m.logical), (0x45, 2, false));
        assert_eq!(v.lines, 0);
        assert!(v.set_irqline(5, GSI_SET_HIGH).unwrap().is_some());
        assert_eq!(v.set_irqline(5, GSI_SET_HIGH), Ok(None), "already high");
        assert_eq!(v.set_irqline(5, GSI_SET_LOW), Ok(None));
        assert!(v.set_irqline(5, GSI_FALLING_PULSE).unwrap().is_some());
        assert_eq!(v.lines, 1 << 5);
        assert_eq!(v.set_irqline(24, GSI_SET_HIGH), Err(IrqlineError::BadGsi));
        assert_eq!(
            v.set_irqline(u32::MAX, GSI_SET_HIGH),
            Err(IrqlineError::BadGsi)
        );
        assert_eq!(v.set_irqline(5, 4), Err(IrqlineError::BadOp));
    }
}
