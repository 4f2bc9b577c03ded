// SPDX-License-Identifier: GPL-2.0

//! Asynchronous reads and writes of one virtqueue: request slots indexed by the chain's head
//! (so a head is in flight at most once), submitted through the disk's
//! `read_iter`/`write_iter` with a completion callback (the C shim's
//! `struct vhost_blk_rs_io`). Completions arriving later wake the worker, which reaps them.
//! The device's worker and its helper thread may submit at the same time, for different
//! slots.

use crate::{disk::Disk, kext::worker::WorkHandler, kext::worker::Worker};
use core::{
    ffi::{c_long, c_void},
    ptr::NonNull,
};
use kernel::{bindings, prelude::*};

extern "C" {
    fn vhost_blk_rs_io_alloc(file: *mut c_void, nreqs: u32, worker: *mut c_void) -> *mut c_void;
    fn vhost_blk_rs_io_drain(io: *mut c_void);
    fn vhost_blk_rs_io_wake(io: *mut c_void);
    fn vhost_blk_rs_io_free(io: *mut c_void);
    fn vhost_blk_rs_io_submit(
        io: *mut c_void,
        tag: u32,
        write: bool,
        pos: u64,
        iov: *const bindings::iovec,
        nr: usize,
        len: usize,
        status: u64,
    ) -> c_long;
    fn vhost_blk_rs_io_reap(io: *mut c_void, done: *mut Completion, max: u32) -> u32;
}

/// A completed request (the C shim's `struct vhost_blk_rs_done`).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Completion {
    /// Owner's address of the status byte.
    pub(crate) status: u64,
    /// Bytes moved or a negative errno.
    pub(crate) ret: c_long,
    /// The slot: the chain's head.
    pub(crate) tag: u32,
    /// Data bytes asked for.
    pub(crate) len: u32,
    /// Non-zero for a write.
    pub(crate) write: u8,
}

/// `-EIOCBQUEUED`: the request completes later.
const EIOCBQUEUED: c_long = -529;

/// What a submission did.
pub(crate) enum Submitted {
    /// In flight: its completion will be reaped.
    Queued,
    /// Done already: bytes moved or a negative errno.
    Done(c_long),
}

/// The request slots of one queue.
///
/// # Invariants
///
/// `raw` is an allocated `vhost_blk_rs_io` with `nreqs` slots, not yet freed, holding its own
/// file reference; the worker it wakes outlives it (the device drops every `Io` before its
/// owner).
pub(crate) struct Io {
    raw: NonNull<c_void>,
    nreqs: u32,
}

// SAFETY: The C object may be used from any thread: submissions of different slots may run
// concurrently (slot ownership is the callers' protocol, see `submit`), the completion list
// is lock-free, the count in flight atomic.
unsafe impl Send for Io {}

// SAFETY: As for `Send`: every method takes `&self` and the C side is safe to call from
// several threads at once under the slot protocol of `submit`.
unsafe impl Sync for Io {}

impl Io {
    /// `nreqs` slots on `disk`, whose completions wake `worker`. The caller must drop the
    /// result before `worker` stops.
    pub(crate) fn new<T: WorkHandler>(disk: &Disk, nreqs: u32, worker: &Worker<T>) -> Result<Self> {
        // SAFETY: The file is valid (the disk holds a reference, and the C object takes its
        // own); the worker pointer stays valid as long as the caller keeps its promise.
        let raw = unsafe { vhost_blk_rs_io_alloc(disk.as_ptr(), nreqs, worker.as_raw()) };
        // INVARIANT: allocated just now with `nreqs` slots.
        Ok(Self {
            raw: NonNull::new(raw).ok_or(ENOMEM)?,
            nreqs,
        })
    }

    /// Starts a read (or a write) of `len` bytes at `pos` into (from) the owner's memory
    /// described by `iov`, as request `tag` with its status byte at `status`.
    ///
    /// `tag` must be neither in flight nor being submitted by another thread: the queue's
    /// worker marks a head busy before it starts the request or hands it to the helper,
    /// and clears the mark only once the completion was reaped.
    pub(crate) fn submit(
        &self,
        tag: u16,
        write: bool,
        pos: u64,
        iov: &[bindings::iovec],
        len: usize,
        status: u64,
    ) -> Submitted {
        // SAFETY: By the type invariant the object exists; `tag` is checked against its
        // slots by the C side, and no other thread uses that slot (the caller's protocol
        // above); `iov` holds `iov.len()` iovecs of user addresses in the current (owner's)
        // mm, only read during the call (direct I/O pins the pages).
        let ret = unsafe {
            vhost_blk_rs_io_submit(
                self.raw.as_ptr(),
                u32::from(tag),
                write,
                pos,
                iov.as_ptr(),
                iov.len(),
                len,
                status,
            )
        };
        if ret == EIOCBQUEUED {
            Submitted::Queued
        } else {
            Submitted::Done(ret)
        }
    }

    /// Wakes the worker that reaps the completions (as a completion does).
    pub(crate) fn wake_worker(&self) {
        // SAFETY: By the type invariant the object exists, and so does its worker.
        unsafe { vhost_blk_rs_io_wake(self.raw.as_ptr()) };
    }

    /// Waits until no request is in flight: all completions are then reapable. Nothing may
    /// be submitted meanwhile (the helper has been flushed).
    pub(crate) fn drain(&self) {
        // SAFETY: By the type invariant the object exists.
        unsafe { vhost_blk_rs_io_drain(self.raw.as_ptr()) };
    }

    /// Takes the completed requests (oldest first) into `done`, which is resized to their
    /// number (at most its capacity).
    pub(crate) fn reap(&self, done: &mut KVec<Completion>) {
        let max = done.capacity().min(self.nreqs as usize) as u32;
        // SAFETY: By the type invariant the object exists; `done` has room for `max`
        // elements.
        let n = unsafe { vhost_blk_rs_io_reap(self.raw.as_ptr(), done.as_mut_ptr(), max) };
        // SAFETY: The C side initialised the first `n <= max` elements; `Completion` has no
        // destructor.
        unsafe { done.set_len(n as usize) };
    }
}

impl Drop for Io {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the object exists; this waits for the requests in
        // flight (their pages and file are still referenced until then) and frees it.
        unsafe { vhost_blk_rs_io_free(self.raw.as_ptr()) };
    }
}
