// SPDX-License-Identifier: GPL-2.0

//! The vhost ioctls, in the order and with the errors of drivers/vhost/net.c
//! `vhost_net_ioctl`, vhost.c `vhost_dev_ioctl` and `vhost_vring_ioctl`:
//!
//! * features and `SET/RESET_OWNER` first, without an owner check;
//! * everything else only from the owner (`EPERM`), then `VHOST_SET_MEM_TABLE`, then the
//!   ring ioctls, whose ring index is read first (`EFAULT`, `ENOBUFS` if out of range) —
//!   also for unknown commands, which then get `ENOTTY`.

use crate::{
    backend::Socket,
    device::{current_mm, Dev, Owner, VhostNet, NVQS},
    kext::{
        errno::{enobufs, eopnotsupp},
        eventfd::{EventFd, POLLIN},
        ioctl::IoctlArg,
        user::access_ok,
        worker::Worker,
    },
    uapi::*,
    vring::{MemTable, Region},
};
use kernel::{
    c_str,
    prelude::*,
    sync::{Arc, UniqueArc},
    types::{AsBytes, FromBytes},
    uaccess::UserSlice,
};

/// The virtio features offered (`VHOST_GET_FEATURES`). Unlike the C vhost_net, no dirty
/// logging (`VHOST_F_LOG_ALL`), no IOTLB (`VIRTIO_F_ACCESS_PLATFORM`) and no ring reset
/// (`VIRTIO_F_RING_RESET`); see Documentation/vhost.rst.
pub(crate) const FEATURES: u64 = (1 << VIRTIO_F_NOTIFY_ON_EMPTY)
    | (1 << VIRTIO_RING_F_INDIRECT_DESC)
    | (1 << VIRTIO_RING_F_EVENT_IDX)
    | (1 << VIRTIO_F_ANY_LAYOUT)
    | (1 << VIRTIO_F_VERSION_1)
    | (1 << VHOST_NET_F_VIRTIO_NET_HDR)
    | (1 << VIRTIO_NET_F_MRG_RXBUF);

/// The vhost backend features offered: none (no IOTLB messages).
pub(crate) const BACKEND_FEATURES: u64 = 0;

/// Most memory regions in a table (vhost's `max_mem_regions` default).
pub(crate) const MAX_MEM_REGIONS: u32 = 64;

/// Handles one ioctl.
pub(crate) fn dispatch(net: &VhostNet, arg: IoctlArg) -> Result {
    match arg.cmd() {
        VHOST_NET_SET_BACKEND => {
            let f: VhostVringFile = arg.read()?;
            set_backend(net, f.index, f.fd)
        }
        VHOST_GET_FEATURES => arg.write(&FEATURES),
        VHOST_SET_FEATURES => {
            let features: u64 = arg.read()?;
            if features & !FEATURES != 0 {
                return Err(eopnotsupp());
            }
            set_features(net, features);
            Ok(())
        }
        VHOST_GET_BACKEND_FEATURES => arg.write(&BACKEND_FEATURES),
        VHOST_SET_BACKEND_FEATURES => {
            let features: u64 = arg.read()?;
            if features & !BACKEND_FEATURES != 0 {
                return Err(eopnotsupp());
            }
            net.dev.lock().backend_features = features;
            Ok(())
        }
        VHOST_RESET_OWNER => {
            let mut dev = net.dev.lock();
            dev.check_owner()?;
            net.reset_locked(&mut dev);
            Ok(())
        }
        VHOST_SET_OWNER => set_owner(net),
        _ => {
            let mut dev = net.dev.lock();
            dev.check_owner()?;
            match arg.cmd() {
                VHOST_SET_MEM_TABLE => set_mem_table(net, &arg),
                // Dirty logging is not offered (no VHOST_F_LOG_ALL).
                VHOST_SET_LOG_BASE | VHOST_SET_LOG_FD => Err(eopnotsupp()),
                _ => vring_ioctl(net, &mut dev, &arg),
            }
        }
    }
}

// The uapi structs are local to this crate (uapi/rust/src/vhost.rs is included as a module),
// so they take the kernel's byte-copy traits here.
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

/// `VHOST_SET_OWNER`: `EBUSY` if there is one; starts the worker in the caller's mm.
fn set_owner(net: &VhostNet) -> Result {
    let mut dev = net.dev.lock();
    if dev.owner.is_some() {
        return Err(EBUSY);
    }
    let worker = Worker::new(c_str!("vhost-rs"), net.shared.clone())?;
    dev.owner = Some(Owner {
        mm: current_mm(),
        worker: Arc::new(worker, GFP_KERNEL)?,
    });
    Ok(())
}

