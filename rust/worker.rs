// SPDX-License-Identifier: GPL-2.0

//! A worker thread per device, running in the address space of the process that owns the
//! device (like vhost's worker): it can reach the owner's memory with `UserSlice`.
//!
//! [`Worker::wake`] may be called from any context, atomic included (e.g. a [`PollHook`]
//! callback); wakes that arrive while the handler is pending or running coalesce into one
//! more run. [`Worker::flush`] waits until every run requested before it has finished.
//! A handler may busy-poll for a bounded time ([`BusyPoll`]) before it lets the worker
//! sleep.
//!
//! [`PollHook`]: super::eventfd::PollHook

use core::ptr::NonNull;
use kernel::{
    error::from_err_ptr,
    ffi::{c_char, c_void},
    prelude::*,
    str::CStr,
    sync::Arc,
};

/// What a [`Worker`] runs.
pub(crate) trait WorkHandler: Send + Sync {
    /// One run, in the worker thread (process context, may sleep), with the owner's mm.
    /// Returns `true` if work is left (a budget ran out): the worker then runs again soon,
    /// after giving other tasks a chance.
    fn run(&self) -> bool;
}

extern "C" {
    fn acrn_rs_worker_create(
        name: *const c_char,
        run: unsafe extern "C" fn(*mut c_void) -> bool,
        data: *mut c_void,
    ) -> *mut c_void;
    fn acrn_rs_worker_wake(worker: *mut c_void);
    fn acrn_rs_worker_flush(worker: *mut c_void);
    fn acrn_rs_worker_destroy(worker: *mut c_void);
    fn acrn_rs_clock_ns() -> u64;
    fn acrn_rs_worker_may_poll(end: u64) -> bool;
}

/// A bounded busy-poll window (vhost's `busyloop_timeout`): a handler that found its queue
/// empty may keep looking for new work for a while instead of going to sleep at once, so
/// that the other side need not wake it. The window closes when its time is up, when
/// another task wants the CPU, on a signal, or when the worker is asked for another run
/// (a kick on another queue, a completion): polling never delays other work for long.
pub(crate) struct BusyPoll {
    end: u64,
}

impl BusyPoll {
    /// A window of `ns` nanoseconds from now.
    pub(crate) fn new(ns: u64) -> Self {
        // SAFETY: Reads a clock; no preconditions.
        let now = unsafe { acrn_rs_clock_ns() };
        Self {
            end: now.saturating_add(ns),
        }
    }

    /// Whether polling may go on; relaxes the CPU between polls.
    pub(crate) fn may_poll(&self) -> bool {
        // SAFETY: Only reads the current task's state and the clock.
        let ok = unsafe { acrn_rs_worker_may_poll(self.end) };
        if ok {
            core::hint::spin_loop();
        }
        ok
    }
}

/// A worker thread running a [`WorkHandler`] in the creating process's address space.
///
/// # Invariants
///
/// `raw` is a created, not yet destroyed `acrn_rs_worker` whose data pointer is
/// the address of `*handler` (stable: `Arc` contents never move).
pub(crate) struct Worker<T: WorkHandler> {
    raw: NonNull<c_void>,
    handler: Arc<T>,
}

// SAFETY: The C worker may be woken, flushed and destroyed from any thread.
unsafe impl<T: WorkHandler> Send for Worker<T> {}
// SAFETY: `wake` and `flush` may run concurrently; the handler is `Sync`.
unsafe impl<T: WorkHandler> Sync for Worker<T> {}

impl<T: WorkHandler> Worker<T> {
    /// Starts a thread named `<name>-<pid of current>` that takes a reference to the current
    /// process's mm. `EINVAL` if the current task has no mm (a kernel thread).
    pub(crate) fn new(name: &'static CStr, handler: Arc<T>) -> Result<Self> {
        let data = (&*handler as *const T).cast_mut().cast::<c_void>();
        // SAFETY: `run_callback::<T>` only uses `data` as a `&T`, and `data` stays valid until
        // `acrn_rs_worker_destroy` returns, since `handler` is dropped after it. `name` is
        // NUL-terminated and static.
        let raw = from_err_ptr(unsafe {
            acrn_rs_worker_create(name.as_char_ptr(), run_callback::<T>, data)
        })?;
        // INVARIANT: created with `data` = the address of `*handler`.
        Ok(Self {
            raw: NonNull::new(raw).ok_or(EINVAL)?,
            handler,
        })
    }

    /// Asks for one more run of the handler. Callable in atomic context.
    pub(crate) fn wake(&self) {
        // SAFETY: By the type invariant the worker exists.
        unsafe { acrn_rs_worker_wake(self.raw.as_ptr()) };
    }

    /// Waits until every run requested before this call has finished. Must not be called
    /// from the worker itself.
    pub(crate) fn flush(&self) {
        // SAFETY: By the type invariant the worker exists.
        unsafe { acrn_rs_worker_flush(self.raw.as_ptr()) };
    }

    /// The C worker, for C code that wakes it (`acrn_rs_worker_wake`); valid while `self`
    /// lives.
    pub(crate) fn as_raw(&self) -> *mut c_void {
        self.raw.as_ptr()
    }

    /// The handler.
    pub(crate) fn handler(&self) -> &Arc<T> {
        &self.handler
    }
}

impl<T: WorkHandler> Drop for Worker<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the worker exists; this stops the thread (after its
        // current run, if any) and drops its mm reference. The handler is dropped after.
        unsafe { acrn_rs_worker_destroy(self.raw.as_ptr()) };
    }
}

/// Called by the C worker thread.
///
/// # Safety
///
/// `data` must be the address of the contents of a live `Arc<T>`.
unsafe extern "C" fn run_callback<T: WorkHandler>(data: *mut c_void) -> bool {
    // SAFETY: By the function's contract `data` points to a live `T`.
    let handler = unsafe { &*data.cast::<T>() };
    handler.run()
}
