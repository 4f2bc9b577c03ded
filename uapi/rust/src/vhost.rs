// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note

//! The vhost userspace ABI (`include/uapi/linux/vhost.h`, `vhost_types.h`) as used by
//! `/dev/vhost-net` and `/dev/vhost-blk`: ioctl numbers, their argument structs and the feature
//! bits, and the virtio-blk request format (`linux/virtio_blk.h`) that vhost-blk serves.
//!
//! Self-contained (only `core`), so kernel modules include it by `#[path]` like `acrn.rs`.
//! Checked against the Linux tree's headers and our `uapi/linux/vhost_blk.h` by
//! `tests/vhost_abi.rs`.
//!
//! vhost addresses: the ring addresses of [`VhostVringAddr`] and the `userspace_addr` of a
//! [`VhostMemoryRegion`] are virtual addresses of the device's owner; descriptor buffers hold
//! guest physical addresses, translated through the memory table.

/// `VHOST_VIRTIO`: the ioctl type of vhost.
pub const VHOST_VIRTIO: u32 = 0xAF;
/// `VHOST_FILE_UNBIND`: an fd of -1 unbinds a kick, call or error eventfd or a backend.
pub const VHOST_FILE_UNBIND: i32 = -1;

/// `struct vhost_vring_state`: a ring index and a number (size or base).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VhostVringState {
    /// Ring index.
    pub index: u32,
    /// Ring size, or next available index.
    pub num: u32,
}

/// `struct vhost_vring_file`: a ring index and a file descriptor (-1 = unbind).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VhostVringFile {
    /// Ring index.
    pub index: u32,
    /// File descriptor, or [`VHOST_FILE_UNBIND`].
    pub fd: i32,
}

/// `VHOST_VRING_F_LOG`: bit number in [`VhostVringAddr::flags`]: log used-ring writes.
pub const VHOST_VRING_F_LOG: u32 = 0;

/// `struct vhost_vring_addr`: where a ring's parts are in the owner's address space.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VhostVringAddr {
    /// Ring index.
    pub index: u32,
    /// Option flags (`1 << VHOST_VRING_F_LOG`).
    pub flags: u32,
    /// Descriptor table (owner's virtual address, 16-byte aligned).
    pub desc_user_addr: u64,
    /// Used ring (owner's virtual address, 4-byte aligned).
    pub used_user_addr: u64,
    /// Available ring (owner's virtual address, 2-byte aligned).
    pub avail_user_addr: u64,
    /// Guest physical address of the used ring, for dirty logging.
    pub log_guest_addr: u64,
}

/// `struct vhost_memory_region`: guest physical range → owner's virtual addresses.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VhostMemoryRegion {
    /// First guest physical address.
    pub guest_phys_addr: u64,
    /// Size in bytes.
    pub memory_size: u64,
    /// Owner's virtual address of `guest_phys_addr`.
    pub userspace_addr: u64,
    /// Reserved (`flags_padding`), must be zero.
    pub flags_padding: u64,
}

/// `struct vhost_memory` without its flexible `regions[]` (which follow it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VhostMemory {
    /// Number of [`VhostMemoryRegion`]s that follow.
    pub nregions: u32,
    /// Must be zero.
    pub padding: u32,
}

const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = 8;
const IOC_SIZESHIFT: u32 = 16;
const IOC_DIRSHIFT: u32 = 30;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// `_IOC(dir, type, nr, size)`.
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    assert!(size < (1 << 14));
    (dir << IOC_DIRSHIFT)
        | (VHOST_VIRTIO << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
}

/// `_IO(VHOST_VIRTIO, nr)`.
const fn io(nr: u32) -> u32 {
    ioc(0, nr, 0)
}

/// `_IOR(VHOST_VIRTIO, nr, T)`.
const fn ior<T>(nr: u32) -> u32 {
    ioc(IOC_READ, nr, core::mem::size_of::<T>())
}

/// `_IOW(VHOST_VIRTIO, nr, T)`.
const fn iow<T>(nr: u32) -> u32 {
    ioc(IOC_WRITE, nr, core::mem::size_of::<T>())
}

/// `_IOWR(VHOST_VIRTIO, nr, T)`.
const fn iowr<T>(nr: u32) -> u32 {
    ioc(IOC_READ | IOC_WRITE, nr, core::mem::size_of::<T>())
}

