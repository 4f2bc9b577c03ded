// SPDX-License-Identifier: GPL-2.0

//! One open file of the device: a vhost-net instance with an RX and a TX virtqueue.
//!
//! Ownership and locking, as in drivers/vhost: `VhostNet::dev` (vhost's `dev->mutex`) holds
//! the control state: the owner with its worker thread, and the poll hooks that wake it. The
//! virtqueues live in [`Shared`], each behind its own mutex (vhost's `vq->mutex`), because the
//! worker uses them too. Lock order: `dev`, then a queue. The hooks hold the worker, the
//! worker holds `Shared`, and `Shared` holds neither, so there is no reference cycle; `Dev`
//! drops the hooks before the owner, so nothing wakes a stopped worker.

use crate::{
    ioctl,
    kext::{
        eventfd::{PollHandler, PollHook, POLLOUT},
        ioctl::IoctlArg,
        miscdev::MiscDevice,
        worker::{WorkHandler, Worker},
    },
    vhost::owner::Owner as VhostOwner,
    vq::Vq,
};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// Index of the receive queue.
pub(crate) const VQ_RX: usize = 0;
/// Index of the transmit queue.
pub(crate) const VQ_TX: usize = 1;
/// Number of virtqueues.
pub(crate) const NVQS: usize = 2;

/// The virtqueues, shared with the worker thread.
#[pin_data]
pub(crate) struct Shared {
    #[pin]
    rx: Mutex<Vq>,
    #[pin]
    tx: Mutex<Vq>,
    /// A send found the TX socket full: its "writable" event should wake the worker.
    pub(crate) tx_blocked: AtomicBool,
}

impl Shared {
    /// Virtqueue `index` ([`VQ_RX`] or [`VQ_TX`]).
    pub(crate) fn vq(&self, index: usize) -> &Mutex<Vq> {
        if index == VQ_RX {
            &self.rx
        } else {
            &self.tx
        }
    }
}

impl WorkHandler for Shared {
    fn run(&self) -> bool {
        let tx_more = crate::net::handle_tx(self);
        let rx_more = crate::net::handle_rx(self);
        tx_more || rx_more
    }
}

/// Wakes the worker: the poll hooks on kick eventfds and on backend sockets.
pub(crate) struct Wake {
    worker: Arc<Worker<Shared>>,
}

impl PollHandler for Wake {
    fn wake(&self, mask: u32) {
        // A socket turning writable only matters while a send waits for room.
        if mask & !POLLOUT == 0 && !self.worker.handler().tx_blocked.load(Ordering::Relaxed) {
            return;
        }
        self.worker.wake();
    }
}

/// The owner: the process whose address space the rings and the guest memory are in, and
/// the worker running there.
pub(crate) type Owner = VhostOwner<Shared>;

/// Control state, behind [`VhostNet::dev`]. Fields drop in order: hooks before the owner.
pub(crate) struct Dev {
    /// Hooks on the kick eventfds.
    pub(crate) kicks: [Option<PollHook<Wake>>; NVQS],
    /// Hooks on the backend sockets.
    pub(crate) socket_polls: [Option<PollHook<Wake>>; NVQS],
    /// The owner, after `VHOST_SET_OWNER`.
    pub(crate) owner: Option<Owner>,
    /// Negotiated vhost backend features.
    pub(crate) backend_features: u64,
}

impl Dev {
    /// `vhost_dev_check_owner`: the caller's mm is the owner's, else `EPERM`.
    pub(crate) fn check_owner(&self) -> Result<&Owner> {
        Owner::check(&self.owner)
    }

    /// A hook waking the owner's worker on events of `fd` in `mask`; wakes it at once if
    /// such events are pending.
    pub(crate) fn hook(&self, fd: i32, mask: u32) -> Result<PollHook<Wake>> {
        let worker = self.check_owner()?.worker.clone();
        let (hook, ready) = PollHook::new(fd, mask, Arc::new(Wake { worker }, GFP_KERNEL)?)?;
        if ready != 0 {
            hook.handler().worker.wake();
        }
        Ok(hook)
    }
}

/// One open file: a vhost-net instance.
#[pin_data]
pub(crate) struct VhostNet {
    #[pin]
    pub(crate) dev: Mutex<Dev>,
    pub(crate) shared: Arc<Shared>,
}

impl VhostNet {
    /// Stops the device (vhost's `vhost_net_stop` + `vhost_dev_cleanup`): unhooks, stops the
    /// worker, detaches the backends and resets both queues. Owner-independent.
    pub(crate) fn reset_locked(&self, dev: &mut Dev) {
        dev.kicks = [const { None }; NVQS];
        dev.socket_polls = [const { None }; NVQS];
        // Stops the worker after its current run: nothing touches the queues afterwards.
        dev.owner = None;
        dev.backend_features = 0;
        for i in 0..NVQS {
            let old = core::mem::replace(&mut *self.shared.vq(i).lock(), Vq::new());
            // Sockets and eventfds are released outside the queue lock.
            drop(old);
        }
    }
}

#[vtable]
impl MiscDevice for VhostNet {
    type Ptr = Pin<KBox<VhostNet>>;

    fn open() -> Result<Self::Ptr> {
        let shared = Arc::pin_init(
            pin_init!(Shared {
                rx <- new_mutex!(Vq::new()),
                tx <- new_mutex!(Vq::new()),
                tx_blocked: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )?;
        KBox::pin_init(
            pin_init!(VhostNet {
                dev <- new_mutex!(Dev {
                    kicks: [const { None }; NVQS],
                    socket_polls: [const { None }; NVQS],
                    owner: None,
                    backend_features: 0,
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

    fn ioctl(me: Pin<&VhostNet>, arg: IoctlArg) -> Result<isize> {
        ioctl::dispatch(&me, arg).map(|()| 0)
    }
}
