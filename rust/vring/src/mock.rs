// SPDX-License-Identifier: GPL-2.0

//! Test doubles (feature `mock`, always in tests): guest memory backed by a `Vec` and a
//! virtio driver that builds split rings in it, in the spirit of rust-vmm's
//! `MockSplitQueue`.
//!
//! [`MockMemory`] is a [`MappedMemory`] over a [`MemTable`]: its regions are placed in
//! the backing `Vec` in reverse order with gaps, and user addresses start at
//! [`UADDR_BASE`], so guest-physical and user addresses never coincide and a range
//! crossing two guest regions is never contiguous on the host side. The driver
//! ([`MockDriver`]) works with guest-physical addresses and hands the device the rings'
//! user addresses, as a vhost owner does. Its methods panic on misuse: test code only.

use alloc::vec;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::num::Wrapping;
use core::sync::atomic::{fence, Ordering};

use crate::vring::layout::{
    avail_event_offset, avail_ring_offset, avail_ring_size, desc_table_size, used_elem_offset,
    used_event_offset, used_ring_size, Descriptor, RingAddrs, UsedElem, AVAIL_FLAGS_OFFSET,
    AVAIL_IDX_OFFSET, DESC_SIZE, USED_ELEM_SIZE, USED_FLAGS_OFFSET, USED_IDX_OFFSET,
    VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_USED_F_NO_NOTIFY,
};
use crate::vring::memory::{GuestMemory, MappedMemory, UserAccess};
use crate::vring::memtable::{MemTable, Region};
use crate::vring::queue::vring_need_event;
use crate::vring::Error;

/// User address of the first byte of the backing `Vec`. User addresses outside the
/// regions (the gaps, or beyond) fault like unmapped user memory ([`Error::Fault`]).
pub const UADDR_BASE: u64 = 0x7f00_0000_0000;

/// Gap between regions in the backing `Vec`.
const GAP: usize = 4096;

/// The owner's address space: a `Vec` at [`UADDR_BASE`], with an optional faulting range.
#[derive(Debug)]
pub struct VecAccess {
    bytes: RefCell<Vec<u8>>,
    /// Mapped `(offset, len)` ranges of `bytes`; the gaps between them fault.
    mapped: Vec<(usize, usize)>,
    fault: Cell<Option<(u64, u64)>>,
    accesses: Cell<u64>,
}

impl VecAccess {
    fn range(&self, uaddr: u64, len: usize) -> Result<core::ops::Range<usize>, Error> {
        self.accesses.set(self.accesses.get() + 1);
        if let Some((start, flen)) = self.fault.get() {
            let end = uaddr.saturating_add(len as u64);
            if len > 0 && uaddr < start.saturating_add(flen) && start < end {
                return Err(Error::Fault);
            }
        }
        // Like copy_{from,to}_user: anything outside the owner's mappings faults.
        let off = uaddr.checked_sub(UADDR_BASE).ok_or(Error::Fault)?;
        let off = usize::try_from(off).map_err(|_| Error::Fault)?;
        let end = off.checked_add(len).ok_or(Error::Fault)?;
        if !self.mapped.iter().any(|&(s, l)| off >= s && end <= s + l) {
            return Err(Error::Fault);
        }
        Ok(off..end)
    }
}

impl UserAccess for VecAccess {
    fn read_user(&self, uaddr: u64, buf: &mut [u8]) -> Result<(), Error> {
        let r = self.range(uaddr, buf.len())?;
        buf.copy_from_slice(&self.bytes.borrow()[r]);
        Ok(())
    }

    fn write_user(&self, uaddr: u64, buf: &[u8]) -> Result<(), Error> {
        let r = self.range(uaddr, buf.len())?;
        self.bytes.borrow_mut()[r].copy_from_slice(buf);
        Ok(())
    }

    fn check_user(&self, uaddr: u64, len: u64) -> Result<(), Error> {
        let len = usize::try_from(len).map_err(|_| Error::Fault)?;
        self.range(uaddr, len).map(|_| ())
    }
}

/// Guest memory: a [`MemTable`] over a [`VecAccess`].
#[derive(Debug)]
pub struct MockMemory {
    table: MemTable,
    access: VecAccess,
}

