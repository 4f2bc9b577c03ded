// SPDX-License-Identifier: GPL-2.0

//! The guest page-table walk: every paging mode and page size, the permission checks and
//! their `#PF` error codes, fetches across pages, and decoding through it.

use crate::decode::{decode_at, MmioInsn};
use crate::error::{HvResult, EINVAL};
use crate::hv_err;
use crate::page_walk::*;

/// 16 MiB of guest RAM at GPA 0.
struct Ram(Vec<u8>);

impl GuestPhysMem for Ram {
    fn read_phys(&self, gpa: u64, buf: &mut [u8]) -> HvResult {
        let s = usize::try_from(gpa).map_err(|_| hv_err!(EINVAL))?;
        let src = self
            .0
            .get(s..s.checked_add(buf.len()).ok_or(hv_err!(EINVAL))?)
            .ok_or(hv_err!(EINVAL))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl Ram {
    fn new() -> Self {
        Self(vec![0; 16 << 20])
    }
    fn put64(&mut self, pa: u64, v: u64) {
        self.0[pa as usize..pa as usize + 8].copy_from_slice(&v.to_le_bytes());
    }
    fn put32(&mut self, pa: u64, v: u32) {
        self.0[pa as usize..pa as usize + 4].copy_from_slice(&v.to_le_bytes());
    }
}

const P: u64 = 1;
const RW: u64 = 2;
const US: u64 = 4;
const PS: u64 = 0x80;
const XD: u64 = 1 << 63;
const PG: u64 = 1 << 31;
const PE: u64 = 1;
const WP: u64 = 1 << 16;
const PAE: u64 = 1 << 5;
const PSE: u64 = 1 << 4;
const LA57: u64 = 1 << 12;
const SMEP: u64 = 1 << 20;
const LMA: u64 = 1 << 10;
const NXE: u64 = 1 << 11;

fn idx(la: u64, level: u32) -> u64 {
    (la >> (12 + 9 * (level - 1))) & 0x1ff
}

/// Long-mode tables at 0x1000 (PML4), 0x2000 (PDPT), 0x3000 (PD), 0x4000 (PT) mapping
/// `la` with leaf `leaf` at the level given (1 = 4K, 2 = 2M, 3 = 1G); upper entries get
/// `upper` flags.
fn long_mode(la: u64, level: u32, leaf: u64, upper: u64) -> (Ram, GuestPaging) {
    let mut m = Ram::new();
    m.put64(0x1000 + 8 * idx(la, 4), 0x2000 | upper);
    let tables = [0x2000u64, 0x3000, 0x4000];
    for (i, lvl) in (level..=3).rev().enumerate() {
        let t = tables[i];
        let e = if lvl == level {
            leaf
        } else {
            tables[i + 1] | upper
        };
        m.put64(t + 8 * idx(la, lvl), e);
    }
    if level == 1 {
        m.put64(0x4000 + 8 * idx(la, 1), leaf);
    }
    let p = GuestPaging {
        cr0: PG | PE | WP,
        cr3: 0x1000,
        cr4: PAE,
        efer: LMA | NXE | (1 << 8),
    };
    (m, p)
}

const LA: u64 = 0xffff_8000_4060_1abc;
const K: AccessKind = AccessKind::Read;

#[test]
fn long_mode_page_sizes() {
    let (m, p) = long_mode(LA, 1, 0x7_7000 | P | RW, P | RW);
    assert_eq!(translate(&m, &p, LA, K, false), Ok(0x7_7abc));
    let (m, p) = long_mode(LA, 2, 0x60_0000 | P | RW | PS, P | RW);
    assert_eq!(
        translate(&m, &p, LA, K, false),
        Ok(0x60_0000 | (LA & 0x1f_ffff))
    );
    let (m, p) = long_mode(LA, 3, 0x8000_0000 | P | RW | PS, P | RW);
    assert_eq!(
        translate(&m, &p, LA, K, false),
        Ok(0x8000_0000 | (LA & 0x3fff_ffff))
    );
    // Physical address bits above 51 and the XD bit are not address bits.
    let (m, p) = long_mode(LA, 1, XD | 0x7ff0_0000_0000_0000 | 0x7_7000 | P, P);
    assert_eq!(translate(&m, &p, LA, K, false), Ok(0x7_7abc));
}

#[test]
fn long_mode_five_levels() {
    let mut m = Ram::new();
    let la = 0x0100_0000_0000_0123u64; // PML5 index 2
    m.put64(0x5000 + 8 * ((la >> 48) & 0x1ff), 0x1000 | P);
    m.put64(0x1000 + 8 * idx(la, 4), 0x2000 | P);
    m.put64(0x2000 + 8 * idx(la, 3), 0x3000 | P);
    m.put64(0x3000 + 8 * idx(la, 2), 0x4000 | P);
    m.put64(0x4000 + 8 * idx(la, 1), 0x9000 | P);
    let p = GuestPaging {
        cr0: PG | PE,
        cr3: 0x5000,
        cr4: PAE | LA57,
        efer: LMA,
    };
    assert_eq!(translate(&m, &p, la, K, false), Ok(0x9123));
}

#[test]
fn not_present_codes() {
    for level in 1..=3 {
        let (m, p) = long_mode(LA, level, 0, P | RW | US);
        assert_eq!(
            translate(&m, &p, LA, AccessKind::Read, false),
            Err(WalkError::PageFault(0))
        );
        assert_eq!(
            translate(&m, &p, LA, AccessKind::Write, true),
            Err(WalkError::PageFault(pf::W | pf::U))
        );
        assert_eq!(
            translate(&m, &p, LA, AccessKind::Fetch, false),
            Err(WalkError::PageFault(pf::ID))
        );
    }
    // Not present at the top.
    let (m, p) = long_mode(LA, 1, 0x7000 | P, P);
    assert_eq!(
        translate(&m, &p, LA ^ (1 << 39), K, false),
        Err(WalkError::PageFault(0))
    );
}

#[test]
fn permissions() {
    // Supervisor page: user access faults (P|U), supervisor is fine.
    let (m, p) = long_mode(LA, 1, 0x7000 | P | RW, P | RW | US);
    assert!(translate(&m, &p, LA, K, false).is_ok());
    assert_eq!(
        translate(&m, &p, LA, K, true),
        Err(WalkError::PageFault(pf::P | pf::U))
    );
    // U/S clear in an upper level only: still a supervisor page.
    let (m, p) = long_mode(LA, 2, 0x20_0000 | P | RW | US | PS, P | RW);
    assert_eq!(
        translate(&m, &p, LA, K, true),
        Err(WalkError::PageFault(pf::P | pf::U))
    );
    // Read-only: user writes fault; supervisor writes fault only with CR0.WP.
    let (m, mut p) = long_mode(LA, 1, 0x7000 | P | US, P | RW | US);
    assert!(translate(&m, &p, LA, AccessKind::Read, true).is_ok());
    assert_eq!(
        translate(&m, &p, LA, AccessKind::Write, true),
        Err(WalkError::PageFault(pf::P | pf::W | pf::U))
    );
    assert_eq!(
        translate(&m, &p, LA, AccessKind::Write, false),
        Err(WalkError::PageFault(pf::P | pf::W))
    );
    p.cr0 &= !WP;
    assert!(translate(&m, &p, LA, AccessKind::Write, false).is_ok());
    // Read-only in an upper level.
    let (m, p) = long_mode(LA, 1, 0x7000 | P | RW | US, P | US);
    assert!(translate(&m, &p, LA, AccessKind::Write, true).is_err());
}

#[test]
fn execute_disable_smep_reserved() {
    // XD at any level with NXE: fetch faults with P|ID, reads are fine.
    let (m, mut p) = long_mode(LA, 1, 0x7000 | P | RW, P | RW | XD);
    assert!(translate(&m, &p, LA, AccessKind::Read, false).is_ok());
    assert_eq!(
        translate(&m, &p, LA, AccessKind::Fetch, false),
        Err(WalkError::PageFault(pf::P | pf::ID))
    );
    // XD without NXE is a reserved bit.
    p.efer &= !NXE;
    assert_eq!(
        translate(&m, &p, LA, AccessKind::Read, false),
        Err(WalkError::PageFault(pf::P | pf::RSVD))
    );
    // SMEP: a supervisor fetch from a user page.
    let (m, mut p) = long_mode(LA, 1, 0x7000 | P | US, P | US);
    assert!(translate(&m, &p, LA, AccessKind::Fetch, false).is_ok());
    p.cr4 |= SMEP;
    assert_eq!(
        translate(&m, &p, LA, AccessKind::Fetch, false),
        Err(WalkError::PageFault(pf::P | pf::ID))
    );
    assert!(translate(&m, &p, LA, AccessKind::Fetch, true).is_ok());
    // PS in a PML4 entry is reserved.
    let (mut m, p) = long_mode(LA, 1, 0x7000 | P, P);
    m.put64(0x1000 + 8 * idx(LA, 4), 0x2000 | P | PS);
    assert_eq!(
        translate(&m, &p, LA, K, false),
        Err(WalkError::PageFault(pf::P | pf::RSVD))
    );
}

#[test]
fn tables_outside_ram() {
    let (mut m, p) = long_mode(LA, 1, 0x7000 | P, P);
    m.put64(0x1000 + 8 * idx(LA, 4), 0x40_0000_0000 | P);
    assert_eq!(translate(&m, &p, LA, K, false), Err(WalkError::BadTable));
    let p2 = GuestPaging {
        cr3: 0xffff_f000_0000,
        ..p
    };
    assert_eq!(translate(&m, &p2, LA, K, false), Err(WalkError::BadTable));
}

#[test]
fn legacy_modes() {
    let mut m = Ram::new();
    // 32-bit paging: PD at 0x1000, PT at 0x2000.
    let la = 0xc040_3123u64;
    m.put32(0x1000 + 4 * (la >> 22), 0x2000 | 0x7);
    m.put32(0x2000 + 4 * ((la >> 12) & 0x3ff), 0x5000 | 0x3);
    let mut p = GuestPaging {
        cr0: PG | PE,
        cr3: 0x1000,
        ..Default::default()
    };
    assert_eq!(translate(&m, &p, la, K, false), Ok(0x5123));
    // A supervisor PTE under a user PDE: user access faults.
    assert_eq!(
        translate(&m, &p, la, K, true),
        Err(WalkError::PageFault(pf::P | pf::U))
    );
    // 4 MiB page with CR4.PSE, and PSE-36 high bits; without PSE the PS bit is ignored.
    let la4 = 0x8012_3456u64;
    m.put32(0x1000 + 4 * (la4 >> 22), 0x0040_0000 | (0x3 << 13) | 0x83);
    p.cr4 = PSE;
    assert_eq!(
        translate(&m, &p, la4, K, false),
        Ok(0x3_0040_0000 | 0x12_3456)
    );
    // PAE: PDPT at 0x3000 (32-byte aligned CR3), PD at 0x4000, PT at 0x6000.
    let la = 0x8060_1234u64;
    m.put64(0x3000 + 8 * (la >> 30), 0x4000 | P);
    m.put64(0x4000 + 8 * ((la >> 21) & 0x1ff), 0x6000 | P | RW);
    m.put64(0x6000 + 8 * ((la >> 12) & 0x1ff), 0x9000 | P | RW | XD);
    let mut p = GuestPaging {
        cr0: PG | PE,
        cr3: 0x3000,
        cr4: PAE,
        efer: NXE,
    };
    assert_eq!(translate(&m, &p, la, K, false), Ok(0x9234));
    assert!(translate(&m, &p, la, AccessKind::Fetch, false).is_err());
    // PAE 2 MiB page.
    m.put64(0x4000 + 8 * ((la >> 21) & 0x1ff), 0x20_0000 | P | PS);
    assert_eq!(
        translate(&m, &p, la, K, false),
        Ok(0x20_0000 | (la & 0x1f_ffff))
    );
    // PDPTE not present.
    p.cr3 = 0x3020;
    assert_eq!(
        translate(&m, &p, la, K, false),
        Err(WalkError::PageFault(0))
    );
    // Paging off: linear = physical (32 bits); real mode addressing.
    let off = GuestPaging::default();
    assert!(off.real_mode());
    assert_eq!(translate(&m, &off, 0x1_2345_6789, K, true), Ok(0x2345_6789));
    assert_eq!(real_mode_linear(0xf000, 0xfff0), 0xffff0);
    assert_eq!(real_mode_linear(0xffff, 0x1_0010), 0x10_0000);
}

#[test]
fn fetch_across_pages_and_decode() {
    // Two 4K pages: la 0x40_0000 -> 0x7000, la 0x40_1000 -> 0x9000 (initially absent).
    let la = 0x40_0000u64;
    let (mut m, p) = long_mode(la, 1, 0x7000 | P, P);
    // 48 8b 08 (mov rcx, [rax]) straddling the boundary: 48 8b | 08.
    m.0[0x7ffe] = 0x48;
    m.0[0x7fff] = 0x8b;
    m.0[0x9000] = 0x08;
    let mut buf = [0u8; 15];
    assert_eq!(fetch(&m, &p, la + 0xffe, false, &mut buf), Ok(2));
    let f = WalkFetch {
        mem: &m,
        paging: p,
        user: false,
    };
    assert!(decode_at(&f, la + 0xffe, 64).is_err());
    m.put64(0x4000 + 8 * idx(la + 0x1000, 1), 0x9000 | P);
    assert_eq!(fetch(&m, &p, la + 0xffe, false, &mut buf), Ok(15));
    assert_eq!(&buf[..3], &[0x48, 0x8b, 0x08]);
    let f = WalkFetch {
        mem: &m,
        paging: p,
        user: false,
    };
    let d = decode_at(&f, la + 0xffe, 64).unwrap();
    assert!(matches!(d.insn, MmioInsn::Load { .. }));
    assert_eq!((d.size, d.len), (8, 3));
    // First byte unmapped: the guest's #PF, not a decode.
    assert_eq!(
        fetch(&m, &p, 0x80_0000, false, &mut buf),
        Err(WalkError::PageFault(pf::ID))
    );
    // A user fetch from a supervisor page.
    assert_eq!(
        fetch(&m, &p, la, true, &mut buf),
        Err(WalkError::PageFault(pf::P | pf::U | pf::ID))
    );
}
