// SPDX-License-Identifier: GPL-2.0

//! The data path, run by the worker thread in the owner's mm, and by the owner's ioctls
//! when a backend is detached: requests popped from a queue are started (reads and writes
//! asynchronously, the rest synchronously), completed requests get their status byte
//! written and go to the used ring in batches, and the guest is interrupted once per batch
//! unless it suppressed that (`VIRTIO_RING_F_EVENT_IDX` or `VRING_AVAIL_F_NO_INTERRUPT`).
//!
//! With the module parameter `poll_us` set, a queue that runs empty is first busy-polled
//! for that long (its completions published first), so that a busy driver's requests are
//! picked up without a kick and a worker wakeup; only then are kicks enabled again.
//!
//! A busy queue shares its requests with the device's helper thread ([`crate::helper`]): a
//! popped chain is handed over when more are waiting behind it and the helper's queue has
//! room, so that a second CPU parses and submits part of them; what the helper finishes
//! comes back to the worker, which alone touches the rings. Virtio-blk requests complete in
//! any order, so nothing else changes for the driver.
//!
//! A run takes at most [`WEIGHT`] requests per queue, then asks the worker to run again, so
//! one busy queue can not starve the others. A malformed chain breaks its queue and
//! signals the error eventfd (vhost's `vq_err`); a request the disk can not serve (bad
//! sector, length not a multiple of 512, write to a read-only disk, I/O error) completes
//! with `VIRTIO_BLK_S_IOERR`, an unknown type with `VIRTIO_BLK_S_UNSUPP`.

use crate::{
    device::Vq,
    disk::Disk,
    helper::{Helper, Job},
    io::{Completion, Io, Submitted},
    kext::{
        kvec::{clear, push_within},
        worker::{BusyPoll, WorkHandler, Worker},
    },
    request::{Mem, Request, Segments, MAX_IOV},
    uapi::*,
    vhost::{rings::RingAccess, vq::NO_MEMORY},
    vring::{DescChain, MemTable, UsedElem},
};
use core::ffi::c_long;
use kernel::{
    bindings, new_spinlock,
    prelude::*,
    sync::{Arc, SpinLock},
    uaccess::UserSlice,
};

/// Most requests one run takes from a queue.
pub(crate) const WEIGHT: usize = 256;
/// Completed requests returned to the used ring in one update: small, so that the driver
/// can queue more while the rest of a batch is served.
const USED_BATCH: usize = 16;

extern "C" {
    fn vhost_blk_rs_poll_ns() -> u64;
    fn vhost_blk_rs_helper() -> bool;
}

/// What a queue's worker and the helper share while a disk is attached: the request slots
/// of the disk, and the way back for what the helper finished.
#[pin_data]
pub(crate) struct Attached {
    pub(crate) io: Io,
    pub(crate) disk: Arc<Disk>,
    /// Requests the helper finished (status byte written): their used elements. At most one
    /// per ring entry, so within the capacity.
    #[pin]
    pub(crate) finished: SpinLock<KVec<UsedElem>>,
    /// The first malformed chain the helper found: the worker breaks the queue.
    #[pin]
    pub(crate) failed: SpinLock<Option<&'static str>>,
}

/// Per-queue state of the data path, allocated when the backend is attached.
pub(crate) struct Scratch {
    attached: Arc<Attached>,
    /// The device's helper, if it has one.
    helper: Option<Arc<Worker<Helper>>>,
    /// Heads in flight (started and not completed, or with the helper), by head.
    busy: KVec<bool>,
    /// The chain being parsed, refilled in place by `pop_chain_into` (no copy per request).
    chain: DescChain,
    segs: Segments,
    iov: KVec<bindings::iovec>,
    /// Completions reaped from the disk.
    reaped: KVec<Completion>,
    /// What the helper finished, taken from `Attached::finished` by swapping.
    returned: KVec<UsedElem>,
    /// Completed requests not yet in the used ring.
    done: KVec<UsedElem>,
}

// SAFETY: The iovecs only hold user addresses of the owner, used by whichever thread holds
// the queue lock.
unsafe impl Send for Scratch {}

