// SPDX-License-Identifier: GPL-2.0

//! Nested page tables: x86-64 4-level, 4 KiB / 2 MiB / 1 GiB leaves, for AMD NPT and Intel
//! EPT (ACRN `ept_add_mr` / `ept_del_mr` / `local_gpa2hpa` over `mmu_add` / `mmu_modify_or_del`).
//!
//! The walk is generic; the entry format is a [`PteFormat`]:
//! * [`NptFormat`]: AMD nested paging uses ordinary long-mode entries. Every nested access
//!   is a user access, so U/S is set at every level; present = readable, R/W = writable,
//!   NX = not executable; the memory type is a PAT index into [`HOST_PAT`], which the SVM
//!   backend must load into the host's `IA32_PAT`.
//! * [`EptFormat`]: R/W/X bits, memory type in bits 5:3 of leaves, bit 7 = large page.
//!
//! Table frames come from a [`FrameAllocator`], which also gives access to their contents
//! (identity-mapped physical memory in the hypervisor, a `Vec` in tests). Huge pages are
//! used whenever guest and host addresses are aligned and the remaining size allows, up to
//! the caller's [`PageSize`] limit (1 GiB nested pages need CPUID `Page1GB`). Mapping over
//! an existing mapping replaces it; a huge page that is partly changed is split first;
//! tables left empty by [`NestedPageTable::unmap`] are freed.

use crate::error::{HvResult, EINVAL, ENOMEM};
use crate::hv_err;
use crate::memory::{is_aligned, MapKind, MemAttr, MemType, ServiceVmMemory, GPA_LIMIT, PAGE_SIZE};
use core::marker::PhantomData;

/// Entries per table.
pub const ENTRIES: usize = 512;
/// First physical address no entry can hold (architectural MAXPHYADDR limit, 52 bits).
pub const PHYS_LIMIT: u64 = 1 << 52;

/// Physical frames for page tables, and access to their contents.
pub trait FrameAllocator {
    /// A zero-filled, 4 KiB-aligned frame, or `None` when out of frames.
    fn alloc_zeroed(&mut self) -> Option<u64>;
    /// Returns a frame obtained from [`alloc_zeroed`](Self::alloc_zeroed).
    fn free(&mut self, pa: u64);
    /// The table stored in frame `pa`.
    fn table(&self, pa: u64) -> &[u64; ENTRIES];
    /// The table stored in frame `pa`, writable.
    fn table_mut(&mut self, pa: u64) -> &mut [u64; ENTRIES];
}

/// A leaf size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PageSize {
    /// 4 KiB (level 1).
    Size4K,
    /// 2 MiB (level 2).
    Size2M,
    /// 1 GiB (level 3).
    Size1G,
}

impl PageSize {
    /// Bytes.
    pub const fn bytes(self) -> u64 {
        1 << (12 + 9 * (self.level() - 1))
    }

    /// Table level holding leaves of this size (1 = PT, 2 = PD, 3 = PDPT).
    pub const fn level(self) -> u32 {
        match self {
            Self::Size4K => 1,
            Self::Size2M => 2,
            Self::Size1G => 3,
        }
    }

    const fn from_level(level: u32) -> Self {
        match level {
            1 => Self::Size4K,
            2 => Self::Size2M,
            _ => Self::Size1G,
        }
    }
}

/// Bytes covered by one entry at `level` (4 = PML4).
const fn entry_size(level: u32) -> u64 {
    1 << (12 + 9 * (level - 1))
}

const fn index(level: u32, gpa: u64) -> usize {
    ((gpa >> (12 + 9 * (level - 1))) & (ENTRIES as u64 - 1)) as usize
}

/// Entry format of one nested-paging flavour.
pub trait PteFormat {
    /// Entry pointing to the next-level table at `pa` (all rights: leaves decide).
    fn table(pa: u64) -> u64;
    /// Leaf mapping `pa` with `attr`; 0 (not present) if `attr` grants no access.
    fn leaf(pa: u64, attr: MemAttr, size: PageSize) -> u64;
    /// Whether the entry maps anything.
    fn is_present(e: u64) -> bool;
    /// Whether a present entry at level 2 or 3 is a leaf (large page).
    fn is_huge(e: u64) -> bool;
    /// Physical address in a present entry (table or leaf of `size`).
    fn addr(e: u64, size: PageSize) -> u64;
    /// Rights and memory type of a present leaf of `size`.
    fn attr(e: u64, size: PageSize) -> MemAttr;
}

const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

const fn leaf_addr_mask(size: PageSize) -> u64 {
    ADDR_MASK & !(size.bytes() - 1)
}

