// SPDX-License-Identifier: GPL-2.0

//! Read-ahead of ring metadata for [`SplitQueue::pop_chain`]: avail-ring entries and
//! descriptors are read many per ring access (one user copy in the kernel) instead of one
//! access per entry, as vhost does with `__get_user` per head and `__copy_from_user` per
//! descriptor.
//!
//! What is read ahead stays valid until the next read of `avail->idx`: entries of the avail
//! ring below the index read last are published and do not change until used; a descriptor
//! read after that index is final for every chain the index published (the driver writes
//! descriptors before publishing their head). A newer index may publish descriptors the
//! driver rewrote since, so reading `avail->idx` drops everything read ahead
//! ([`ReadAhead::invalidate`]). A read-ahead that faults (an unmapped page past the entries
//! needed) is not an error: the one entry needed is read alone, as before.
//!
//! [`SplitQueue::pop_chain`]: super::queue::SplitQueue::pop_chain

use core::num::Wrapping;

use super::chain::DescChain;
use super::error::Error;
use super::layout::{avail_ring_offset, DESC_SIZE};
use super::memory::GuestMemory;

/// Avail-ring entries read per access.
pub const AVAIL_READ_AHEAD: usize = 64;
/// Descriptors read per access: the aligned block of the descriptor table holding a head,
/// so chains taken in ascending or descending table order (a driver's free list) share it.
pub const DESC_READ_AHEAD: usize = 16;

/// Avail-ring entries and descriptors read ahead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadAhead {
    /// Avail-ring entries (little-endian heads) of avail indices
    /// `heads_first..heads_first + heads_len`.
    heads: [u8; AVAIL_READ_AHEAD * 2],
    heads_first: Wrapping<u16>,
    heads_len: u16,
    /// Descriptors `descs_first..descs_first + descs_len` of the table.
    descs: [u8; DESC_READ_AHEAD * DESC_SIZE],
    descs_first: u16,
    descs_len: u16,
}

impl Default for ReadAhead {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadAhead {
    /// Nothing read ahead.
    pub const fn new() -> Self {
        ReadAhead {
            heads: [0; AVAIL_READ_AHEAD * 2],
            heads_first: Wrapping(0),
            heads_len: 0,
            descs: [0; DESC_READ_AHEAD * DESC_SIZE],
            descs_first: 0,
            descs_len: 0,
        }
    }

    /// Forgets everything read ahead (a new `avail->idx` was read, or the ring changed).
    pub fn invalidate(&mut self) {
        self.heads_len = 0;
        self.descs_len = 0;
    }

    /// The avail-ring entry of avail index `idx`, which must be below `avail_idx` (published),
    /// of the avail ring at `avail` with `size` entries. On a miss, reads the entries from
    /// `idx` up to `avail_idx`, the ring's end or [`AVAIL_READ_AHEAD`] in one access.
    pub fn head<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
        avail: u64,
        size: u16,
        idx: Wrapping<u16>,
        avail_idx: Wrapping<u16>,
    ) -> Result<u16, Error> {
        let at = usize::from((idx - self.heads_first).0);
        if at < usize::from(self.heads_len) {
            return Ok(le16(&self.heads, at));
        }
        let slot = idx.0 & (size - 1);
        let addr = avail
            .checked_add(avail_ring_offset(slot))
            .ok_or(Error::Overflow)?;
        let n = usize::from((avail_idx - idx).0)
            .min(usize::from(size - slot))
            .min(AVAIL_READ_AHEAD);
        self.heads_len = 0;
        if n > 1 {
            if let Some(buf) = self.heads.get_mut(..n * 2) {
                if mem.read_ring(addr, buf).is_ok() {
                    self.heads_first = idx;
                    self.heads_len = n as u16;
                    return Ok(le16(&self.heads, 0));
                }
            }
        }
        mem.read_ring_u16(addr)
    }

    /// Gives `chain` (just taken, head `head` of the descriptor table at `table` with `size`
    /// entries) its head descriptor from what was read ahead; on a miss, first reads the
    /// aligned block of [`DESC_READ_AHEAD`] descriptors holding `head`. Nothing if that read
    /// faults: the chain then reads its descriptors itself.
    pub fn fill_chain<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
        table: u64,
        size: u16,
        head: u16,
        chain: &mut DescChain,
    ) {
        let mut at = usize::from(head.wrapping_sub(self.descs_first));
        if head < self.descs_first || at >= usize::from(self.descs_len) {
            // `size` is a power of two: a block never crosses the table's end unless the
            // table is smaller than a block.
            let first = head & !(DESC_READ_AHEAD as u16 - 1);
            let n = usize::from(size - first).min(DESC_READ_AHEAD);
            self.descs_len = 0;
            let Some(addr) = table.checked_add(u64::from(first) * DESC_SIZE as u64) else {
                return;
            };
            let Some(buf) = self.descs.get_mut(..n * DESC_SIZE) else {
                return;
            };
            if mem.read_ring(addr, buf).is_err() {
                return;
            }
            self.descs_first = first;
            self.descs_len = n as u16;
            at = usize::from(head - first);
        }
        let desc = self
            .descs
            .get(at * DESC_SIZE..)
            .and_then(|b| b.first_chunk::<DESC_SIZE>());
        if let Some(desc) = desc {
            chain.read_ahead_head(desc);
        }
    }
}

/// The little-endian `u16` at index `i` of `b`; 0 outside (not reached: callers check).
fn le16(b: &[u8], i: usize) -> u16 {
    match b.get(i * 2..i * 2 + 2) {
        Some(&[lo, hi]) => u16::from_le_bytes([lo, hi]),
        _ => 0,
    }
}
