// SPDX-License-Identifier: GPL-2.0

//! The split virtqueue layout (VIRTIO 1.x 2.7, `include/uapi/linux/virtio_ring.h`):
//! descriptor, avail and used ring formats, offsets and sizes (with the
//! `VIRTIO_RING_F_EVENT_IDX` fields), alignment and ring-size rules, and
//! `struct vhost_vring_addr`.
//!
//! ```text
//! desc:  struct vring_desc { le64 addr; le32 len; le16 flags; le16 next; } [size]
//! avail: le16 flags; le16 idx; le16 ring[size]; le16 used_event;   (used_event: EVENT_IDX)
//! used:  le16 flags; le16 idx; struct { le32 id; le32 len; } ring[size]; le16 avail_event;
//! ```

use super::error::Error;

/// `VRING_DESC_F_NEXT`: the buffer continues via the `next` field.
pub const VRING_DESC_F_NEXT: u16 = 1;
/// `VRING_DESC_F_WRITE`: the buffer is device-writable (otherwise device-readable).
pub const VRING_DESC_F_WRITE: u16 = 2;
/// `VRING_DESC_F_INDIRECT`: the buffer is a table of descriptors.
pub const VRING_DESC_F_INDIRECT: u16 = 4;
/// `VRING_USED_F_NO_NOTIFY`: in `used->flags`, the device asks not to be kicked.
pub const VRING_USED_F_NO_NOTIFY: u16 = 1;
/// `VRING_AVAIL_F_NO_INTERRUPT`: in `avail->flags`, the driver asks not to be interrupted.
pub const VRING_AVAIL_F_NO_INTERRUPT: u16 = 1;

/// Feature bit `VIRTIO_F_NOTIFY_ON_EMPTY`.
pub const VIRTIO_F_NOTIFY_ON_EMPTY: u32 = 24;
/// Feature bit `VIRTIO_RING_F_INDIRECT_DESC`.
pub const VIRTIO_RING_F_INDIRECT_DESC: u32 = 28;
/// Feature bit `VIRTIO_RING_F_EVENT_IDX`.
pub const VIRTIO_RING_F_EVENT_IDX: u32 = 29;

/// `VRING_DESC_ALIGN_SIZE`: alignment of the descriptor table.
pub const VRING_DESC_ALIGN_SIZE: u64 = 16;
/// `VRING_AVAIL_ALIGN_SIZE`: alignment of the avail ring.
pub const VRING_AVAIL_ALIGN_SIZE: u64 = 2;
/// `VRING_USED_ALIGN_SIZE`: alignment of the used ring (and of the log address).
pub const VRING_USED_ALIGN_SIZE: u64 = 4;

/// `VHOST_VRING_F_LOG`: bit number in `vhost_vring_addr.flags` enabling used-ring logging.
pub const VHOST_VRING_F_LOG: u32 = 0;

/// Largest ring size: `vhost_vring_set_num` accepts powers of two up to `0xffff`.
pub const MAX_QUEUE_SIZE: u16 = 32768;

/// Size of `struct vring_desc`.
pub const DESC_SIZE: usize = 16;
/// Size of `struct vring_used_elem`.
pub const USED_ELEM_SIZE: usize = 8;

/// Offset of `avail->flags`.
pub const AVAIL_FLAGS_OFFSET: u64 = 0;
/// Offset of `avail->idx`.
pub const AVAIL_IDX_OFFSET: u64 = 2;
/// Offset of `used->flags`.
pub const USED_FLAGS_OFFSET: u64 = 0;
/// Offset of `used->idx`.
pub const USED_IDX_OFFSET: u64 = 2;

/// A split-ring descriptor, decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Descriptor {
    /// Guest-physical buffer address.
    pub addr: u64,
    /// Buffer length in bytes.
    pub len: u32,
    /// `VRING_DESC_F_*` flags.
    pub flags: u16,
    /// Next descriptor index, if `VRING_DESC_F_NEXT`.
    pub next: u16,
}

impl Descriptor {
    /// Decodes the 16 little-endian bytes of a `struct vring_desc`.
    pub fn from_bytes(b: &[u8; DESC_SIZE]) -> Self {
        let [a0, a1, a2, a3, a4, a5, a6, a7, l0, l1, l2, l3, f0, f1, n0, n1] = *b;
        Descriptor {
            addr: u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
            len: u32::from_le_bytes([l0, l1, l2, l3]),
            flags: u16::from_le_bytes([f0, f1]),
            next: u16::from_le_bytes([n0, n1]),
        }
    }

    /// Encodes as the 16 little-endian bytes of a `struct vring_desc`.
    pub fn to_bytes(self) -> [u8; DESC_SIZE] {
        let [a0, a1, a2, a3, a4, a5, a6, a7] = self.addr.to_le_bytes();
        let [l0, l1, l2, l3] = self.len.to_le_bytes();
        let [f0, f1] = self.flags.to_le_bytes();
        let [n0, n1] = self.next.to_le_bytes();
        [
            a0, a1, a2, a3, a4, a5, a6, a7, l0, l1, l2, l3, f0, f1, n0, n1,
        ]
    }

    /// Whether `VRING_DESC_F_NEXT` is set.
    pub const fn has_next(&self) -> bool {
        self.flags & VRING_DESC_F_NEXT != 0
    }

    /// Whether `VRING_DESC_F_WRITE` is set (device-writable).
    pub const fn is_write_only(&self) -> bool {
        self.flags & VRING_DESC_F_WRITE != 0
    }

    /// Whether `VRING_DESC_F_INDIRECT` is set.
    pub const fn is_indirect(&self) -> bool {
        self.flags & VRING_DESC_F_INDIRECT != 0
    }
}