/// `IA32_PAT` the SVM backend loads on the host so that [`NptFormat`]'s PAT indexes mean:
/// 0 WB, 1 WT, 2 UC-, 3 UC, 4 WC, 5 WP, 6 UC-, 7 UC.
pub const HOST_PAT: u64 = 0x0007_0501_0007_0406;

/// AMD nested page table entries (long-mode format).
#[derive(Clone, Copy, Debug)]
pub enum NptFormat {}

impl NptFormat {
    const P: u64 = 1 << 0;
    const RW: u64 = 1 << 1;
    const US: u64 = 1 << 2;
    const PWT: u64 = 1 << 3;
    const PCD: u64 = 1 << 4;
    const PS: u64 = 1 << 7;
    const PAT_4K: u64 = 1 << 7;
    const PAT_HUGE: u64 = 1 << 12;
    const NX: u64 = 1 << 63;

    const fn pat_bit(size: PageSize) -> u64 {
        match size {
            PageSize::Size4K => Self::PAT_4K,
            _ => Self::PAT_HUGE,
        }
    }
}

impl PteFormat for NptFormat {
    fn table(pa: u64) -> u64 {
        (pa & ADDR_MASK) | Self::P | Self::RW | Self::US
    }

    fn leaf(pa: u64, attr: MemAttr, size: PageSize) -> u64 {
        if !attr.any_access() {
            return 0;
        }
        let pat = Self::pat_bit(size);
        let mt = match attr.mem_type {
            MemType::Wb => 0,
            MemType::Wt => Self::PWT,
            MemType::Uc => Self::PCD | Self::PWT,
            MemType::Wc => pat,
            MemType::Wp => pat | Self::PWT,
        };
        let mut e = (pa & leaf_addr_mask(size)) | Self::P | Self::US | mt;
        if attr.write {
            e |= Self::RW;
        }
        if !attr.exec {
            e |= Self::NX;
        }
        if size != PageSize::Size4K {
            e |= Self::PS;
        }
        e
    }

    fn is_present(e: u64) -> bool {
        e & Self::P != 0
    }

    fn is_huge(e: u64) -> bool {
        e & Self::PS != 0
    }

    fn addr(e: u64, size: PageSize) -> u64 {
        e & leaf_addr_mask(size)
    }

    fn attr(e: u64, size: PageSize) -> MemAttr {
        let idx = (e & Self::PWT != 0) as u8
            | ((e & Self::PCD != 0) as u8) << 1
            | ((e & Self::pat_bit(size) != 0) as u8) << 2;
        let mem_type = match idx {
            0 => MemType::Wb,
            1 => MemType::Wt,
            4 => MemType::Wc,
            5 => MemType::Wp,
            _ => MemType::Uc,
        };
        MemAttr {
            read: true,
            write: e & Self::RW != 0,
            exec: e & Self::NX == 0,
            mem_type,
        }
    }
}

/// Intel EPT entries.
#[derive(Clone, Copy, Debug)]
pub enum EptFormat {}

impl EptFormat {
    const R: u64 = 1 << 0;
    const W: u64 = 1 << 1;
    const X: u64 = 1 << 2;
    const MT_SHIFT: u32 = 3;
    const PS: u64 = 1 << 7;

    /// EPTP for a 4-level table at `root`: write-back paging structures, walk length 4.
    pub const fn eptp(root: u64) -> u64 {
        (root & ADDR_MASK) | (3 << 3) | 6
    }
}

impl PteFormat for EptFormat {
    fn table(pa: u64) -> u64 {
        (pa & ADDR_MASK) | Self::R | Self::W | Self::X
    }

    fn leaf(pa: u64, attr: MemAttr, size: PageSize) -> u64 {
        if !attr.any_access() {
            return 0;
        }
        let mt: u64 = match attr.mem_type {
            MemType::Uc => 0,
            MemType::Wc => 1,
            MemType::Wt => 4,
            MemType::Wp => 5,
            MemType::Wb => 6,
        };
        let mut e = (pa & leaf_addr_mask(size)) | (mt << Self::MT_SHIFT);
        // Write without read is an EPT misconfiguration: writable implies readable.
        if attr.read || attr.write {
            e |= Self::R;
        }
        if attr.write {
            e |= Self::W;
        }
        if attr.exec {
            e |= Self::X;
        }
        if size != PageSize::Size4K {
            e |= Self::PS;
        }
        e
    }

    fn is_present(e: u64) -> bool {
        e & (Self::R | Self::W | Self::X) != 0
    }

    fn is_huge(e: u64) -> bool {
        e & Self::PS != 0
    }

    fn addr(e: u64, size: PageSize) -> u64 {
        e & leaf_addr_mask(size)
    }

