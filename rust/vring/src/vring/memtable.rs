// SPDX-License-Identifier: GPL-2.0

//! The `VHOST_SET_MEM_TABLE` translation: guest-physical ranges to the owner's user
//! addresses.
//!
//! Mirrors `vhost_set_memory` (each region is `vhost_iotlb_add_range(gpa, gpa + size - 1,
//! uaddr)`, then `vq_memory_access_ok` / `vhost_overflow` on the user range) and
//! `translate_desc` (split a guest range into per-region host pieces). Unlike vhost's
//! interval tree this table also rejects zero-size and overlapping regions, so every
//! guest address has at most one translation. Fixed capacity, no allocation.

use super::error::Error;

/// Default capacity: vhost's `max_mem_regions` module parameter default.
pub const MAX_MEM_REGIONS: usize = 64;

/// One `struct vhost_memory_region` (without `flags_padding`, which vhost ignores).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Region {
    /// First guest-physical address of the region.
    pub guest_phys_addr: u64,
    /// Size in bytes.
    pub memory_size: u64,
    /// Owner's user address of `guest_phys_addr`.
    pub userspace_addr: u64,
}

impl Region {
    /// A region of `memory_size` bytes at `guest_phys_addr`, mapped at `userspace_addr`.
    pub const fn new(guest_phys_addr: u64, memory_size: u64, userspace_addr: u64) -> Self {
        Region {
            guest_phys_addr,
            memory_size,
            userspace_addr,
        }
    }
}

/// A validated region: inclusive guest range `[first, last]` starting at user address `uaddr`.
///
/// # Invariants
///
/// `first <= last`, and `uaddr + (last - first)` does not overflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Entry {
    first: u64,
    last: u64,
    uaddr: u64,
}

impl Entry {
    const ZERO: Entry = Entry {
        first: 0,
        last: 0,
        uaddr: 0,
    };
}

/// A set of non-overlapping regions, sorted by guest address, with capacity `N`.
#[derive(Clone, Debug)]
pub struct MemTable<const N: usize = MAX_MEM_REGIONS> {
    entries: [Entry; N],
    len: usize,
}

impl<const N: usize> Default for MemTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> MemTable<N> {
    /// An empty table: every translation fails.
    pub const fn new() -> Self {
        MemTable {
            entries: [Entry::ZERO; N],
            len: 0,
        }
    }

    /// A table holding `regions`, validated as by [`MemTable::push`].
    pub fn from_regions(regions: &[Region]) -> Result<Self, Error> {
        let mut t = Self::new();
        if regions.len() > N {
            return Err(Error::TooManyRegions);
        }
        for r in regions {
            t.push(*r)?;
        }
        Ok(t)
    }

    /// Adds a region. Fails, leaving the table unchanged, on a zero size
    /// ([`Error::BadRegion`]), a guest or user range wrapping past `u64::MAX`
    /// ([`Error::BadRegion`]; a range ending exactly at `u64::MAX` is fine), an overlap with
    /// an existing region ([`Error::RegionOverlap`]) or a full table
    /// ([`Error::TooManyRegions`]).
    pub fn push(&mut self, r: Region) -> Result<(), Error> {
        let span = r.memory_size.checked_sub(1).ok_or(Error::BadRegion)?;
        let last = r
            .guest_phys_addr
            .checked_add(span)
            .ok_or(Error::BadRegion)?;
        // `vhost_overflow(uaddr, size)`: the user range must not wrap either.
        r.userspace_addr.checked_add(span).ok_or(Error::BadRegion)?;
        let entry = Entry {
            first: r.guest_phys_addr,
            last,
            uaddr: r.userspace_addr,
        };
        let used = self.entries.get(..self.len).ok_or(Error::TooManyRegions)?;
        let pos = used.partition_point(|e| e.first < entry.first);
        if let Some(prev) = pos.checked_sub(1).and_then(|p| used.get(p)) {
            if prev.last >= entry.first {
                return Err(Error::RegionOverlap);
            }
        }
        if let Some(next) = used.get(pos) {
            if next.first <= entry.last {
                return Err(Error::RegionOverlap);
            }
        }
        if self.len >= N {
            return Err(Error::TooManyRegions);
        }
        let tail = self
            .entries
            .get_mut(pos..=self.len)
            .ok_or(Error::TooManyRegions)?;
        tail.rotate_right(1);
        if let Some(slot) = tail.first_mut() {
            *slot = entry;
        }
        self.len += 1;
        Ok(())
    }

