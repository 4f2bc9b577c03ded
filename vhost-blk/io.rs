// SPDX-License-Identifier: GPL-2.0

//! Asynchronous reads and writes of one virtqueue: request slots indexed by the chain's head
//! (so a head is in flight at most once), submitted through the disk's
//! `read_iter`/`write_iter` with a completion callback (the C shim's
//! `struct vhost_blk_rs_io`). Completions arriving later wake the worker, which reaps them.

use crate::{disk::Disk, kext::worker::WorkHandler, kext::worker::Worker};
use core::{
    ffi::{c_long, c_void},
    ptr::NonNull,
};
use kernel::{bindings, prelude::*};

extern "C" {
    fn vhost_blk_rs_io_alloc(file: *mut c_void, nreqs: u32, worker: *mut c_void) -> *mut c_void;
    fn vhost_blk_rs_io_drain(io: *mut c_void);
    fn vhost_blk_rs_io_free(io: *mut c_void);
    fn vhost_blk_rs_io_submit(
        io: *mut c_void,
        tag: u32,
        write: bool,
        pos: u64,
        iov: *const bindings::iovec,
        nr: usize,
        len: usize,
    ) -> c_long;
    fn vhost_blk_rs_io_reap(io: *mut c_void, tags: *mut u32, rets: *mut c_long, max: u32) -> u32;
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

// SAFETY: The C object may be used from any thread; submissions and reaps are serialised
// by the queue lock, completions use atomics and a lock-free list.
unsafe impl Send for Io {}

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
    /// described by `iov`, as request `tag`, which must not be in flight.
    pub(crate) fn submit(
        &mut self,
        tag: u16,
        write: bool,
        pos: u64,
        iov: &[bindings::iovec],
        len: usize,
    ) -> Submitted {
        // SAFETY: By the type invariant the object exists; `tag` is checked against its
        // slots by the C side; `iov` holds `iov.len()` iovecs of user addresses in the
        // current (owner's) mm, only read during the call (direct I/O pins the pages).
        let ret = unsafe {
            vhost_blk_rs_io_submit(
                self.raw.as_ptr(),
                u32::from(tag),
                write,
                pos,
                iov.as_ptr(),
                iov.len(),
                len,
            )
        };
        if ret == EIOCBQUEUED {
            Submitted::Queued
        } else {
            Submitted::Done(ret)
        }
    }

    /// Waits until no request is in flight: all completions are then reapable.
    pub(crate) fn drain(&mut self) {
        // SAFETY: By the type invariant the object exists.
        unsafe { vhost_blk_rs_io_drain(self.raw.as_ptr()) };
    }

    /// Takes the completed requests (oldest first) into `tags` and `rets`, which are
    /// resized to their number.
    pub(crate) fn reap(&mut self, tags: &mut KVec<u32>, rets: &mut KVec<c_long>) {
        let max = tags
            .capacity()
            .min(rets.capacity())
            .min(self.nreqs as usize) as u32;
        // SAFETY: By the type invariant the object exists; both arrays have room for `max`
        // elements.
        let n = unsafe {
            vhost_blk_rs_io_reap(self.raw.as_ptr(), tags.as_mut_ptr(), rets.as_mut_ptr(), max)
        };
        // SAFETY: The C side initialised the first `n <= max` elements of both; `u32` and
        // `c_long` have no destructors.
        unsafe {
            tags.set_len(n as usize);
            rets.set_len(n as usize);
        }
    }
}

impl Drop for Io {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the object exists; this waits for the requests in
        // flight (their pages and file are still referenced until then) and frees it.
        unsafe { vhost_blk_rs_io_free(self.raw.as_ptr()) };
    }
}
