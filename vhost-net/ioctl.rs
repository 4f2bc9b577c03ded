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
    device::{Owner, VhostNet, NVQS},
    kext::{
        errno::{enobufs, eopnotsupp},
        eventfd::POLLIN,
        ioctl::IoctlArg,
    },
    uapi::*,
    vhost::ioctl::{read_features, read_mem_table, ring_index, vring_ioctl, VHOST_FEATURES},
};
use kernel::{c_str, prelude::*};

/// The virtio features offered (`VHOST_GET_FEATURES`). Unlike the C vhost_net, no dirty
/// logging (`VHOST_F_LOG_ALL`), no IOTLB (`VIRTIO_F_ACCESS_PLATFORM`) and no ring reset
/// (`VIRTIO_F_RING_RESET`); see Documentation/vhost.rst.
pub(crate) const FEATURES: u64 =
    VHOST_FEATURES | (1 << VHOST_NET_F_VIRTIO_NET_HDR) | (1 << VIRTIO_NET_F_MRG_RXBUF);

/// The vhost backend features offered: none (no IOTLB messages).
pub(crate) const BACKEND_FEATURES: u64 = 0;

/// Handles one ioctl.
pub(crate) fn dispatch(net: &VhostNet, arg: IoctlArg) -> Result {
    match arg.cmd() {
        VHOST_NET_SET_BACKEND => {
            let f: VhostVringFile = arg.read()?;
            set_backend(net, f.index, f.fd)
        }
        VHOST_GET_FEATURES => arg.write(&FEATURES),
        VHOST_SET_FEATURES => {
            let features = read_features(&arg, FEATURES)?;
            set_features(net, features);
            Ok(())
        }
        VHOST_GET_BACKEND_FEATURES => arg.write(&BACKEND_FEATURES),
        VHOST_SET_BACKEND_FEATURES => {
            let features = read_features(&arg, BACKEND_FEATURES)?;
            net.dev.lock().backend_features = features;
            Ok(())
        }
        VHOST_RESET_OWNER => {
            let mut dev = net.dev.lock();
            dev.check_owner()?;
            net.reset_locked(&mut dev);
            Ok(())
        }
        VHOST_SET_OWNER => {
            let mut dev = net.dev.lock();
            Owner::set(&mut dev.owner, c_str!("vhost-rs"), net.shared.clone())
        }
        _ => {
            let mut dev = net.dev.lock();
            dev.check_owner()?;
            match arg.cmd() {
                VHOST_SET_MEM_TABLE => {
                    let mem = read_mem_table(&arg)?;
                    for i in 0..NVQS {
                        net.shared.vq(i).lock().set_mem(mem.clone());
                    }
                    Ok(())
                }
                // Dirty logging is not offered (no VHOST_F_LOG_ALL).
                VHOST_SET_LOG_BASE | VHOST_SET_LOG_FD => Err(eopnotsupp()),
                _ => {
                    let i = ring_index(&arg, NVQS)?;
                    vring_ioctl(net.shared.vq(i), i, &arg, |fd| {
                        let hook = match fd {
                            None => None,
                            Some(fd) => Some(dev.hook(fd, POLLIN)?),
                        };
                        let old = core::mem::replace(&mut dev.kicks[i], hook);
                        drop(old);
                        Ok(())
                    })
                }
            }
        }
    }
}

/// `vhost_net_set_features`: every queue takes the negotiated features.
fn set_features(net: &VhostNet, features: u64) {
    let _dev = net.dev.lock();
    for i in 0..NVQS {
        net.shared.vq(i).lock().acked_features = features;
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
        vq.lock().check_ready()?;
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
