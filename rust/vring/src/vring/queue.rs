// SPDX-License-Identifier: GPL-2.0

//! Device-side state of one split virtqueue and its ring operations, mirroring
//! `drivers/vhost/vhost.c`: `vhost_vring_set_num/addr`, `VHOST_SET/GET_VRING_BASE`,
//! `vhost_vq_access_ok` + `vhost_vq_init_access` ([`SplitQueue::activate`]),
//! `vhost_get_avail_idx` + the head part of `vhost_get_vq_desc`
//! ([`SplitQueue::pop_chain`]), `vhost_add_used_n`, `vhost_notify`,
//! `vhost_enable_notify`, `vhost_disable_notify`, `vhost_vq_avail_empty`.
//!
//! Memory ordering, as vhost's barriers (the driver side is Linux `virtio_ring.c`):
//! * after reading a new `avail->idx`, an `Acquire` fence (`smp_rmb`) before reading the
//!   avail ring and descriptors;
//! * after writing used elements, a `Release` fence (`smp_wmb`) before `used->idx`;
//! * `SeqCst` fences (`smp_mb`) before reading `avail->flags` / `used_event` when
//!   deciding to interrupt, and between re-enabling kicks and re-reading `avail->idx`
//!   (otherwise a buffer added meanwhile would get neither a kick nor a poll).
//!
//! Indices are free-running `Wrapping<u16>`; ring slots are `idx & (size - 1)`.

use core::num::Wrapping;
use core::sync::atomic::{fence, Ordering};

use super::chain::DescChain;
use super::error::Error;
use super::layout::{
    avail_event_offset, avail_ring_size, check_queue_size, desc_table_size, used_elem_offset,
    used_event_offset, used_ring_size, RingAddrs, UsedElem, AVAIL_FLAGS_OFFSET, AVAIL_IDX_OFFSET,
    USED_ELEM_SIZE, USED_FLAGS_OFFSET, USED_IDX_OFFSET, VRING_AVAIL_F_NO_INTERRUPT,
    VRING_USED_F_NO_NOTIFY,
};
use super::memory::GuestMemory;
use super::readahead::ReadAhead;

/// Used elements written per `write_ring` call by [`SplitQueue::add_used_n`].
const USED_BATCH: usize = 32;

/// `vring_need_event` (VIRTIO 1.x 2.7.7.2): whether moving an index from `old` to `new`
/// crossed `event_idx`, i.e. `(u16)(new - event_idx - 1) < (u16)(new - old)`.
pub const fn vring_need_event(event_idx: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event_idx).wrapping_sub(1) < new.wrapping_sub(old)
}

/// One split virtqueue, device side: plain data, no locking (the caller serialises, as
/// vhost's `vq->mutex`), memory passed to each operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitQueue {
    size: u16,
    addrs: RingAddrs,
    addrs_set: bool,
    /// Next avail entry the device will consume.
    last_avail_idx: Wrapping<u16>,
    /// Last `avail->idx` read (vhost's `vq->avail_idx`).
    avail_idx: Wrapping<u16>,
    /// Next used entry the device will write (`used->idx` once published).
    last_used_idx: Wrapping<u16>,
    /// `last_used_idx` at the last `needs_notification`.
    signalled_used: Wrapping<u16>,
    signalled_used_valid: bool,
    /// Our copy of `used->flags`.
    used_flags: u16,
    event_idx: bool,
    notify_on_empty: bool,
    ready: bool,
    broken: bool,
    /// Avail entries and descriptors read ahead by `pop_chain`, until `avail->idx` is read.
    read_ahead: ReadAhead,
}

impl Default for SplitQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl SplitQueue {
    /// A queue in `vhost_vq_reset` state: size 1, no addresses, indices 0, inactive.
    pub const fn new() -> Self {
        SplitQueue {
            size: 1,
            addrs: RingAddrs {
                desc: 0,
                avail: 0,
                used: 0,
            },
            addrs_set: false,
            last_avail_idx: Wrapping(0),
            avail_idx: Wrapping(0),
            last_used_idx: Wrapping(0),
            signalled_used: Wrapping(0),
            signalled_used_valid: false,
            used_flags: 0,
            event_idx: false,
            notify_on_empty: false,
            ready: false,
            broken: false,
            read_ahead: ReadAhead::new(),
        }
    }

