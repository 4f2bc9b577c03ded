// SPDX-License-Identifier: GPL-2.0

//! eventfd: signalling one ([`EventFd`]) and being called when one is signalled
//! ([`PollHook`]).
//!
//! This is how virtio backends talk to a device model without system calls on the fast path:
//! the guest's "kick" arrives as a write to an eventfd the backend polls (ioeventfd, vhost
//! kick), and the backend's "call" (an interrupt for the guest) is a write to another eventfd
//! (irqfd, vhost call). The 6.12 `kernel` crate has neither.

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::from_err_ptr,
    ffi::{c_int, c_void},
    prelude::*,
    sync::Arc,
};

/// A reference to an eventfd's context, for signalling it.
///
/// # Invariants
///
/// `ctx` is a valid eventfd context on which this object holds a reference.
pub(crate) struct EventFd {
    ctx: NonNull<bindings::eventfd_ctx>,
}

// SAFETY: An eventfd context is reference counted and may be signalled from any thread.
unsafe impl Send for EventFd {}
// SAFETY: `signal` is safe to call concurrently (the eventfd has its own lock).
unsafe impl Sync for EventFd {}

impl EventFd {
    /// Takes a reference to the eventfd open as `fd` in the current process: `EBADF` if `fd`
    /// is not open, `EINVAL` if it is not an eventfd.
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        // SAFETY: Any fd value is acceptable; the call returns a context or an ERR_PTR.
        let ctx = from_err_ptr(unsafe { bindings::eventfd_ctx_fdget(fd) })?;
        // INVARIANT: `eventfd_ctx_fdget` succeeded and gave us a reference.
        Ok(Self {
            ctx: NonNull::new(ctx).ok_or(EINVAL)?,
        })
    }

    /// Adds one to the eventfd's counter and wakes its readers. Callable in atomic context.
    pub(crate) fn signal(&self) {
        // SAFETY: By the type invariant `ctx` is valid.
        unsafe { bindings::eventfd_signal_mask(self.ctx.as_ptr(), 0) };
    }

    /// The raw context, for comparing two references.
    pub(crate) fn as_ptr(&self) -> *mut bindings::eventfd_ctx {
        self.ctx.as_ptr()
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold a reference; this gives it back.
        unsafe { bindings::eventfd_ctx_put(self.ctx.as_ptr()) };
    }
}

/// `EPOLLIN` (`include/uapi/linux/eventpoll.h`): the polled file is readable (an eventfd was
/// signalled). Not in the bindings: the C definition is a `__force` cast.
pub(crate) const POLLIN: u32 = 0x0000_0001;
/// `EPOLLOUT`: the polled file is writable (a socket has room again).
pub(crate) const POLLOUT: u32 = 0x0000_0004;
/// `EPOLLHUP`: the polled file is going away (an eventfd being released).
pub(crate) const POLLHUP: u32 = 0x0000_0010;

/// What a [`PollHook`] calls.
pub(crate) trait PollHandler: Send + Sync {
    /// Called when the polled file reports an event in the hook's mask, from the waker's
    /// context: possibly atomic, with a spinlock held and interrupts off. Must not sleep; it
    /// typically wakes a worker or queues work.
    fn wake(&self, mask: u32);
}

extern "C" {
    fn acrn_rs_poll_start(
        fd: c_int,
        mask: u32,
        wake: unsafe extern "C" fn(*mut c_void, u32),
        data: *mut c_void,
        ready: *mut u32,
    ) -> *mut c_void;
    fn acrn_rs_poll_start_eventfd(
        fd: c_int,
        mask: u32,
        wake: unsafe extern "C" fn(*mut c_void, u32),
        data: *mut c_void,
        ready: *mut u32,
        ctx: *mut *mut bindings::eventfd_ctx,
    ) -> *mut c_void;
    fn acrn_rs_poll_stop(poll: *mut c_void);
}