/// `VHOST_GET_FEATURES`: the device's feature bits.
pub const VHOST_GET_FEATURES: u32 = ior::<u64>(0x00);
/// `VHOST_SET_FEATURES`: the negotiated feature bits.
pub const VHOST_SET_FEATURES: u32 = iow::<u64>(0x00);
/// `VHOST_SET_OWNER`: the caller becomes the owner (its address space is the guest's).
pub const VHOST_SET_OWNER: u32 = io(0x01);
/// `VHOST_RESET_OWNER`: stop, forget the owner and reset.
pub const VHOST_RESET_OWNER: u32 = io(0x02);
/// `VHOST_SET_MEM_TABLE`: the guest memory map.
pub const VHOST_SET_MEM_TABLE: u32 = iow::<VhostMemory>(0x03);
/// `VHOST_SET_LOG_BASE`: the dirty log.
pub const VHOST_SET_LOG_BASE: u32 = iow::<u64>(0x04);
/// `VHOST_SET_LOG_FD`: the eventfd signalled when the log is written.
pub const VHOST_SET_LOG_FD: u32 = iow::<i32>(0x07);
/// `VHOST_SET_VRING_NUM`: a ring's size.
pub const VHOST_SET_VRING_NUM: u32 = iow::<VhostVringState>(0x10);
/// `VHOST_SET_VRING_ADDR`: a ring's addresses.
pub const VHOST_SET_VRING_ADDR: u32 = iow::<VhostVringAddr>(0x11);
/// `VHOST_SET_VRING_BASE`: a ring's next available index.
pub const VHOST_SET_VRING_BASE: u32 = iow::<VhostVringState>(0x12);
/// `VHOST_GET_VRING_BASE`: a ring's next available index.
pub const VHOST_GET_VRING_BASE: u32 = iowr::<VhostVringState>(0x12);
/// `VHOST_SET_VRING_KICK`: the eventfd the guest kicks the ring with.
pub const VHOST_SET_VRING_KICK: u32 = iow::<VhostVringFile>(0x20);
/// `VHOST_SET_VRING_CALL`: the eventfd the device signals to interrupt the guest.
pub const VHOST_SET_VRING_CALL: u32 = iow::<VhostVringFile>(0x21);
/// `VHOST_SET_VRING_ERR`: the eventfd the device signals on a ring error.
pub const VHOST_SET_VRING_ERR: u32 = iow::<VhostVringFile>(0x22);
/// `VHOST_SET_BACKEND_FEATURES`: vhost backend (not virtio) features.
pub const VHOST_SET_BACKEND_FEATURES: u32 = iow::<u64>(0x25);
/// `VHOST_GET_BACKEND_FEATURES`: vhost backend (not virtio) features.
pub const VHOST_GET_BACKEND_FEATURES: u32 = ior::<u64>(0x26);
/// `VHOST_NET_SET_BACKEND`: the socket (tap) serving ring `index`; -1 detaches.
pub const VHOST_NET_SET_BACKEND: u32 = iow::<VhostVringFile>(0x30);

/// `VHOST_BLK_SET_BACKEND` (`uapi/linux/vhost_blk.h`, after the published vhost-blk series):
/// the file or block device backing every configured queue of `/dev/vhost-blk`; fd -1
/// detaches it. The index is not used.
pub const VHOST_BLK_SET_BACKEND: u32 = iow::<VhostVringFile>(0x50);
/// `VHOST_BLK_VQ_MAX`: most virtqueues of one vhost-blk device.
pub const VHOST_BLK_VQ_MAX: u32 = 16;

/// `VIRTIO_NET_F_MRG_RXBUF`: a received packet may span several buffers.
pub const VIRTIO_NET_F_MRG_RXBUF: u32 = 15;
/// `VIRTIO_F_NOTIFY_ON_EMPTY`: interrupt when the available ring runs empty.
pub const VIRTIO_F_NOTIFY_ON_EMPTY: u32 = 24;
/// `VHOST_F_LOG_ALL`: log all writes (live migration).
pub const VHOST_F_LOG_ALL: u32 = 26;
/// `VIRTIO_F_ANY_LAYOUT`: headers need not sit in a descriptor of their own.
pub const VIRTIO_F_ANY_LAYOUT: u32 = 27;
/// `VHOST_NET_F_VIRTIO_NET_HDR`: vhost adds/strips the virtio-net header (not the socket).
pub const VHOST_NET_F_VIRTIO_NET_HDR: u32 = 27;
/// `VIRTIO_RING_F_INDIRECT_DESC`: indirect descriptor tables.
pub const VIRTIO_RING_F_INDIRECT_DESC: u32 = 28;
/// `VIRTIO_RING_F_EVENT_IDX`: `used_event`/`avail_event` notification suppression.
pub const VIRTIO_RING_F_EVENT_IDX: u32 = 29;
/// `VIRTIO_F_VERSION_1`: virtio 1.0 (little-endian rings, 12-byte net header).
pub const VIRTIO_F_VERSION_1: u32 = 32;
/// `VIRTIO_F_ACCESS_PLATFORM`: addresses go through an IOMMU (vhost IOTLB).
pub const VIRTIO_F_ACCESS_PLATFORM: u32 = 33;
/// `VIRTIO_F_RING_PACKED`: packed virtqueues.
pub const VIRTIO_F_RING_PACKED: u32 = 34;
/// `VIRTIO_F_RING_RESET`: per-ring reset.
pub const VIRTIO_F_RING_RESET: u32 = 40;
/// `VIRTIO_BLK_F_SIZE_MAX`: `size_max` in the config space bounds a segment.
pub const VIRTIO_BLK_F_SIZE_MAX: u32 = 1;
/// `VIRTIO_BLK_F_SEG_MAX`: `seg_max` in the config space bounds a request's segments.
pub const VIRTIO_BLK_F_SEG_MAX: u32 = 2;
/// `VIRTIO_BLK_F_RO`: the disk is read-only.
pub const VIRTIO_BLK_F_RO: u32 = 5;
/// `VIRTIO_BLK_F_BLK_SIZE`: `blk_size` in the config space.
pub const VIRTIO_BLK_F_BLK_SIZE: u32 = 6;
/// `VIRTIO_BLK_F_FLUSH`: `VIRTIO_BLK_T_FLUSH` is supported.
pub const VIRTIO_BLK_F_FLUSH: u32 = 9;
/// `VIRTIO_BLK_F_MQ`: several request queues.
pub const VIRTIO_BLK_F_MQ: u32 = 12;
/// `VIRTIO_BLK_F_DISCARD`: `VIRTIO_BLK_T_DISCARD` is supported.
pub const VIRTIO_BLK_F_DISCARD: u32 = 13;
/// `VIRTIO_BLK_F_WRITE_ZEROES`: `VIRTIO_BLK_T_WRITE_ZEROES` is supported.
pub const VIRTIO_BLK_F_WRITE_ZEROES: u32 = 14;

