// SPDX-License-Identifier: GPL-2.0

//! I/O request clients (Linux `struct acrn_ioreq_client`): who handles a User VM's I/O
//! requests.
//!
//! A VM has at most one *default* client, the device model in userspace (created by
//! `ACRN_IOCTL_CREATE_IOREQ_CLIENT`, waited on by `ACRN_IOCTL_ATTACH_IOREQ_CLIENT`), and any
//! number of *kernel* clients (ioeventfd, other modules), each with a [`IoreqHandler`] and a
//! list of port or MMIO [`Range`]s. The dispatcher ([`crate::ioreq`]) gives a request to the
//! first kernel client whose range holds it, else to the default client.
//!
//! Each client keeps a bitmap of the vCPUs whose request it holds (set by the dispatcher,
//! cleared on completion) under its own lock, with a condition variable for the default
//! client's waiter. All of it runs in process context (mutexes).

use crate::acrn::{IoRequest, ACRN_IOREQ_TYPE_MMIO, ACRN_IOREQ_TYPE_PORTIO};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
};

/// What a kernel client's handler asks for after seeing a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Completion {
    /// Complete the request now, with the `reqs` the handler left in the request.
    Now,
    /// The client completes the request later ([`crate::ioreq::Ioreqs::complete`]).
    Later,
}

/// A kernel client's request handler.
pub(crate) trait IoreqHandler: Send + Sync {
    /// Handles the request of `vcpu`. `req` is a private copy of the slot; for a read the
    /// handler sets the value in `req.reqs`, which is copied back on completion.
    ///
    /// Runs in the dispatcher (process context, may sleep, but delays every VM's requests
    /// while it runs). Must not destroy a client (that waits for the dispatcher).
    fn handle(&self, vcpu: u16, req: &mut IoRequest) -> Completion;
}

/// A range of ports or guest physical addresses, both ends inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Range {
    /// `ACRN_IOREQ_TYPE_PORTIO` or `ACRN_IOREQ_TYPE_MMIO`.
    pub(crate) ty: u32,
    /// First port or address.
    pub(crate) start: u64,
    /// Last port or address.
    pub(crate) end: u64,
}

impl Range {
    /// Whether an access of `size` bytes at `addr` lies in the range (C `acrn_in_range`,
    /// with its wrapping arithmetic).
    fn holds(&self, ty: u32, addr: u64, size: u64) -> bool {
        self.ty == ty
            && (ty == ACRN_IOREQ_TYPE_PORTIO || ty == ACRN_IOREQ_TYPE_MMIO)
            && addr >= self.start
            && addr.wrapping_add(size).wrapping_sub(1) <= self.end
    }
}

/// The mutable state of a [`Client`].
struct ClientState {
    /// The client is being destroyed: waiters leave with `ENODEV`.
    destroying: bool,
    /// The ranges the client claims.
    ranges: KVec<Range>,
}

/// An I/O request client of one VM.
#[pin_data]
pub(crate) struct Client {
    /// The handler of a kernel client; `None` for the default client.
    handler: Option<Arc<dyn IoreqHandler>>,
    #[pin]
    state: Mutex<ClientState>,
    /// Number of ranges, readable without the lock (the dispatcher skips clients with none).
    nranges: AtomicUsize,
    /// Bit `v` set: the client holds the request of vCPU `v` (C `ioreqs_map`). Set under
    /// `state` (for the waiter), cleared without it.
    pending: AtomicU32,
    /// Signalled when a request arrives or the client is being destroyed.
    #[pin]
    wait: CondVar,
}

impl Client {
    /// A client with no ranges: the default client if `handler` is `None`.
    pub(crate) fn new(handler: Option<Arc<dyn IoreqHandler>>) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                handler,
                state <- new_mutex!(ClientState {
                    destroying: false,
                    ranges: KVec::new(),
                }),
                wait <- new_condvar!(),
                nranges: AtomicUsize::new(0),
                pending: AtomicU32::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// The handler of a kernel client.
    pub(crate) fn handler(&self) -> Option<&Arc<dyn IoreqHandler>> {
        self.handler.as_ref()
    }