impl Scratch {
    /// Buffers for a queue of `num` entries on `disk`, waking `worker` on completions and
    /// sharing requests with `helper`.
    pub(crate) fn new<T: WorkHandler>(
        disk: &Arc<Disk>,
        num: u32,
        worker: &Worker<T>,
        helper: Option<Arc<Worker<Helper>>>,
    ) -> Result<KBox<Self>> {
        let n = num as usize;
        let io = Io::new(disk, num, worker)?;
        let finished = KVec::with_capacity(n, GFP_KERNEL)?;
        let attached = Arc::pin_init(
            pin_init!(Attached {
                io,
                disk: disk.clone(),
                finished <- new_spinlock!(finished),
                failed <- new_spinlock!(None),
            }),
            GFP_KERNEL,
        )?;
        Ok(KBox::new(
            Self {
                attached,
                helper,
                busy: KVec::from_elem(false, n, GFP_KERNEL)?,
                chain: DescChain::default(),
                segs: Segments::new()?,
                iov: KVec::with_capacity(MAX_IOV, GFP_KERNEL)?,
                reaped: KVec::with_capacity(n, GFP_KERNEL)?,
                returned: KVec::with_capacity(n, GFP_KERNEL)?,
                done: KVec::with_capacity(n.max(USED_BATCH), GFP_KERNEL)?,
            },
            GFP_KERNEL,
        )?)
    }
}

/// Attaches `disk` to `q` (configured, checked by the caller): sets up its request slots
/// and activates the ring. On error the queue is left detached.
pub(crate) fn attach<T: WorkHandler>(
    q: &mut Vq,
    disk: &Arc<Disk>,
    worker: &Worker<T>,
    helper: Option<Arc<Worker<Helper>>>,
) -> Result {
    let scratch = Scratch::new(disk, q.num, worker, helper)?;
    // While detached, the ring starts from the configured base.
    q.activate_ring()?;
    // Ring metadata through kernel-mapped pages from here on (user copies if not possible).
    q.map_rings();
    q.scratch = Some(scratch);
    q.backend = Some(disk.clone());
    Ok(())
}

/// Detaches the disk from `q`: waits for the helper to be done with its requests and for
/// those in flight, completes them into the used ring if `complete` (the caller runs in the
/// owner's mm), stops the ring.
pub(crate) fn detach(q: &mut Vq, complete: bool) -> Option<Arc<Disk>> {
    if let Some(mut scratch) = q.scratch.take() {
        // The helper never takes a queue lock: waiting for it here can not deadlock.
        if let Some(helper) = &scratch.helper {
            helper.flush();
        }
        scratch.attached.io.drain();
        if complete && q.backend.is_some() && q.ring.is_ready() && !q.ring.is_broken() {
            let (table, map) = (q.mem.clone(), q.ring_map());
            let access = RingAccess::new(map.as_deref());
            let mem = Mem::new(table.as_deref().unwrap_or(&NO_MEMORY), access);
            if reap(q, &mem, &mut scratch) {
                flush_used(q, &mem, &mut scratch);
            }
        }
    }
    q.deactivate()
}

/// Writes the status byte of a finished request at `status_addr` (in the owner's mm).
pub(crate) fn write_status(status_addr: u64, status: u8) {
    // A fault here means the owner unmapped guest memory: nothing to tell the guest.
    let _ = UserSlice::new(status_addr as usize, 1)
        .writer()
        .write_slice(&[status]);
}

/// Writes the status byte of a finished request and queues its used element.
fn finish(
    q: &mut Vq,
    mem: &Mem<'_>,
    scratch: &mut Scratch,
    head: u16,
    status_addr: u64,
    status: u8,
    used_len: u32,
) {
    write_status(status_addr, status);
    queue_used(q, mem, scratch, UsedElem::new(u32::from(head), used_len));
}

/// Queues `elem` for the used ring, first flushing a full batch.
fn queue_used(q: &mut Vq, mem: &Mem<'_>, scratch: &mut Scratch, elem: UsedElem) {
    if scratch.done.len() == scratch.done.capacity() {
        flush_used(q, mem, scratch);
    }
    // Room for it: a full batch was flushed just above.
    let _ = push_within(&mut scratch.done, elem);
}