/// A used-ring element (`struct vring_used_elem`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsedElem {
    /// Head index of the used chain.
    pub id: u32,
    /// Bytes written into the chain's device-writable buffers.
    pub len: u32,
}

impl UsedElem {
    /// A used element for chain `id` with `len` bytes written.
    pub const fn new(id: u32, len: u32) -> Self {
        UsedElem { id, len }
    }

    /// Encodes as 8 little-endian bytes.
    pub fn to_bytes(self) -> [u8; USED_ELEM_SIZE] {
        let [i0, i1, i2, i3] = self.id.to_le_bytes();
        let [l0, l1, l2, l3] = self.len.to_le_bytes();
        [i0, i1, i2, i3, l0, l1, l2, l3]
    }

    /// Decodes 8 little-endian bytes.
    pub fn from_bytes(b: &[u8; USED_ELEM_SIZE]) -> Self {
        let [i0, i1, i2, i3, l0, l1, l2, l3] = *b;
        UsedElem {
            id: u32::from_le_bytes([i0, i1, i2, i3]),
            len: u32::from_le_bytes([l0, l1, l2, l3]),
        }
    }
}

/// Validates a ring size like `vhost_vring_set_num`: non-zero, a power of two, at most
/// [`MAX_QUEUE_SIZE`].
pub fn check_queue_size(num: u32) -> Result<u16, Error> {
    if num == 0 || !num.is_power_of_two() || num > u32::from(MAX_QUEUE_SIZE) {
        return Err(Error::BadRingSize);
    }
    u16::try_from(num).map_err(|_| Error::BadRingSize)
}

/// Size in bytes of a descriptor table of `size` entries.
pub const fn desc_table_size(size: u16) -> u64 {
    DESC_SIZE as u64 * size as u64
}

/// Size in bytes of the avail ring (with `used_event` if `event_idx`), as
/// `vhost_get_avail_size`.
pub const fn avail_ring_size(size: u16, event_idx: bool) -> u64 {
    4 + 2 * size as u64 + if event_idx { 2 } else { 0 }
}

/// Size in bytes of the used ring (with `avail_event` if `event_idx`), as
/// `vhost_get_used_size`.
pub const fn used_ring_size(size: u16, event_idx: bool) -> u64 {
    4 + USED_ELEM_SIZE as u64 * size as u64 + if event_idx { 2 } else { 0 }
}

/// Offset of `avail->ring[slot]`.
pub const fn avail_ring_offset(slot: u16) -> u64 {
    4 + 2 * slot as u64
}

/// Offset of `used_event` (`avail->ring[size]`).
pub const fn used_event_offset(size: u16) -> u64 {
    avail_ring_offset(size)
}

/// Offset of `used->ring[slot]`.
pub const fn used_elem_offset(slot: u16) -> u64 {
    4 + USED_ELEM_SIZE as u64 * slot as u64
}

/// Offset of `avail_event` (just after `used->ring[size - 1]`).
pub const fn avail_event_offset(size: u16) -> u64 {
    used_elem_offset(size)
}

/// The three ring addresses of a split queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingAddrs {
    /// Descriptor table.
    pub desc: u64,
    /// Avail (driver) ring.
    pub avail: u64,
    /// Used (device) ring.
    pub used: u64,
}

impl RingAddrs {
    /// Checks the alignments: descriptor table 16, avail 2, used 4
    /// ([`Error::Misaligned`]).
    ///
    /// `vhost_vring_set_addr` checks only avail and used; the descriptor table's 16 is
    /// the VIRTIO requirement (`VRING_DESC_ALIGN_SIZE`), checked here too.
    pub const fn check_alignment(&self) -> Result<(), Error> {
        if self.desc & (VRING_DESC_ALIGN_SIZE - 1) != 0
            || self.avail & (VRING_AVAIL_ALIGN_SIZE - 1) != 0
            || self.used & (VRING_USED_ALIGN_SIZE - 1) != 0
        {
            return Err(Error::Misaligned);
        }
        Ok(())
    }
}

/// `struct vhost_vring_addr` (the `VHOST_SET_VRING_ADDR` argument), layout-identical.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VringAddr {
    /// Queue index.
    pub index: u32,
    /// `1 << VHOST_VRING_F_LOG` or 0.
    pub flags: u32,
    /// Descriptor table user address.
    pub desc_user_addr: u64,
    /// Used ring user address.
    pub used_user_addr: u64,
    /// Avail ring user address.
    pub avail_user_addr: u64,
    /// Guest address of the used ring for dirty logging.
    pub log_guest_addr: u64,
}

impl VringAddr {
    /// Validates like `vhost_vring_set_addr` and returns the ring addresses: unknown
    /// flags give [`Error::UnsupportedFlags`]; a misaligned avail, used, descriptor table
    /// or log address gives [`Error::Misaligned`] (vhost checks `log_guest_addr`'s
    /// alignment whether or not logging is enabled).
    pub const fn ring_addrs(&self) -> Result<RingAddrs, Error> {
        if self.flags & !(1 << VHOST_VRING_F_LOG) != 0 {
            return Err(Error::UnsupportedFlags);
        }
        if self.log_guest_addr & (VRING_USED_ALIGN_SIZE - 1) != 0 {
            return Err(Error::Misaligned);
        }
        let r = RingAddrs {
            desc: self.desc_user_addr,
            avail: self.avail_user_addr,
            used: self.used_user_addr,
        };
        match r.check_alignment() {
            Ok(()) => Ok(r),
            Err(e) => Err(e),
        }
    }

    /// Whether `VHOST_VRING_F_LOG` is set.
    pub const fn log_enabled(&self) -> bool {
        self.flags & (1 << VHOST_VRING_F_LOG) != 0
    }
}

const _: () = assert!(core::mem::size_of::<VringAddr>() == 40);