    /// Removes every region.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Number of regions.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the table has no region.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The regions, in ascending guest-address order.
    pub fn regions(&self) -> impl Iterator<Item = Region> + '_ {
        self.entries.iter().take(self.len).map(|e| Region {
            guest_phys_addr: e.first,
            memory_size: (e.last - e.first).wrapping_add(1),
            userspace_addr: e.uaddr,
        })
    }

    #[inline]
    fn find(&self, gpa: u64) -> Option<&Entry> {
        let used = self.entries.get(..self.len)?;
        let pos = used.partition_point(|e| e.first <= gpa);
        let e = used.get(pos.checked_sub(1)?)?;
        if gpa <= e.last {
            Some(e)
        } else {
            None
        }
    }

    /// Translates `gpa`: returns its user address and how many of the `len` bytes from
    /// `gpa` are contiguous in that region (`min(len, bytes to region end)`; `0` if `len`
    /// is `0`). [`Error::OutOfBounds`] if `gpa` is in no region.
    #[inline]
    pub fn translate(&self, gpa: u64, len: u64) -> Result<(u64, u64), Error> {
        let e = self.find(gpa).ok_or(Error::OutOfBounds)?;
        let off = gpa - e.first;
        // `rest` is the region's remaining size minus one, so it can not overflow even
        // for a region spanning all of `u64`.
        let rest = e.last - gpa;
        let n = match len.checked_sub(1) {
            None => 0,
            Some(l1) if l1 <= rest => len,
            Some(_) => rest + 1,
        };
        // Invariant of `Entry`: `uaddr + (last - first)` does not overflow.
        Ok((e.uaddr.wrapping_add(off), n))
    }

    /// The `(uaddr, len)` pieces of the guest range `[gpa, gpa + len)`, one per region it
    /// crosses, like `translate_desc`'s iovecs. Yields one `Err` and stops if the range
    /// overflows or leaves the table. An empty range yields nothing.
    #[inline]
    pub fn pieces(&self, gpa: u64, len: u64) -> Pieces<'_, N> {
        Pieces {
            table: self,
            gpa,
            remaining: len,
        }
    }

    /// Checks that every byte of `[gpa, gpa + len)` is mapped. An empty range is always
    /// fine (vhost's `translate_desc` maps a zero-length descriptor to no iovec).
    #[inline]
    pub fn check_range(&self, gpa: u64, len: u64) -> Result<(), Error> {
        // The usual case first: the whole range in one region (one lookup, no iterator).
        if let Some(l1) = len.checked_sub(1) {
            if gpa.checked_add(l1).is_some()
                && self.translate(gpa, len).is_ok_and(|(_, n)| n == len)
            {
                return Ok(());
            }
        }
        for piece in self.pieces(gpa, len) {
            piece?;
        }
        Ok(())
    }
}

/// Iterator over the host pieces of a guest range; see [`MemTable::pieces`].
#[derive(Clone, Debug)]
pub struct Pieces<'a, const N: usize = MAX_MEM_REGIONS> {
    table: &'a MemTable<N>,
    gpa: u64,
    remaining: u64,
}

impl<const N: usize> Iterator for Pieces<'_, N> {
    type Item = Result<(u64, u64), Error>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let l1 = self.remaining.checked_sub(1)?;
        if self.gpa.checked_add(l1).is_none() {
            self.remaining = 0;
            return Some(Err(Error::Overflow));
        }
        match self.table.translate(self.gpa, self.remaining) {
            Ok((uaddr, n)) => {
                // `n >= 1` and `gpa + n - 1` does not overflow; wrapping to 0 only happens
                // when the range ends at `u64::MAX`, and then `remaining` becomes 0.
                self.gpa = self.gpa.wrapping_add(n);
                self.remaining -= n;
                Some(Ok((uaddr, n)))
            }
            Err(e) => {
                self.remaining = 0;
                Some(Err(e))
            }
        }
    }
}