/// `vhost_net_set_features`: every queue takes the negotiated features.
fn set_features(net: &VhostNet, features: u64) {
    let _dev = net.dev.lock();
    for i in 0..NVQS {
        net.shared.vq(i).lock().acked_features = features;
    }
}

/// `vhost_set_memory`: a header (`EOPNOTSUPP` for padding, `E2BIG` above the limit), then
/// the regions; regions that are empty, wrap around, lie outside user space or overlap
/// another get `EFAULT`.
fn set_mem_table(net: &VhostNet, arg: &IoctlArg) -> Result {
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
    let mem: Arc<MemTable> = table.into();
    for i in 0..NVQS {
        net.shared.vq(i).lock().mem = Some(mem.clone());
    }
    Ok(())
}

/// `vhost_vring_ioctl`: the ring index first, then the command.
fn vring_ioctl(net: &VhostNet, dev: &mut Dev, arg: &IoctlArg) -> Result {
    let index: u32 = UserSlice::new(arg.value(), 4).reader().read()?;
    if index as usize >= NVQS {
        return Err(enobufs());
    }
    let i = index as usize;
    match arg.cmd() {
        VHOST_SET_VRING_NUM => net.shared.vq(i).lock().set_num(&arg.read()?),
        VHOST_SET_VRING_ADDR => net.shared.vq(i).lock().set_addr(&arg.read()?),
        VHOST_SET_VRING_BASE => net.shared.vq(i).lock().set_base(&arg.read()?),
        VHOST_GET_VRING_BASE => {
            let state = net.shared.vq(i).lock().base(index);
            arg.write(&state)
        }
        VHOST_SET_VRING_KICK => {
            let f: VhostVringFile = arg.read()?;
            let hook = match f.fd {
                VHOST_FILE_UNBIND => None,
                fd => {
                    // Only eventfds may kick (vhost's eventfd_fget).
                    drop(EventFd::from_fd(fd)?);
                    Some(dev.hook(fd, POLLIN)?)
                }
            };
            let old = core::mem::replace(&mut dev.kicks[i], hook);
            drop(old);
            Ok(())
        }
        VHOST_SET_VRING_CALL | VHOST_SET_VRING_ERR => {
            let f: VhostVringFile = arg.read()?;
            let ctx = match f.fd {
                VHOST_FILE_UNBIND => None,
                fd => Some(EventFd::from_fd(fd)?),
            };
            let old = {
                let mut vq = net.shared.vq(i).lock();
                let slot = if arg.cmd() == VHOST_SET_VRING_CALL {
                    &mut vq.call
                } else {
                    &mut vq.err
                };
                core::mem::replace(slot, ctx)
            };
            drop(old);
            Ok(())
        }
        _ => Err(ENOTTY),
    }
}

/// `vhost_net_set_backend`: owner (`EPERM`), index (`ENOBUFS`), a memory table and
/// accessible rings (`EFAULT`), then the socket (`ENOTSOCK`); -1 detaches.
fn set_backend(net: &VhostNet, index: u32, fd: i32) -> Result {
    let mut dev = net.dev.lock();
    dev.check_owner()?;
    if index as usize >= NVQS {
        return Err(enobufs());
    }
    let i = index as usize;
    let vq = net.shared.vq(i);
    {
        // `vhost_vq_access_ok`: a memory table must be set (even to detach) and the rings
        // must lie in user space.
        let q = vq.lock();
        if q.mem.is_none() || !q.access_ok(q.num, &q.addr) {
            return Err(EFAULT);
        }
    }
    let (socket, hook) = match fd {
        VHOST_FILE_UNBIND => (None, None),
        fd => (
            Some(Socket::from_fd(fd)?),
            Some(dev.hook(fd, crate::net::socket_events(i))?),
        ),
    };
    // Set the ring up first: if that fails, the old backend stays as it was.
    let old_socket = crate::net::attach(&mut vq.lock(), socket)?;
    let old_hook = core::mem::replace(&mut dev.socket_polls[i], hook);
    drop(old_hook);
    // Let the worker finish with the old socket before releasing it.
    if let Some(owner) = &dev.owner {
        owner.worker.flush();
    }
    drop(old_socket);
    if let Some(owner) = &dev.owner {
        owner.worker.wake();
    }
    Ok(())
}
