// SPDX-License-Identifier: GPL-2.0

//! Hiding the pCPUs reserved for User VMs from the Service VM.
//!
//! Linux enumerates CPUs from the ACPI MADT. Before the Service VM starts, the hypervisor
//! clears the `Enabled` and `Online Capable` flags of the Local APIC (type 0) and Local
//! x2APIC (type 9) entries of every pCPU the Service VM must not see, and fixes the table
//! checksum. Linux then counts those CPUs as disabled: not present, never brought up, no
//! `online` file in sysfs. The MADT lives in firmware-reserved RAM that the Service VM
//! maps, so the edit is made in place, once, at boot.
//!
//! (ACRN builds a whole virtual MADT for the Service VM instead; editing the firmware's
//! keeps every other entry — IOAPIC, interrupt overrides, NMI sources — exactly as the
//! firmware wrote it, which is what a passed-through platform needs.)

use crate::phys::PhysMem;

/// Where the RSDP may be: the BIOS read-only area.
const RSDP_SEARCH: (u64, u64) = (0xe_0000, 0x10_0000);
const MADT_HEADER: usize = 44;
/// Largest MADT handled (a few hundred CPUs).
pub const MAX_MADT: usize = 8192;

const LAPIC: u8 = 0;
const X2APIC: u8 = 9;
const ENABLED_FLAGS: u32 = 0b11;

fn checksum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |a, &x| a.wrapping_add(x))
}

/// Physical address of the RSDP, found by its signature and checksum.
pub fn find_rsdp(mem: &impl PhysMem) -> Option<u64> {
    let mut pa = RSDP_SEARCH.0;
    let mut b = [0u8; 20];
    while pa < RSDP_SEARCH.1 {
        if mem.read(pa, &mut b) && &b[..8] == b"RSD PTR " && checksum(&b) == 0 {
            return Some(pa);
        }
        pa += 16;
    }
    None
}

/// Physical address and length of the table with signature `sig`, through the XSDT if the
/// RSDP has one, else the RSDT.
pub fn find_table(mem: &impl PhysMem, rsdp: u64, sig: &[u8; 4]) -> Option<(u64, u32)> {
    let mut r = [0u8; 36];
    mem.read(rsdp, &mut r).then_some(())?;
    let (sdt, entry) = if r[15] >= 2 && u64::from_le_bytes(r[24..32].try_into().ok()?) != 0 {
        (u64::from_le_bytes(r[24..32].try_into().ok()?), 8)
    } else {
        (u64::from(u32::from_le_bytes(r[16..20].try_into().ok()?)), 4)
    };
    let len = mem.read_u32(sdt + 4)?;
    let count = u64::from(len.checked_sub(36)?) / entry;
    for i in 0..count {
        let at = sdt + 36 + i * entry;
        let t = if entry == 8 {
            mem.read_u64(at)?
        } else {
            u64::from(mem.read_u32(at)?)
        };
        let mut s = [0u8; 4];
        if mem.read(t, &mut s) && &s == sig {
            return Some((t, mem.read_u32(t + 4)?));
        }
    }
    None
}

/// Disables, in the MADT image `madt`, every processor entry whose APIC id fails `keep`,
/// and fixes the checksum. Returns the number of entries disabled.
pub fn disable_cpus(madt: &mut [u8], keep: impl Fn(u32) -> bool) -> usize {
    let mut n = 0;
    let mut off = MADT_HEADER;
    while off + 2 <= madt.len() {
        let (kind, len) = (madt[off], usize::from(madt[off + 1]));
        if len < 2 || off + len > madt.len() {
            break;
        }
        let (id, flags_at) = match (kind, len) {
            (LAPIC, 8..) => (u32::from(madt[off + 3]), off + 4),
            (X2APIC, 16..) => (
                u32::from_le_bytes([madt[off + 4], madt[off + 5], madt[off + 6], madt[off + 7]]),
                off + 8,
            ),
            _ => {
                off += len;
                continue;
            }
        };
        let flags = u32::from_le_bytes([
            madt[flags_at],
            madt[flags_at + 1],
            madt[flags_at + 2],
            madt[flags_at + 3],
        ]);
        if !keep(id) && flags & ENABLED_FLAGS != 0 {
            madt[flags_at..flags_at + 4].copy_from_slice(&(flags & !ENABLED_FLAGS).to_le_bytes());
            n += 1;
        }
        off += len;
    }
    if madt.len() > 9 {
        madt[9] = 0;
        madt[9] = 0u8.wrapping_sub(checksum(madt));
    }
    n
}

/// Why the MADT could not be edited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcpiError {
    /// No RSDP in the BIOS area.
    NoRsdp,
    /// No MADT ("APIC") table.
    NoMadt,
    /// The MADT is larger than [`MAX_MADT`] or could not be read/written.
    BadMadt,
}