    /// Back to [`SplitQueue::new`] (`vhost_vq_reset`).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// `VHOST_SET_VRING_NUM`: [`Error::Busy`] if active, [`Error::BadRingSize`] unless a
    /// power of two in `1..=32768`.
    pub fn set_size(&mut self, num: u32) -> Result<(), Error> {
        if self.ready {
            return Err(Error::Busy);
        }
        self.size = check_queue_size(num)?;
        Ok(())
    }

    /// The ring size.
    pub const fn size(&self) -> u16 {
        self.size
    }

    /// `VHOST_SET_VRING_ADDR`: checks alignment ([`Error::Misaligned`]); if the queue is
    /// active, also that the rings are accessible at the new addresses (`vq_access_ok`),
    /// otherwise that is left to [`SplitQueue::activate`].
    pub fn set_addrs<M: GuestMemory + ?Sized>(
        &mut self,
        addrs: RingAddrs,
        mem: &M,
    ) -> Result<(), Error> {
        addrs.check_alignment()?;
        if self.ready {
            Self::check_access(&addrs, self.size, self.event_idx, mem)?;
        }
        self.addrs = addrs;
        self.addrs_set = true;
        self.read_ahead.invalidate();
        Ok(())
    }

    /// The ring addresses.
    pub const fn addrs(&self) -> RingAddrs {
        self.addrs
    }

    /// `VHOST_SET_VRING_BASE` (split ring): [`Error::Busy`] if active, [`Error::BadBase`]
    /// above `0xffff`. Sets the next avail index to consume and forgets the cached
    /// `avail->idx`.
    pub fn set_base(&mut self, num: u32) -> Result<(), Error> {
        if self.ready {
            return Err(Error::Busy);
        }
        let base = u16::try_from(num).map_err(|_| Error::BadBase)?;
        self.last_avail_idx = Wrapping(base);
        self.avail_idx = Wrapping(base);
        self.read_ahead.invalidate();
        Ok(())
    }

    /// `VHOST_GET_VRING_BASE` (split ring): the next avail index to consume.
    pub const fn get_base(&self) -> u32 {
        self.last_avail_idx.0 as u32
    }

    /// Whether `VIRTIO_RING_F_EVENT_IDX` was negotiated.
    pub fn set_event_idx(&mut self, on: bool) {
        self.event_idx = on;
    }

    /// Whether `VIRTIO_RING_F_EVENT_IDX` is on.
    pub const fn event_idx(&self) -> bool {
        self.event_idx
    }

    /// Whether `VIRTIO_F_NOTIFY_ON_EMPTY` was negotiated.
    pub fn set_notify_on_empty(&mut self, on: bool) {
        self.notify_on_empty = on;
    }

    /// Next avail index the device will consume.
    pub const fn last_avail_idx(&self) -> u16 {
        self.last_avail_idx.0
    }

    /// The `avail->idx` value last read.
    pub const fn cached_avail_idx(&self) -> u16 {
        self.avail_idx.0
    }

    /// Next used index the device will publish (equals `used->idx` after `add_used*`).
    pub const fn last_used_idx(&self) -> u16 {
        self.last_used_idx.0
    }

    /// Whether the queue is active.
    pub const fn is_ready(&self) -> bool {
        self.ready
    }

    /// Whether a guest protocol violation stopped the queue.
    pub const fn is_broken(&self) -> bool {
        self.broken
    }

    /// Stops the queue: [`SplitQueue::pop_chain`] fails with [`Error::Broken`] until
    /// re-activation. Call it when a chain walk fails.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Whether we currently ask the driver not to kick (`VRING_USED_F_NO_NOTIFY` in our
    /// used flags).
    pub const fn notification_disabled(&self) -> bool {
        self.used_flags & VRING_USED_F_NO_NOTIFY != 0
    }