    fn attr(e: u64, _size: PageSize) -> MemAttr {
        let mem_type = match (e >> Self::MT_SHIFT) & 7 {
            1 => MemType::Wc,
            4 => MemType::Wt,
            5 => MemType::Wp,
            6 => MemType::Wb,
            _ => MemType::Uc,
        };
        MemAttr {
            read: e & Self::R != 0,
            write: e & Self::W != 0,
            exec: e & Self::X != 0,
            mem_type,
        }
    }
}

/// Result of [`NestedPageTable::translate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Host physical address of the byte.
    pub hpa: u64,
    /// Rights and memory type of the leaf.
    pub attr: MemAttr,
    /// Size of the leaf.
    pub size: PageSize,
}

/// A 4-level nested page table of format `P`. Owns its table frames: give them back with
/// [`destroy`](Self::destroy) (dropping it leaks them, hence `#[must_use]` on `new`).
#[derive(Debug)]
pub struct NestedPageTable<P: PteFormat> {
    root: u64,
    frames: usize,
    _format: PhantomData<P>,
}

impl<P: PteFormat> NestedPageTable<P> {
    /// An empty table (one root frame).
    #[must_use = "the root frame leaks unless destroy() is called"]
    pub fn new<F: FrameAllocator>(f: &mut F) -> HvResult<Self> {
        let root = f.alloc_zeroed().ok_or(hv_err!(ENOMEM))?;
        Ok(Self {
            root,
            frames: 1,
            _format: PhantomData,
        })
    }

    /// Physical address of the root table (SVM `nCR3`; see [`EptFormat::eptp`] for VMX).
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Table frames in use, root included.
    pub fn table_frames(&self) -> usize {
        self.frames
    }

    fn check_range(gpa: u64, size: u64) -> HvResult<u64> {
        if !is_aligned(gpa, PAGE_SIZE) || !is_aligned(size, PAGE_SIZE) {
            return Err(hv_err!(EINVAL));
        }
        match gpa.checked_add(size) {
            Some(end) if end <= GPA_LIMIT => Ok(end),
            _ => Err(hv_err!(EINVAL)),
        }
    }

