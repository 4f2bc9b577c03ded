// SPDX-License-Identifier: GPL-2.0

//! Guest linear → guest physical translation through the guest's own page tables (ACRN
//! `gva2gpa` / `local_gva2gpa_common`, `arch/x86/guest/guest_memory.c`), for fetching the
//! instruction that faulted on an MMIO address.
//!
//! Modes: paging off (real mode's `segment << 4 + offset` is [`real_mode_linear`]),
//! 32-bit paging (4 KiB and, with CR4.PSE, 4 MiB pages), PAE (4 KiB, 2 MiB), long mode with
//! 4- or 5-level tables (4 KiB, 2 MiB, 1 GiB). Checks: present, writable (user accesses, or
//! supervisor ones with CR0.WP), user (U/S at every level), execute-disable (EFER.NXE),
//! SMEP, and reserved bits (XD without NXE, PS in a PML4/PML5 entry). Failures are the
//! `#PF` error code the guest should see. Tables are read through [`GuestPhysMem`] (the
//! VM's memory map, never the hypervisor's); accessed/dirty bits are not set, as ACRN.

use crate::error::HvResult;

/// Guest physical memory of one VM, read-only (the hypervisor translates through the
/// VM's nested page table; tests use a buffer).
pub trait GuestPhysMem {
    /// Copies `buf.len()` bytes at guest physical `gpa`; fails if any byte is not guest
    /// RAM.
    fn read_phys(&self, gpa: u64, buf: &mut [u8]) -> HvResult;
}

const CR0_PE: u64 = 1 << 0;
const CR0_WP: u64 = 1 << 16;
const CR0_PG: u64 = 1 << 31;
const CR4_PSE: u64 = 1 << 4;
const CR4_PAE: u64 = 1 << 5;
const CR4_LA57: u64 = 1 << 12;
const CR4_SMEP: u64 = 1 << 20;
const EFER_LMA: u64 = 1 << 10;
const EFER_NXE: u64 = 1 << 11;

const P: u64 = 1 << 0;
const RW: u64 = 1 << 1;
const US: u64 = 1 << 2;
const PS: u64 = 1 << 7;
const XD: u64 = 1 << 63;
const ADDR: u64 = 0x000f_ffff_ffff_f000;

/// `#PF` error code bits.
pub mod pf {
    /// The page was present (protection violation).
    pub const P: u32 = 1 << 0;
    /// Write access.
    pub const W: u32 = 1 << 1;
    /// User-mode access.
    pub const U: u32 = 1 << 2;
    /// Reserved bit set in a paging entry.
    pub const RSVD: u32 = 1 << 3;
    /// Instruction fetch.
    pub const ID: u32 = 1 << 4;
}

/// The guest's paging registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestPaging {
    /// CR0.
    pub cr0: u64,
    /// CR3.
    pub cr3: u64,
    /// CR4.
    pub cr4: u64,
    /// EFER.
    pub efer: u64,
}

impl GuestPaging {
    /// Whether the guest is in real mode (CR0.PE clear).
    pub fn real_mode(&self) -> bool {
        self.cr0 & CR0_PE == 0
    }
}

/// What the access is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessKind {
    /// Data read.
    Read,
    /// Data write.
    Write,
    /// Instruction fetch.
    Fetch,
}

/// A failed translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError {
    /// The guest takes a `#PF` with this error code (CR2 = the linear address).
    PageFault(u32),
    /// A paging structure lies outside guest RAM (ACRN: -EFAULT).
    BadTable,
}

/// Real mode's linear address: `segment << 4` plus the 16-bit offset.
pub fn real_mode_linear(segment: u16, offset: u64) -> u64 {
    (u64::from(segment) << 4) + (offset & 0xffff)
}

struct Walk {
    kind: AccessKind,
    user: bool,
    wp: bool,
    nxe: bool,
    smep: bool,
    /// AND of RW, US over the levels; OR of XD.
    rw: bool,
    us: bool,
    xd: bool,
}

impl Walk {
    fn code(&self, present: bool) -> u32 {
        let mut c = 0;
        if present {
            c |= pf::P;
        }
        if self.kind == AccessKind::Write {
            c |= pf::W;
        }
        if self.user {
            c |= pf::U;
        }
        if self.kind == AccessKind::Fetch && (self.nxe || self.smep) {
            c |= pf::ID;
        }
        c
    }

    fn entry(&mut self, e: u64, long: bool) -> Result<(), WalkError> {
        if e & P == 0 {
            return Err(WalkError::PageFault(self.code(false)));
        }
        if long && e & XD != 0 && !self.nxe {
            return Err(WalkError::PageFault(self.code(true) | pf::RSVD));
        }
        self.rw &= e & RW != 0;
        self.us &= e & US != 0;
        self.xd |= long && e & XD != 0;
        Ok(())
    }

    fn check(&self) -> Result<(), WalkError> {
        let denied = match self.kind {
            AccessKind::Read => self.user && !self.us,
            AccessKind::Write => (self.user && !self.us) || ((self.user || self.wp) && !self.rw),
            AccessKind::Fetch => {
                (self.user && !self.us) || self.xd || (!self.user && self.smep && self.us)
            }
        };
        if denied {
            Err(WalkError::PageFault(self.code(true)))
        } else {
            Ok(())
        }
    }
}

