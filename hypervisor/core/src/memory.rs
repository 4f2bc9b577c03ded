// SPDX-License-Identifier: GPL-2.0

//! Memory regions: the Service VM's physical map and each User VM's mapped regions.
//!
//! ```text
//!  host physical / Service VM physical (identity, ACRN prepare_service_vm_memmap)
//!  0 ─────────────────────────────────────────────────────────────── top = max(4 GiB, e820 end)
//!  │ RAM (WB) │ MMIO/reserved (UC) │ RAM │▓ hypervisor ▓│ RAM │ MMIO … │
//!                                        └ not mapped: never reachable by any guest
//!  User VM n: RegionSet, sorted by User VM GPA, each {gpa, hpa = Service VM GPA, size, attr}
//! ```
//!
//! The rules for `HC_VM_SET_MEMORY_REGIONS` come from ACRN `set_vm_memory_region` and
//! `add_vm_memory_region` (`common/hypercall.c`) and `ept_is_valid_mr` (`arch/x86/guest/ept.c`):
//! the size must be page aligned (-EINVAL); `MR_ADD` needs the Service VM range to be mapped
//! in the Service VM; any other type deletes, and needs the User VM range to be mapped in
//! the target VM (-EINVAL otherwise). ACRN's `MR_MODIFY` is handled by that `else` branch,
//! i.e. it deletes; we keep that. `prot` is turned into access rights plus one memory
//! type, WB > WT > WC > WP > UC, as `add_vm_memory_region` does.
//!
//! Stricter than ACRN (documented deviations, all -EINVAL):
//! * both addresses must be page aligned, and `gpa + size` / `service_vm_gpa + size` must
//!   not overflow (ACRN's `ept_is_valid_mr` loop silently accepts a wrapping range);
//! * `MR_ADD` needs Service VM **RAM**; non-RAM (MMIO) that the Service VM maps is allowed
//!   only with memory type UC, which is what HSM sends for `ACRN_MEMMAP_MMIO`;
//! * a new region may not overlap a region of the same VM (ACRN logs "already present"
//!   and keeps the old mapping) nor the Service VM range of **another User VM's** region.
//!
//! Region sets are fixed-capacity sorted arrays (RVM1.5's `MemorySet` idea without a
//! `BTreeMap`): the hypervisor has no heap.

use crate::error::{HvResult, EINVAL, ENOMEM};
use crate::hv_err;
use acrn_uapi::hv;

/// Size of a small page.
pub const PAGE_SIZE: u64 = 0x1000;
/// Size of a 2 MiB page.
pub const SIZE_2M: u64 = 0x20_0000;
/// Size of a 1 GiB page.
pub const SIZE_1G: u64 = 0x4000_0000;
/// 4 GiB: the Service VM map always covers at least `[0, 4 GiB)` (ACRN
/// `prepare_service_vm_memmap`).
pub const SIZE_4G: u64 = 0x1_0000_0000;
/// First guest physical address a 4-level nested page table cannot map.
pub const GPA_LIMIT: u64 = 1 << 48;

/// Whether `v` is a multiple of `align` (a power of two).
pub const fn is_aligned(v: u64, align: u64) -> bool {
    v & (align - 1) == 0
}

/// `e820` type of usable RAM.
pub const E820_TYPE_RAM: u32 = 1;

/// One firmware memory-map entry (`struct e820_entry` of the Linux boot protocol).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct E820Entry {
    /// Start address.
    pub addr: u64,
    /// Length in bytes.
    pub size: u64,
    /// `E820_TYPE_*` (1 = RAM).
    pub kind: u32,
}

/// A caching type for a nested mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemType {
    /// Uncacheable.
    Uc,
    /// Write-combining.
    Wc,
    /// Write-through.
    Wt,
    /// Write-protected.
    Wp,
    /// Write-back.
    Wb,
}

/// Access rights and caching type of a nested mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemAttr {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
    /// Memory type.
    pub mem_type: MemType,
}

impl MemAttr {
    /// Read, write, execute, write-back: Service VM RAM.
    pub const RWX_WB: Self = Self::rwx(MemType::Wb);
    /// Read, write, execute, uncached: Service VM MMIO and reserved ranges.
    pub const RWX_UC: Self = Self::rwx(MemType::Uc);

