// SPDX-License-Identifier: GPL-2.0

//! The frame pool for nested page tables: [`FRAMES`] 4 KiB frames in the hypervisor's
//! `.bss` (so inside hypervisor memory, never mapped into a guest), tracked by a bitmap.
//! Frames are addressed by physical address = their address under the identity map; the
//! tables are reached by indexing the pool, so no raw pointer is involved.

use acrn_hv_core::npt::{FrameAllocator, ENTRIES};

/// Frames in the pool (8 MiB: the Service VM's map needs a few dozen, each User VM one per
/// 2 MiB of scattered 4 KiB mappings plus a few).
pub const FRAMES: usize = 2048;

/// The pool's memory.
#[repr(C, align(4096))]
pub struct Pool(pub [[u64; ENTRIES]; FRAMES]);

impl Pool {
    /// All zero.
    pub const ZERO: Self = Self([[0; ENTRIES]; FRAMES]);
}

/// The allocator over a [`Pool`].
pub struct Frames {
    pool: &'static mut Pool,
    used: [u64; FRAMES / 64],
    in_use: usize,
}

impl Frames {
    /// An allocator owning `pool`.
    pub fn new(pool: &'static mut Pool) -> Self {
        Self {
            pool,
            used: [0; FRAMES / 64],
            in_use: 0,
        }
    }

    fn base(&self) -> u64 {
        self.pool.0.as_ptr() as u64
    }

    fn index(&self, pa: u64) -> usize {
        // A frame address that did not come from this pool is a hypervisor bug; the
        // out-of-range index then stops it at the bounds check below.
        (pa.wrapping_sub(self.base()) / 4096) as usize
    }

    /// Frames handed out and not yet returned.
    pub fn in_use(&self) -> usize {
        self.in_use
    }
}

impl FrameAllocator for Frames {
    fn alloc_zeroed(&mut self) -> Option<u64> {
        let (word, bits) = self
            .used
            .iter()
            .enumerate()
            .find(|(_, w)| **w != u64::MAX)?;
        let idx = word * 64 + bits.trailing_ones() as usize;
        self.used[word] |= 1 << (idx % 64);
        self.in_use += 1;
        self.pool.0[idx] = [0; ENTRIES];
        Some(self.base() + idx as u64 * 4096)
    }

    fn free(&mut self, pa: u64) {
        let idx = self.index(pa);
        if idx < FRAMES && self.used[idx / 64] & (1 << (idx % 64)) != 0 {
            self.used[idx / 64] &= !(1 << (idx % 64));
            self.in_use -= 1;
        } else {
            acrn_hv_boot::error!("frame {pa:#x} freed twice or not from the pool");
        }
    }

    fn table(&self, pa: u64) -> &[u64; ENTRIES] {
        &self.pool.0[self.index(pa)]
    }

    fn table_mut(&mut self, pa: u64) -> &mut [u64; ENTRIES] {
        let idx = self.index(pa);
        &mut self.pool.0[idx]
    }
}
