// SPDX-License-Identifier: GPL-2.0

//! irqfd (Linux `drivers/virt/acrn/irqfd.c`, `ACRN_IOCTL_IRQFD`): signalling an eventfd
//! injects an MSI into the guest, without a trip to the device model. This is how vhost's
//! "call" eventfd interrupts the guest.
//!
//! Each irqfd is a [`PollHook`] on the eventfd's wait queue; its callback, in the signaller's
//! atomic context, issues `HC_INJECT_MSI` with an argument preallocated in kmalloc memory.
//! The hook holds the eventfd context, not the file: when the device model closes the eventfd
//! the callback sees `EPOLLHUP` and queues the irqfd's removal (it can not unhook itself under
//! the wait-queue lock). One irqfd per eventfd per VM (`EBUSY` otherwise).

use crate::{
    acrn::{Irqfd as IrqfdArgs, MsiEntry, ACRN_IRQFD_FLAG_DEASSIGN},
    client::swap_remove,
    hypercall,
    kext::eventfd::{EventFd, PollHandler, PollHook, POLLHUP, POLLIN},
    upcall,
};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    bindings, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// The irqfds of one VM.
#[pin_data]
pub(crate) struct Irqfds {
    vmid: u16,
    /// False once the VM is being destroyed: no more injections.
    alive: AtomicBool,
    #[pin]
    hooks: Mutex<KVec<PollHook<Inject>>>,
}

/// The callback of one irqfd.
pub(crate) struct Inject {
    irqfds: Arc<Irqfds>,
    /// The MSI, in kmalloc memory (inside the `Arc`) as the hypercall needs.
    msi: MsiEntry,
    /// The eventfd context, for identity comparisons only (the hook holds the reference).
    ctx: *mut bindings::eventfd_ctx,
    /// Removal queued once.
    shutdown: AtomicBool,
}

// SAFETY: `ctx` is only compared, never dereferenced; the rest is `Send`.
unsafe impl Send for Inject {}
// SAFETY: As above; shared accesses are reads or atomics.
unsafe impl Sync for Inject {}

impl Inject {
    fn inject(&self) {
        if self.irqfds.alive.load(Ordering::Acquire) {
            // Errors are the hypervisor's verdict on the MSI; there is nobody to report to.
            let _ = hypercall::inject_msi(self.irqfds.vmid, &self.msi);
        }
    }
}

impl PollHandler for Inject {
    fn wake(&self, mask: u32) {
        if mask & POLLIN != 0 {
            self.inject();
        }
        if mask & POLLHUP != 0 && !self.shutdown.swap(true, Ordering::AcqRel) {
            // The eventfd is closed: drop the hook later, outside the wait-queue lock.
            let irqfds = self.irqfds.clone();
            let ctx = self.ctx as usize;
            // On allocation failure the irqfd stays until DEASSIGN or VM destroy.
            let _ = upcall::aux_queue().try_spawn(GFP_ATOMIC, move || {
                irqfds.remove(ctx as *mut bindings::eventfd_ctx);
            });
        }
    }
}

impl Irqfds {
    /// The (empty) irqfd set of VM `vmid` (C `acrn_irqfd_init`).
    pub(crate) fn new(vmid: u16) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                vmid,
                alive: AtomicBool::new(true),
                hooks <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )
    }

    /// `ACRN_IOCTL_IRQFD` (C `acrn_irqfd_config`).
    pub(crate) fn config(self: &Arc<Self>, args: &IrqfdArgs) -> Result {
        if args.flags & ACRN_IRQFD_FLAG_DEASSIGN != 0 {
            let eventfd = EventFd::from_fd(args.fd)?;
            self.remove(eventfd.as_ptr());
            return Ok(());
        }
        // Resolve the eventfd first: `EBADF`/`EINVAL` as in C, and its identity for the
        // duplicate check, which (as in C) comes before the hook is installed.
        let eventfd = EventFd::from_fd(args.fd)?;
        let mut hooks = self.hooks.lock();
        if hooks.iter().any(|h| h.handler().ctx == eventfd.as_ptr()) {
            return Err(EBUSY);
        }
        let inject = Arc::new(
            Inject {
                irqfds: self.clone(),
                msi: args.msi,
                ctx: eventfd.as_ptr(),
                shutdown: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?;
        let (hook, ready, ctx) = PollHook::new_eventfd(args.fd, POLLIN | POLLHUP, inject)?;
        if ctx != eventfd.as_ptr() {
            // The descriptor was replaced by another thread meanwhile.
            return Err(EBADF);
        }
        if ready & POLLIN != 0 {
            hook.handler().inject();
        }
        hooks.push(hook, GFP_KERNEL)?;
        Ok(())
    }

    /// Removes the irqfd of eventfd context `ctx`, if any; once this returns its callback is
    /// not running and is never called again.
    fn remove(&self, ctx: *mut bindings::eventfd_ctx) {
        let hook = {
            let mut hooks = self.hooks.lock();
            hooks
                .iter()
                .position(|h| h.handler().ctx == ctx)
                .map(|i| swap_remove(&mut hooks, i))
        };
        drop(hook);
    }

    /// Stops injections and drops every irqfd (C `acrn_irqfd_deinit`).
    pub(crate) fn deinit(&self) {
        self.alive.store(false, Ordering::Release);
        let hooks = core::mem::replace(&mut *self.hooks.lock(), KVec::new());
        drop(hooks);
    }
}