    /// Whether this is the default (userspace) client.
    pub(crate) fn is_default(&self) -> bool {
        self.handler.is_none()
    }

    /// Claims `[start, end]` of type `ty` (C `acrn_ioreq_range_add`): `EINVAL` if
    /// `end < start`. Overlaps are allowed, as in C.
    pub(crate) fn add_range(&self, ty: u32, start: u64, end: u64) -> Result {
        if end < start {
            return Err(EINVAL);
        }
        let mut state = self.state.lock();
        state.ranges.push(Range { ty, start, end }, GFP_KERNEL)?;
        self.nranges.store(state.ranges.len(), Ordering::Release);
        Ok(())
    }

    /// Drops one range equal to `[start, end]` of type `ty`, if any (C
    /// `acrn_ioreq_range_del`).
    pub(crate) fn del_range(&self, ty: u32, start: u64, end: u64) {
        let mut state = self.state.lock();
        let wanted = Range { ty, start, end };
        if let Some(i) = state.ranges.iter().position(|r| *r == wanted) {
            swap_remove(&mut state.ranges, i);
        }
        self.nranges.store(state.ranges.len(), Ordering::Release);
    }

    /// Whether one of the client's ranges holds an access of `size` bytes at `addr`.
    pub(crate) fn claims(&self, ty: u32, addr: u64, size: u64) -> bool {
        // A range being added concurrently may or may not be seen, as with the lock.
        if self.nranges.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.state
            .lock()
            .ranges
            .iter()
            .any(|r| r.holds(ty, addr, size))
    }

    /// Records that the client holds the request of `vcpu`; [`Client::wake`] then tells its
    /// waiter.
    pub(crate) fn mark(&self, vcpu: u16) {
        // Under the lock: a waiter that saw no request is on the wait queue before it drops
        // the lock, so `wake` finds it.
        let _state = self.state.lock();
        self.pending.fetch_or(1 << vcpu, Ordering::AcqRel);
    }

    /// Wakes the default client's waiter. Called with no lock held that the woken DM needs
    /// next (on a single CPU it may run at once and would block on it, costing two more
    /// context switches per request).
    pub(crate) fn wake(&self) {
        self.wait.notify_all();
    }

    /// Forgets the request of `vcpu`; returns whether the client held it.
    pub(crate) fn take(&self, vcpu: u16) -> bool {
        self.pending.fetch_and(!(1 << vcpu), Ordering::AcqRel) & (1 << vcpu) != 0
    }

    /// Whether the client holds any request.
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire) != 0
    }

    /// Marks the client as being destroyed, drops its ranges and wakes its waiter.
    pub(crate) fn shut_down(&self) {
        let ranges = {
            let mut state = self.state.lock();
            state.destroying = true;
            self.nranges.store(0, Ordering::Release);
            core::mem::replace(&mut state.ranges, KVec::new())
        };
        drop(ranges);
        self.wait.notify_all();
    }

    /// `ACRN_IOCTL_ATTACH_IOREQ_CLIENT` (C `acrn_ioreq_client_wait`): waits until the client
    /// holds a request (`Ok`) or is being destroyed (`ENODEV`). A signal ends the wait with
    /// `Ok` too, as in C, which ignores the result of `wait_event_interruptible`.
    pub(crate) fn wait(&self) -> Result {
        let mut state = self.state.lock();
        while self.pending.load(Ordering::Acquire) == 0 && !state.destroying {
            if self.wait.wait_interruptible(&mut state) {
                break;
            }
        }
        if state.destroying {
            return Err(ENODEV);
        }
        Ok(())
    }
}

/// Removes element `i` of `v` by moving the last element into its place.
pub(crate) fn swap_remove<T>(v: &mut KVec<T>, i: usize) -> T {
    let last = v.len() - 1;
    v.as_mut_slice().swap(i, last);
    // SAFETY: `last < len`, so the element is initialised; `set_len` below makes the vector
    // forget it, so it is moved out exactly once.
    let item = unsafe { core::ptr::read(v.as_ptr().add(last)) };
    // SAFETY: `last < len`; the element at `last` was moved out above.
    unsafe { v.set_len(last) };
    item
}
