// SPDX-License-Identifier: GPL-2.0

//! A minimal virtual local APIC for User VM vCPUs: enough to deliver INJECT_MSI and
//! SET_IRQLINE (ACRN `vlapic_inject_msi`, `vlapic_set_intr`); the full vLAPIC (ISR/TMR,
//! priorities, timer, IPIs between vCPUs) comes later.
//!
//! * [`Irr`]: 256 pending-vector bits, set from the Service VM's pCPU (hypercalls) and taken
//!   by the vCPU's pCPU before each VMRUN: atomics, no lock.
//! * [`Msi`]: an MSI address/data pair decoded (destination, logical mode, vector, delivery
//!   mode); [`Msi::targets`] picks the vCPUs.
//! * [`mmio_read`] / [`mmio_write`]: the xAPIC page at [`LAPIC_BASE`] as the guest sees it:
//!   ID, version, TPR, SVR, LDR/DFR read back what was written, EOI is accepted, every other
//!   register reads 0. There is no in-service register: a vector is delivered as soon as
//!   the guest can take it, whether or not it sent EOI for the previous one.

use core::sync::atomic::{AtomicU64, Ordering};

/// Guest physical base of the xAPIC page.
pub const LAPIC_BASE: u64 = 0xfee0_0000;
/// Size of the xAPIC page.
pub const LAPIC_SIZE: u64 = 0x1000;
/// xAPIC version register value: version 0x14, 6 LVT entries (ACRN's `VLAPIC_VERSION`
/// with `VLAPIC_MAXLVT_INDEX`).
pub const LAPIC_VERSION: u32 = 0x14 | (6 << 16);

/// Register offsets.
pub mod reg {
    /// APIC ID.
    pub const ID: u64 = 0x20;
    /// Version.
    pub const VERSION: u64 = 0x30;
    /// Task priority.
    pub const TPR: u64 = 0x80;
    /// End of interrupt.
    pub const EOI: u64 = 0xb0;
    /// Logical destination.
    pub const LDR: u64 = 0xd0;
    /// Destination format.
    pub const DFR: u64 = 0xe0;
    /// Spurious-interrupt vector.
    pub const SVR: u64 = 0xf0;
}

/// Pending vectors of one vCPU (the IRR).
#[derive(Debug, Default)]
pub struct Irr([AtomicU64; 4]);

impl Irr {
    /// Nothing pending.
    pub const fn new() -> Self {
        Self([
            AtomicU64::new(0),
            AtomicU64::new(0),
            AtomicU64::new(0),
            AtomicU64::new(0),
        ])
    }

    /// Marks `vector` pending. Vectors 0..15 are illegal for fixed interrupts and ignored
    /// (ACRN `vlapic_set_intr_ready` reports them as an error): returns whether it was set.
    pub fn set(&self, vector: u8) -> bool {
        if vector < 16 {
            return false;
        }
        self.0[usize::from(vector / 64)].fetch_or(1 << (vector % 64), Ordering::Release);
        true
    }

    /// Whether any vector is pending.
    pub fn pending(&self) -> bool {
        self.0.iter().any(|w| w.load(Ordering::Acquire) != 0)
    }

    /// Takes the highest pending vector (the one the LAPIC would deliver first).
    pub fn take_highest(&self) -> Option<u8> {
        for (i, w) in self.0.iter().enumerate().rev() {
            let mut cur = w.load(Ordering::Acquire);
            while cur != 0 {
                let bit = 63 - cur.leading_zeros();
                match w.compare_exchange_weak(
                    cur,
                    cur & !(1 << bit),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return Some((i * 64) as u8 + bit as u8),
                    Err(now) => cur = now,
                }
            }
        }
        None
    }

    /// Forgets everything pending (vCPU reset).
    pub fn clear(&self) {
        for w in &self.0 {
            w.store(0, Ordering::Release);
        }
    }
}

/// Delivery modes (MSI data bits 10:8, IOAPIC RTE bits 10:8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryMode {
    /// Fixed.
    Fixed,
    /// Lowest priority (delivered like fixed, to the first target).
    LowestPriority,
    /// SMI, NMI, INIT, ExtINT and reserved modes: not delivered by this vLAPIC.
    Other(u8),
}

/// A decoded MSI (Intel SDM vol. 3 §11.11: address bits 19:12 destination, bit 2
/// destination mode; data bits 7:0 vector, 10:8 delivery mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msi {
    /// Destination APIC id (physical) or logical destination bitmap.
    pub dest: u8,
    /// Logical destination mode.
    pub logical: bool,
    /// Vector.
    pub vector: u8,
    /// Delivery mode.
    pub mode: DeliveryMode,
}

impl Msi {
    /// Decodes an `acrn_msi_entry`; `None` if the address is not in the MSI window
    /// (0xFEEx_xxxx), as ACRN's `vlapic_inject_msi` refuses it.
    pub fn decode(addr: u64, data: u64) -> Option<Self> {
        if addr >> 20 != 0xfee {
            return None;
        }
        let mode = match (data >> 8) & 7 {
            0 => DeliveryMode::Fixed,
            1 => DeliveryMode::LowestPriority,
            m => DeliveryMode::Other(m as u8),
        };
        Some(Self {
            dest: (addr >> 12) as u8,
            logical: addr & (1 << 2) != 0,
            vector: data as u8,
            mode,
        })
    }

