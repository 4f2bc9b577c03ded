// SPDX-License-Identifier: GPL-2.0

//! A descriptor chain popped from the avail ring, walked lazily and validated the way
//! `vhost_get_vq_desc` / `get_indirect` / `next_desc` do.
//!
//! Every descriptor the walk yields is a data descriptor (indirect ones are followed,
//! one level deep) whose buffer lies in guest memory (with `next_desc_deferred`, that one
//! check is the caller's, by translating the buffer). The walk stops with an error on:
//! more descriptors than the table holds (a loop: the TTL is the ring size, or the
//! indirect table's entry count, as vhost's `found` counter), `next` outside the table,
//! an indirect descriptor inside an indirect table, an indirect table length that is
//! zero, not a multiple of 16 or above 65536 entries, `INDIRECT` together with `NEXT`,
//! a device-readable buffer after a non-empty device-writable one, a total length above
//! `u32::MAX`, or a buffer outside guest memory.
//!
//! The main descriptor table is read at its ring address ([`GuestMemory::read_ring`]);
//! indirect tables are guest-physical ([`GuestMemory::read`]), as in vhost.

use super::error::Error;
use super::layout::{Descriptor, DESC_SIZE};
use super::memory::GuestMemory;

/// A guest-physical buffer of a chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Guest-physical address.
    pub addr: u64,
    /// Length in bytes.
    pub len: u32,
}

/// What [`DescChain::collect_segments`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainInfo {
    /// Number of device-readable segments stored.
    pub readable: usize,
    /// Number of device-writable segments stored.
    pub writable: usize,
    /// Total bytes of the device-readable segments.
    pub readable_len: u32,
    /// Total bytes of the device-writable segments.
    pub writable_len: u32,
}

/// Entries of an indirect table read in one memory access.
const READ_AHEAD: usize = 8;

/// A descriptor chain: its head index (for `add_used`) and the state of its walk.
///
/// Plain data: walking it again from the start is `clone()` before the first step.
///
/// An indirect table is read [`READ_AHEAD`] entries at a time (one user copy instead of one
/// per descriptor); the whole table was checked to lie in guest memory when it was entered,
/// as vhost's `get_indirect` maps it whole. The head descriptor comes from the queue's
/// read-ahead when it has it (see `readahead.rs`); other main-table entries are read one at
/// a time.
///
/// With its read-ahead buffer the chain is large (about 170 bytes): a hot loop should keep
/// one and refill it in place ([`SplitQueue::pop_chain_into`]) rather than move a new one
/// per packet.
///
/// [`SplitQueue::pop_chain_into`]: super::queue::SplitQueue::pop_chain_into
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DescChain {
    head: u16,
    /// Address of the table being walked (ring address, or guest-physical if `indirect`).
    table: u64,
    /// Entries in the table being walked.
    table_len: u32,
    /// Whether the walk is inside an indirect table.
    indirect: bool,
    /// Index of the next descriptor to read.
    index: u16,
    /// Descriptors that may still be read from the current table.
    ttl: u32,
    /// Whether a non-empty device-writable descriptor was seen.
    seen_writable: bool,
    /// Sum of the data descriptors' lengths so far.
    total_len: u32,
    /// No more descriptors (end reached or error returned).
    done: bool,
    /// Entries `ahead_first..ahead_first + ahead_len` of the table being walked, read ahead.
    ahead: [u8; READ_AHEAD * DESC_SIZE],
    ahead_first: u32,
    ahead_len: u32,
}

impl Default for DescChain {
    /// A finished, empty chain (head 0), to be refilled by
    /// [`SplitQueue::pop_chain_into`](super::queue::SplitQueue::pop_chain_into).
    fn default() -> Self {
        let mut c = Self::new(0, 0, 1);
        c.done = true;
        c
    }
}

impl DescChain {
    /// The chain starting at `head` of the descriptor table at ring address `desc_table`
    /// with `queue_size` entries. `head < queue_size` must have been checked.
    pub(super) const fn new(head: u16, desc_table: u64, queue_size: u16) -> Self {
        DescChain {
            head,
            table: desc_table,
            table_len: queue_size as u32,
            indirect: false,
            index: head,
            ttl: queue_size as u32,
            seen_writable: false,
            total_len: 0,
            done: false,
            ahead: [0; READ_AHEAD * DESC_SIZE],
            ahead_first: 0,
            ahead_len: 0,
        }
    }

