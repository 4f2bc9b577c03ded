// SPDX-License-Identifier: GPL-2.0

//! One virtqueue of a vhost device: what the vring ioctls configure and the data path uses,
//! with the checks of drivers/vhost/vhost.c (`vhost_vring_set_num`, `vhost_vring_set_addr`,
//! `vq_access_ok`, `VHOST_SET/GET_VRING_BASE`), the ring activation of
//! `vhost_vq_init_access`, `vhost_signal` and `vq_err`; and, for devices that ask for it
//! ([`Vq::map_rings`]), the ring metadata pinned and kernel-mapped ([`RingMap`]).
//!
//! Generic over the device's backend `B` (what serves the queue; the queue is active while
//! it is set) and its data-path buffers `S`.

use super::{owner::OwnerAccess, rings::RingMap};
use crate::{
    kext::{errno::eopnotsupp, eventfd::EventFd, user::access_ok},
    uapi::{
        VhostVringAddr, VhostVringState, VHOST_VRING_F_LOG, VIRTIO_F_NOTIFY_ON_EMPTY,
        VIRTIO_RING_F_EVENT_IDX,
    },
    vring::{
        layout::{avail_ring_size, desc_table_size, used_ring_size},
        Error as RingError, GuestMemory, MappedMemory, MemTable, RingAddrs, SplitQueue,
    },
};
use kernel::{prelude::*, sync::Arc};

/// One virtqueue.
pub(crate) struct Vq<B, S> {
    /// Ring size; 0 until `VHOST_SET_VRING_NUM`.
    pub(crate) num: u32,
    /// Ring addresses in the owner's address space.
    pub(crate) addr: VhostVringAddr,
    /// Next available-ring index to take (`VHOST_SET/GET_VRING_BASE`).
    pub(crate) last_avail_idx: u16,
    /// Signalled to interrupt the guest.
    pub(crate) call: Option<EventFd>,
    /// Signalled on a ring error.
    pub(crate) err: Option<EventFd>,
    /// What serves this queue; the queue is active while it is set.
    pub(crate) backend: Option<B>,
    /// Negotiated feature bits.
    pub(crate) acked_features: u64,
    /// The guest memory map (`VHOST_SET_MEM_TABLE`).
    pub(crate) mem: Option<Arc<MemTable>>,
    /// The ring, set up from the fields above and active while a backend is attached.
    pub(crate) ring: SplitQueue,
    /// Data-path buffers.
    pub(crate) scratch: Option<KBox<S>>,
    /// The active ring's metadata, pinned and kernel-mapped ([`Vq::map_rings`]); dropped
    /// when the ring stops or the memory table changes.
    map: Option<Arc<RingMap>>,
}

/// The memory table of a queue that has none (its ring is never active then): a static, so
/// the data paths do not build an empty table on the stack at every run.
pub(crate) static NO_MEMORY: MemTable = MemTable::new();

fn has(features: u64, bit: u32) -> bool {
    features & (1u64 << bit) != 0
}

impl<B, S> Vq<B, S> {
    /// A reset queue (`vhost_vq_reset`).
    pub(crate) const fn new() -> Self {
        Self {
            num: 0,
            addr: VhostVringAddr {
                index: 0,
                flags: 0,
                desc_user_addr: 0,
                used_user_addr: 0,
                avail_user_addr: 0,
                log_guest_addr: 0,
            },
            last_avail_idx: 0,
            call: None,
            err: None,
            backend: None,
            acked_features: 0,
            mem: None,
            ring: SplitQueue::new(),
            scratch: None,
            map: None,
        }
    }

    /// The next available index: the active ring's, else the configured one.
    pub(crate) fn ring_base(&self) -> u16 {
        if self.backend.is_some() {
            self.ring.last_avail_idx()
        } else {
            self.last_avail_idx
        }
    }

    /// `vq_access_ok`: the three rings of size `num` at `addr` lie in user space.
    pub(crate) fn access_ok(&self, num: u32, addr: &VhostVringAddr) -> bool {
        // `set_num` keeps `num` at most 0xffff.
        let Ok(num) = u16::try_from(num) else {
            return false;
        };
        let event_idx = has(self.acked_features, VIRTIO_RING_F_EVENT_IDX);
        access_ok(addr.desc_user_addr, desc_table_size(num))
            && access_ok(addr.avail_user_addr, avail_ring_size(num, event_idx))
            && access_ok(addr.used_user_addr, used_ring_size(num, event_idx))
    }

    /// `VHOST_SET_VRING_NUM`: not while active (`EBUSY`); a power of two in 1..=0x8000
    /// (`EINVAL`; 0x10000 does not fit the u16 indices).
    pub(crate) fn set_num(&mut self, s: &VhostVringState) -> Result {
        if self.backend.is_some() {
            return Err(EBUSY);
        }
        if s.num == 0 || s.num > 0xffff || s.num & (s.num - 1) != 0 {
            return Err(EINVAL);
        }
        self.num = s.num;
        Ok(())
    }

    /// `VHOST_SET_VRING_ADDR`: only the log flag (`EOPNOTSUPP`), aligned avail (2), used and
    /// log (4) addresses (`EINVAL`), and, while active, accessible rings (`EINVAL`).
    pub(crate) fn set_addr(&mut self, a: &VhostVringAddr) -> Result {
        if a.flags & !(1 << VHOST_VRING_F_LOG) != 0 {
            return Err(eopnotsupp());
        }
        if a.avail_user_addr & 1 != 0 || a.used_user_addr & 3 != 0 || a.log_guest_addr & 3 != 0 {
            return Err(EINVAL);
        }
        if self.backend.is_some() && !self.access_ok(self.num, a) {
            return Err(EINVAL);
        }
        self.addr = *a;
        Ok(())
    }

