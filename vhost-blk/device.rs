// SPDX-License-Identifier: GPL-2.0

//! One open file of the device: a vhost-blk instance with up to [`NVQS`] request queues.
//!
//! Ownership and locking, as in vhost-net (and drivers/vhost): `VhostBlk::dev` holds the
//! control state (owner with its worker, kick hooks, the disk); the queues live in
//! [`Shared`], each behind its own mutex, because the worker uses them too. Lock order:
//! `dev`, then one queue (never two). Each attached queue's request slots wake the worker
//! on completions, so they are dropped (after waiting for the requests in flight) before
//! the owner and its worker.

use crate::{
    blk,
    disk::Disk,
    helper::Helper,
    ioctl,
    kext::{
        eventfd::{PollHandler, PollHook},
        ioctl::IoctlArg,
        miscdev::MiscDevice,
        worker::{WorkHandler, Worker},
    },
    uapi::VHOST_BLK_VQ_MAX,
    vhost::owner::{current_mm, Owner as VhostOwner},
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// Number of virtqueues.
pub(crate) const NVQS: usize = VHOST_BLK_VQ_MAX as usize;

/// A vhost-blk virtqueue: the shared vhost queue, served by a disk.
pub(crate) type Vq = crate::vhost::vq::Vq<Arc<Disk>, blk::Scratch>;

/// The owner of a vhost-blk device.
pub(crate) type Owner = VhostOwner<Shared>;

/// The virtqueues, shared with the worker thread.
pub(crate) struct Shared {
    vqs: KVec<Pin<KBox<Mutex<Vq>>>>,
}

impl Shared {
    /// Virtqueue `index` (below [`NVQS`]).
    pub(crate) fn vq(&self, index: usize) -> &Mutex<Vq> {
        &self.vqs[index]
    }
}

impl WorkHandler for Shared {
    fn run(&self) -> bool {
        let mut more = false;
        for vq in self.vqs.iter() {
            more |= blk::handle_queue(&mut vq.lock());
        }
        more
    }
}

/// Wakes the worker: the poll hooks on kick eventfds.
pub(crate) struct Wake {
    worker: Arc<Worker<Shared>>,
}

impl PollHandler for Wake {
    fn wake(&self, _mask: u32) {
        self.worker.wake();
    }
}

/// Control state, behind [`VhostBlk::dev`]. Fields drop in order: hooks before the owner.
pub(crate) struct Dev {
    /// Hooks on the kick eventfds.
    pub(crate) kicks: [Option<PollHook<Wake>>; NVQS],
    /// The owner, after `VHOST_SET_OWNER`.
    pub(crate) owner: Option<Owner>,
    /// The disk, after `VHOST_BLK_SET_BACKEND`.
    pub(crate) disk: Option<Arc<Disk>>,
    /// Negotiated virtio features.
    pub(crate) features: u64,
    /// The helper thread (see [`crate::helper`]), started with the owner's worker.
    pub(crate) helper: Option<Arc<Worker<Helper>>>,
}

impl Dev {
    /// `vhost_dev_check_owner`: the caller's mm is the owner's, else `EPERM`.
    pub(crate) fn check_owner(&self) -> Result<&Owner> {
        Owner::check(&self.owner)
    }

    /// A hook waking the owner's worker when eventfd `fd` is signalled; wakes it at once if
    /// it is already.
    pub(crate) fn hook(&self, fd: i32) -> Result<PollHook<Wake>> {
        let worker = self.check_owner()?.worker.clone();
        let (hook, ready) = PollHook::new(
            fd,
            crate::kext::eventfd::POLLIN,
            Arc::new(Wake { worker }, GFP_KERNEL)?,
        )?;
        if ready != 0 {
            hook.handler().worker.wake();
        }
        Ok(hook)
    }
}

/// One open file: a vhost-blk instance.
#[pin_data]
pub(crate) struct VhostBlk {
    #[pin]
    pub(crate) dev: Mutex<Dev>,
    pub(crate) shared: Arc<Shared>,
}

impl VhostBlk {
    /// Detaches the disk from every queue: waits for the requests in flight and, when the
    /// caller is the owner, completes them into the used rings.
    pub(crate) fn detach_locked(&self, dev: &mut Dev) {
        let complete = dev.owner.as_ref().is_some_and(|o| o.mm == current_mm());
        for i in 0..NVQS {
            let old = blk::detach(&mut self.shared.vq(i).lock(), complete);
            // The file is released outside the queue lock.
            drop(old);
        }
        dev.disk = None;
    }

    /// Stops the device (`vhost_dev_cleanup`): unhooks, detaches the disk, stops the worker
    /// and resets every queue. Owner-independent.
    pub(crate) fn reset_locked(&self, dev: &mut Dev) {
        dev.kicks = [const { None }; NVQS];
        // Before the owner: the request slots wake its worker.
        self.detach_locked(dev);
        // Stops the worker after its current run: nothing touches the queues afterwards.
        dev.owner = None;
        // Idle: every queue was detached above, which waits for the helper.
        dev.helper = None;
        dev.features = 0;
        for i in 0..NVQS {
            let old = core::mem::replace(&mut *self.shared.vq(i).lock(), Vq::new());
            // Eventfds are released outside the queue lock.
            drop(old);
        }
    }
}

#[vtable]
impl MiscDevice for VhostBlk {
    type Ptr = Pin<KBox<VhostBlk>>;

    fn open() -> Result<Self::Ptr> {
        let mut vqs = KVec::with_capacity(NVQS, GFP_KERNEL)?;
        for _ in 0..NVQS {
            vqs.push(
                KBox::pin_init(new_mutex!(Vq::new()), GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        let shared = Arc::new(Shared { vqs }, GFP_KERNEL)?;
        KBox::pin_init(
            pin_init!(VhostBlk {
                dev <- new_mutex!(Dev {
                    kicks: [const { None }; NVQS],
                    owner: None,
                    disk: None,
                    features: 0,
                    helper: None,
                }),
                shared,
            }),
            GFP_KERNEL,
        )
    }

    fn release(device: Self::Ptr) {
        {
            let mut dev = device.dev.lock();
            device.reset_locked(&mut dev);
        }
        drop(device);
    }

    fn ioctl(me: Pin<&VhostBlk>, arg: IoctlArg) -> Result<isize> {
        ioctl::dispatch(&me, arg).map(|()| 0)
    }
}
