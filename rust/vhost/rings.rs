// SPDX-License-Identifier: GPL-2.0

//! A virtqueue's ring metadata (descriptor table, avail and used rings) through pinned,
//! kernel-mapped pages instead of user copies, the job of C vhost's metadata prefetch.
//!
//! [`RingMap`] pins and maps the three rings of an active [`SplitQueue`] at its current
//! addresses, in the owner's mm. [`RingAccess`] is the [`UserAccess`] the data path then
//! uses: an access that lies inside a mapped ring is a load or store of the mapping, any
//! other (buffers, indirect tables, or everything without a map) a user copy as with
//! [`OwnerAccess`]. Translation and checks are unchanged: the ring code still checks ring
//! ranges with `access_ok` and translates guest-physical addresses through the memory table;
//! only the final copy differs.
//!
//! A map shows the pages that were mapped when it was made, so [`Vq`](super::vq::Vq) drops
//! it whenever they may have changed: when the ring stops (backend detached, reset, owner
//! gone) and when a new memory table comes (the owner may have remapped guest memory; the
//! rings are mapped again at the same addresses). Ring addresses set while the ring runs take
//! effect at its next activation, which makes a new map.

use super::owner::OwnerAccess;
use crate::{
    kext::pinned::PinnedUser,
    vring::{
        layout::{avail_ring_size, desc_table_size, used_ring_size},
        Error as RingError, SplitQueue, UserAccess,
    },
};
use kernel::prelude::*;

/// The pinned, kernel-mapped rings of one queue.
pub(crate) struct RingMap {
    /// Descriptor table, avail ring, used ring.
    rings: [PinnedUser; 3],
}

impl RingMap {
    /// Pins and maps the rings of `ring` (active: its size, addresses and event-idx setting
    /// are final) in the current task's mm, which must be the owner's. Errors as
    /// [`PinnedUser::new`]: then the caller goes on with user copies.
    pub(crate) fn new(ring: &SplitQueue) -> Result<Self> {
        let a = ring.addrs();
        let (size, event_idx) = (ring.size(), ring.event_idx());
        Ok(Self {
            rings: [
                PinnedUser::new(a.desc, desc_table_size(size))?,
                PinnedUser::new(a.avail, avail_ring_size(size, event_idx))?,
                PinnedUser::new(a.used, used_ring_size(size, event_idx))?,
            ],
        })
    }

    /// The mapped ring holding all of `[uaddr, uaddr + len)`, if any.
    fn find(&self, uaddr: u64, len: usize) -> Option<&PinnedUser> {
        self.rings.iter().find(|r| r.contains(uaddr, len))
    }
}

/// The owner's memory as the data path reaches it: through `map` where it covers an
/// access, else by user copies (the caller runs in the owner's mm, as for [`OwnerAccess`]).
#[derive(Clone, Copy)]
pub(crate) struct RingAccess<'a> {
    map: Option<&'a RingMap>,
}

impl<'a> RingAccess<'a> {
    /// Access through `map` (`None`: user copies only).
    pub(crate) fn new(map: Option<&'a RingMap>) -> Self {
        Self { map }
    }

    fn find(&self, uaddr: u64, len: usize) -> Option<&'a PinnedUser> {
        self.map.and_then(|m| m.find(uaddr, len))
    }
}

impl UserAccess for RingAccess<'_> {
    fn read_user(&self, uaddr: u64, buf: &mut [u8]) -> core::result::Result<(), RingError> {
        match self.find(uaddr, buf.len()) {
            Some(r) if r.read(uaddr, buf) => Ok(()),
            _ => OwnerAccess.read_user(uaddr, buf),
        }
    }

    fn write_user(&self, uaddr: u64, buf: &[u8]) -> core::result::Result<(), RingError> {
        match self.find(uaddr, buf.len()) {
            Some(r) if r.write(uaddr, buf) => Ok(()),
            _ => OwnerAccess.write_user(uaddr, buf),
        }
    }

    fn read_user_u16(&self, uaddr: u64) -> core::result::Result<u16, RingError> {
        match self.find(uaddr, 2).and_then(|r| r.read_u16(uaddr)) {
            Some(v) => Ok(v),
            None => OwnerAccess.read_user_u16(uaddr),
        }
    }

    fn write_user_u16(&self, uaddr: u64, val: u16) -> core::result::Result<(), RingError> {
        match self.find(uaddr, 2) {
            Some(r) if r.write_u16(uaddr, val) => Ok(()),
            _ => OwnerAccess.write_user_u16(uaddr, val),
        }
    }

    fn check_user(&self, uaddr: u64, len: u64) -> core::result::Result<(), RingError> {
        OwnerAccess.check_user(uaddr, len)
    }
}
