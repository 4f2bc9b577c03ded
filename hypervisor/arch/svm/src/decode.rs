// SPDX-License-Identifier: GPL-2.0

//! Reading the instruction at the guest's RIP, without decode assists: the linear address
//! is translated through the guest's own page tables (long mode 4- or 5-level, PAE, 32-bit,
//! or paging off), every table and the bytes themselves read as Service VM physical memory
//! through [`GuestMemory`] (which refuses anything but Service VM RAM). Only the fixed
//! 3-byte `vmcall` (`0f 01 c1`) is recognised for now.

use acrn_hv_core::guest_mem::GuestMemory;

/// ACRN's hypercall instruction.
pub const VMCALL: [u8; 3] = [0x0f, 0x01, 0xc1];

const CR0_PG: u64 = 1 << 31;
const CR4_PSE: u64 = 1 << 4;
const CR4_PAE: u64 = 1 << 5;
const CR4_LA57: u64 = 1 << 12;
const EFER_LMA: u64 = 1 << 10;
const P: u64 = 1 << 0;
const PS: u64 = 1 << 7;
const ADDR: u64 = 0x000f_ffff_ffff_f000;

/// The guest's paging state (from the VMCB).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Paging {
    /// CR0.
    pub cr0: u64,
    /// CR3.
    pub cr3: u64,
    /// CR4.
    pub cr4: u64,
    /// EFER.
    pub efer: u64,
}

/// Translates guest linear `la` to a guest physical address (no permission checks: the
/// hypervisor only reads the bytes the guest just tried to execute).
pub fn translate<M: GuestMemory>(mem: &M, p: &Paging, la: u64) -> Option<u64> {
    if p.cr0 & CR0_PG == 0 {
        return Some(la & 0xffff_ffff);
    }
    if p.efer & EFER_LMA != 0 {
        let levels = if p.cr4 & CR4_LA57 != 0 { 5 } else { 4 };
        let mut table = p.cr3 & ADDR;
        for level in (1..=levels).rev() {
            let shift = 12 + 9 * (level - 1);
            let e: u64 = mem.read_obj(table + 8 * ((la >> shift) & 0x1ff)).ok()?;
            if e & P == 0 {
                return None;
            }
            if level == 1 || (level <= 3 && e & PS != 0) {
                let size = 1u64 << shift;
                return Some((e & ADDR & !(size - 1)) | (la & (size - 1)));
            }
            table = e & ADDR;
        }
        return None;
    }
    if p.cr4 & CR4_PAE != 0 {
        let la = la & 0xffff_ffff;
        let pdpte: u64 = mem.read_obj((p.cr3 & 0xffff_ffe0) + 8 * (la >> 30)).ok()?;
        if pdpte & P == 0 {
            return None;
        }
        let pde: u64 = mem
            .read_obj((pdpte & ADDR) + 8 * ((la >> 21) & 0x1ff))
            .ok()?;
        if pde & P == 0 {
            return None;
        }
        if pde & PS != 0 {
            return Some((pde & ADDR & !0x1f_ffff) | (la & 0x1f_ffff));
        }
        let pte: u64 = mem.read_obj((pde & ADDR) + 8 * ((la >> 12) & 0x1ff)).ok()?;
        return (pte & P != 0).then_some((pte & ADDR) | (la & 0xfff));
    }
    let la = la & 0xffff_ffff;
    let pde: u32 = mem.read_obj((p.cr3 & 0xffff_f000) + 4 * (la >> 22)).ok()?;
    if pde & 1 == 0 {
        return None;
    }
    if p.cr4 & CR4_PSE != 0 && u64::from(pde) & PS != 0 {
        return Some((u64::from(pde) & 0xffc0_0000) | (la & 0x3f_ffff));
    }
    let pte: u32 = mem
        .read_obj((u64::from(pde) & 0xffff_f000) + 4 * ((la >> 12) & 0x3ff))
        .ok()?;
    (pte & 1 != 0).then_some((u64::from(pte) & 0xffff_f000) | (la & 0xfff))
}

/// Reads `buf.len()` instruction bytes at guest linear `la` (each byte translated, so the
/// instruction may straddle pages). False if any byte is unreachable.
pub fn fetch<M: GuestMemory>(mem: &M, p: &Paging, la: u64, buf: &mut [u8]) -> bool {
    for (i, b) in buf.iter_mut().enumerate() {
        let Some(gpa) = translate(mem, p, la.wrapping_add(i as u64)) else {
            return false;
        };
        match mem.read_obj::<u8>(gpa) {
            Ok(v) => *b = v,
            Err(_) => return false,
        }
    }
    true
}

/// Whether the instruction at guest linear `la` is `vmcall`.
pub fn is_vmcall<M: GuestMemory>(mem: &M, p: &Paging, la: u64) -> bool {
    let mut b = [0u8; 3];
    fetch(mem, p, la, &mut b) && b == VMCALL
}

#[cfg(test)]
mod tests {
    use super::*;
    use acrn_hv_core::error::{HvResult, EINVAL};
    use acrn_hv_core::hv_err;