    /// All access rights with memory type `mem_type`.
    pub const fn rwx(mem_type: MemType) -> Self {
        Self {
            read: true,
            write: true,
            exec: true,
            mem_type,
        }
    }

    /// Decodes `vm_memory_region.prot` like ACRN `add_vm_memory_region`: access bits as
    /// given; the first of WB, WT, WC, WP that is set wins, else UC.
    pub const fn from_prot(prot: u32) -> Self {
        let mem_type = if prot & hv::MEM_TYPE_WB != 0 {
            MemType::Wb
        } else if prot & hv::MEM_TYPE_WT != 0 {
            MemType::Wt
        } else if prot & hv::MEM_TYPE_WC != 0 {
            MemType::Wc
        } else if prot & hv::MEM_TYPE_WP != 0 {
            MemType::Wp
        } else {
            MemType::Uc
        };
        Self {
            read: prot & hv::MEM_ACCESS_READ != 0,
            write: prot & hv::MEM_ACCESS_WRITE != 0,
            exec: prot & hv::MEM_ACCESS_EXEC != 0,
            mem_type,
        }
    }

    /// Whether any access is allowed (a mapping without rights is "not present").
    pub const fn any_access(&self) -> bool {
        self.read || self.write || self.exec
    }
}

/// What a piece of the Service VM's physical space is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// e820 RAM, mapped write-back.
    Ram,
    /// Anything else below `top` (MMIO, ACPI, reserved), mapped uncached.
    Other,
}

/// A piece `[start, end)` of the Service VM's identity map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// RAM or not.
    pub kind: MapKind,
}

/// Most pieces the Service VM map may have (Linux's zero page holds 128 e820 entries; each
/// RAM entry can add a RAM and a non-RAM piece, holes add a few more).
pub const MAX_MAP_RANGES: usize = 272;
/// Most ranges withheld from the Service VM (hypervisor memory plus other owners).
pub const MAX_RESERVED: usize = 8;

/// The Service VM's physical map: an identity map of `[0, top)` minus hypervisor memory
/// and other withheld ranges (ACRN `prepare_service_vm_memmap`).
#[derive(Clone, Debug)]
pub struct ServiceVmMemory {
    ranges: [MapRange; MAX_MAP_RANGES],
    len: usize,
    top: u64,
    hv: (u64, u64),
}

const EMPTY_RANGE: MapRange = MapRange {
    start: 0,
    end: 0,
    kind: MapKind::Other,
};

impl ServiceVmMemory {
    /// An empty map (nothing mapped), to place in a `static` before [`new`](Self::new)'s
    /// result is known.
    pub const fn empty() -> Self {
        Self {
            ranges: [EMPTY_RANGE; MAX_MAP_RANGES],
            len: 0,
            top: 0,
            hv: (0, 0),
        }
    }