/// `VIRTIO_BLK_T_IN`: read sectors into the device-writable buffers.
pub const VIRTIO_BLK_T_IN: u32 = 0;
/// `VIRTIO_BLK_T_OUT`: write the device-readable buffers to sectors.
pub const VIRTIO_BLK_T_OUT: u32 = 1;
/// `VIRTIO_BLK_T_FLUSH`: make completed writes durable.
pub const VIRTIO_BLK_T_FLUSH: u32 = 4;
/// `VIRTIO_BLK_T_GET_ID`: the device id string (up to 20 bytes).
pub const VIRTIO_BLK_T_GET_ID: u32 = 8;
/// `VIRTIO_BLK_T_DISCARD`: discard ranges ([`VirtioBlkDiscardWriteZeroes`] segments).
pub const VIRTIO_BLK_T_DISCARD: u32 = 11;
/// `VIRTIO_BLK_T_WRITE_ZEROES`: zero ranges ([`VirtioBlkDiscardWriteZeroes`] segments).
pub const VIRTIO_BLK_T_WRITE_ZEROES: u32 = 13;
/// `VIRTIO_BLK_S_OK`: request status: success.
pub const VIRTIO_BLK_S_OK: u8 = 0;
/// `VIRTIO_BLK_S_IOERR`: request status: I/O error.
pub const VIRTIO_BLK_S_IOERR: u8 = 1;
/// `VIRTIO_BLK_S_UNSUPP`: request status: unsupported request.
pub const VIRTIO_BLK_S_UNSUPP: u8 = 2;
/// `VIRTIO_BLK_ID_BYTES`: length of the `GET_ID` string.
pub const VIRTIO_BLK_ID_BYTES: u32 = 20;
/// `VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP`: the zeroed range may be deallocated.
pub const VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP: u32 = 1;
/// Sector size of virtio-blk addresses (`SECTOR_SIZE`).
pub const VIRTIO_BLK_SECTOR_SIZE: u64 = 512;

/// `struct virtio_blk_outhdr`: the device-readable header that starts every request.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtioBlkOuthdr {
    /// `VIRTIO_BLK_T_*`.
    pub r#type: u32,
    /// I/O priority (ignored).
    pub ioprio: u32,
    /// First sector (512 bytes) of the request.
    pub sector: u64,
}

/// `struct virtio_blk_discard_write_zeroes`: one range of a discard or write-zeroes request.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtioBlkDiscardWriteZeroes {
    /// First sector.
    pub sector: u64,
    /// Number of sectors.
    pub num_sectors: u32,
    /// `VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP` (write zeroes only).
    pub flags: u32,
}

/// `VHOST_BACKEND_F_IOTLB_MSG_V2`: backend feature bit 0.
pub const VHOST_BACKEND_F_IOTLB_MSG_V2: u32 = 0x1;

const _: () = assert!(core::mem::size_of::<VhostVringState>() == 8);
const _: () = assert!(core::mem::size_of::<VhostVringFile>() == 8);
const _: () = assert!(core::mem::size_of::<VhostVringAddr>() == 40);
const _: () = assert!(core::mem::size_of::<VhostMemoryRegion>() == 32);
const _: () = assert!(core::mem::size_of::<VhostMemory>() == 8);
const _: () = assert!(core::mem::size_of::<VirtioBlkOuthdr>() == 16);
const _: () = assert!(core::mem::size_of::<VirtioBlkDiscardWriteZeroes>() == 16);
