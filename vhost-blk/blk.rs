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
//! A run takes at most [`WEIGHT`] requests per queue, then asks the worker to run again, so
//! one busy queue can not starve the others. A malformed chain breaks its queue and
//! signals the error eventfd (vhost's `vq_err`); a request the disk can not serve (bad
//! sector, length not a multiple of 512, write to a read-only disk, I/O error) completes
//! with `VIRTIO_BLK_S_IOERR`, an unknown type with `VIRTIO_BLK_S_UNSUPP`.

use crate::{
    device::Vq,
    disk::Disk,
    io::{Io, Submitted},
    kext::worker::{BusyPoll, WorkHandler, Worker},
    request::{clear, Mem, Request, Segments, MAX_IOV},
    uapi::*,
    vhost::{rings::RingAccess, vq::NO_MEMORY},
    vring::{DescChain, UsedElem},
};
use core::ffi::c_long;
use kernel::{bindings, prelude::*, sync::Arc, uaccess::UserSlice};

/// Most requests one run takes from a queue.
pub(crate) const WEIGHT: usize = 256;
/// Completed requests returned to the used ring in one update: small, so that the driver
/// can queue more while the rest of a batch is served.
const USED_BATCH: usize = 16;

extern "C" {
    fn vhost_blk_rs_poll_ns() -> u64;
}

/// A request in flight: what its completion needs.
#[derive(Clone, Copy, Default)]
struct Slot {
    busy: bool,
    write: bool,
    /// Data bytes.
    len: u32,
    /// Owner's address of the status byte.
    status: u64,
}

/// Per-queue state of the data path, allocated when the backend is attached.
pub(crate) struct Scratch {
    io: Io,
    slots: KVec<Slot>,
    /// The chain being parsed, refilled in place by `pop_chain_into` (no copy per request).
    chain: DescChain,
    segs: Segments,
    iov: KVec<bindings::iovec>,
    tags: KVec<u32>,
    rets: KVec<c_long>,
    /// Completed requests not yet in the used ring.
    done: KVec<UsedElem>,
}

// SAFETY: The iovecs only hold user addresses of the owner, used by whichever thread holds
// the queue lock.
unsafe impl Send for Scratch {}

impl Scratch {
    /// Buffers for a queue of `num` entries on `disk`, waking `worker` on completions.
    pub(crate) fn new<T: WorkHandler>(
        disk: &Disk,
        num: u32,
        worker: &Worker<T>,
    ) -> Result<KBox<Self>> {
        let n = num as usize;
        Ok(KBox::new(
            Self {
                io: Io::new(disk, num, worker)?,
                slots: KVec::from_elem(Slot::default(), n, GFP_KERNEL)?,
                chain: DescChain::default(),
                segs: Segments::new()?,
                iov: KVec::with_capacity(MAX_IOV, GFP_KERNEL)?,
                tags: KVec::with_capacity(n, GFP_KERNEL)?,
                rets: KVec::with_capacity(n, GFP_KERNEL)?,
                done: KVec::with_capacity(n.max(USED_BATCH), GFP_KERNEL)?,
            },
            GFP_KERNEL,
        )?)
    }
}

/// Attaches `disk` to `q` (configured, checked by the caller): sets up its request slots
/// and activates the ring. On error the queue is left detached.
pub(crate) fn attach<T: WorkHandler>(q: &mut Vq, disk: &Arc<Disk>, worker: &Worker<T>) -> Result {
    let scratch = Scratch::new(disk, q.num, worker)?;
    // While detached, the ring starts from the configured base.
    q.activate_ring()?;
    // Ring metadata through kernel-mapped pages from here on (user copies if not possible).
    q.map_rings();
    q.scratch = Some(scratch);
    q.backend = Some(disk.clone());
    Ok(())
}