    /// Whether the vCPU with local APIC id `lapic_id` is a target: physical mode matches
    /// the id or the broadcast 0xff; logical mode uses the flat model with each vCPU's
    /// logical id `1 << lapic_id` (what a guest that never programs LDR gets from ACRN's
    /// x2APIC-style default is close enough for delivery).
    pub fn targets(&self, lapic_id: u32) -> bool {
        if self.logical {
            lapic_id < 8 && self.dest & (1 << lapic_id) != 0
        } else {
            self.dest == 0xff || u32::from(self.dest) == lapic_id
        }
    }
}

/// Registers of the xAPIC page the guest can write and read back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LapicRegs {
    /// TPR.
    pub tpr: u32,
    /// LDR.
    pub ldr: u32,
    /// DFR (0xffff_ffff after reset: flat model).
    pub dfr: u32,
    /// SVR (0xff after reset: software-disabled).
    pub svr: u32,
    /// EOIs written (for tests and logs).
    pub eois: u64,
}

impl LapicRegs {
    /// Power-on values.
    pub const RESET: Self = Self {
        tpr: 0,
        ldr: 0,
        dfr: 0xffff_ffff,
        svr: 0xff,
        eois: 0,
    };
}

/// A guest read of `size` bytes at `offset` in the xAPIC page of the vCPU whose APIC id is
/// `lapic_id`. Registers are 32 bits wide at 16-byte strides; a read of part of one returns
/// the matching bytes.
pub fn mmio_read(regs: &LapicRegs, lapic_id: u32, offset: u64, size: u64) -> u64 {
    let v = match offset & !0xf {
        reg::ID => lapic_id << 24,
        reg::VERSION => LAPIC_VERSION,
        reg::TPR => regs.tpr,
        reg::LDR => regs.ldr,
        reg::DFR => regs.dfr,
        reg::SVR => regs.svr,
        _ => 0,
    };
    let shift = 8 * (offset & 3);
    (u64::from(v) >> shift) & crate::ioreq::size_mask(size.clamp(1, 8))
}

/// A guest write of `value` at `offset` in the xAPIC page (only whole-register writes at
/// the register's offset count, as the hardware requires).
pub fn mmio_write(regs: &mut LapicRegs, offset: u64, value: u64) {
    let v = value as u32;
    match offset {
        reg::TPR => regs.tpr = v & 0xff,
        reg::EOI => regs.eois += 1,
        reg::LDR => regs.ldr = v & 0xff00_0000,
        reg::DFR => regs.dfr = v | 0x0fff_ffff,
        reg::SVR => regs.svr = v & 0x3ff,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn irr_takes_highest_first() {
        let irr = Irr::new();
        assert!(!irr.pending());
        assert!(!irr.set(15), "vectors below 16 are illegal");
        assert!(irr.set(0x30) && irr.set(0xf1) && irr.set(0x41) && irr.set(0x30));
        assert!(irr.pending());
        assert_eq!(irr.take_highest(), Some(0xf1));
        assert_eq!(irr.take_highest(), Some(0x41));
        assert_eq!(irr.take_highest(), Some(0x30));
        assert_eq!(irr.take_highest(), None);
        irr.set(0xff);
        irr.clear();
        assert!(!irr.pending());
    }

    #[test]
    fn irr_concurrent_setters_lose_nothing() {
        let irr = std::sync::Arc::new(Irr::new());
        let hs: Vec<_> = (0..4u8)
            .map(|t| {
                let irr = irr.clone();
                std::thread::spawn(move || {
                    for v in (16..=255u8).filter(|v| v % 4 == t) {
                        irr.set(v);
                    }
                })
            })
            .collect();
        let mut seen = vec![];
        while seen.len() < 240 {
            if let Some(v) = irr.take_highest() {
                seen.push(v);
            }
        }
        for h in hs {
            h.join().unwrap();
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 240);
    }

    #[test]
    fn msi_decoding() {
        let m = Msi::decode(0xfee0_1000, 0x4031).unwrap();
        assert_eq!(
            m,
            Msi {
                dest: 1,
                logical: false,
                vector: 0x31,
                mode: DeliveryMode::Fixed
            }
        );
        assert!(m.targets(1) && !m.targets(0));
        let b = Msi::decode(0xfeef_f000, 0x0141).unwrap();
        assert_eq!(b.mode, DeliveryMode::LowestPriority);
        assert!(b.targets(0) && b.targets(7));
        let l = Msi::decode(0xfee0_3004, 0x22).unwrap();
        assert!(l.logical && l.targets(0) && l.targets(1) && !l.targets(2));
        assert_eq!(
            Msi::decode(0xfee0_0000, 0x400).unwrap().mode,
            DeliveryMode::Other(4)
        );
        assert_eq!(Msi::decode(0xfed0_0000, 0x30), None);
    }

    #[test]
    fn lapic_page() {
        let mut r = LapicRegs::RESET;
        assert_eq!(mmio_read(&r, 3, reg::ID, 4), 3 << 24);
        assert_eq!(mmio_read(&r, 0, reg::VERSION, 4), u64::from(LAPIC_VERSION));
        assert_eq!(mmio_read(&r, 0, reg::SVR, 4), 0xff);
        mmio_write(&mut r, reg::SVR, 0x1ff);
        mmio_write(&mut r, reg::TPR, 0x120);
        mmio_write(&mut r, reg::EOI, 0);
        assert_eq!(mmio_read(&r, 0, reg::SVR, 4), 0x1ff);
        assert_eq!(mmio_read(&r, 0, reg::SVR + 1, 1), 0x1);
        assert_eq!(mmio_read(&r, 0, reg::TPR, 4), 0x20);
        assert_eq!(r.eois, 1);
        assert_eq!(mmio_read(&r, 0, 0x300, 4), 0, "ICR reads 0");
        assert_eq!(mmio_read(&r, 0, reg::DFR, 8), 0xffff_ffff);
    }
}
