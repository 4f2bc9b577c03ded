// SPDX-License-Identifier: GPL-2.0

//! One virtqueue: what the vring ioctls configure and the data path uses, with the checks of
//! drivers/vhost/vhost.c (`vhost_vring_set_num`, `vhost_vring_set_addr`, `vq_access_ok`,
//! `VHOST_SET/GET_VRING_BASE`).

use crate::{
    backend::Socket,
    kext::{errno::eopnotsupp, eventfd::EventFd},
    net::Scratch,
    uapi::{VhostVringAddr, VhostVringState, VHOST_VRING_F_LOG},
    vring::{
        layout::{avail_ring_size, desc_table_size, used_ring_size},
        MemTable, SplitQueue,
    },
};
use kernel::{prelude::*, sync::Arc};

use crate::kext::user::access_ok;

/// `VIRTIO_RING_F_EVENT_IDX`.
const EVENT_IDX: u32 = crate::uapi::VIRTIO_RING_F_EVENT_IDX;

/// One virtqueue.
pub(crate) struct Vq {
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
    /// The socket serving this queue; the queue is active while it is set.
    pub(crate) backend: Option<Socket>,
    /// Negotiated feature bits.
    pub(crate) acked_features: u64,
    /// The guest memory map (`VHOST_SET_MEM_TABLE`).
    pub(crate) mem: Option<Arc<MemTable>>,
    /// The ring, set up from the fields above and active while a backend is attached.
    pub(crate) ring: SplitQueue,
    /// Data-path buffers, allocated at the first attach.
    pub(crate) scratch: Option<KBox<Scratch>>,
}

impl Vq {
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
        let event_idx = self.acked_features & (1 << EVENT_IDX) != 0;
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
}
