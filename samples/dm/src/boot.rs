// SPDX-License-Identifier: GPL-2.0

//! The BSP's initial state: registers for `SET_VCPU_REGS` and the tables they point to, built
//! in guest RAM below the image (like acrn-dm's `sw_load` for a raw image, but for three
//! start modes).
//!
//! Layout (all below 64 KiB): GDT at [`GDT`] (null, 32-bit code 0x08, data 0x10, 64-bit code
//! 0x18); for long mode, page tables at [`PML4`], [`PDPT`], [`PD`] identity-mapping the first
//! GiB with 2 MiB pages (RAM and the MMIO the DM emulates above it); the stack grows down from
//! [`STACK_TOP`].

use acrn_uapi::acrn::Regs;

pub const GDT: u64 = 0x1000;
pub const PML4: u64 = 0x2000;
pub const PDPT: u64 = 0x3000;
pub const PD: u64 = 0x4000;
pub const STACK_TOP: u64 = 0x10000;
/// Lowest guest address an image may be loaded at (above the tables and stack).
pub const LOAD_MIN: u64 = STACK_TOP;

const GDT_ENTRIES: [u64; 4] = [
    0,
    0x00cf_9a00_0000_ffff, // 0x08: 32-bit code, flat
    0x00cf_9200_0000_ffff, // 0x10: data, flat
    0x00af_9a00_0000_ffff, // 0x18: 64-bit code
];

/// How the guest starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Real mode, CS = 0, IP = entry (entry below 64 KiB).
    Real,
    /// 32-bit protected mode, flat segments, paging off.
    Prot32,
    /// 64-bit long mode, first GiB identity-mapped.
    Long64,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "real" => Some(Self::Real),
            "prot32" => Some(Self::Prot32),
            "long64" => Some(Self::Long64),
            _ => None,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// RAM too small for the tables, or the image does not fit at its address.
    NoRoom,
    /// Real mode can only enter below 64 KiB.
    EntryOutOfReach,
}

fn put(ram: &mut [u8], gpa: u64, bytes: &[u8]) -> Result<(), Error> {
    let start = usize::try_from(gpa).map_err(|_| Error::NoRoom)?;
    let end = start.checked_add(bytes.len()).ok_or(Error::NoRoom)?;
    ram.get_mut(start..end)
        .ok_or(Error::NoRoom)?
        .copy_from_slice(bytes);
    Ok(())
}

/// Copies `image` to `load` in `ram`.
pub fn load(ram: &mut [u8], load: u64, image: &[u8]) -> Result<(), Error> {
    if load < LOAD_MIN {
        return Err(Error::NoRoom);
    }
    put(ram, load, image)
}

/// Writes the tables `mode` needs into `ram` and returns the registers.
pub fn setup(ram: &mut [u8], mode: Mode, entry: u64) -> Result<Regs, Error> {
    let mut r = Regs {
        rip: entry,
        rflags: 0x2,
        ..Default::default()
    };
    r.gprs.rsp = STACK_TOP;
    if mode == Mode::Real {
        if entry > 0xffff {
            return Err(Error::EntryOutOfReach);
        }
        r.cs_ar = 0x9b;
        r.cs_limit = 0xffff;
        r.cr0 = 0x10; // ET
        r.gdt.limit = 0xffff;
        r.idt.limit = 0x3ff; // the real-mode IVT at 0
        return Ok(r);
    }
    let gdt: Vec<u8> = GDT_ENTRIES.iter().flat_map(|e| e.to_le_bytes()).collect();
    put(ram, GDT, &gdt)?;
    r.gdt.base = GDT;
    r.gdt.limit = (gdt.len() - 1) as u16;
    r.ss_sel = 0x10;
    r.ds_sel = 0x10;
    r.es_sel = 0x10;
    r.fs_sel = 0x10;
    r.gs_sel = 0x10;
    r.cs_limit = 0xffff_ffff;
    if mode == Mode::Prot32 {
        r.cs_sel = 0x08;
        r.cs_ar = 0xc09b;
        r.cr0 = 0x11; // PE | ET
        return Ok(r);
    }
    put(ram, PML4, &(PDPT | 3).to_le_bytes())?;
    put(ram, PDPT, &(PD | 3).to_le_bytes())?;
    let pd: Vec<u8> = (0..512u64)
        .flat_map(|i| ((i << 21) | 0x83).to_le_bytes()) // present, writable, 2 MiB
        .collect();
    put(ram, PD, &pd)?;
    r.cs_sel = 0x18;
    r.cs_ar = 0xa09b;
    r.cr0 = 0x8000_0011; // PG | PE | ET
    r.cr3 = PML4;
    r.cr4 = 0x20; // PAE
    r.ia32_efer = 0x100; // LME (the hypervisor sets LMA with PG)
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u64_at(ram: &[u8], gpa: u64) -> u64 {
        let i = gpa as usize;
        u64::from_le_bytes(ram[i..i + 8].try_into().unwrap())
    }

    #[test]
    fn long_mode_maps_the_first_gib() {
        let mut ram = vec![0u8; 0x20000];
        let r = setup(&mut ram, Mode::Long64, 0x10000).unwrap();
        assert_eq!((r.cr3, r.cs_sel, r.rip), (PML4, 0x18, 0x10000));
        assert_eq!(u64_at(&ram, PML4), PDPT | 3);
        assert_eq!(u64_at(&ram, PDPT), PD | 3);
        assert_eq!(u64_at(&ram, PD), 0x83);
        assert_eq!(u64_at(&ram, PD + 8 * 511), (511 << 21) | 0x83);
        assert_eq!(u64_at(&ram, GDT + 0x18), GDT_ENTRIES[3]);
        assert_eq!({ r.gdt.limit }, 31);
    }

    #[test]
    fn prot32_and_real_mode() {
        let mut ram = vec![0u8; 0x20000];
        let r = setup(&mut ram, Mode::Prot32, 0x10000).unwrap();
        assert_eq!((r.cr0, r.cs_sel, r.ds_sel), (0x11, 0x08, 0x10));
        let r = setup(&mut ram, Mode::Real, 0x7c00).unwrap();
        assert_eq!((r.cr0, r.cs_sel, r.rip), (0x10, 0, 0x7c00));
        assert_eq!(
            setup(&mut ram, Mode::Real, 0x10000),
            Err(Error::EntryOutOfReach)
        );
    }

    #[test]
    fn images_must_fit_above_the_tables() {
        let mut ram = vec![0u8; 0x20000];
        assert_eq!(load(&mut ram, 0x8000, b"x"), Err(Error::NoRoom));
        assert_eq!(load(&mut ram, 0x1ffff, b"xy"), Err(Error::NoRoom));
        assert_eq!(load(&mut ram, 0x10000, b"xy"), Ok(()));
        assert_eq!(&ram[0x10000..0x10002], b"xy");
        // Long mode needs its tables in RAM.
        assert_eq!(
            setup(&mut [0u8; 0x3000], Mode::Long64, 0),
            Err(Error::NoRoom)
        );
    }
}