    /// `VHOST_SET_VRING_BASE`: not while active (`EBUSY`), at most 0xffff (`EINVAL`).
    pub(crate) fn set_base(&mut self, s: &VhostVringState) -> Result {
        if self.backend.is_some() {
            return Err(EBUSY);
        }
        self.last_avail_idx = u16::try_from(s.num).map_err(|_| EINVAL)?;
        Ok(())
    }

    /// `VHOST_GET_VRING_BASE` of queue `index`.
    pub(crate) fn base(&self, index: u32) -> VhostVringState {
        VhostVringState {
            index,
            num: u32::from(self.ring_base()),
        }
    }

    /// `vhost_vq_access_ok` before a backend is attached: a memory table is set and the
    /// rings lie in user space, else `EFAULT`.
    pub(crate) fn check_ready(&self) -> Result {
        if self.mem.is_none() || !self.access_ok(self.num, &self.addr) {
            return Err(EFAULT);
        }
        Ok(())
    }

    /// Sets the ring up from the configuration and activates it (`vhost_vq_init_access`:
    /// reads the used index), in the caller's (the owner's) address space. `EINVAL` if not
    /// configured, `EFAULT` if the rings can not be read; the queue is unchanged on error.
    pub(crate) fn activate_ring(&mut self) -> Result {
        let table = self.mem.as_deref().unwrap_or(&NO_MEMORY);
        let mem = MappedMemory::new(table, OwnerAccess);
        let mut ring = SplitQueue::new();
        let addrs = RingAddrs {
            desc: self.addr.desc_user_addr,
            avail: self.addr.avail_user_addr,
            used: self.addr.used_user_addr,
        };
        ring.set_size(self.num)
            .and_then(|()| ring.set_addrs(addrs, &mem))
            .and_then(|()| ring.set_base(u32::from(self.ring_base())))
            .map_err(|_| EINVAL)?;
        ring.set_event_idx(has(self.acked_features, VIRTIO_RING_F_EVENT_IDX));
        ring.set_notify_on_empty(has(self.acked_features, VIRTIO_F_NOTIFY_ON_EMPTY));
        ring.activate(&mem).map_err(|_| EFAULT)?;
        self.ring = ring;
        Ok(())
    }

    /// Pins and kernel-maps the active ring's metadata (after [`Vq::activate_ring`], in the
    /// owner's mm), so that [`Vq::ring_map`] gives it to the data path's
    /// [`RingAccess`](super::rings::RingAccess).
    /// Without it (or when the rings can not be pinned: not writable, or not all mapped),
    /// the data path goes on with user copies. The map lives until the ring stops; a new
    /// memory table ([`Vq::set_mem`]) maps the rings again.
    pub(crate) fn map_rings(&mut self) {
        self.map = None;
        if !self.ring.is_ready() {
            return;
        }
        self.map = match RingMap::new(&self.ring) {
            Ok(map) => Arc::new(map, GFP_KERNEL).ok(),
            Err(e) => {
                pr_debug!("rings not mapped ({:?}): user copies\n", e);
                None
            }
        };
    }

    /// Whether the ring metadata is mapped ([`Vq::map_rings`]).
    pub(crate) fn rings_mapped(&self) -> bool {
        self.map.is_some()
    }

    /// The ring map for a data-path run
    /// ([`RingAccess::new`](super::rings::RingAccess::new)); the caller holds it for the run
    /// only, under the queue lock.
    pub(crate) fn ring_map(&self) -> Option<Arc<RingMap>> {
        self.map.clone()
    }

    /// `VHOST_SET_MEM_TABLE`: the new guest memory map. Mapped rings are mapped again (the
    /// owner may have remapped guest memory, rings included), in the caller's (the owner's)
    /// mm.
    pub(crate) fn set_mem(&mut self, mem: Arc<MemTable>) {
        self.mem = Some(mem);
        if self.map.is_some() {
            self.map_rings();
        }
    }

    /// Detaches the backend: the ring stops, its position is kept for
    /// `VHOST_GET_VRING_BASE` and the next activation; its map is dropped. Returns the old
    /// backend.
    pub(crate) fn deactivate(&mut self) -> Option<B> {
        self.map = None;
        if self.backend.is_some() {
            self.last_avail_idx = self.ring.last_avail_idx();
            self.ring.deactivate();
        }
        self.backend.take()
    }

    /// After used-ring updates: interrupts the guest unless it suppressed that
    /// (`vhost_signal`).
    pub(crate) fn signal_used<M: GuestMemory + ?Sized>(&mut self, mem: &M) {
        if self.ring.needs_notification(mem) {
            if let Some(call) = &self.call {
                call.signal();
            }
        }
    }

    /// `vq_err`: a guest error broke the queue; tell the device model.
    pub(crate) fn queue_error(&mut self, err: RingError) {
        self.fail(err.as_str());
    }

    /// `vq_err` for a device-level protocol violation described by `what`.
    pub(crate) fn fail(&mut self, what: &str) {
        pr_debug!("virtqueue error: {}\n", what);
        self.ring.mark_broken();
        if let Some(ctx) = &self.err {
            ctx.signal();
        }
    }
}