    /// Makes this the chain starting at `head` (as [`DescChain::new`]) in place: the
    /// read-ahead buffer is left as it is, only marked empty, so taking a chain costs no
    /// copy of it.
    pub(super) fn restart(&mut self, head: u16, desc_table: u64, queue_size: u16) {
        self.head = head;
        self.table = desc_table;
        self.table_len = u32::from(queue_size);
        self.indirect = false;
        self.index = head;
        self.ttl = u32::from(queue_size);
        self.seen_writable = false;
        self.total_len = 0;
        self.done = false;
        self.ahead_first = 0;
        self.ahead_len = 0;
    }

    /// The head descriptor index, to pass to `add_used`.
    pub const fn head(&self) -> u16 {
        self.head
    }

    /// Whether the walk has entered an indirect table.
    pub const fn in_indirect(&self) -> bool {
        self.indirect
    }

    /// Sum of the lengths of the data descriptors yielded so far.
    pub const fn total_len(&self) -> u32 {
        self.total_len
    }

    /// Whether the walk is over (last descriptor yielded, or an error returned).
    pub const fn is_done(&self) -> bool {
        self.done
    }

    /// The head descriptor, already read (the queue's read-ahead): the walk takes it from
    /// here instead of reading the table. Only before the walk starts.
    pub(super) fn read_ahead_head(&mut self, desc: &[u8; DESC_SIZE]) {
        if self.indirect || self.ttl != self.table_len {
            return;
        }
        if let Some(dst) = self.ahead.first_chunk_mut::<DESC_SIZE>() {
            *dst = *desc;
            self.ahead_first = u32::from(self.head);
            self.ahead_len = 1;
        }
    }

    fn fail(&mut self, e: Error) -> Option<Result<Descriptor, Error>> {
        self.done = true;
        Some(Err(e))
    }

    fn read_desc<M: GuestMemory + ?Sized>(&mut self, mem: &M) -> Result<Descriptor, Error> {
        let index = u32::from(self.index);
        let off = u64::from(index) * DESC_SIZE as u64;
        let addr = self.table.checked_add(off).ok_or(Error::Overflow)?;
        let mut b = [0u8; DESC_SIZE];
        let cached = (self.ahead_first..self.ahead_first + self.ahead_len).contains(&index);
        if !self.indirect && !cached {
            mem.read_ring(addr, &mut b)?;
            return Ok(Descriptor::from_bytes(&b));
        }
        if !cached {
            // `index < table_len`: 0 on entry, `next` checked against it.
            let n = (self.table_len - index).min(READ_AHEAD as u32);
            self.ahead_len = 0;
            mem.read(addr, &mut self.ahead[..n as usize * DESC_SIZE])?;
            self.ahead_first = index;
            self.ahead_len = n;
        }
        let at = (index - self.ahead_first) as usize * DESC_SIZE;
        b.copy_from_slice(&self.ahead[at..at + DESC_SIZE]);
        Ok(Descriptor::from_bytes(&b))
    }