/// A hook on a file's wait queue (typically an eventfd's) calling a [`PollHandler`].
///
/// A hook made by [`PollHook::new`] holds a reference to the file, so the file stays open (and
/// keeps calling) until the hook is dropped, even if userspace closes its descriptor. One made
/// by [`PollHook::new_eventfd`] holds the eventfd context instead: when userspace closes the
/// last descriptor the handler gets [`POLLHUP`] (and nothing after), but the hook stays valid.
/// Dropping the hook removes it from the wait queue; once `drop` returns the handler is no
/// longer called.
///
/// # Invariants
///
/// `raw` is a started, not yet stopped `acrn_rs_poll` whose data pointer is
/// the address of `*handler` (stable: `Arc` contents never move).
pub(crate) struct PollHook<T: PollHandler> {
    raw: NonNull<c_void>,
    handler: Arc<T>,
}

// SAFETY: The C side is only touched by `drop`, which is fine from any thread.
unsafe impl<T: PollHandler> Send for PollHook<T> {}
// SAFETY: `&PollHook` only exposes the handler, which is `Sync`.
unsafe impl<T: PollHandler> Sync for PollHook<T> {}

impl<T: PollHandler> PollHook<T> {
    /// Hooks `handler` to the file open as `fd`, for the events in `mask`. Returns the hook and
    /// the events pending already (the handler is not called for those). `EBADF` if `fd` is
    /// not open, `EINVAL` if the file can not be polled.
    pub(crate) fn new(fd: i32, mask: u32, handler: Arc<T>) -> Result<(Self, u32)> {
        let mut ready = 0u32;
        let data = (&*handler as *const T).cast_mut().cast::<c_void>();
        // SAFETY: `wake_callback::<T>` matches the expected signature and only dereferences
        // `data` as a `&T`; `data` stays valid while the hook is started since `handler` is
        // kept in the returned object and dropped only after `acrn_rs_poll_stop`.
        let raw = from_err_ptr(unsafe {
            acrn_rs_poll_start(fd, mask, wake_callback::<T>, data, &mut ready)
        })?;
        // INVARIANT: started with `data` = the address of `*handler`.
        Ok((
            Self {
                raw: NonNull::new(raw).ok_or(EINVAL)?,
                handler,
            },
            ready,
        ))
    }

    /// Hooks `handler` to the eventfd open as `fd`, for the events in `mask`, holding the
    /// eventfd context rather than the file (see the type's documentation; irqfd uses this to
    /// learn about the close with [`POLLHUP`]). Returns the hook, the events pending already
    /// (the handler is not called for those) and the context, for identity comparisons only.
    /// `EBADF` if `fd` is not open, `EINVAL` if it is not an eventfd.
    pub(crate) fn new_eventfd(
        fd: i32,
        mask: u32,
        handler: Arc<T>,
    ) -> Result<(Self, u32, *mut bindings::eventfd_ctx)> {
        let mut ready = 0u32;
        let mut ctx = core::ptr::null_mut();
        let data = (&*handler as *const T).cast_mut().cast::<c_void>();
        // SAFETY: As in `new`: the callback only uses `data` as a `&T`, valid while the hook is
        // started since `handler` is kept in the returned object.
        let raw = from_err_ptr(unsafe {
            acrn_rs_poll_start_eventfd(fd, mask, wake_callback::<T>, data, &mut ready, &mut ctx)
        })?;
        // INVARIANT: started with `data` = the address of `*handler`.
        Ok((
            Self {
                raw: NonNull::new(raw).ok_or(EINVAL)?,
                handler,
            },
            ready,
            ctx,
        ))
    }

    /// The handler.
    pub(crate) fn handler(&self) -> &Arc<T> {
        &self.handler
    }
}

impl<T: PollHandler> Drop for PollHook<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the hook is started. After this call returns the
        // callback is neither running nor called again (it runs under the wait queue lock,
        // which the removal takes), so `handler` may be dropped afterwards.
        unsafe { acrn_rs_poll_stop(self.raw.as_ptr()) };
    }
}

/// Called by the C wait-queue hook.
///
/// # Safety
///
/// `data` must be the address of the contents of a live `Arc<T>`.
unsafe extern "C" fn wake_callback<T: PollHandler>(data: *mut c_void, mask: u32) {
    // SAFETY: By the function's contract `data` points to a live `T`.
    let handler = unsafe { &*data.cast::<T>() };
    handler.wake(mask);
}