impl MockMemory {
    /// Guest memory with the given `(guest_phys_addr, size)` regions.
    pub fn new(regions: &[(u64, u64)]) -> Self {
        let mut table = MemTable::new();
        let mut off = 0usize;
        let mut mapped = Vec::new();
        for &(gpa, size) in regions.iter().rev() {
            let uaddr = UADDR_BASE + off as u64;
            table
                .push(Region::new(gpa, size, uaddr))
                .expect("mock region");
            let size = usize::try_from(size).expect("mock region size");
            mapped.push((off, size));
            // Page-aligned like real mappings, so rings keep their alignment.
            off = (off + size + GAP + 4095) & !4095;
        }
        MockMemory {
            table,
            access: VecAccess {
                bytes: RefCell::new(vec![0; off]),
                mapped,
                fault: Cell::new(None),
                accesses: Cell::new(0),
            },
        }
    }

    /// One region of `size` bytes at guest address 0.
    pub fn flat(size: u64) -> Self {
        Self::new(&[(0, size)])
    }

    /// The memory table.
    pub fn table(&self) -> &MemTable {
        &self.table
    }

    /// The [`MappedMemory`] this delegates to.
    pub fn mapped(&self) -> MappedMemory<'_, &VecAccess> {
        MappedMemory::new(&self.table, &self.access)
    }

    /// User address of `gpa` (panics if unmapped).
    pub fn uaddr(&self, gpa: u64) -> u64 {
        self.table.translate(gpa, 1).expect("mapped gpa").0
    }

    /// Makes every access touching user range `[uaddr, uaddr + len)` fail with
    /// [`Error::Fault`] (`None`: no fault).
    pub fn set_fault(&self, range: Option<(u64, u64)>) {
        self.access.fault.set(range);
    }

    /// Number of user-memory accesses so far.
    pub fn accesses(&self) -> u64 {
        self.access.accesses.get()
    }

    /// Reads `len` bytes at `gpa` (panics on failure).
    pub fn read_vec(&self, gpa: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.read(gpa, &mut v).expect("mock read");
        v
    }
}

impl GuestMemory for MockMemory {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.mapped().read(gpa, buf)
    }
    fn write(&self, gpa: u64, buf: &[u8]) -> Result<(), Error> {
        self.mapped().write(gpa, buf)
    }
    fn check_range(&self, gpa: u64, len: u64) -> Result<(), Error> {
        self.mapped().check_range(gpa, len)
    }
    fn read_ring(&self, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.mapped().read_ring(addr, buf)
    }
    fn write_ring(&self, addr: u64, buf: &[u8]) -> Result<(), Error> {
        self.mapped().write_ring(addr, buf)
    }
    fn check_ring_range(&self, addr: u64, len: u64) -> Result<(), Error> {
        self.mapped().check_ring_range(addr, len)
    }
}

/// A buffer to put in a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buf {
    /// Guest-physical address.
    pub addr: u64,
    /// Length.
    pub len: u32,
    /// Device-writable.
    pub write: bool,
}

impl Buf {
    /// A device-readable buffer.
    pub const fn r(addr: u64, len: u32) -> Self {
        Buf {
            addr,
            len,
            write: false,
        }
    }

    /// A device-writable buffer.
    pub const fn w(addr: u64, len: u32) -> Self {
        Buf {
            addr,
            len,
            write: true,
        }
    }

    fn flags(&self) -> u16 {
        if self.write {
            VRING_DESC_F_WRITE
        } else {
            0
        }
    }
}

/// The driver side of a split queue in a [`MockMemory`], working like Linux
/// `virtio_ring.c`: free descriptor list, avail publishing, kicks with suppression,
/// used-ring reaping.
#[derive(Debug)]
pub struct MockDriver<'m> {
    mem: &'m MockMemory,
    size: u16,
    desc: u64,
    avail: u64,
    used: u64,
    free: Vec<u16>,
    chains: Vec<Option<Vec<u16>>>,
    next_avail: Wrapping<u16>,
    published: Wrapping<u16>,
    last_used: Wrapping<u16>,
    event_idx: bool,
}

impl<'m> MockDriver<'m> {
    /// A driver with rings at guest addresses `desc`, `avail`, `used` (zeroed).
    pub fn new(mem: &'m MockMemory, size: u16, desc: u64, avail: u64, used: u64) -> Self {
        let d = MockDriver {
            mem,
            size,
            desc,
            avail,
            used,
            free: (0..size).rev().collect(),
            chains: vec![None; usize::from(size)],
            next_avail: Wrapping(0),
            published: Wrapping(0),
            last_used: Wrapping(0),
            event_idx: false,
        };
        let zero = |a: u64, n: u64| mem.write(a, &vec![0; n as usize]);
        zero(desc, desc_table_size(size)).expect("desc");
        zero(avail, avail_ring_size(size, false)).expect("avail");
        zero(used, used_ring_size(size, false)).expect("used");
        // The event fields may lie outside memory in tests of exactly that.
        let _ = zero(avail + used_event_offset(size), 2);
        let _ = zero(used + avail_event_offset(size), 2);
        d
    }