    /// Maps `[gpa, gpa + size)` to `[hpa, hpa + size)` with `attr`, using leaves up to
    /// `max`. Page-aligned arguments only (-EINVAL); the guest range must end at or below
    /// [`GPA_LIMIT`], the host range below [`PHYS_LIMIT`]. Runs out of frames with -ENOMEM,
    /// after unmapping what it had mapped. A mapping without any access right unmaps.
    pub fn map<F: FrameAllocator>(
        &mut self,
        f: &mut F,
        gpa: u64,
        hpa: u64,
        size: u64,
        attr: MemAttr,
        max: PageSize,
    ) -> HvResult {
        let end = Self::check_range(gpa, size)?;
        if !is_aligned(hpa, PAGE_SIZE) || hpa.checked_add(size).is_none_or(|e| e > PHYS_LIMIT) {
            return Err(hv_err!(EINVAL));
        }
        if !attr.any_access() {
            return self.unmap(f, gpa, size);
        }
        let mut done = gpa;
        let r = self.map_level(f, self.root, 4, &mut done, hpa, end, attr, max.level());
        if r.is_err() && done > gpa {
            // Best effort: unmapping whole leaves we just placed needs no new frames.
            let _ = self.unmap(f, gpa, done - gpa);
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn map_level<F: FrameAllocator>(
        &mut self,
        f: &mut F,
        table: u64,
        level: u32,
        gpa: &mut u64,
        hpa0: u64,
        end: u64,
        attr: MemAttr,
        max_level: u32,
    ) -> HvResult {
        let base = *gpa;
        while *gpa < end {
            let hpa = hpa0 + (*gpa - base);
            let esz = entry_size(level);
            let idx = index(level, *gpa);
            let chunk_end = end.min((*gpa & !(esz - 1)) + esz);
            let e = f.table(table)[idx];
            let whole = chunk_end - *gpa == esz;
            if level <= max_level && whole && is_aligned(hpa, esz) {
                if level > 1 && P::is_present(e) && !P::is_huge(e) {
                    self.free_subtree(f, P::addr(e, PageSize::Size4K), level - 1);
                }
                f.table_mut(table)[idx] = P::leaf(hpa, attr, PageSize::from_level(level));
                *gpa = chunk_end;
                continue;
            }
            let sub = self.subtable(f, table, level, idx)?;
            self.map_level(f, sub, level - 1, gpa, hpa, chunk_end, attr, max_level)?;
        }
        Ok(())
    }

    /// The table below entry `idx` of `table` (at `level` > 1), creating it, or splitting a
    /// large page into 512 smaller leaves with the same attributes.
    fn subtable<F: FrameAllocator>(
        &mut self,
        f: &mut F,
        table: u64,
        level: u32,
        idx: usize,
    ) -> HvResult<u64> {
        let e = f.table(table)[idx];
        if P::is_present(e) && !P::is_huge(e) {
            return Ok(P::addr(e, PageSize::Size4K));
        }
        let sub = f.alloc_zeroed().ok_or(hv_err!(ENOMEM))?;
        self.frames += 1;
        if P::is_present(e) {
            let size = PageSize::from_level(level);
            let (pa, attr) = (P::addr(e, size), P::attr(e, size));
            let small = PageSize::from_level(level - 1);
            let t = f.table_mut(sub);
            for (i, slot) in t.iter_mut().enumerate() {
                *slot = P::leaf(pa + i as u64 * small.bytes(), attr, small);
            }
        }
        f.table_mut(table)[idx] = P::table(sub);
        Ok(sub)
    }

    fn free_subtree<F: FrameAllocator>(&mut self, f: &mut F, table: u64, level: u32) {
        if level > 1 {
            for i in 0..ENTRIES {
                let e = f.table(table)[i];
                if P::is_present(e) && !P::is_huge(e) {
                    self.free_subtree(f, P::addr(e, PageSize::Size4K), level - 1);
                }
            }
        }
        f.free(table);
        self.frames -= 1;
    }

    /// Unmaps `[gpa, gpa + size)` (page aligned, -EINVAL otherwise); absent pages are
    /// skipped. Splitting a large page that is only partly unmapped needs a frame
    /// (-ENOMEM). Tables left empty are freed.
    pub fn unmap<F: FrameAllocator>(&mut self, f: &mut F, gpa: u64, size: u64) -> HvResult {
        let end = Self::check_range(gpa, size)?;
        self.unmap_level(f, self.root, 4, gpa, end)
    }

    fn unmap_level<F: FrameAllocator>(
        &mut self,
        f: &mut F,
        table: u64,
        level: u32,
        mut gpa: u64,
        end: u64,
    ) -> HvResult {
        while gpa < end {
            let esz = entry_size(level);
            let idx = index(level, gpa);
            let chunk_end = end.min((gpa & !(esz - 1)) + esz);
            let whole = chunk_end - gpa == esz;
            let e = f.table(table)[idx];
            if P::is_present(e) {
                let leaf = level == 1 || P::is_huge(e);
                if whole {
                    if !leaf {
                        self.free_subtree(f, P::addr(e, PageSize::Size4K), level - 1);
                    }
                    f.table_mut(table)[idx] = 0;
                } else {
                    let sub = self.subtable(f, table, level, idx)?;
                    self.unmap_level(f, sub, level - 1, gpa, chunk_end)?;
                    if f.table(sub).iter().all(|&x| x == 0) {
                        f.table_mut(table)[idx] = 0;
                        f.free(sub);
                        self.frames -= 1;
                    }
                }
            }
            gpa = chunk_end;
        }
        Ok(())
    }

    /// Host address, rights and leaf size for guest physical `gpa`, if mapped.
    pub fn translate<F: FrameAllocator>(&self, f: &F, gpa: u64) -> Option<Translation> {
        if gpa >= GPA_LIMIT {
            return None;
        }
        let mut table = self.root;
        for level in (1..=4).rev() {
            let e = f.table(table)[index(level, gpa)];
            if !P::is_present(e) {
                return None;
            }
            if level == 1 || (level <= 3 && P::is_huge(e)) {
                let size = PageSize::from_level(level);
                return Some(Translation {
                    hpa: P::addr(e, size) + (gpa & (size.bytes() - 1)),
                    attr: P::attr(e, size),
                    size,
                });
            }
            table = P::addr(e, PageSize::Size4K);
        }
        None
    }

    /// Frees every table frame.
    pub fn destroy<F: FrameAllocator>(mut self, f: &mut F) {
        let root = self.root;
        self.free_subtree(f, root, 4);
        debug_assert_eq!(self.frames, 0);
    }
}

/// Builds the Service VM's identity map: every piece of `svc_mem` (RAM write-back, the rest
/// uncached, all rights), hypervisor memory left out (ACRN `prepare_service_vm_memmap`).
pub fn map_service_vm<P: PteFormat, F: FrameAllocator>(
    npt: &mut NestedPageTable<P>,
    f: &mut F,
    svc_mem: &ServiceVmMemory,
    max: PageSize,
) -> HvResult {
    for r in svc_mem.ranges() {
        let attr = match r.kind {
            MapKind::Ram => MemAttr::RWX_WB,
            MapKind::Other => MemAttr::RWX_UC,
        };
        npt.map(f, r.start, r.start, r.end - r.start, attr, max)?;
    }
    Ok(())
}