fn read_u64<M: GuestPhysMem + ?Sized>(mem: &M, gpa: u64) -> Result<u64, WalkError> {
    let mut b = [0u8; 8];
    mem.read_phys(gpa, &mut b)
        .map_err(|_| WalkError::BadTable)?;
    Ok(u64::from_le_bytes(b))
}

fn read_u32<M: GuestPhysMem + ?Sized>(mem: &M, gpa: u64) -> Result<u64, WalkError> {
    let mut b = [0u8; 4];
    mem.read_phys(gpa, &mut b)
        .map_err(|_| WalkError::BadTable)?;
    Ok(u64::from(u32::from_le_bytes(b)))
}

/// Translates guest linear `la` for an access of `kind` at `user` privilege (CPL 3).
pub fn translate<M: GuestPhysMem + ?Sized>(
    mem: &M,
    p: &GuestPaging,
    la: u64,
    kind: AccessKind,
    user: bool,
) -> Result<u64, WalkError> {
    if p.cr0 & CR0_PG == 0 {
        return Ok(la & 0xffff_ffff);
    }
    let long = p.efer & EFER_LMA != 0;
    let pae = p.cr4 & CR4_PAE != 0;
    let mut w = Walk {
        kind,
        user,
        wp: p.cr0 & CR0_WP != 0,
        nxe: (long || pae) && p.efer & EFER_NXE != 0,
        smep: p.cr4 & CR4_SMEP != 0,
        rw: true,
        us: true,
        xd: false,
    };
    if long || pae {
        let (levels, mut table, la) = if long {
            let levels = if p.cr4 & CR4_LA57 != 0 { 5 } else { 4 };
            (levels, p.cr3 & ADDR, la)
        } else {
            // PAE: the PDPTE is picked by bits 31:30; PDPTEs have no RW/US/XD bits.
            let la = la & 0xffff_ffff;
            let pdpte = read_u64(mem, (p.cr3 & 0xffff_ffe0) + 8 * (la >> 30))?;
            if pdpte & P == 0 {
                return Err(WalkError::PageFault(w.code(false)));
            }
            (2, pdpte & ADDR, la)
        };
        for level in (1..=levels).rev() {
            let shift = 12 + 9 * (level - 1);
            let e = read_u64(mem, table + 8 * ((la >> shift) & 0x1ff))?;
            w.entry(e, true)?;
            if level >= 4 && e & PS != 0 {
                return Err(WalkError::PageFault(w.code(true) | pf::RSVD));
            }
            if level == 1 || (level <= 3 && e & PS != 0) {
                w.check()?;
                let size = 1u64 << shift;
                return Ok((e & ADDR & !(size - 1)) | (la & (size - 1)));
            }
            table = e & ADDR;
        }
        return Err(WalkError::BadTable);
    }
    // 32-bit paging.
    let la = la & 0xffff_ffff;
    let pde = read_u32(mem, (p.cr3 & 0xffff_f000) + 4 * (la >> 22))?;
    w.entry(pde, false)?;
    if p.cr4 & CR4_PSE != 0 && pde & PS != 0 {
        w.check()?;
        // PSE-36: bits 20:13 are physical address bits 39:32.
        let hi = ((pde >> 13) & 0xff) << 32;
        return Ok(hi | (pde & 0xffc0_0000) | (la & 0x3f_ffff));
    }
    let pte = read_u32(mem, (pde & 0xffff_f000) + 4 * ((la >> 12) & 0x3ff))?;
    w.entry(pte, false)?;
    w.check()?;
    Ok((pte & 0xffff_f000) | (la & 0xfff))
}

/// Reads up to `buf.len()` instruction bytes at guest linear `la`, page by page. Returns
/// how many bytes were read: fewer than asked when a later page is not mapped (the
/// instruction may well end before it); an error only if the first byte is unreachable.
pub fn fetch<M: GuestPhysMem + ?Sized>(
    mem: &M,
    p: &GuestPaging,
    la: u64,
    user: bool,
    buf: &mut [u8],
) -> Result<usize, WalkError> {
    let mut done = 0;
    while done < buf.len() {
        let cur = la.wrapping_add(done as u64);
        let gpa = match translate(mem, p, cur, AccessKind::Fetch, user) {
            Ok(gpa) => gpa,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let in_page = (0x1000 - (cur & 0xfff)) as usize;
        let n = in_page.min(buf.len() - done);
        match mem.read_phys(gpa, &mut buf[done..done + n]) {
            Ok(()) => done += n,
            Err(_) if done == 0 => return Err(WalkError::BadTable),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// [`InsnFetch`](crate::decode::InsnFetch) through the guest's page tables: what the
/// MMIO path uses to read the faulting instruction.
pub struct WalkFetch<'a, M: GuestPhysMem + ?Sized> {
    /// The VM's memory.
    pub mem: &'a M,
    /// The vCPU's paging registers.
    pub paging: GuestPaging,
    /// CPL 3.
    pub user: bool,
}

impl<M: GuestPhysMem + ?Sized> crate::decode::InsnFetch for WalkFetch<'_, M> {
    fn fetch(&self, la: u64, buf: &mut [u8; crate::decode::MAX_INSN_LEN]) -> Option<usize> {
        fetch(self.mem, &self.paging, la, self.user, buf)
            .ok()
            .filter(|&n| n > 0)
    }
}