/// Finds the MADT and disables the processors whose APIC id fails `keep` (see the module
/// doc). Returns the number of entries disabled.
pub fn hide_cpus(mem: &mut impl PhysMem, keep: impl Fn(u32) -> bool) -> Result<usize, AcpiError> {
    let rsdp = find_rsdp(mem).ok_or(AcpiError::NoRsdp)?;
    let (pa, len) = find_table(mem, rsdp, b"APIC").ok_or(AcpiError::NoMadt)?;
    let len = len as usize;
    if !(MADT_HEADER..=MAX_MADT).contains(&len) {
        return Err(AcpiError::BadMadt);
    }
    let mut buf = [0u8; MAX_MADT];
    let madt = &mut buf[..len];
    if !mem.read(pa, madt) {
        return Err(AcpiError::BadMadt);
    }
    let n = disable_cpus(madt, keep);
    if !mem.write(pa, madt) {
        return Err(AcpiError::BadMadt);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phys::FakePhys;

    fn table(sig: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut t = vec![0u8; 36];
        t[..4].copy_from_slice(sig);
        t.extend_from_slice(body);
        let len = t.len() as u32;
        t[4..8].copy_from_slice(&len.to_le_bytes());
        t[9] = 0u8.wrapping_sub(checksum(&t));
        t
    }

    /// A machine with RSDP v2 → XSDT → MADT (2 LAPICs, an IOAPIC, 1 x2APIC).
    fn machine() -> (FakePhys, u64) {
        let mut m = FakePhys(vec![0; 0x10_0000]);
        let mut body = vec![0u8; 8]; // LAPIC address, flags
        body.extend_from_slice(&[LAPIC, 8, 0, 0, 1, 0, 0, 0]);
        body.extend_from_slice(&[LAPIC, 8, 1, 1, 1, 0, 0, 0]);
        body.extend_from_slice(&[1, 12, 0, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0]);
        body.extend_from_slice(&[X2APIC, 16, 0, 0, 0x2, 0x1, 0, 0, 3, 0, 0, 0, 7, 0, 0, 0]);
        let madt = table(b"APIC", &body);
        let madt_pa = 0x8000u64;
        m.0[0x8000..0x8000 + madt.len()].copy_from_slice(&madt);
        let facp = table(b"FACP", &[0; 8]);
        m.0[0x7000..0x7000 + facp.len()].copy_from_slice(&facp);
        let mut ptrs = Vec::new();
        ptrs.extend_from_slice(&0x7000u64.to_le_bytes());
        ptrs.extend_from_slice(&madt_pa.to_le_bytes());
        let xsdt = table(b"XSDT", &ptrs);
        m.0[0x6000..0x6000 + xsdt.len()].copy_from_slice(&xsdt);
        let mut rsdp = vec![0u8; 36];
        rsdp[..8].copy_from_slice(b"RSD PTR ");
        rsdp[15] = 2;
        rsdp[24..32].copy_from_slice(&0x6000u64.to_le_bytes());
        rsdp[8] = 0u8.wrapping_sub(checksum(&rsdp[..20]));
        m.0[0xf_5a10..0xf_5a10 + 36].copy_from_slice(&rsdp);
        (m, madt_pa)
    }

    #[test]
    fn hides_all_but_cpu0() {
        let (mut m, madt_pa) = machine();
        assert_eq!(find_rsdp(&m), Some(0xf_5a10));
        assert_eq!(hide_cpus(&mut m, |id| id == 0), Ok(2));
        let len = m.read_u32(madt_pa + 4).unwrap() as usize;
        let madt = &m.0[madt_pa as usize..madt_pa as usize + len];
        assert_eq!(checksum(madt), 0);
        assert_eq!(madt[44 + 4], 1, "APIC 0 stays enabled");
        assert_eq!(madt[52 + 4], 0, "APIC 1 disabled");
        assert_eq!(madt[72 + 8], 0, "x2APIC 0x102 disabled");
        // Idempotent: nothing left to disable.
        assert_eq!(hide_cpus(&mut m, |id| id == 0), Ok(0));
    }

    #[test]
    fn missing_tables() {
        let mut m = FakePhys(vec![0; 0x10_0000]);
        assert_eq!(hide_cpus(&mut m, |_| true), Err(AcpiError::NoRsdp));
    }

    #[test]
    fn truncated_entries_stop_the_walk() {
        let mut madt = table(b"APIC", &[0, 0, 0, 0, 0, 0, 0, 0, LAPIC, 8, 0, 1, 1]);
        assert_eq!(disable_cpus(&mut madt, |_| false), 0);
        assert_eq!(checksum(&madt), 0);
    }
}