    /// A driver with the legacy contiguous layout (`vring_init`, align 4096) at `base`.
    pub fn with_base(mem: &'m MockMemory, size: u16, base: u64) -> Self {
        let s = u64::from(size);
        let avail = base + 16 * s;
        let used = (avail + 6 + 2 * s + 4095) & !4095;
        Self::new(mem, size, base, avail, used)
    }

    /// Bytes the legacy layout of `size` entries takes.
    pub fn layout_size(size: u16) -> u64 {
        let s = u64::from(size);
        ((16 * s + 6 + 2 * s + 4095) & !4095) + 6 + 8 * s
    }

    /// The rings' user addresses, for `SplitQueue::set_addrs`.
    pub fn ring_addrs(&self) -> RingAddrs {
        RingAddrs {
            desc: self.mem.uaddr(self.desc),
            avail: self.mem.uaddr(self.avail),
            used: self.mem.uaddr(self.used),
        }
    }

    /// Ring size.
    pub fn size(&self) -> u16 {
        self.size
    }

    /// Guest addresses `(desc, avail, used)`.
    pub fn ring_gpas(&self) -> (u64, u64, u64) {
        (self.desc, self.avail, self.used)
    }

    /// Whether `VIRTIO_RING_F_EVENT_IDX` is used by [`MockDriver::kick`].
    pub fn set_event_idx(&mut self, on: bool) {
        self.event_idx = on;
    }

    /// Free descriptors.
    pub fn num_free(&self) -> usize {
        self.free.len()
    }

    /// The driver's next used index to reap.
    pub fn last_used(&self) -> u16 {
        self.last_used.0
    }

    /// Chains made available (published or not) and not yet reaped.
    pub fn in_flight(&self) -> u16 {
        (self.next_avail - self.last_used).0
    }

    /// Writes descriptor `i` of the main table.
    pub fn write_desc(&self, i: u16, d: Descriptor) {
        let a = self.desc + u64::from(i) * DESC_SIZE as u64;
        self.mem.write(a, &d.to_bytes()).expect("write desc");
    }

    /// Reads descriptor `i` of the main table.
    pub fn read_desc(&self, i: u16) -> Descriptor {
        let a = self.desc + u64::from(i) * DESC_SIZE as u64;
        let mut b = [0; DESC_SIZE];
        self.mem.read(a, &mut b).expect("read desc");
        Descriptor::from_bytes(&b)
    }

    /// Writes entry `i` of an indirect table at `table`.
    pub fn write_table_desc(&self, table: u64, i: u16, d: Descriptor) {
        let a = table + u64::from(i) * DESC_SIZE as u64;
        self.mem.write(a, &d.to_bytes()).expect("write table desc");
    }

    /// Builds a direct chain of `bufs` from free descriptors and makes it available
    /// (not yet visible: see [`MockDriver::kick`]). `None` if too few are free.
    pub fn add_chain(&mut self, bufs: &[Buf]) -> Option<u16> {
        if bufs.is_empty() || bufs.len() > self.free.len() {
            return None;
        }
        let ids: Vec<u16> = (0..bufs.len()).map(|_| self.free.pop().unwrap()).collect();
        for (k, (b, &i)) in bufs.iter().zip(&ids).enumerate() {
            let next = ids.get(k + 1).copied();
            self.write_desc(
                i,
                Descriptor {
                    addr: b.addr,
                    len: b.len,
                    flags: b.flags() | if next.is_some() { VRING_DESC_F_NEXT } else { 0 },
                    next: next.unwrap_or(0),
                },
            );
        }
        let head = ids[0];
        self.chains[usize::from(head)] = Some(ids);
        self.publish(head);
        Some(head)
    }

    /// Writes `bufs` as an indirect table at `table` (entries linked `i -> i + 1`) and
    /// makes available a chain of one `VRING_DESC_F_INDIRECT` descriptor pointing to it.
    pub fn add_indirect(&mut self, table: u64, bufs: &[Buf]) -> Option<u16> {
        let head = self.free.pop()?;
        for (k, b) in bufs.iter().enumerate() {
            let last = k + 1 == bufs.len();
            self.write_table_desc(
                table,
                k as u16,
                Descriptor {
                    addr: b.addr,
                    len: b.len,
                    flags: b.flags() | if last { 0 } else { VRING_DESC_F_NEXT },
                    next: if last { 0 } else { k as u16 + 1 },
                },
            );
        }
        self.write_desc(
            head,
            Descriptor {
                addr: table,
                len: (bufs.len() * DESC_SIZE) as u32,
                flags: VRING_DESC_F_INDIRECT,
                next: 0,
            },
        );
        self.chains[usize::from(head)] = Some(vec![head]);
        self.publish(head);
        Some(head)
    }

