// SPDX-License-Identifier: GPL-2.0

//! The transmit side of a 16550 UART (COM1 at 0x3f8 by default): enough for a guest's
//! polled console output (Linux's early printk, a boot loader, the sample guests).
//!
//! Registers: THR (write, offset 0) sends a byte; LSR (offset 5) always says the transmitter
//! is empty; IER, LCR, MCR and SCR keep what is written; with LCR.DLAB set, offsets 0 and 1
//! are the divisor latch. Nothing is ever received, and no interrupt is raised. Output goes
//! to a writer, flushed at each newline.

use super::{Action, Device};
use std::io::Write;

const THR: u64 = 0;
const IER: u64 = 1;
const IIR: u64 = 2;
const LCR: u64 = 3;
const MCR: u64 = 4;
const LSR: u64 = 5;
const MSR: u64 = 6;
const SCR: u64 = 7;
const LCR_DLAB: u8 = 0x80;
/// LSR: transmit holding register empty, transmitter empty.
const LSR_THRE_TEMT: u8 = 0x60;
/// IIR: no interrupt pending.
const IIR_NONE: u8 = 0x01;
/// MSR: CTS, DSR, DCD (a cable with a listener at the other end).
const MSR_CONNECTED: u8 = 0xb0;

pub struct Uart<W: Write> {
    out: W,
    ier: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    divisor: u16,
}

impl<W: Write> Uart<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            ier: 0,
            lcr: 0,
            mcr: 0,
            scr: 0,
            divisor: 12,
        }
    }

    fn dlab(&self) -> bool {
        self.lcr & LCR_DLAB != 0
    }
}

impl<W: Write> Device for Uart<W> {
    fn read(&mut self, offset: u64, _size: u8) -> u64 {
        let v = match offset {
            THR if self.dlab() => self.divisor as u8,
            IER if self.dlab() => (self.divisor >> 8) as u8,
            IER => self.ier,
            IIR => IIR_NONE,
            LCR => self.lcr,
            MCR => self.mcr,
            LSR => LSR_THRE_TEMT,
            MSR => MSR_CONNECTED,
            SCR => self.scr,
            _ => 0,
        };
        u64::from(v)
    }

    fn write(&mut self, offset: u64, _size: u8, value: u64) -> Action {
        let b = value as u8;
        match offset {
            THR if self.dlab() => self.divisor = (self.divisor & 0xff00) | u16::from(b),
            IER if self.dlab() => self.divisor = (self.divisor & 0xff) | u16::from(b) << 8,
            THR => {
                // Console output is best effort: a closed stdout must not stop the guest.
                let _ = self.out.write_all(&[b]);
                if b == b'\n' {
                    let _ = self.out.flush();
                }
            }
            IER => self.ier = b & 0x0f,
            LCR => self.lcr = b,
            MCR => self.mcr = b & 0x1f,
            SCR => self.scr = b,
            _ => {}
        }
        Action::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transmits_bytes_and_keeps_registers() {
        let mut u = Uart::new(Vec::new());
        for &b in b"hi\n" {
            u.write(THR, 1, u64::from(b));
        }
        assert_eq!(u.out, b"hi\n");
        assert_eq!(u.read(LSR, 1), u64::from(LSR_THRE_TEMT));
        u.write(SCR, 1, 0x5a);
        assert_eq!(u.read(SCR, 1), 0x5a);
        u.write(IER, 1, 0xff);
        assert_eq!(u.read(IER, 1), 0x0f);
    }

    #[test]
    fn divisor_latch_does_not_transmit() {
        let mut u = Uart::new(Vec::new());
        u.write(LCR, 1, u64::from(LCR_DLAB | 3));
        u.write(THR, 1, 1);
        u.write(IER, 1, 0);
        assert_eq!(u.read(THR, 1), 1);
        assert!(u.out.is_empty());
        u.write(LCR, 1, 3);
        u.write(THR, 1, u64::from(b'x'));
        assert_eq!(u.out, b"x");
        assert_eq!(u.divisor, 1);
    }
}
