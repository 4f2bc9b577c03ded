// SPDX-License-Identifier: GPL-2.0

//! The vhost-blk ioctls: the standard vhost ones in the order and with the errors of
//! drivers/vhost (features and `SET/RESET_OWNER` without an owner check, everything else
//! only from the owner: `EPERM`), and `VHOST_BLK_SET_BACKEND`.

use crate::{
    blk,
    device::{Owner, VhostBlk, NVQS},
    disk::Disk,
    helper::Helper,
    kext::{errno::eopnotsupp, ioctl::IoctlArg, worker::Worker},
    uapi::*,
    vhost::ioctl::{read_features, read_mem_table, ring_index, vring_ioctl, VHOST_FEATURES},
};
use kernel::{c_str, prelude::*, sync::Arc};

/// The virtio features offered (`VHOST_GET_FEATURES`) without a disk: the ring features vhost
/// offers, and the request types served: flush, discard and write zeroes, several queues.
/// With a disk attached, [`offered`] adapts them to it. The configuration-space features
/// (`SIZE_MAX`, `SEG_MAX`, `BLK_SIZE`...) are the device model's. No dirty logging, IOTLB
/// or packed rings.
pub(crate) const FEATURES: u64 = VHOST_FEATURES
    | (1 << VIRTIO_BLK_F_FLUSH)
    | (1 << VIRTIO_BLK_F_MQ)
    | (1 << VIRTIO_BLK_F_DISCARD)
    | (1 << VIRTIO_BLK_F_WRITE_ZEROES);

/// The features offered with `disk` attached: without discard and write zeroes if it can
/// not do them (read-only, or a file system without fallocate), with `VIRTIO_BLK_F_RO` if
/// it is read-only.
pub(crate) fn offered(disk: Option<&Disk>) -> u64 {
    let Some(disk) = disk else {
        return FEATURES;
    };
    let mut f = FEATURES;
    if !disk.fallocate {
        f &= !((1 << VIRTIO_BLK_F_DISCARD) | (1 << VIRTIO_BLK_F_WRITE_ZEROES));
    }
    if !disk.writable {
        f |= 1 << VIRTIO_BLK_F_RO;
    }
    f
}

/// Handles one ioctl.
pub(crate) fn dispatch(blk: &VhostBlk, arg: IoctlArg) -> Result {
    match arg.cmd() {
        VHOST_GET_FEATURES => {
            let f = offered(blk.dev.lock().disk.as_deref());
            arg.write(&f)
        }
        VHOST_SET_FEATURES => {
            let features = read_features(&arg, FEATURES | (1 << VIRTIO_BLK_F_RO))?;
            let mut dev = blk.dev.lock();
            // As vhost: not while a disk is attached (the rings' layout may change).
            if dev.disk.is_some() {
                return Err(EBUSY);
            }
            dev.features = features;
            for i in 0..NVQS {
                blk.shared.vq(i).lock().acked_features = features;
            }
            Ok(())
        }
        VHOST_GET_BACKEND_FEATURES => arg.write(&0u64),
        VHOST_SET_BACKEND_FEATURES => read_features(&arg, 0).map(|_| ()),
        VHOST_RESET_OWNER => {
            let mut dev = blk.dev.lock();
            dev.check_owner()?;
            blk.reset_locked(&mut dev);
            Ok(())
        }
        VHOST_SET_OWNER => {
            let mut dev = blk.dev.lock();
            if dev.owner.is_some() {
                return Err(EBUSY);
            }
            let helper = Worker::new(c_str!("vhost-blk-rs-h"), Helper::new()?)?;
            let helper = Arc::new(helper, GFP_KERNEL)?;
            Owner::set(&mut dev.owner, c_str!("vhost-blk-rs"), blk.shared.clone())?;
            dev.helper = Some(helper);
            Ok(())
        }
        _ => {
            let mut dev = blk.dev.lock();
            dev.check_owner()?;
            match arg.cmd() {
                VHOST_BLK_SET_BACKEND => {
                    let f: VhostVringFile = arg.read()?;
                    set_backend(blk, &mut dev, f.fd)
                }
                VHOST_SET_MEM_TABLE => {
                    let mem = read_mem_table(&arg)?;
                    for i in 0..NVQS {
                        blk.shared.vq(i).lock().set_mem(mem.clone());
                    }
                    // Requests handed over before carry the old table: done with them, as
                    // the worker is (it holds a queue's lock while it serves it).
                    if let Some(helper) = &dev.helper {
                        helper.flush();
                    }
                    Ok(())
                }
                // Dirty logging is not offered (no VHOST_F_LOG_ALL).
                VHOST_SET_LOG_BASE | VHOST_SET_LOG_FD => Err(eopnotsupp()),
                _ => {
                    let i = ring_index(&arg, NVQS)?;
                    vring_ioctl(blk.shared.vq(i), i, &arg, |fd| {
                        let hook = match fd {
                            None => None,
                            Some(fd) => Some(dev.hook(fd)?),
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

/// `VHOST_BLK_SET_BACKEND`: -1 detaches the disk (after its requests in flight complete);
/// an fd attaches it to every queue whose size is set. Checked first, so that a refusal
/// changes nothing: the disk (`EBADF`, `EINVAL`), at least one configured queue
/// (`EINVAL`), a memory table and rings in user space for each (`EFAULT`). A ring that
/// can not be read when activated (`EFAULT`) leaves the device without a disk.
fn set_backend(blk: &VhostBlk, dev: &mut crate::device::Dev, fd: i32) -> Result {
    if fd == VHOST_FILE_UNBIND {
        blk.detach_locked(dev);
        return Ok(());
    }
    let disk = Arc::new(Disk::from_fd(fd)?, GFP_KERNEL)?;
    let mut configured = 0;
    for i in 0..NVQS {
        let q = blk.shared.vq(i).lock();
        if q.num != 0 {
            q.check_ready()?;
            configured += 1;
        }
    }
    if configured == 0 {
        return Err(EINVAL);
    }
    blk.detach_locked(dev);
    let Some(owner) = dev.owner.as_ref() else {
        return Err(EPERM);
    };
    let worker = owner.worker.clone();
    for i in 0..NVQS {
        let mut q = blk.shared.vq(i).lock();
        if q.num == 0 {
            continue;
        }
        if let Err(e) = blk::attach(&mut q, &disk, &worker, dev.helper.clone()) {
            drop(q);
            blk.detach_locked(dev);
            return Err(e);
        }
    }
    dev.disk = Some(disk);
    worker.wake();
    Ok(())
}