    /// Builds the map from the firmware `e820` and the hypervisor's own memory
    /// `[hv_base, hv_base + hv_size)`, which must include everything the hypervisor owns
    /// (image, stacks, the frame pool of the nested page tables). `withheld` lists further
    /// ranges the Service VM must not reach (e.g. memory of other owners). RAM entries are
    /// shrunk to whole pages; withheld ranges are widened to whole pages.
    pub fn new(
        e820: &[E820Entry],
        hv_base: u64,
        hv_size: u64,
        withheld: &[(u64, u64)],
    ) -> HvResult<Self> {
        let hv_end = hv_base.checked_add(hv_size).ok_or(hv_err!(EINVAL))?;
        let mut top = SIZE_4G;
        for e in e820 {
            let end = e.addr.checked_add(e.size).ok_or(hv_err!(EINVAL))?;
            top = top.max(end);
        }
        top = align_up(top, PAGE_SIZE)
            .ok_or(hv_err!(EINVAL))?
            .min(GPA_LIMIT);

        // Holes: hypervisor memory plus withheld ranges, page-widened, sorted.
        let mut holes = [(0u64, 0u64); MAX_RESERVED + 1];
        let mut nholes = 0;
        for &(base, size) in core::iter::once(&(hv_base, hv_size)).chain(withheld) {
            if size == 0 {
                continue;
            }
            let end = base.checked_add(size).ok_or(hv_err!(EINVAL))?;
            if nholes == holes.len() {
                return Err(hv_err!(ENOMEM));
            }
            holes[nholes] = (
                base & !(PAGE_SIZE - 1),
                align_up(end, PAGE_SIZE).ok_or(hv_err!(EINVAL))?,
            );
            nholes += 1;
        }
        holes[..nholes].sort_unstable();

        // RAM pieces: page-shrunk e820 RAM, sorted and merged.
        let mut ram = [(0u64, 0u64); MAX_MAP_RANGES];
        let mut nram = 0;
        for e in e820.iter().filter(|e| e.kind == E820_TYPE_RAM) {
            let start = match align_up(e.addr, PAGE_SIZE) {
                Some(s) => s,
                None => continue,
            };
            let end = (e.addr + e.size) & !(PAGE_SIZE - 1);
            if start >= end || start >= top {
                continue;
            }
            if nram == ram.len() {
                return Err(hv_err!(ENOMEM));
            }
            ram[nram] = (start, end.min(top));
            nram += 1;
        }
        ram[..nram].sort_unstable();
        let mut merged = 0;
        for i in 0..nram {
            if merged > 0 && ram[i].0 <= ram[merged - 1].1 {
                ram[merged - 1].1 = ram[merged - 1].1.max(ram[i].1);
            } else {
                ram[merged] = ram[i];
                merged += 1;
            }
        }

        let mut map = Self {
            ranges: [EMPTY_RANGE; MAX_MAP_RANGES],
            len: 0,
            top,
            hv: (hv_base, hv_end),
        };
        // Walk [0, top) in RAM / non-RAM pieces, then cut the holes out of each.
        let mut pos = 0;
        for &(s, e) in ram[..merged].iter().chain(core::iter::once(&(top, top))) {
            if pos < s {
                map.push_minus_holes(pos, s, MapKind::Other, &holes[..nholes])?;
            }
            if s < e {
                map.push_minus_holes(s, e, MapKind::Ram, &holes[..nholes])?;
            }
            pos = pos.max(e);
        }
        Ok(map)
    }

    fn push_minus_holes(
        &mut self,
        start: u64,
        end: u64,
        kind: MapKind,
        holes: &[(u64, u64)],
    ) -> HvResult {
        let mut pos = start;
        for &(hs, he) in holes {
            if he <= pos || hs >= end {
                continue;
            }
            if pos < hs {
                self.push(pos, hs, kind)?;
            }
            pos = pos.max(he);
        }
        if pos < end {
            self.push(pos, end, kind)?;
        }
        Ok(())
    }

    fn push(&mut self, start: u64, end: u64, kind: MapKind) -> HvResult {
        if self.len == MAX_MAP_RANGES {
            return Err(hv_err!(ENOMEM));
        }
        self.ranges[self.len] = MapRange { start, end, kind };
        self.len += 1;
        Ok(())
    }

    /// The identity-mapped pieces, sorted and disjoint.
    pub fn ranges(&self) -> &[MapRange] {
        &self.ranges[..self.len]
    }

    /// End of the Service VM's physical space.
    pub fn top(&self) -> u64 {
        self.top
    }

    /// The hypervisor's memory `[start, end)` as given to [`new`](Self::new).
    pub fn hypervisor_range(&self) -> (u64, u64) {
        self.hv
    }

    /// Whether `[start, start + size)` lies entirely in mapped pieces, all of `kind` if
    /// given. `size == 0` is covered; an overflowing range is not.
    fn covers(&self, start: u64, size: u64, kind: Option<MapKind>) -> bool {
        let Some(end) = start.checked_add(size) else {
            return false;
        };
        if size == 0 {
            return true;
        }
        let ranges = self.ranges();
        // First piece whose end is above `start`.
        let mut i = ranges.partition_point(|r| r.end <= start);
        let mut pos = start;
        while pos < end {
            match ranges.get(i) {
                Some(r) if r.start <= pos && kind.is_none_or(|k| k == r.kind) => {
                    pos = r.end;
                    i += 1;
                }
                _ => return false,
            }
        }
        true
    }

    /// Whether the whole range is Service VM RAM.
    pub fn is_ram(&self, start: u64, size: u64) -> bool {
        self.covers(start, size, Some(MapKind::Ram))
    }

    /// Whether the whole range is mapped into the Service VM (RAM or not); ACRN's
    /// `ept_is_valid_mr(service_vm, …)`.
    pub fn is_mapped(&self, start: u64, size: u64) -> bool {
        self.covers(start, size, None)
    }