    /// Yields the next data descriptor, `Some(Err(_))` once on a malformed chain, then
    /// `None`.
    #[inline]
    pub fn next_desc<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
    ) -> Option<Result<Descriptor, Error>> {
        if self.done {
            return None;
        }
        self.step::<M, true>(mem)
    }

    /// [`DescChain::next_desc`] without the check that the yielded buffer lies in guest
    /// memory (everything else is checked as there, indirect tables included): for a
    /// caller that translates every byte it uses of each buffer through the memory table,
    /// which fails outside guest memory, as vhost's `translate_desc` does. That saves
    /// looking each buffer up twice. The caller must treat a failed translation as a
    /// malformed chain.
    #[inline]
    pub fn next_desc_deferred<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
    ) -> Option<Result<Descriptor, Error>> {
        if self.done {
            return None;
        }
        self.step::<M, false>(mem)
    }

    /// The walk of [`DescChain::next_desc`], for a chain not done (the callers test that
    /// inline: every walk ends with such a call); the buffer's range is checked if
    /// `CHECK_BUFFER`.
    #[inline(never)]
    fn step<M: GuestMemory + ?Sized, const CHECK_BUFFER: bool>(
        &mut self,
        mem: &M,
    ) -> Option<Result<Descriptor, Error>> {
        // At most two reads: an indirect descriptor, then its table's first entry.
        loop {
            // vhost: `if (unlikely(++found > vq->num))` "Loop detected".
            self.ttl = match self.ttl.checked_sub(1) {
                Some(t) => t,
                None => return self.fail(Error::LoopDetected),
            };
            let d = match self.read_desc(mem) {
                Ok(d) => d,
                Err(e) => return self.fail(e),
            };
            if d.is_indirect() {
                if self.indirect {
                    return self.fail(Error::IndirectInIndirect);
                }
                if d.has_next() {
                    return self.fail(Error::IndirectWithNext);
                }
                if d.len == 0 || d.len % DESC_SIZE as u32 != 0 {
                    return self.fail(Error::BadIndirectLength);
                }
                let count = d.len / DESC_SIZE as u32;
                // "Buffers are chained via a 16 bit next field, so we can have at most
                // 2^16 of these."
                if count > 1 << 16 {
                    return self.fail(Error::IndirectTooBig);
                }
                if let Err(e) = mem.check_range(d.addr, u64::from(d.len)) {
                    return self.fail(e);
                }
                self.table = d.addr;
                self.table_len = count;
                self.indirect = true;
                self.index = 0;
                self.ahead_len = 0;
                self.ttl = count;
                continue;
            }
            if CHECK_BUFFER {
                if let Err(e) = mem.check_range(d.addr, u64::from(d.len)) {
                    return self.fail(e);
                }
            }
            if d.is_write_only() {
                // vhost counts iovecs: a zero-length writable buffer adds none, so it
                // does not forbid a later readable one.
                if d.len != 0 {
                    self.seen_writable = true;
                }
            } else if self.seen_writable {
                return self.fail(Error::ReadableAfterWritable);
            }
            self.total_len = match self.total_len.checked_add(d.len) {
                Some(t) => t,
                None => return self.fail(Error::ChainTooLong),
            };
            if d.has_next() {
                if u32::from(d.next) >= self.table_len {
                    return self.fail(Error::NextOutOfRange);
                }
                self.index = d.next;
            } else {
                self.done = true;
            }
            return Some(Ok(d));
        }
    }

    /// An iterator over the remaining data descriptors (see [`DescChain::next_desc`]).
    pub fn iter<'a, M: GuestMemory + ?Sized>(&'a mut self, mem: &'a M) -> ChainIter<'a, M> {
        ChainIter { chain: self, mem }
    }

    /// Walks the rest of the chain, calling `f(segment, device_writable)` for each data
    /// descriptor, zero-length ones included. Stops at the first error, from the walk or
    /// from `f`.
    pub fn for_each_segment<M, F>(&mut self, mem: &M, mut f: F) -> Result<(), Error>
    where
        M: GuestMemory + ?Sized,
        F: FnMut(Segment, bool) -> Result<(), Error>,
    {
        while let Some(d) = self.next_desc(mem) {
            let d = d?;
            f(
                Segment {
                    addr: d.addr,
                    len: d.len,
                },
                d.is_write_only(),
            )?;
        }
        Ok(())
    }

    /// Walks the rest of the chain once, storing device-readable segments in `readable`
    /// and device-writable ones in `writable` (zero-length descriptors are skipped, as
    /// vhost makes no iovec for them). [`Error::TooManySegments`] when an array is full.
    pub fn collect_segments<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
        readable: &mut [Segment],
        writable: &mut [Segment],
    ) -> Result<ChainInfo, Error> {
        let mut info = ChainInfo::default();
        self.for_each_segment(mem, |s, w| {
            if s.len == 0 {
                return Ok(());
            }
            let (arr, n, total) = if w {
                (&mut *writable, &mut info.writable, &mut info.writable_len)
            } else {
                (&mut *readable, &mut info.readable, &mut info.readable_len)
            };
            let slot = arr.get_mut(*n).ok_or(Error::TooManySegments)?;
            *slot = s;
            *n += 1;
            // Bounded by the chain's total length, which was checked against `u32`.
            *total = total.checked_add(s.len).ok_or(Error::ChainTooLong)?;
            Ok(())
        })?;
        Ok(info)
    }
}

/// Iterator over a chain's data descriptors; see [`DescChain::iter`].
#[derive(Debug)]
pub struct ChainIter<'a, M: ?Sized> {
    chain: &'a mut DescChain,
    mem: &'a M,
}

impl<M: GuestMemory + ?Sized> Iterator for ChainIter<'_, M> {
    type Item = Result<Descriptor, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.chain.next_desc(self.mem)
    }
}