    fn check_access<M: GuestMemory + ?Sized>(
        addrs: &RingAddrs,
        size: u16,
        event_idx: bool,
        mem: &M,
    ) -> Result<(), Error> {
        mem.check_ring_range(addrs.desc, desc_table_size(size))?;
        mem.check_ring_range(addrs.avail, avail_ring_size(size, event_idx))?;
        mem.check_ring_range(addrs.used, used_ring_size(size, event_idx))
    }

    /// Address `off` bytes into the ring at `base`.
    fn at(base: u64, off: u64) -> Result<u64, Error> {
        base.checked_add(off).ok_or(Error::Overflow)
    }

    /// Starts the queue (backend attached): `vhost_vq_access_ok` (the three rings are
    /// accessible, sized per the event-idx setting) then `vhost_vq_init_access` (write
    /// our used flags, invalidate `signalled_used`, read `used->idx` as the next used
    /// index). Clears the broken state. [`Error::NotReady`] if addresses were never set.
    pub fn activate<M: GuestMemory + ?Sized>(&mut self, mem: &M) -> Result<(), Error> {
        if !self.addrs_set {
            return Err(Error::NotReady);
        }
        Self::check_access(&self.addrs, self.size, self.event_idx, mem)?;
        mem.write_ring_u16(
            Self::at(self.addrs.used, USED_FLAGS_OFFSET)?,
            self.used_flags,
        )?;
        self.signalled_used_valid = false;
        let used = mem.read_ring_u16(Self::at(self.addrs.used, USED_IDX_OFFSET)?)?;
        self.last_used_idx = Wrapping(used);
        self.read_ahead.invalidate();
        self.broken = false;
        self.ready = true;
        Ok(())
    }

    /// Stops the queue (backend detached); indices are kept for `get_base`.
    pub fn deactivate(&mut self) {
        self.ready = false;
    }

    /// `vhost_get_avail_idx`: reads `avail->idx`; `Ok(true)` if it moved since the last
    /// read (then fences before the caller reads the ring), `Ok(false)` if not.
    fn fetch_avail_idx<M: GuestMemory + ?Sized>(&mut self, mem: &M) -> Result<bool, Error> {
        let idx = Wrapping(mem.read_ring_u16(Self::at(self.addrs.avail, AVAIL_IDX_OFFSET)?)?);
        // "Check it isn't doing very strange thing with available indexes" - a driver
        // can not have more than `size` buffers outstanding.
        if (idx - self.last_avail_idx).0 > self.size {
            self.broken = true;
            return Err(Error::AvailIndexTooFar);
        }
        if idx == self.avail_idx {
            return Ok(false);
        }
        self.avail_idx = idx;
        // Descriptors read before this index may have been rewritten for it.
        self.read_ahead.invalidate();
        // smp_rmb(): read the ring entries and descriptors only after the index.
        fence(Ordering::Acquire);
        Ok(true)
    }