    /// The descriptor the next chain will start at (the free list is a stack).
    pub fn peek_free(&self) -> Option<u16> {
        self.free.last().copied()
    }

    /// Takes a free descriptor without writing it (for hand-built chains).
    pub fn alloc_desc(&mut self) -> Option<u16> {
        self.free.pop()
    }

    /// Puts `head` in the next avail slot (the device sees it after
    /// [`MockDriver::kick`]).
    pub fn publish(&mut self, head: u16) {
        let slot = self.next_avail.0 & (self.size - 1);
        self.mem
            .write_u16(self.avail + avail_ring_offset(slot), head)
            .expect("avail ring");
        self.next_avail += Wrapping(1);
    }

    /// Publishes `avail->idx` (after a fence, like `virtqueue_kick_prepare`) and returns
    /// whether the device asked to be notified: with event idx
    /// `vring_need_event(avail_event, new, old)`, else `!(used->flags & NO_NOTIFY)`.
    pub fn kick(&mut self) -> bool {
        fence(Ordering::Release);
        let old = self.published;
        let new = self.next_avail;
        self.mem
            .write_u16(self.avail + AVAIL_IDX_OFFSET, new.0)
            .expect("avail idx");
        self.published = new;
        fence(Ordering::SeqCst);
        if self.event_idx {
            vring_need_event(self.avail_event(), new.0, old.0)
        } else {
            self.used_flags() & VRING_USED_F_NO_NOTIFY == 0
        }
    }

    /// Writes `avail->idx` directly (the driver's own index follows).
    pub fn set_avail_idx(&mut self, idx: u16) {
        self.mem
            .write_u16(self.avail + AVAIL_IDX_OFFSET, idx)
            .expect("avail idx");
        self.next_avail = Wrapping(idx);
        self.published = Wrapping(idx);
    }

    /// Moves all of the driver's indices to `idx` (the device must `set_base(idx)` and
    /// find `used->idx == idx`), to test index wrap without 65536 operations.
    pub fn set_base(&mut self, idx: u16) {
        self.set_avail_idx(idx);
        self.mem
            .write_u16(self.used + USED_IDX_OFFSET, idx)
            .expect("used idx");
        self.last_used = Wrapping(idx);
    }

    /// Writes avail ring slot `slot` directly.
    pub fn set_avail_slot(&self, slot: u16, head: u16) {
        self.mem
            .write_u16(self.avail + avail_ring_offset(slot), head)
            .expect("avail ring");
    }

    /// Writes `avail->flags` (`VRING_AVAIL_F_NO_INTERRUPT`).
    pub fn set_avail_flags(&self, flags: u16) {
        self.mem
            .write_u16(self.avail + AVAIL_FLAGS_OFFSET, flags)
            .expect("avail flags");
    }

    /// Writes `used_event`.
    pub fn set_used_event(&self, v: u16) {
        self.mem
            .write_u16(self.avail + used_event_offset(self.size), v)
            .expect("used event");
    }

    /// Reads `used->flags`.
    pub fn used_flags(&self) -> u16 {
        self.mem
            .read_u16(self.used + USED_FLAGS_OFFSET)
            .expect("used flags")
    }

    /// Reads `used->idx`.
    pub fn used_idx(&self) -> u16 {
        self.mem
            .read_u16(self.used + USED_IDX_OFFSET)
            .expect("used idx")
    }

    /// Reads `avail_event`.
    pub fn avail_event(&self) -> u16 {
        self.mem
            .read_u16(self.used + avail_event_offset(self.size))
            .expect("avail event")
    }

    /// Reaps the next used element, freeing its chain's descriptors.
    pub fn pop_used(&mut self) -> Option<UsedElem> {
        if self.used_idx() == self.last_used.0 {
            return None;
        }
        fence(Ordering::Acquire);
        let slot = self.last_used.0 & (self.size - 1);
        let mut b = [0; USED_ELEM_SIZE];
        self.mem
            .read(self.used + used_elem_offset(slot), &mut b)
            .expect("used elem");
        self.last_used += Wrapping(1);
        let e = UsedElem::from_bytes(&b);
        if let Some(ids) = self.chains.get_mut(e.id as usize).and_then(|c| c.take()) {
            self.free.extend(ids);
        }
        Some(e)
    }
}