    /// Whether the whole range is mapped non-RAM (MMIO, reserved).
    pub fn is_other(&self, start: u64, size: u64) -> bool {
        self.covers(start, size, Some(MapKind::Other))
    }

    /// The check a [`GuestMemory`](crate::guest_mem::GuestMemory) implementation makes
    /// before copying a hypercall argument: `len` bytes at `gpa` must be Service VM RAM
    /// and must not wrap. Fails with -EINVAL, as ACRN `copy_gpa` does.
    pub fn check_access(&self, gpa: u64, len: u64) -> HvResult {
        if gpa.checked_add(len).is_some() && self.is_ram(gpa, len) {
            Ok(())
        } else {
            Err(hv_err!(EINVAL))
        }
    }
}

/// `v` rounded up to `align` (a power of two), or `None` on overflow.
pub const fn align_up(v: u64, align: u64) -> Option<u64> {
    match v.checked_add(align - 1) {
        Some(x) => Some(x & !(align - 1)),
        None => None,
    }
}

/// One mapping of a User VM: `[gpa, gpa + size)` → `[hpa, hpa + size)` (`hpa` is the
/// Service VM physical address, which is the host physical address under the identity map).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// User VM physical start.
    pub gpa: u64,
    /// Host (= Service VM) physical start.
    pub hpa: u64,
    /// Size in bytes (a multiple of [`PAGE_SIZE`]).
    pub size: u64,
    /// Rights and memory type.
    pub attr: MemAttr,
}

impl Region {
    const EMPTY: Self = Self {
        gpa: 0,
        hpa: 0,
        size: 0,
        attr: MemAttr::RWX_UC,
    };

    /// One past the last User VM physical byte.
    pub const fn gpa_end(&self) -> u64 {
        self.gpa + self.size
    }

    /// One past the last host physical byte.
    pub const fn hpa_end(&self) -> u64 {
        self.hpa + self.size
    }
}

/// Whether `[a, a + alen)` and `[b, b + blen)` intersect (ends must not overflow).
const fn overlaps(a: u64, alen: u64, b: u64, blen: u64) -> bool {
    alen != 0 && blen != 0 && a < b + blen && b < a + alen
}

/// A decoded, validated `vm_memory_region` operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionOp {
    /// Map a new region.
    Add(Region),
    /// Unmap `[gpa, gpa + size)` of the target VM.
    Del {
        /// User VM physical start.
        gpa: u64,
        /// Size in bytes.
        size: u64,
    },
}

impl RegionOp {
    /// Validates one `vm_memory_region` against the Service VM map (see the module doc for
    /// the rules). Overlap with existing regions is checked by [`RegionSet`] and the VM
    /// table, which see all VMs.
    pub fn decode(mr: &hv::VmMemoryRegion, svc_mem: &ServiceVmMemory) -> HvResult<Self> {
        // ACRN set_vm_memory_region: size must be page aligned.
        if !is_aligned(mr.size, PAGE_SIZE) || !is_aligned(mr.gpa, PAGE_SIZE) {
            return Err(hv_err!(EINVAL));
        }
        match mr.gpa.checked_add(mr.size) {
            Some(end) if end <= GPA_LIMIT => {}
            _ => return Err(hv_err!(EINVAL)),
        }
        if mr.r#type != hv::MR_ADD {
            // ACRN set_vm_memory_region: every non-ADD type (MR_DEL, MR_MODIFY, …) deletes.
            return Ok(Self::Del {
                gpa: mr.gpa,
                size: mr.size,
            });
        }
        if !is_aligned(mr.service_vm_gpa, PAGE_SIZE)
            || mr.service_vm_gpa.checked_add(mr.size).is_none()
        {
            return Err(hv_err!(EINVAL));
        }
        let attr = MemAttr::from_prot(mr.prot);
        // ACRN: ept_is_valid_mr(service_vm, service_vm_gpa, size). Hypervisor memory is not
        // mapped, so it fails both tests below.
        let ok = svc_mem.is_ram(mr.service_vm_gpa, mr.size)
            || (attr.mem_type == MemType::Uc && svc_mem.is_other(mr.service_vm_gpa, mr.size));
        if !ok {
            return Err(hv_err!(EINVAL));
        }
        Ok(Self::Add(Region {
            gpa: mr.gpa,
            hpa: mr.service_vm_gpa,
            size: mr.size,
            attr,
        }))
    }
}