/// Takes back what the helper finished and reports the chain it found malformed, if any.
/// Returns whether there was anything.
fn take_returned(q: &mut Vq, mem: &Mem<'_>, scratch: &mut Scratch) -> bool {
    if scratch.helper.is_none() {
        return false;
    }
    if let Some(what) = *scratch.attached.failed.lock() {
        if !q.ring.is_broken() {
            q.fail(what);
        }
    }
    core::mem::swap(
        &mut *scratch.attached.finished.lock(),
        &mut scratch.returned,
    );
    if scratch.returned.is_empty() {
        return false;
    }
    for i in 0..scratch.returned.len() {
        let elem = scratch.returned[i];
        if let Some(b) = scratch.busy.get_mut(elem.id as usize) {
            *b = false;
        }
        queue_used(q, mem, scratch, elem);
    }
    clear(&mut scratch.returned);
    true
}

/// Completes the requests whose I/O finished, and those the helper finished. Returns
/// whether there were any.
fn reap(q: &mut Vq, mem: &Mem<'_>, scratch: &mut Scratch) -> bool {
    let mut any = take_returned(q, mem, scratch);
    loop {
        scratch.attached.io.reap(&mut scratch.reaped);
        if scratch.reaped.is_empty() {
            return any;
        }
        any = true;
        for i in 0..scratch.reaped.len() {
            let c = scratch.reaped[i];
            let Some(busy) = scratch.busy.get_mut(c.tag as usize) else {
                continue;
            };
            if !*busy {
                continue;
            }
            *busy = false;
            let (status, used) = io_result(c.write != 0, c.len, c.ret);
            finish(q, mem, scratch, c.tag as u16, c.status, status, used);
        }
    }
}

/// Returns the finished requests to the used ring and interrupts the guest if it wants.
fn flush_used(q: &mut Vq, mem: &Mem<'_>, scratch: &mut Scratch) {
    if scratch.done.is_empty() {
        return;
    }
    if q.ring.is_broken() {
        // The device model resets a broken queue; the guest hears nothing more.
        clear(&mut scratch.done);
        return;
    }
    let result = q.ring.add_used_n(mem, &scratch.done);
    clear(&mut scratch.done);
    match result {
        Ok(()) => q.signal_used(mem),
        Err(e) => q.queue_error(e),
    }
}

/// Status and used length of a read (or write) of `len` bytes that moved `ret` (bytes, or a
/// negative errno): `OK` and the data plus the status byte read, else `IOERR` and 1.
fn io_result(write: bool, len: u32, ret: c_long) -> (u8, u32) {
    if ret != c_long::from(len) {
        (VIRTIO_BLK_S_IOERR, 1)
    } else if write {
        (VIRTIO_BLK_S_OK, 1)
    } else {
        (VIRTIO_BLK_S_OK, len + 1)
    }
}

/// How a request started.
pub(crate) enum Started {
    /// Finished: status and used length.
    Done(u8, u32),
    /// In flight: its completion comes through [`Io::reap`].
    Queued,
}

