// SPDX-License-Identifier: GPL-2.0

//! The device-independent vhost ioctls, with the checks and errors of drivers/vhost/vhost.c
//! `vhost_dev_ioctl` and `vhost_vring_ioctl`: feature checks, `VHOST_SET_MEM_TABLE`, and the
//! ring ioctls, whose ring index is read first (`EFAULT`, `ENOBUFS` if out of range) — also
//! for unknown commands, which then get `ENOTTY`.
//!
//! The device's own dispatcher calls these with its locks held; the owner check
//! (`EPERM`) is its job.

use super::vq::Vq;
use crate::{
    kext::{
        errno::{enobufs, eopnotsupp},
        eventfd::EventFd,
        ioctl::IoctlArg,
        user::access_ok,
    },
    uapi::*,
    vring::{MemTable, Region},
};
use kernel::{
    prelude::*,
    sync::{Arc, Mutex, UniqueArc},
    types::{AsBytes, FromBytes},
    uaccess::UserSlice,
};

/// The ring features every vhost device offers (C `VHOST_FEATURES` in drivers/vhost/vhost.h,
/// without `VHOST_F_LOG_ALL`: no dirty logging here). Devices add their own.
pub(crate) const VHOST_FEATURES: u64 = (1 << VIRTIO_F_NOTIFY_ON_EMPTY)
    | (1 << VIRTIO_RING_F_INDIRECT_DESC)
    | (1 << VIRTIO_RING_F_EVENT_IDX)
    | (1 << VIRTIO_F_ANY_LAYOUT)
    | (1 << VIRTIO_F_VERSION_1);

/// Most memory regions in a table (vhost's `max_mem_regions` default).
pub(crate) const MAX_MEM_REGIONS: u32 = 64;

// The uapi structs are local to the including crate (uapi/rust/src/vhost.rs is included as
// a module), so they take the kernel's byte-copy traits here.
// SAFETY: Two `u32`s: every bit pattern is valid, no padding.
unsafe impl FromBytes for VhostVringState {}
// SAFETY: As above.
unsafe impl AsBytes for VhostVringState {}
// SAFETY: A `u32` and an `i32`: every bit pattern is valid.
unsafe impl FromBytes for VhostVringFile {}
// SAFETY: Two `u32`s and four `u64`s: every bit pattern is valid.
unsafe impl FromBytes for VhostVringAddr {}
// SAFETY: Two `u32`s: every bit pattern is valid.
unsafe impl FromBytes for VhostMemory {}
// SAFETY: Four `u64`s: every bit pattern is valid.
unsafe impl FromBytes for VhostMemoryRegion {}

/// `VHOST_SET_FEATURES` / `VHOST_SET_BACKEND_FEATURES`: the bits read from `arg`, or
/// `EOPNOTSUPP` if any is not in `offered`.
pub(crate) fn read_features(arg: &IoctlArg, offered: u64) -> Result<u64> {
    let features: u64 = arg.read()?;
    if features & !offered != 0 {
        return Err(eopnotsupp());
    }
    Ok(features)
}

/// `vhost_set_memory`: a header (`EOPNOTSUPP` for padding, `E2BIG` above the limit), then
/// the regions; regions that are empty, wrap around, lie outside user space or overlap
/// another get `EFAULT`.
pub(crate) fn read_mem_table(arg: &IoctlArg) -> Result<Arc<MemTable>> {
    let header: VhostMemory = arg.read()?;
    if header.padding != 0 {
        return Err(eopnotsupp());
    }
    if header.nregions > MAX_MEM_REGIONS {
        return Err(E2BIG);
    }
    let n = header.nregions as usize;
    let mut reader = UserSlice::new(
        arg.value() + core::mem::size_of::<VhostMemory>(),
        n * core::mem::size_of::<VhostMemoryRegion>(),
    )
    .reader();
    let mut table = UniqueArc::new(MemTable::new(), GFP_KERNEL)?;
    for _ in 0..n {
        let r: VhostMemoryRegion = reader.read()?;
        if !access_ok(r.userspace_addr, r.memory_size) {
            return Err(EFAULT);
        }
        // Empty, wrapping or overlapping regions (vhost's iotlb refuses the first two; we
        // refuse overlaps too, which make translation ambiguous).
        table
            .push(Region::new(
                r.guest_phys_addr,
                r.memory_size,
                r.userspace_addr,
            ))
            .map_err(|_| EFAULT)?;
    }
    Ok(table.into())
}

/// The ring index a ring ioctl names (its first `u32`): `EFAULT` if unreadable, `ENOBUFS`
/// if not below `nvqs`.
pub(crate) fn ring_index(arg: &IoctlArg, nvqs: usize) -> Result<usize> {
    let index: u32 = UserSlice::new(arg.value(), 4).reader().read()?;
    if index as usize >= nvqs {
        return Err(enobufs());
    }
    Ok(index as usize)
}

/// `vhost_vring_ioctl` on queue `index` (checked by [`ring_index`]). The kick eventfd is
/// the device's business (it hooks its worker to it): `set_kick` gets the new fd, already
/// checked to be an eventfd, or `None` to unbind. Unknown commands get `ENOTTY`.
pub(crate) fn vring_ioctl<B, S>(
    vq: &Mutex<Vq<B, S>>,
    index: usize,
    arg: &IoctlArg,
    set_kick: impl FnOnce(Option<i32>) -> Result,
) -> Result {
    match arg.cmd() {
        VHOST_SET_VRING_NUM => vq.lock().set_num(&arg.read()?),
        VHOST_SET_VRING_ADDR => vq.lock().set_addr(&arg.read()?),
        VHOST_SET_VRING_BASE => vq.lock().set_base(&arg.read()?),
        VHOST_GET_VRING_BASE => {
            let state = vq.lock().base(index as u32);
            arg.write(&state)
        }
        VHOST_SET_VRING_KICK => {
            let f: VhostVringFile = arg.read()?;
            match f.fd {
                VHOST_FILE_UNBIND => set_kick(None),
                fd => {
                    // Only eventfds may kick (vhost's eventfd_fget).
                    drop(EventFd::from_fd(fd)?);
                    set_kick(Some(fd))
                }
            }
        }
        VHOST_SET_VRING_CALL | VHOST_SET_VRING_ERR => {
            let f: VhostVringFile = arg.read()?;
            let ctx = match f.fd {
                VHOST_FILE_UNBIND => None,
                fd => Some(EventFd::from_fd(fd)?),
            };
            let old = {
                let mut q = vq.lock();
                let slot = if arg.cmd() == VHOST_SET_VRING_CALL {
                    &mut q.call
                } else {
                    &mut q.err
                };
                core::mem::replace(slot, ctx)
            };
            // Eventfds are released outside the queue lock.
            drop(old);
            Ok(())
        }
        _ => Err(ENOTTY),
    }
}