/// A User VM's mapped regions, sorted by `gpa`, disjoint, at most `N`.
///
/// Adjacent regions that continue each other (in `gpa` and `hpa`, same attributes) are
/// merged on insertion, so HSM's page-by-page batches of contiguous memory take one slot.
#[derive(Clone, Debug)]
pub struct RegionSet<const N: usize> {
    regions: [Region; N],
    len: usize,
}

impl<const N: usize> Default for RegionSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> RegionSet<N> {
    /// An empty set.
    pub const fn new() -> Self {
        Self {
            regions: [Region::EMPTY; N],
            len: 0,
        }
    }

    /// The regions, sorted by `gpa`.
    pub fn as_slice(&self) -> &[Region] {
        &self.regions[..self.len]
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets all regions.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Index of the first region ending above `gpa`.
    fn first_after(&self, gpa: u64) -> usize {
        self.as_slice().partition_point(|r| r.gpa_end() <= gpa)
    }

    /// Whether any region intersects User VM range `[gpa, gpa + size)`.
    pub fn overlaps_gpa(&self, gpa: u64, size: u64) -> bool {
        let i = self.first_after(gpa);
        self.as_slice()
            .get(i)
            .is_some_and(|r| overlaps(r.gpa, r.size, gpa, size))
    }

    /// Whether any region maps host range `[hpa, hpa + size)`.
    pub fn overlaps_hpa(&self, hpa: u64, size: u64) -> bool {
        self.as_slice()
            .iter()
            .any(|r| overlaps(r.hpa, r.size, hpa, size))
    }

    /// Whether `[gpa, gpa + size)` is entirely mapped (ACRN `ept_is_valid_mr(target_vm, …)`);
    /// `size == 0` is.
    pub fn covers(&self, gpa: u64, size: u64) -> bool {
        let Some(end) = gpa.checked_add(size) else {
            return false;
        };
        let mut pos = gpa;
        let mut i = self.first_after(gpa);
        while pos < end {
            match self.as_slice().get(i) {
                Some(r) if r.gpa <= pos => {
                    pos = r.gpa_end();
                    i += 1;
                }
                _ => return false,
            }
        }
        true
    }

    /// Checks that `r` could be inserted: no overlap (-EINVAL), room left (-ENOMEM).
    pub fn check_insert(&self, r: &Region) -> HvResult {
        if self.overlaps_gpa(r.gpa, r.size) {
            return Err(hv_err!(EINVAL));
        }
        let i = self.first_after(r.gpa);
        let (prev, next) = self.merge_with(i, r);
        if !prev && !next && self.len == N {
            return Err(hv_err!(ENOMEM));
        }
        Ok(())
    }

    /// Whether `r` (to go at index `i`) continues the region before / the region after.
    fn merge_with(&self, i: usize, r: &Region) -> (bool, bool) {
        let s = self.as_slice();
        let prev = i > 0 && {
            let p = &s[i - 1];
            p.gpa_end() == r.gpa && p.hpa_end() == r.hpa && p.attr == r.attr
        };
        let next = s
            .get(i)
            .is_some_and(|n| r.gpa_end() == n.gpa && r.hpa_end() == n.hpa && n.attr == r.attr);
        (prev, next)
    }

    /// Inserts `r` (size > 0), merging with neighbours. Fails like
    /// [`check_insert`](Self::check_insert), leaving the set unchanged.
    pub fn insert(&mut self, r: Region) -> HvResult {
        if r.size == 0 {
            return Ok(());
        }
        self.check_insert(&r)?;
        let i = self.first_after(r.gpa);
        match self.merge_with(i, &r) {
            (true, true) => {
                self.regions[i - 1].size += r.size + self.regions[i].size;
                self.remove_at(i);
            }
            (true, false) => self.regions[i - 1].size += r.size,
            (false, true) => {
                let n = &mut self.regions[i];
                n.gpa = r.gpa;
                n.hpa = r.hpa;
                n.size += r.size;
            }
            (false, false) => {
                self.regions.copy_within(i..self.len, i + 1);
                self.regions[i] = r;
                self.len += 1;
            }
        }
        Ok(())
    }

    fn remove_at(&mut self, i: usize) {
        self.regions.copy_within(i + 1..self.len, i);
        self.len -= 1;
    }

    /// Checks that [`remove`](Self::remove) would succeed.
    pub fn check_remove(&self, gpa: u64, size: u64) -> HvResult {
        if !self.covers(gpa, size) {
            return Err(hv_err!(EINVAL));
        }
        if size == 0 {
            return Ok(());
        }
        let r = &self.regions[self.first_after(gpa)];
        if r.gpa < gpa && r.gpa_end() > gpa + size && self.len == N {
            return Err(hv_err!(ENOMEM));
        }
        Ok(())
    }

    /// Unmaps `[gpa, gpa + size)`, which must be [covered](Self::covers) (-EINVAL
    /// otherwise). Splitting one region in two needs a free slot (-ENOMEM). On error the
    /// set is unchanged.
    pub fn remove(&mut self, gpa: u64, size: u64) -> HvResult {
        self.check_remove(gpa, size)?;
        if size == 0 {
            return Ok(());
        }
        let end = gpa + size;
        let mut i = self.first_after(gpa);
        while i < self.len && self.regions[i].gpa < end {
            let r = self.regions[i];
            if r.gpa < gpa && r.gpa_end() > end {
                // Hole in the middle: keep the head here, insert the tail after it.
                let tail = Region {
                    gpa: end,
                    hpa: r.hpa + (end - r.gpa),
                    size: r.gpa_end() - end,
                    attr: r.attr,
                };
                self.regions[i].size = gpa - r.gpa;
                self.regions.copy_within(i + 1..self.len, i + 2);
                self.regions[i + 1] = tail;
                self.len += 1;
                break;
            } else if r.gpa < gpa {
                self.regions[i].size = gpa - r.gpa;
                i += 1;
            } else if r.gpa_end() > end {
                let cut = end - r.gpa;
                let t = &mut self.regions[i];
                t.gpa = end;
                t.hpa += cut;
                t.size -= cut;
                break;
            } else {
                self.remove_at(i);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(gpa: u64, hpa: u64, size: u64) -> Region {
        Region {
            gpa,
            hpa,
            size,
            attr: MemAttr::RWX_WB,
        }
    }

    #[test]
    fn prot_decoding_follows_add_vm_memory_region() {
        let a = MemAttr::from_prot(hv::MEM_ACCESS_READ | hv::MEM_TYPE_WB | hv::MEM_TYPE_UC);
        assert_eq!(
            (a.read, a.write, a.exec, a.mem_type),
            (true, false, false, MemType::Wb)
        );
        assert_eq!(
            MemAttr::from_prot(hv::MEM_TYPE_WC | hv::MEM_TYPE_WT).mem_type,
            MemType::Wt
        );
        assert_eq!(MemAttr::from_prot(hv::MEM_TYPE_WP).mem_type, MemType::Wp);
        assert_eq!(MemAttr::from_prot(0).mem_type, MemType::Uc);
        assert!(!MemAttr::from_prot(hv::MEM_TYPE_WB).any_access());
    }

    #[test]
    fn region_set_merge_split() {
        let mut s = RegionSet::<4>::new();
        s.insert(r(0x1000, 0x10_1000, 0x1000)).unwrap();
        s.insert(r(0x3000, 0x10_3000, 0x1000)).unwrap();
        s.insert(r(0x2000, 0x10_2000, 0x1000)).unwrap(); // joins both
        assert_eq!(s.as_slice(), &[r(0x1000, 0x10_1000, 0x3000)]);
        assert!(s.covers(0x1000, 0x3000) && !s.covers(0x1000, 0x4000));
        s.remove(0x2000, 0x1000).unwrap(); // split
        assert_eq!(
            s.as_slice(),
            &[r(0x1000, 0x10_1000, 0x1000), r(0x3000, 0x10_3000, 0x1000)]
        );
        assert_eq!(s.remove(0x2000, 0x1000).unwrap_err().errno, -EINVAL);
        s.insert(r(0x8000, 0x50_0000, 0x3000)).unwrap();
        s.insert(r(0xc000, 0x90_0000, 0x1000)).unwrap(); // not contiguous in hpa
        assert_eq!(s.len(), 4);
        assert_eq!(s.insert(r(0x20000, 0, 0x1000)).unwrap_err().errno, -ENOMEM);
        // Splitting needs a slot: a full set refuses and stays unchanged.
        assert_eq!(s.remove(0x9000, 0x1000).unwrap_err().errno, -ENOMEM);
        assert_eq!(s.as_slice()[2], r(0x8000, 0x50_0000, 0x3000));
        s.remove(0x8000, 0x1000).unwrap(); // cutting the head needs none
        assert_eq!(s.as_slice()[2], r(0x9000, 0x50_1000, 0x2000));
        // A range across a gap is not covered.
        assert!(!s.covers(0x1000, 0x3000));
        s.remove(0x3000, 0x1000).unwrap();
        s.insert(r(0xb000, 0x70_0000, 0x1000)).unwrap();
        assert_eq!(s.len(), 4);
        // Tail of one region, then two whole ones.
        s.remove(0xa000, 0x3000).unwrap();
        assert_eq!(
            s.as_slice(),
            &[r(0x1000, 0x10_1000, 0x1000), r(0x9000, 0x50_1000, 0x1000)]
        );
        assert_eq!(s.insert(r(0x0, 0, 0x2000)).unwrap_err().errno, -EINVAL);
    }

    #[test]
    fn service_vm_map() {
        let m = crate::tests::service_vm_memory();
        assert_eq!(m.top(), 0x1_4000_0000);
        assert!(m.is_ram(0x10_0000, 0x3ff0_0000));
        assert!(!m.is_ram(0x3fff_f000, 0x2000)); // runs into hypervisor memory
        assert!(!m.is_mapped(0x4000_0000, 0x1000));
        assert!(!m.is_mapped(0x40ff_f000, 0x1000));
        assert!(m.is_ram(0x4100_0000, 0x1000));
        assert!(m.is_other(0xa_0000, 0x6_0000));
        assert!(m.is_other(0xfec0_0000, 0x1000));
        assert!(!m.is_ram(u64::MAX - 0xfff, 0x2000));
        assert!(m.check_access(0x1000, 48).is_ok());
        assert_eq!(m.check_access(0xfee0_0000, 8).unwrap_err().errno, -EINVAL);
        // Pieces are sorted, disjoint and cover [0, top) except the hypervisor.
        let total: u64 = m.ranges().iter().map(|r| r.end - r.start).sum();
        assert_eq!(total, m.top() - 0x100_0000);
        assert!(m.ranges().windows(2).all(|w| w[0].end <= w[1].start));
    }

    #[test]
    fn decode_rules() {
        let m = crate::tests::service_vm_memory();
        let add = |gpa, svc_gpa, size, prot| hv::VmMemoryRegion {
            r#type: hv::MR_ADD,
            prot,
            gpa,
            service_vm_gpa: svc_gpa,
            size,
        };
        let wb = hv::MEM_ACCESS_RWX | hv::MEM_TYPE_WB;
        let uc = hv::MEM_ACCESS_RWX | hv::MEM_TYPE_UC;
        assert!(matches!(
            RegionOp::decode(&add(0, 0x20_0000, 0x10_0000, wb), &m),
            Ok(RegionOp::Add(_))
        ));
        let bad = [
            add(0, 0x4000_0000, 0x1000, wb),       // hypervisor memory
            add(0, 0x3fff_f000, 0x2000, wb),       // runs into it
            add(0, 0x20_0000, 0x1800, wb),         // unaligned size
            add(0x800, 0x20_0000, 0x1000, wb),     // unaligned gpa
            add(0, 0x20_0800, 0x1000, wb),         // unaligned service_vm_gpa
            add(0, !0xfffu64, 0x2000, wb),         // service_vm_gpa + size overflows
            add(!0xfffu64, 0x20_0000, 0x2000, wb), // gpa + size overflows
            add(GPA_LIMIT, 0x20_0000, 0x1000, wb), // beyond the nested page table
            add(0, 0xfec0_0000, 0x1000, wb),       // MMIO as WB
            add(0, 0x1_4000_0000, 0x1000, uc),     // above top: not mapped
        ];
        for b in bad {
            assert_eq!(
                RegionOp::decode(&b, &m).unwrap_err().errno,
                -EINVAL,
                "{b:?}"
            );
        }
        assert!(RegionOp::decode(&add(0, 0xfec0_0000, 0x1000, uc), &m).is_ok());
        let del = hv::VmMemoryRegion {
            r#type: hv::MR_MODIFY,
            ..add(0x1000, 0, 0x1000, 0)
        };
        assert_eq!(
            RegionOp::decode(&del, &m),
            Ok(RegionOp::Del {
                gpa: 0x1000,
                size: 0x1000
            })
        );
    }
}