/// Detaches the disk from `q`: waits for its requests in flight, completes them into the
/// used ring if `complete` (the caller runs in the owner's mm), stops the ring.
pub(crate) fn detach(q: &mut Vq, complete: bool) -> Option<Arc<Disk>> {
    if let Some(mut scratch) = q.scratch.take() {
        scratch.io.drain();
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

/// Writes the status byte of a finished request and queues its used element.
fn finish(scratch: &mut Scratch, head: u16, status_addr: u64, status: u8, used_len: u32) {
    // A fault here means the owner unmapped guest memory: nothing to tell the guest.
    let _ = UserSlice::new(status_addr as usize, 1)
        .writer()
        .write_slice(&[status]);
    // Within the capacity (one per descriptor): no allocation.
    let _ = scratch
        .done
        .push(UsedElem::new(u32::from(head), used_len), GFP_ATOMIC);
}

/// Completes the requests whose I/O finished. Returns whether there were any.
fn reap(q: &mut Vq, mem: &Mem<'_>, scratch: &mut Scratch) -> bool {
    let mut any = false;
    loop {
        let Scratch { io, tags, rets, .. } = &mut *scratch;
        io.reap(tags, rets);
        if scratch.tags.is_empty() {
            return any;
        }
        any = true;
        for i in 0..scratch.tags.len() {
            let (tag, ret) = (scratch.tags[i] as usize, scratch.rets[i]);
            let Some(slot) = scratch.slots.get_mut(tag) else {
                continue;
            };
            if !slot.busy {
                continue;
            }
            let s = *slot;
            slot.busy = false;
            let ok = ret == c_long::from(s.len);
            let status = if ok {
                VIRTIO_BLK_S_OK
            } else {
                VIRTIO_BLK_S_IOERR
            };
            let used = if ok && !s.write { s.len + 1 } else { 1 };
            if scratch.done.len() == scratch.done.capacity() {
                flush_used(q, mem, scratch);
            }
            finish(scratch, tag as u16, s.status, status, used);
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

/// How a request started.
enum Started {
    /// Finished: status and used length.
    Done(u8, u32),
    /// In flight.
    Queued,
}

/// Starts one request.
fn start(
    req: &Request,
    disk: &Disk,
    mem: &Mem<'_>,
    scratch: &mut Scratch,
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
            let slot = scratch
                .slots
                .get_mut(usize::from(req.head))
                .ok_or("virtio-blk head out of range")?;
            if slot.busy {
                return Err("virtio-blk request reused while in flight");
            }
            req.data_iov(&scratch.segs, mem.table, !write, &mut scratch.iov)?;
            *slot = Slot {
                busy: true,
                write,
                len,
                status: req.status,
            };
            match scratch
                .io
                .submit(req.head, write, pos, &scratch.iov, len as usize)
            {
                Submitted::Queued => Ok(Started::Queued),
                Submitted::Done(ret) => {
                    scratch.slots[usize::from(req.head)].busy = false;
                    if ret == c_long::from(len) {
                        Ok(Started::Done(
                            VIRTIO_BLK_S_OK,
                            if write { 1 } else { len + 1 },
                        ))
                    } else {
                        Ok(IOERR)
                    }
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
            req.write_in(&scratch.segs, mem, &id[..n])?;
            Ok(Started::Done(VIRTIO_BLK_S_OK, n as u32 + 1))
        }
        VIRTIO_BLK_T_DISCARD | VIRTIO_BLK_T_WRITE_ZEROES => {
            Ok(Started::Done(ranges(req, disk, mem, scratch)?, 1))
        }
        _ => Ok(Started::Done(VIRTIO_BLK_S_UNSUPP, 1)),
    }
}

/// `DISCARD` / `WRITE_ZEROES`: the ranges in the data, each checked, then applied.
fn ranges(
    req: &Request,
    disk: &Disk,
    mem: &Mem<'_>,
    scratch: &Scratch,
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
        req.read_out(&scratch.segs, mem, i * RANGE, &mut b)?;
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

/// Serves queue `q`: completes finished I/O, starts what the guest queued. Returns whether
/// work is left.
pub(crate) fn handle_queue(q: &mut Vq) -> bool {
    if q.backend.is_none() || !q.ring.is_ready() || q.ring.is_broken() {
        return false;
    }
    let (Some(mut scratch), Some(disk)) = (q.scratch.take(), q.backend.clone()) else {
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
        let parts = &mut *scratch;
        let started = Request::parse(&mut parts.chain, &mem, &mut parts.segs)
            .and_then(|req| start(&req, &disk, &mem, &mut scratch).map(|s| (req, s)));
        match started {
            Ok((req, Started::Done(status, used))) => {
                if scratch.done.len() == scratch.done.capacity() {
                    flush_used(q, &mem, &mut scratch);
                }
                finish(&mut scratch, req.head, req.status, status, used);
            }
            Ok((_, Started::Queued)) => {}
            Err(what) => {
                q.fail(what);
                break;
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
        // Completions that arrived meanwhile (a ramdisk completes during submission).
        if n % 16 == 0 {
            reap(q, &mem, &mut scratch);
        }
    }
    reap(q, &mem, &mut scratch);
    flush_used(q, &mem, &mut scratch);
    q.scratch = Some(scratch);
    more
}