    /// Takes the next available chain (head part of `vhost_get_vq_desc`): `Ok(None)` if
    /// the ring is empty. Advances the next avail index; the chain is walked (and
    /// validated) by [`DescChain`]. Avail entries and descriptors are read ahead, many per
    /// ring access (see `readahead.rs`). A bad `avail->idx` ([`Error::AvailIndexTooFar`]) or
    /// head ([`Error::HeadOutOfRange`]) marks the queue broken; a memory fault leaves the
    /// state unchanged. [`Error::NotReady`] / [`Error::Broken`] if inactive / broken.
    pub fn pop_chain<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
    ) -> Result<Option<DescChain>, Error> {
        let mut chain = DescChain::default();
        Ok(self.pop_chain_into(mem, &mut chain)?.then_some(chain))
    }

    /// [`SplitQueue::pop_chain`] into `chain`, refilled in place (no copy of the chain):
    /// `Ok(true)` if a chain was taken, `Ok(false)` if the ring is empty. On `Ok(false)` or
    /// an error `chain` is unchanged.
    pub fn pop_chain_into<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
        chain: &mut DescChain,
    ) -> Result<bool, Error> {
        if !self.ready {
            return Err(Error::NotReady);
        }
        if self.broken {
            return Err(Error::Broken);
        }
        if self.avail_idx == self.last_avail_idx && !self.fetch_avail_idx(mem)? {
            return Ok(false);
        }
        let head = self.read_ahead.head(
            mem,
            self.addrs.avail,
            self.size,
            self.last_avail_idx,
            self.avail_idx,
        )?;
        if head >= self.size {
            self.broken = true;
            return Err(Error::HeadOutOfRange);
        }
        self.last_avail_idx += Wrapping(1);
        chain.restart(head, self.addrs.desc, self.size);
        self.read_ahead
            .fill_chain(mem, self.addrs.desc, self.size, head, chain);
        Ok(true)
    }

    /// Gives back the last `n` popped chains (`vhost_discard_vq_desc`).
    pub fn undo_pop(&mut self, n: u16) {
        self.last_avail_idx -= Wrapping(n);
    }

    /// `vhost_vq_avail_empty`: whether the avail ring is surely empty (a read error
    /// counts as non-empty; an inactive queue is empty).
    pub fn avail_empty<M: GuestMemory + ?Sized>(&mut self, mem: &M) -> bool {
        if !self.ready {
            return true;
        }
        if self.avail_idx != self.last_avail_idx {
            return false;
        }
        matches!(self.fetch_avail_idx(mem), Ok(false))
    }

    /// `vhost_add_used`: returns chain `head` with `len` bytes written.
    pub fn add_used<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
        head: u16,
        len: u32,
    ) -> Result<(), Error> {
        self.add_used_n(mem, &[UsedElem::new(u32::from(head), len)])
    }

    /// `vhost_add_used_n`: writes `elems` to the used ring (wrapping at its end), then,
    /// after a `Release` fence, the new `used->idx`. Every `id` must be `< size`
    /// ([`Error::HeadOutOfRange`]) and there may be at most `size` elements
    /// ([`Error::TooManyUsed`]); nothing is written if not.
    pub fn add_used_n<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
        elems: &[UsedElem],
    ) -> Result<(), Error> {
        if !self.ready {
            return Err(Error::NotReady);
        }
        let count = u16::try_from(elems.len()).map_err(|_| Error::TooManyUsed)?;
        if count > self.size {
            return Err(Error::TooManyUsed);
        }
        if elems.iter().any(|e| e.id >= u32::from(self.size)) {
            return Err(Error::HeadOutOfRange);
        }
        let mask = self.size - 1;
        let mut slot = self.last_used_idx.0 & mask;
        let mut buf = [0u8; USED_BATCH * USED_ELEM_SIZE];
        let mut rest = elems;
        while !rest.is_empty() {
            // Elements up to the ring's end, at most one batch.
            let to_end = usize::from(self.size - slot);
            let n = rest.len().min(to_end).min(USED_BATCH);
            let (now, later) = rest.split_at(n);
            let mut bytes = 0;
            for (e, dst) in now.iter().zip(buf.chunks_exact_mut(USED_ELEM_SIZE)) {
                dst.copy_from_slice(&e.to_bytes());
                bytes += USED_ELEM_SIZE;
            }
            let chunk = buf.get(..bytes).ok_or(Error::TooManyUsed)?;
            mem.write_ring(Self::at(self.addrs.used, used_elem_offset(slot))?, chunk)?;
            // `n <= size - slot`, so this stays within `0..=size`, then masks to a slot.
            slot = slot.wrapping_add(n as u16) & mask;
            rest = later;
        }
        let old = self.last_used_idx;
        let new = old + Wrapping(count);
        self.last_used_idx = new;
        // "If the driver never bothers to signal in a very long while, used index might
        // wrap around. If that happens, invalidate signalled_used index we stored."
        if (new - self.signalled_used).0 < (new - old).0 {
            self.signalled_used_valid = false;
        }
        // smp_wmb(): the driver must see the elements before the index.
        fence(Ordering::Release);
        mem.write_ring_u16(Self::at(self.addrs.used, USED_IDX_OFFSET)?, new.0)
    }

    /// `vhost_notify`: whether to interrupt the driver now (call after `add_used*`).
    /// With event idx: `vring_need_event(used_event, last_used, signalled_used)`, always
    /// true the first time after activation or an index wrap; without: unless the driver
    /// set `VRING_AVAIL_F_NO_INTERRUPT`. A read failure answers true, as vhost does.
    /// False if inactive.
    pub fn needs_notification<M: GuestMemory + ?Sized>(&mut self, mem: &M) -> bool {
        if !self.ready {
            return false;
        }
        // smp_mb(): publish used->idx before reading the driver's suppression state;
        // pairs with the barrier the driver executes when enabling interrupts.
        fence(Ordering::SeqCst);
        if self.notify_on_empty && self.avail_idx == self.last_avail_idx {
            return true;
        }
        if !self.event_idx {
            let flags =
                Self::at(self.addrs.avail, AVAIL_FLAGS_OFFSET).and_then(|a| mem.read_ring_u16(a));
            return match flags {
                Ok(f) => f & VRING_AVAIL_F_NO_INTERRUPT == 0,
                Err(_) => true,
            };
        }
        let old = self.signalled_used;
        let valid = self.signalled_used_valid;
        let new = self.last_used_idx;
        self.signalled_used = new;
        self.signalled_used_valid = true;
        if !valid {
            return true;
        }
        let event = Self::at(self.addrs.avail, used_event_offset(self.size))
            .and_then(|a| mem.read_ring_u16(a));
        match event {
            Ok(ev) => vring_need_event(ev, new.0, old.0),
            Err(_) => true,
        }
    }

    /// `vhost_enable_notify`: asks the driver to kick again (clears
    /// `VRING_USED_F_NO_NOTIFY`, or with event idx writes `avail_event` = the cached
    /// avail index), then after a `SeqCst` fence re-reads `avail->idx`: `Ok(true)` if
    /// buffers arrived meanwhile (the caller must process them; no kick will come for
    /// them), `Ok(false)` if not, or if notifications were already enabled. vhost treats
    /// an error as `false`.
    pub fn enable_notification<M: GuestMemory + ?Sized>(&mut self, mem: &M) -> Result<bool, Error> {
        if !self.ready {
            return Err(Error::NotReady);
        }
        if self.used_flags & VRING_USED_F_NO_NOTIFY == 0 {
            return Ok(false);
        }
        self.used_flags &= !VRING_USED_F_NO_NOTIFY;
        if self.event_idx {
            let a = Self::at(self.addrs.used, avail_event_offset(self.size))?;
            mem.write_ring_u16(a, self.avail_idx.0)?;
        } else {
            mem.write_ring_u16(
                Self::at(self.addrs.used, USED_FLAGS_OFFSET)?,
                self.used_flags,
            )?;
        }
        // smp_mb(): "They could have slipped one in as we were doing that: make sure
        // it's written, then check again."
        fence(Ordering::SeqCst);
        self.fetch_avail_idx(mem)
    }

    /// `vhost_disable_notify`: asks the driver not to kick (sets
    /// `VRING_USED_F_NO_NOTIFY`; with event idx nothing is written, the stale
    /// `avail_event` stops kicks by itself). No-op if already disabled.
    pub fn disable_notification<M: GuestMemory + ?Sized>(&mut self, mem: &M) -> Result<(), Error> {
        if !self.ready {
            return Err(Error::NotReady);
        }
        if self.used_flags & VRING_USED_F_NO_NOTIFY != 0 {
            return Ok(());
        }
        self.used_flags |= VRING_USED_F_NO_NOTIFY;
        if !self.event_idx {
            mem.write_ring_u16(
                Self::at(self.addrs.used, USED_FLAGS_OFFSET)?,
                self.used_flags,
            )?;
        }
        Ok(())
    }
}