/// Starts one request on `disk`, its data addresses built in `iov`. The caller owns the
/// request's slot in `io` (its head is marked busy, see [`Io::submit`]).
pub(crate) fn start(
    req: &Request,
    disk: &Disk,
    io: &Io,
    mem: &Mem<'_>,
    segs: &Segments,
    iov: &mut KVec<bindings::iovec>,
) -> core::result::Result<Started, &'static str> {
    const IOERR: Started = Started::Done(VIRTIO_BLK_S_IOERR, 1);
    match req.kind {
        VIRTIO_BLK_T_IN | VIRTIO_BLK_T_OUT => {
            let write = req.kind == VIRTIO_BLK_T_OUT;
            let len = if write { req.out_len() } else { req.in_len() };
            let Some(pos) = req.sector.checked_mul(VIRTIO_BLK_SECTOR_SIZE) else {
                return Ok(IOERR);
            };
            if u64::from(len) % VIRTIO_BLK_SECTOR_SIZE != 0
                || !disk.contains(pos, u64::from(len))
                || (write && !disk.writable)
            {
                return Ok(IOERR);
            }
            if len == 0 {
                return Ok(Started::Done(VIRTIO_BLK_S_OK, 1));
            }
            req.data_iov(segs, mem.table, !write, iov)?;
            match io.submit(req.head, write, pos, iov, len as usize, req.status) {
                Submitted::Queued => Ok(Started::Queued),
                Submitted::Done(ret) => {
                    let (status, used) = io_result(write, len, ret);
                    Ok(Started::Done(status, used))
                }
            }
        }
        VIRTIO_BLK_T_FLUSH => Ok(match disk.flush() {
            Ok(()) => Started::Done(VIRTIO_BLK_S_OK, 1),
            Err(_) => IOERR,
        }),
        VIRTIO_BLK_T_GET_ID => {
            let mut id = [0u8; VIRTIO_BLK_ID_BYTES as usize];
            disk.id(&mut id);
            let n = (req.in_len() as usize).min(id.len());
            req.write_in(segs, mem, &id[..n])?;
            Ok(Started::Done(VIRTIO_BLK_S_OK, n as u32 + 1))
        }
        VIRTIO_BLK_T_DISCARD | VIRTIO_BLK_T_WRITE_ZEROES => {
            Ok(Started::Done(ranges(req, disk, mem, segs)?, 1))
        }
        _ => Ok(Started::Done(VIRTIO_BLK_S_UNSUPP, 1)),
    }
}

/// `DISCARD` / `WRITE_ZEROES`: the ranges in the data, each checked, then applied.
fn ranges(
    req: &Request,
    disk: &Disk,
    mem: &Mem<'_>,
    segs: &Segments,
) -> core::result::Result<u8, &'static str> {
    const RANGE: u32 = core::mem::size_of::<VirtioBlkDiscardWriteZeroes>() as u32;
    let zeroes = req.kind == VIRTIO_BLK_T_WRITE_ZEROES;
    let n = req.out_len() / RANGE;
    if n == 0 || req.out_len() % RANGE != 0 {
        return Ok(VIRTIO_BLK_S_IOERR);
    }
    if !disk.writable {
        return Ok(VIRTIO_BLK_S_IOERR);
    }
    for i in 0..n {
        let mut b = [0u8; RANGE as usize];
        req.read_out(segs, mem, i * RANGE, &mut b)?;
        let sector = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        let num = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        let flags = u32::from_le_bytes([b[12], b[13], b[14], b[15]]);
        let allowed = if zeroes {
            VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP
        } else {
            0
        };
        if flags & !allowed != 0 {
            return Ok(VIRTIO_BLK_S_UNSUPP);
        }
        let (Some(pos), len) = (
            sector.checked_mul(VIRTIO_BLK_SECTOR_SIZE),
            u64::from(num) * VIRTIO_BLK_SECTOR_SIZE,
        ) else {
            return Ok(VIRTIO_BLK_S_IOERR);
        };
        if !disk.contains(pos, len) {
            return Ok(VIRTIO_BLK_S_IOERR);
        }
        if len == 0 {
            continue;
        }
        let done = if zeroes {
            disk.write_zeroes(pos, len, flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP != 0)
        } else {
            disk.discard(pos, len)
        };
        match done {
            Ok(()) => {}
            Err(e) if e.to_errno() == -(bindings::EOPNOTSUPP as i32) => {
                return Ok(VIRTIO_BLK_S_UNSUPP)
            }
            Err(_) => return Ok(VIRTIO_BLK_S_IOERR),
        }
    }
    Ok(VIRTIO_BLK_S_OK)
}

/// The busy-poll window (`poll_us`) of a queue that ran empty: publishes the completed
/// requests, then watches the avail ring, notifications still disabled. Returns whether
/// requests arrived (or the ring could not be read: the caller's next pop reports it).
fn busy_poll(q: &mut Vq, mem: &Mem<'_>, scratch: &mut Scratch) -> bool {
    // SAFETY: Reads a module parameter; no preconditions.
    let ns = unsafe { vhost_blk_rs_poll_ns() };
    if ns == 0 {
        return false;
    }
    reap(q, mem, scratch);
    flush_used(q, mem, scratch);
    if q.ring.is_broken() {
        return false;
    }
    let poll = BusyPoll::new(ns);
    while poll.may_poll() {
        if !q.ring.avail_empty(mem) {
            return true;
        }
    }
    false
}

