// SPDX-License-Identifier: GPL-2.0

//! The device's helper: a second thread in the owner's mm that takes part of a busy queue's
//! requests, so that parsing and submitting them (most of a request's CPU time with a fast
//! disk) runs on two CPUs instead of one.
//!
//! The queue's worker pops a chain and, when more wait behind it, hands it over as a
//! [`Job`] (the chain, the memory table of the moment, the queue's [`Attached`]) after
//! marking its head busy. The helper parses and starts the request like the worker would:
//! a synchronous result gets its status byte written here and its used element returned
//! through [`Attached::finished`]; an asynchronous one completes through the disk's
//! completion list like any other. Either way the worker is woken (the helper wakes it
//! every few finished jobs and when it runs out of jobs) and alone updates the rings. A
//! malformed chain is reported through [`Attached::failed`]; the worker breaks the queue,
//! and the helper drops the queue's remaining jobs.
//!
//! The helper never takes a queue lock, so the device may wait for it
//! ([`Worker::flush`](crate::kext::worker::Worker::flush)) with a queue locked: before a
//! disk is detached and after a memory table change.

use crate::{
    blk::{start, write_status, Attached, Started},
    kext::{kvec::push_within, worker::WorkHandler},
    request::{Mem, Request, Segments, MAX_IOV},
    vhost::rings::RingAccess,
    vring::{DescChain, MemTable, UsedElem},
};
use kernel::{
    bindings, new_mutex, new_spinlock,
    prelude::*,
    sync::{Arc, Mutex, SpinLock},
};

/// Most jobs waiting for the helper: enough to keep it busy while the worker serves a
/// request itself, few enough that the worker keeps a share.
const JOBS: usize = 16;

/// Jobs finished between two wakes of the worker (and one when the helper runs out of jobs):
/// the worker takes them back in batches, not one wakeup per request.
const WAKE_BATCH: usize = 8;

/// A request handed to the helper.
pub(crate) struct Job {
    /// The popped chain, not walked yet.
    pub(crate) chain: DescChain,
    /// The memory table when it was popped.
    pub(crate) mem: Arc<MemTable>,
    /// Its queue.
    pub(crate) queue: Arc<Attached>,
}

/// Jobs waiting, oldest first: a ring of [`JOBS`] slots.
struct Jobs {
    slots: KVec<Option<Job>>,
    first: usize,
    len: usize,
}

/// The helper's buffers, only used by its thread.
struct Work {
    /// Jobs taken from [`Helper::jobs`] in one go, oldest first.
    batch: KVec<Option<Job>>,
    segs: Segments,
    iov: KVec<bindings::iovec>,
}

// SAFETY: The iovecs only hold user addresses of the owner, used by the helper's thread.
unsafe impl Send for Work {}

/// The helper's handler: jobs waiting and its buffers.
#[pin_data]
pub(crate) struct Helper {
    #[pin]
    jobs: SpinLock<Jobs>,
    #[pin]
    work: Mutex<Work>,
}

impl Helper {
    pub(crate) fn new() -> Result<Arc<Self>> {
        let mut slots = KVec::with_capacity(JOBS, GFP_KERNEL)?;
        let mut batch = KVec::with_capacity(JOBS, GFP_KERNEL)?;
        for _ in 0..JOBS {
            slots.push(None, GFP_KERNEL)?;
            batch.push(None, GFP_KERNEL)?;
        }
        let jobs = Jobs {
            slots,
            first: 0,
            len: 0,
        };
        let work = Work {
            batch,
            segs: Segments::new()?,
            iov: KVec::with_capacity(MAX_IOV, GFP_KERNEL)?,
        };
        Arc::pin_init(
            pin_init!(Self {
                jobs <- new_spinlock!(jobs),
                work <- new_mutex!(work),
            }),
            GFP_KERNEL,
        )
    }

    /// Queues the job `make` builds unless [`JOBS`] are waiting (then `None`, and nothing
    /// is built). `Some(true)` if no job was waiting: the caller then wakes the helper
    /// (which may have found the queue empty and be about to sleep; a wake during a run
    /// asks for one more).
    pub(crate) fn offer(&self, make: impl FnOnce() -> Job) -> Option<bool> {
        let mut jobs = self.jobs.lock();
        if jobs.len == JOBS {
            return None;
        }
        let i = (jobs.first + jobs.len) % JOBS;
        jobs.slots[i] = Some(make());
        jobs.len += 1;
        Some(jobs.len == 1)
    }

    /// Moves the jobs waiting into `batch` (of [`JOBS`] empty slots), oldest first, under
    /// one lock. Returns how many.
    fn take_all(&self, batch: &mut [Option<Job>]) -> usize {
        let mut jobs = self.jobs.lock();
        let Jobs { slots, first, len } = &mut *jobs;
        let n = *len;
        for (k, dst) in batch.iter_mut().take(n).enumerate() {
            *dst = slots[(*first + k) % JOBS].take();
        }
        *first = (*first + n) % JOBS;
        *len = 0;
        n
    }
}

impl WorkHandler for Helper {
    fn run(&self) -> bool {
        let mut guard = self.work.lock();
        let work = &mut *guard;
        // The queue of the last job whose worker has not been woken since, and how many.
        let mut unwoken: Option<Arc<Attached>> = None;
        let mut n = 0;
        loop {
            let taken = self.take_all(&mut work.batch);
            if taken == 0 {
                break;
            }
            for slot in work.batch.iter_mut().take(taken) {
                let Some(mut job) = slot.take() else {
                    continue;
                };
                if serve(&mut job, &mut work.segs, &mut work.iov) {
                    if unwoken.is_none() {
                        unwoken = Some(job.queue.clone());
                    }
                    n += 1;
                    if n == WAKE_BATCH {
                        if let Some(q) = unwoken.take() {
                            q.io.wake_worker();
                        }
                        n = 0;
                    }
                }
            }
        }
        if let Some(q) = unwoken {
            q.io.wake_worker();
        }
        false
    }
}

/// Parses and starts one request handed over by a queue's worker. Returns whether the
/// worker has something to take back (a finished request or an error); the caller wakes it.
/// Every queue of a device has the same worker.
fn serve(job: &mut Job, segs: &mut Segments, iov: &mut KVec<bindings::iovec>) -> bool {
    let Job { chain, mem, queue } = job;
    if queue.failed.lock().is_some() {
        // The queue is broken (or about to be): its driver gets nothing more.
        return false;
    }
    // Ring metadata by user copies: the ring map belongs to the worker's queue state.
    let mem = Mem::new(mem, RingAccess::new(None));
    let started = Request::parse(chain, &mem, segs)
        .and_then(|req| start(&req, &queue.disk, &queue.io, &mem, segs, iov).map(|s| (req, s)));
    match started {
        Ok((req, Started::Done(status, used))) => {
            write_status(req.status, status);
            // At most one element per ring entry: within the capacity, no allocation.
            let _ = push_within(
                &mut queue.finished.lock(),
                UsedElem::new(u32::from(req.head), used),
            );
        }
        // Its completion wakes the worker.
        Ok((_, Started::Queued)) => return false,
        Err(what) => {
            let mut failed = queue.failed.lock();
            if failed.is_none() {
                *failed = Some(what);
            }
        }
    }
    true
}