    /// 4 MiB of guest RAM at 0.
    struct Mem(Vec<u8>);

    impl GuestMemory for Mem {
        fn read_bytes(&self, gpa: u64, buf: &mut [u8]) -> HvResult {
            let s = gpa as usize;
            let src = self.0.get(s..s + buf.len()).ok_or(hv_err!(EINVAL))?;
            buf.copy_from_slice(src);
            Ok(())
        }
        fn write_bytes(&mut self, gpa: u64, buf: &[u8]) -> HvResult {
            let s = gpa as usize;
            self.0
                .get_mut(s..s + buf.len())
                .ok_or(hv_err!(EINVAL))?
                .copy_from_slice(buf);
            Ok(())
        }
    }

    impl Mem {
        fn put(&mut self, pa: u64, v: u64) {
            self.write_obj(pa, &v).unwrap();
        }
    }

    const LONG4: Paging = Paging {
        cr0: CR0_PG | 1,
        cr3: 0x1000,
        cr4: CR4_PAE,
        efer: EFER_LMA | (1 << 8),
    };

    /// Long mode: 0xffff_8000_0020_0ffe → 4K page at 0x30_0000 (crossing into 0x30_2000),
    /// 0x4000_0000 → 2 MiB page at 0x20_0000.
    fn long_mode() -> Mem {
        let mut m = Mem(vec![0; 0x40_0000]);
        let la: u64 = 0xffff_8000_0020_0ffe;
        m.put(0x1000 + 8 * ((la >> 39) & 0x1ff), 0x2000 | 3);
        m.put(0x2000 + 8 * ((la >> 30) & 0x1ff), 0x3000 | 3);
        m.put(0x3000 + 8 * ((la >> 21) & 0x1ff), 0x4000 | 3);
        m.put(0x4000, 0x30_0000 | 3);
        m.put(0x4008, 0x30_2000 | 3);
        m.0[0x30_0ffe] = 0x0f;
        m.0[0x30_0fff] = 0x01;
        m.0[0x30_2000] = 0xc1;
        // 0x4000_0000: PML4[0] -> 0x5000, PDPT[1] -> 0x6000, PD[0] = 2M page 0x20_0000.
        m.put(0x1000, 0x5000 | 3);
        m.put(0x5008, 0x6000 | 3);
        m.put(0x6000, 0x20_0000 | 3 | PS);
        m
    }

    #[test]
    fn long_mode_walk_and_straddling_vmcall() {
        let m = long_mode();
        let la = 0xffff_8000_0020_0ffe;
        assert_eq!(translate(&m, &LONG4, la), Some(0x30_0ffe));
        assert!(is_vmcall(&m, &LONG4, la));
        assert_eq!(translate(&m, &LONG4, 0x4000_1234), Some(0x20_1234));
        assert!(!is_vmcall(&m, &LONG4, 0x4000_1234));
        assert_eq!(translate(&m, &LONG4, 0x8000_0000), None, "not present");
    }

    #[test]
    fn tables_outside_guest_ram_fail_cleanly() {
        let mut m = long_mode();
        m.put(0x4000, 0x7fff_0000_0000 | 3);
        assert!(!is_vmcall(&m, &LONG4, 0xffff_8000_0020_0ffe));
    }

    #[test]
    fn paging_off_and_32_bit() {
        let mut m = Mem(vec![0; 0x40_0000]);
        m.0[0x1234..0x1237].copy_from_slice(&VMCALL);
        assert!(is_vmcall(&m, &Paging::default(), 0x1234));
        // 32-bit paging with a 4 MiB page: PDE[1] -> 0.
        m.write_obj(0x2004, &0x83u32).unwrap();
        let p = Paging {
            cr0: CR0_PG | 1,
            cr3: 0x2000,
            cr4: CR4_PSE,
            efer: 0,
        };
        assert_eq!(translate(&m, &p, 0x40_1234), Some(0x1234));
        // PAE: PDPTE[0] -> 0x3000, PDE[0] -> PT 0x4000, PTE[1] -> 0x1000.
        m.put(0x5000, 0x3000 | 1);
        m.put(0x3000, 0x4000 | 3);
        m.put(0x4008, 0x1000 | 3);
        let p = Paging {
            cr0: CR0_PG | 1,
            cr3: 0x5000,
            cr4: CR4_PAE,
            efer: 0,
        };
        assert_eq!(translate(&m, &p, 0x1234), Some(0x1234));
        assert!(is_vmcall(&m, &p, 0x1234));
    }

    #[test]
    fn five_level() {
        let mut m = Mem(vec![0; 0x40_0000]);
        for (t, next) in [
            (0x1000u64, 0x2000u64),
            (0x2000, 0x3000),
            (0x3000, 0x4000),
            (0x4000, 0x5000),
        ] {
            m.put(t, next | 3);
        }
        m.put(0x5000, 0x30_0000 | 3);
        let p = Paging {
            cr4: CR4_PAE | CR4_LA57,
            ..LONG4
        };
        assert_eq!(translate(&m, &p, 0x123), Some(0x30_0123));
    }
}