/// Hands the chain just popped into `scratch.chain` to the helper if the device has one and
/// it is enabled, more requests wait behind this one (a lone request is served at once, not
/// after a thread switch) and the helper has room. Returns whether it did.
fn offer(q: &mut Vq, mem: &Mem<'_>, table: &Option<Arc<MemTable>>, scratch: &mut Scratch) -> bool {
    let (Some(helper), Some(table)) = (&scratch.helper, table) else {
        return false;
    };
    // SAFETY: Reads a module parameter; no preconditions.
    if !unsafe { vhost_blk_rs_helper() } || q.ring.avail_empty(mem) {
        return false;
    }
    let queued = helper.handler().offer(|| Job {
        chain: scratch.chain,
        mem: table.clone(),
        queue: scratch.attached.clone(),
    });
    match queued {
        Some(first) => {
            if first {
                helper.wake();
            }
            true
        }
        None => false,
    }
}

/// Serves queue `q`: completes finished I/O, starts what the guest queued. Returns whether
/// work is left.
pub(crate) fn handle_queue(q: &mut Vq) -> bool {
    if q.backend.is_none() || !q.ring.is_ready() || q.ring.is_broken() {
        return false;
    }
    let Some(mut scratch) = q.scratch.take() else {
        return false;
    };
    let (table, map) = (q.mem.clone(), q.ring_map());
    let mem = Mem::new(
        table.as_deref().unwrap_or(&NO_MEMORY),
        RingAccess::new(map.as_deref()),
    );
    // Errors here only mean a kick may come for nothing.
    let _ = q.ring.disable_notification(&mem);
    reap(q, &mem, &mut scratch);

    let (mut n, mut more) = (0usize, false);
    loop {
        match q.ring.pop_chain_into(&mem, &mut scratch.chain) {
            Ok(true) => {}
            Ok(false) => {
                if busy_poll(q, &mem, &mut scratch) {
                    continue;
                }
                match q.ring.enable_notification(&mem) {
                    // Requests slipped in while enabling: no kick will come for them.
                    Ok(true) => {
                        let _ = q.ring.disable_notification(&mem);
                        continue;
                    }
                    Ok(false) => break,
                    Err(e) => {
                        q.queue_error(e);
                        break;
                    }
                }
            }
            Err(e) => {
                q.queue_error(e);
                break;
            }
        }
        let head = scratch.chain.head();
        match scratch.busy.get(usize::from(head)) {
            Some(false) => {}
            Some(true) => {
                q.fail("virtio-blk request reused while in flight");
                break;
            }
            None => {
                q.fail("virtio-blk head out of range");
                break;
            }
        }
        if offer(q, &mem, &table, &mut scratch) {
            scratch.busy[usize::from(head)] = true;
        } else {
            let parts = &mut *scratch;
            let started = Request::parse(&mut parts.chain, &mem, &mut parts.segs).and_then(|req| {
                let a = &*parts.attached;
                start(&req, &a.disk, &a.io, &mem, &parts.segs, &mut parts.iov).map(|s| (req, s))
            });
            match started {
                Ok((req, Started::Done(status, used))) => {
                    finish(q, &mem, &mut scratch, req.head, req.status, status, used);
                }
                Ok((_, Started::Queued)) => scratch.busy[usize::from(head)] = true,
                Err(what) => {
                    q.fail(what);
                    break;
                }
            }
        }
        if scratch.done.len() >= USED_BATCH {
            flush_used(q, &mem, &mut scratch);
        }
        n += 1;
        if n >= WEIGHT {
            more = true;
            break;
        }
        // Completions that arrived meanwhile (a ramdisk completes during submission), and
        // what the helper finished (or found malformed: then the queue is broken).
        if n % 16 == 0 {
            reap(q, &mem, &mut scratch);
            if q.ring.is_broken() {
                break;
            }
        }
    }
    reap(q, &mem, &mut scratch);
    flush_used(q, &mem, &mut scratch);
    q.scratch = Some(scratch);
    more
}
