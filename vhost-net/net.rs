// SPDX-License-Identifier: GPL-2.0

//! The data path, run by the worker thread in the owner's mm: transmit (guest → socket) and
//! receive (socket → guest), after drivers/vhost/net.c `handle_tx_copy` and `handle_rx`.
//!
//! Packets are never copied by us: a chain's guest-physical buffers are translated through
//! the memory table into the owner's user addresses, and the socket reads or writes them
//! directly (`sendmsg`/`recvmsg` on an iovec array). A run handles at most
//! [`WEIGHT_PACKETS`] packets or [`WEIGHT_BYTES`] bytes per queue, then asks the worker to
//! run again, so one busy queue can not starve the other or the rest of the system.
//!
//! Guest errors (a malformed chain, a ring outside memory) mark the queue broken and signal
//! its error eventfd, as vhost's `vq_err`; the device model must reset it. A failed send or
//! an oversized received packet drops that packet only.

use crate::{
    backend::Socket,
    device::{Shared, VQ_RX},
    kext::{
        eventfd::{POLLIN, POLLOUT},
        kvec::{clear, push_within},
    },
    uapi::{VHOST_NET_F_VIRTIO_NET_HDR, VIRTIO_F_VERSION_1, VIRTIO_NET_F_MRG_RXBUF},
    vhost::{rings::RingAccess, vq::NO_MEMORY},
    vq::Vq,
    vring::{
        DescChain, Error as RingError, GuestMemory, MappedMemory, MemTable, Segment, SplitQueue,
        UsedElem,
    },
};
use core::ffi::c_void;
use core::sync::atomic::Ordering;
use kernel::{bindings, prelude::*};

/// Most packets one run handles per queue (vhost's `VHOST_NET_PKT_WEIGHT`).
pub(crate) const WEIGHT_PACKETS: usize = 256;
/// Most bytes one run handles per queue (vhost's `VHOST_NET_WEIGHT`).
pub(crate) const WEIGHT_BYTES: usize = 0x80000;
/// Most iovecs (buffer pieces) of one packet.
pub(crate) const MAX_IOV: usize = 64;
/// Most chains one received packet may span (mergeable receive buffers).
pub(crate) const MAX_HEADS: usize = 64;
/// Transmitted chains returned to the used ring in one update, and followed by a signal
/// (vhost's `VHOST_NET_BATCH`); also the received packets after which a run signals.
pub(crate) const TX_BATCH: usize = 64;

// `struct socket` is passed as an opaque pointer: only the C side looks inside.
extern "C" {
    fn vhost_net_rs_sendmsg(
        sock: *mut c_void,
        iov: *const bindings::iovec,
        nr: usize,
        len: usize,
    ) -> i32;
    fn vhost_net_rs_recvmsg(
        sock: *mut c_void,
        iov: *const bindings::iovec,
        nr: usize,
        len: usize,
    ) -> i32;
    fn vhost_net_rs_peek_len(sock: *mut c_void) -> i32;
    fn vhost_net_rs_can_batch(sock: *mut c_void) -> bool;
    fn vhost_net_rs_xdp_alloc() -> *mut c_void;
    fn vhost_net_rs_xdp_free(batch: *mut c_void);
    fn vhost_net_rs_xdp_add(
        batch: *mut c_void,
        sock: *mut c_void,
        iov: *const bindings::iovec,
        nr: usize,
        len: usize,
        hlen: usize,
    ) -> i32;
    fn vhost_net_rs_xdp_flush(batch: *mut c_void, sock: *mut c_void) -> i32;
}

/// Frames copied out of guest memory, waiting to go to a tun/tap socket in one `sendmsg` as
/// XDP buffers (the C shim's `struct vhost_net_rs_xdp`).
///
/// # Invariants
///
/// `raw` is an allocated, not yet freed `vhost_net_rs_xdp`.
pub(crate) struct XdpBatch {
    raw: core::ptr::NonNull<c_void>,
    /// Frames added since the last flush.
    count: usize,
}

// SAFETY: The batch is plain memory, used by whichever thread holds the queue lock.
unsafe impl Send for XdpBatch {}

impl XdpBatch {
    fn new() -> Result<Self> {
        // SAFETY: Allocates a zeroed batch (an empty page-fragment cache, no frames).
        let raw = unsafe { vhost_net_rs_xdp_alloc() };
        // INVARIANT: allocated just now.
        Ok(Self {
            raw: core::ptr::NonNull::new(raw).ok_or(ENOMEM)?,
            count: 0,
        })
    }

    /// Sends the frames added so far to `socket` in one `sendmsg`.
    fn flush(&mut self, socket: &Socket) {
        if self.count == 0 {
            return;
        }
        // SAFETY: By the type invariant the batch exists; `socket` holds a file reference.
        let err = unsafe { vhost_net_rs_xdp_flush(self.raw.as_ptr(), socket.as_ptr()) };
        if err < 0 {
            pr_debug!("failed to send a batch of frames: {}\n", err);
        }
        self.count = 0;
    }
}

impl Drop for XdpBatch {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the batch exists; frames still in it are dropped.
        unsafe { vhost_net_rs_xdp_free(self.raw.as_ptr()) };
    }
}

/// The events a queue's socket wakes the worker for: readable for RX; writable for TX,
/// which only counts while a send is waiting for room ([`Shared::tx_blocked`]).
pub(crate) fn socket_events(index: usize) -> u32 {
    if index == VQ_RX {
        POLLIN
    } else {
        POLLOUT
    }
}

/// Per-queue buffers, allocated once when a backend is attached.
pub(crate) struct Scratch {
    /// The chain being walked, refilled in place for each packet (no copy of it per packet).
    chain: DescChain,
    iov: KVec<bindings::iovec>,
    segs: KVec<Segment>,
    heads: KVec<UsedElem>,
    /// Sent chains not yet in the used ring.
    done: KVec<UsedElem>,
    /// Frames waiting for one `sendmsg` to a tun/tap socket.
    xdp: XdpBatch,
}

// SAFETY: The iovecs only hold user addresses of the owner, used by whichever thread holds
// the queue lock.
unsafe impl Send for Scratch {}

impl Scratch {
    fn new() -> Result<KBox<Self>> {
        Ok(KBox::new(
            Self {
                chain: DescChain::default(),
                iov: KVec::with_capacity(MAX_IOV, GFP_KERNEL)?,
                segs: KVec::with_capacity(MAX_IOV, GFP_KERNEL)?,
                heads: KVec::with_capacity(MAX_HEADS, GFP_KERNEL)?,
                done: KVec::with_capacity(TX_BATCH, GFP_KERNEL)?,
                xdp: XdpBatch::new()?,
            },
            GFP_KERNEL,
        )?)
    }
}

/// Header lengths for the negotiated `features`: `(vhost_hlen, sock_hlen)`, as
/// `vhost_net_set_features` computes them. The virtio-net header is 12 bytes with mergeable
/// buffers or virtio 1.0, else 10; vhost adds/strips it if `VHOST_NET_F_VIRTIO_NET_HDR` was
/// negotiated, otherwise the socket (a tap with `IFF_VNET_HDR`) does.
fn header_lengths(features: u64) -> (usize, usize) {
    let hdr_len = if features & ((1 << VIRTIO_NET_F_MRG_RXBUF) | (1 << VIRTIO_F_VERSION_1)) != 0 {
        12
    } else {
        10
    };
    if features & (1 << VHOST_NET_F_VIRTIO_NET_HDR) != 0 {
        (hdr_len, 0)
    } else {
        (0, hdr_len)
    }
}

/// Guest memory as the worker sees it: ring metadata through the queue's ring map if it has
/// one, the rest by user copies.
type Mem<'a> = MappedMemory<'a, RingAccess<'a>>;

fn has(features: u64, bit: u32) -> bool {
    features & (1u64 << bit) != 0
}

/// Attaches `socket` to `q` (or detaches with `None`) and returns the socket it had. On
/// attach the ring is set up from the queue's configuration and activated
/// (`vhost_vq_init_access`: reads the used index); on failure (`EFAULT`: rings not
/// accessible, `EINVAL`: not configured) nothing changes.
pub(crate) fn attach(q: &mut Vq, socket: Option<Socket>) -> Result<Option<Socket>> {
    let Some(socket) = socket else {
        return Ok(q.deactivate());
    };
    if q.scratch.is_none() {
        q.scratch = Some(Scratch::new()?);
    }
    q.activate_ring()?;
    // Ring metadata through kernel-mapped pages from here on (user copies if not possible).
    q.map_rings();
    Ok(q.backend.replace(socket))
}

/// Appends the user-address pieces of `len` bytes at guest address `addr` to `iov`.
#[inline]
fn push_iov(
    iov: &mut KVec<bindings::iovec>,
    table: &MemTable,
    addr: u64,
    len: u64,
) -> core::result::Result<(), RingError> {
    for piece in table.pieces(addr, len) {
        let (uaddr, n) = piece?;
        let entry = bindings::iovec {
            iov_base: uaddr as usize as *mut c_void,
            iov_len: n as usize,
        };
        // The capacity is `MAX_IOV` (`Scratch::new`).
        push_within(iov, entry).map_err(|_| RingError::TooManySegments)?;
    }
    Ok(())
}

/// Appends the pieces of buffer `[addr, addr + len)` after its first `skip` bytes to `iov`
/// (see [`push_iov`]); the skipped bytes are checked to be guest memory, so that every byte
/// of the buffer is, as vhost's `translate_desc` requires. Returns the bytes appended.
#[inline]
fn push_buffer(
    iov: &mut KVec<bindings::iovec>,
    table: &MemTable,
    addr: u64,
    len: u64,
    skip: u64,
) -> core::result::Result<u64, RingError> {
    let s = skip.min(len);
    if s > 0 {
        table.check_range(addr, s)?;
    }
    if len > s {
        let at = addr.checked_add(s).ok_or(RingError::Overflow)?;
        push_iov(iov, table, at, len - s)?;
    }
    Ok(len - s)
}

/// Fills `iov` with the chain's device-readable buffers minus the first `skip` bytes;
/// returns the length. Device-writable buffers are a format error for TX.
///
/// The walk leaves the buffer checks to the translation ([`push_buffer`]).
fn tx_iov(
    chain: &mut DescChain,
    mem: &Mem<'_>,
    iov: &mut KVec<bindings::iovec>,
    mut skip: u64,
) -> core::result::Result<usize, RingError> {
    clear(iov);
    let mut total = 0u64;
    while let Some(desc) = chain.next_desc_deferred(mem) {
        let desc = desc?;
        if desc.is_write_only() {
            return Err(RingError::ReadableAfterWritable);
        }
        let len = u64::from(desc.len);
        let n = push_buffer(iov, mem.table, desc.addr, len, skip)?;
        skip -= len - n;
        total += n;
    }
    usize::try_from(total).map_err(|_| RingError::Overflow)
}

/// Transmits what the guest queued on the TX queue. Returns whether work is left.
pub(crate) fn handle_tx(shared: &Shared) -> bool {
    let mut guard = shared.vq(crate::device::VQ_TX).lock();
    let q = &mut *guard;
    if q.backend.is_none() || !q.ring.is_ready() || q.ring.is_broken() {
        return false;
    }
    // Out of the queue for the run (a pointer move), so that the ring and the buffers are
    // borrowed separately.
    let Some(mut scratch) = q.scratch.take() else {
        return false;
    };
    let more = tx_run(q, &mut scratch, shared);
    q.scratch = Some(scratch);
    more
}

/// The body of [`handle_tx`], with the queue's buffers taken out of it.
fn tx_run(q: &mut Vq, scratch: &mut Scratch, shared: &Shared) -> bool {
    let (table, map) = (q.mem.clone(), q.ring_map());
    let mem = MappedMemory::new(
        table.as_deref().unwrap_or(&NO_MEMORY),
        RingAccess::new(map.as_deref()),
    );
    let (vhost_hlen, sock_hlen) = header_lengths(q.acked_features);
    shared.tx_blocked.store(false, Ordering::Relaxed);
    let can_batch = q
        .backend
        .as_ref()
        // SAFETY: The socket holds a file reference.
        .is_some_and(|socket| unsafe { vhost_net_rs_can_batch(socket.as_ptr()) });
    // Errors here only mean a kick may come for nothing.
    let _ = q.ring.disable_notification(&mem);

    let (mut packets, mut bytes, mut more) = (0usize, 0usize, false);
    loop {
        match q.ring.pop_chain_into(&mem, &mut scratch.chain) {
            Ok(true) => {}
            Ok(false) => match q.ring.enable_notification(&mem) {
                // Buffers slipped in while enabling: no kick will come for them.
                Ok(true) => {
                    let _ = q.ring.disable_notification(&mem);
                    continue;
                }
                Ok(false) => break,
                // As `vhost_enable_notify`: a bad index read here breaks the queue too.
                Err(e) => {
                    q.queue_error(e);
                    break;
                }
            },
            Err(e) => {
                q.queue_error(e);
                break;
            }
        }
        let Some(socket) = q.backend.as_ref() else {
            break;
        };
        let len = match tx_iov(
            &mut scratch.chain,
            &mem,
            &mut scratch.iov,
            vhost_hlen as u64,
        ) {
            Ok(len) => len,
            Err(e) => {
                q.queue_error(e);
                break;
            }
        };
        // A frame goes into the XDP batch if it can, else alone with its own sendmsg.
        let batched = can_batch && {
            // SAFETY: The batch exists and `socket` holds a file reference; the iovecs are
            // `scratch.iov.len()` valid entries of user addresses in the current (owner's)
            // mm, copied with the usual user-copy fault handling.
            let added = unsafe {
                vhost_net_rs_xdp_add(
                    scratch.xdp.raw.as_ptr(),
                    socket.as_ptr(),
                    scratch.iov.as_ptr(),
                    scratch.iov.len(),
                    len,
                    sock_hlen,
                )
            };
            match added {
                0 => {
                    scratch.xdp.count += 1;
                    if scratch.xdp.count >= TX_BATCH {
                        scratch.xdp.flush(socket);
                    }
                    true
                }
                e if e == -(bindings::ENOSPC as i32) => {
                    // Too big for a page: send alone, after what is batched.
                    scratch.xdp.flush(socket);
                    false
                }
                e if e == -(bindings::ENOMEM as i32) => {
                    scratch.xdp.flush(socket);
                    q.ring.undo_pop(1);
                    more = true;
                    break;
                }
                // A bad frame (its header does not fit): dropped, as a failed send.
                _ => true,
            }
        };
        if !batched {
            // SAFETY: `socket` holds a file reference; the iovecs are `scratch.iov.len()`
            // valid entries of user addresses in the current (owner's) mm, which the socket
            // reads with the usual user-copy fault handling.
            let sent = unsafe {
                vhost_net_rs_sendmsg(
                    socket.as_ptr(),
                    scratch.iov.as_ptr(),
                    scratch.iov.len(),
                    len,
                )
            };
            if sent == -(bindings::EAGAIN as i32) || sent == -(bindings::ENOMEM as i32) {
                // The socket is full: give the chain back, wait for room (socket hook).
                q.ring.undo_pop(1);
                shared.tx_blocked.store(true, Ordering::Relaxed);
                break;
            }
            if sent < 0 {
                pr_debug!("failed to send a packet: {}\n", sent);
            }
        }
        // The capacity is `TX_BATCH`, and a full batch was flushed below.
        if push_within(
            &mut scratch.done,
            UsedElem::new(u32::from(scratch.chain.head()), 0),
        )
        .is_err()
        {
            break;
        }
        packets += 1;
        bytes += len;
        // As vhost_net: the guest gets each batch back, and its signal, while the run goes
        // on (a guest with a full ring waits for them to queue more).
        if scratch.done.len() >= TX_BATCH {
            match flush_used(&mut q.ring, &mem, scratch) {
                Ok(()) => q.signal_used(&mem),
                Err(e) => {
                    q.queue_error(e);
                    break;
                }
            }
        }
        if packets >= WEIGHT_PACKETS || bytes >= WEIGHT_BYTES {
            more = true;
            break;
        }
    }
    if let Some(socket) = q.backend.as_ref() {
        scratch.xdp.flush(socket);
    }
    let pending = !scratch.done.is_empty();
    match flush_used(&mut q.ring, &mem, scratch) {
        Ok(()) if pending => q.signal_used(&mem),
        Ok(()) => {}
        Err(e) => q.queue_error(e),
    }
    more
}

/// Returns the sent chains of `scratch.done` to the used ring in one update.
fn flush_used(
    ring: &mut SplitQueue,
    mem: &Mem<'_>,
    scratch: &mut Scratch,
) -> core::result::Result<(), RingError> {
    if scratch.done.is_empty() {
        return Ok(());
    }
    let result = ring.add_used_n(mem, &scratch.done);
    clear(&mut scratch.done);
    result
}

/// Pops chains until their device-writable space holds `need` bytes (one chain without
/// mergeable buffers): `get_rx_bufs`. Fills `scratch.iov` (skipping `skip` bytes for the
/// header vhost writes itself), `scratch.segs` (the writable buffers, for the header
/// fix-ups) and `scratch.heads`. `Ok(false)` if the ring ran out (chains given back).
fn rx_bufs(
    ring: &mut SplitQueue,
    mem: &Mem<'_>,
    scratch: &mut Scratch,
    need: u64,
    mergeable: bool,
    mut skip: u64,
) -> core::result::Result<bool, RingError> {
    clear(&mut scratch.iov);
    clear(&mut scratch.segs);
    clear(&mut scratch.heads);
    let mut have = 0u64;
    while have < need {
        if scratch.heads.len() >= MAX_HEADS || (!mergeable && !scratch.heads.is_empty()) {
            // Too small for the packet.
            ring.undo_pop(scratch.heads.len() as u16);
            return Err(RingError::TooManySegments);
        }
        if !ring.pop_chain_into(mem, &mut scratch.chain)? {
            ring.undo_pop(scratch.heads.len() as u16);
            return Ok(false);
        }
        let mut chain_len = 0u64;
        // Buffer checks are left to the translation (`push_buffer`).
        while let Some(desc) = scratch.chain.next_desc_deferred(mem) {
            let desc = desc?;
            if !desc.is_write_only() {
                return Err(RingError::ReadableAfterWritable);
            }
            let (addr, len) = (desc.addr, u64::from(desc.len));
            if len == 0 {
                continue;
            }
            let seg = Segment {
                addr,
                len: desc.len,
            };
            // The capacity is `MAX_IOV` (`Scratch::new`).
            push_within(&mut scratch.segs, seg).map_err(|_| RingError::TooManySegments)?;
            let n = push_buffer(&mut scratch.iov, mem.table, addr, len, skip)?;
            skip -= len - n;
            chain_len += len;
        }
        let elem = UsedElem::new(u32::from(scratch.chain.head()), chain_len as u32);
        // The capacity is `MAX_HEADS`, checked above.
        push_within(&mut scratch.heads, elem).map_err(|_| RingError::TooManySegments)?;
        have += chain_len;
    }
    // The last chain holds only the rest of the packet.
    if let Some(last) = scratch.heads.last_mut() {
        last.len -= (have - need) as u32;
    }
    Ok(true)
}

/// Writes `bytes` at byte `offset` of the buffers in `segs` (the packet's header area).
fn write_at(
    mem: &Mem<'_>,
    segs: &[Segment],
    mut offset: u64,
    mut bytes: &[u8],
) -> core::result::Result<(), RingError> {
    for seg in segs {
        let len = u64::from(seg.len);
        if offset >= len {
            offset -= len;
            continue;
        }
        let n = bytes.len().min((len - offset) as usize);
        let (now, rest) = bytes.split_at(n);
        mem.write(seg.addr + offset, now)?;
        bytes = rest;
        offset = 0;
        if bytes.is_empty() {
            return Ok(());
        }
    }
    if bytes.is_empty() {
        Ok(())
    } else {
        Err(RingError::OutOfBounds)
    }
}

/// Receives what the socket has into the RX queue's buffers. Returns whether work is left.
pub(crate) fn handle_rx(shared: &Shared) -> bool {
    let mut guard = shared.vq(VQ_RX).lock();
    let q = &mut *guard;
    if q.backend.is_none() || !q.ring.is_ready() || q.ring.is_broken() {
        return false;
    }
    let (table, map) = (q.mem.clone(), q.ring_map());
    let mem = MappedMemory::new(
        table.as_deref().unwrap_or(&NO_MEMORY),
        RingAccess::new(map.as_deref()),
    );
    let (vhost_hlen, sock_hlen) = header_lengths(q.acked_features);
    let mergeable = has(q.acked_features, VIRTIO_NET_F_MRG_RXBUF);
    let _ = q.ring.disable_notification(&mem);

    // Chains returned to the used ring since the last signal.
    let (mut packets, mut bytes, mut unsignalled, mut more) = (0usize, 0usize, 0usize, false);
    while let (Some(scratch), Some(socket)) = (q.scratch.as_deref_mut(), q.backend.as_ref()) {
        // SAFETY: `socket` holds a file reference.
        let peek = unsafe { vhost_net_rs_peek_len(socket.as_ptr()) };
        if peek <= 0 {
            break;
        }
        let sock_len = peek as usize + sock_hlen;
        let need = (sock_len + vhost_hlen) as u64;
        match rx_bufs(
            &mut q.ring,
            &mem,
            scratch,
            need,
            mergeable,
            vhost_hlen as u64,
        ) {
            Ok(true) => {}
            Ok(false) => match q.ring.enable_notification(&mem) {
                // Buffers arrived meanwhile: try again.
                Ok(true) => {
                    let _ = q.ring.disable_notification(&mem);
                    continue;
                }
                Ok(false) => break,
                // As `vhost_enable_notify`: a bad index read here breaks the queue too.
                Err(e) => {
                    q.queue_error(e);
                    break;
                }
            },
            Err(RingError::TooManySegments) => {
                // The packet does not fit the buffers: drop it, keep the buffers (vhost's
                // "discarded rx packet"). As vhost, receive one byte of it into the first
                // buffer (given back to the guest unused): tun dequeues nothing for an
                // empty receive.
                let Some(first) = scratch.iov.first() else {
                    break;
                };
                let one = bindings::iovec {
                    iov_base: first.iov_base,
                    iov_len: 1,
                };
                // SAFETY: One byte into a guest buffer (a user address of the owner's mm)
                // that the guest gave us; it is handed back without being used.
                unsafe { vhost_net_rs_recvmsg(socket.as_ptr(), &one, 1, 1) };
                packets += 1;
                if packets >= WEIGHT_PACKETS {
                    more = true;
                    break;
                }
                continue;
            }
            Err(e) => {
                q.queue_error(e);
                break;
            }
        }
        // SAFETY: As for sending: valid iovecs of user addresses in the owner's mm.
        let got = unsafe {
            vhost_net_rs_recvmsg(
                socket.as_ptr(),
                scratch.iov.as_ptr(),
                scratch.iov.len(),
                sock_len,
            )
        };
        if got < 0 || got as usize != sock_len {
            // vhost: "Discarded rx packet: len %d, expected %zd": give the buffers back.
            q.ring.undo_pop(scratch.heads.len() as u16);
            packets += 1;
            if got < 0 {
                break;
            }
            if packets >= WEIGHT_PACKETS {
                more = true;
                break;
            }
            continue;
        }
        let nheads = scratch.heads.len() as u16;
        let fixup = if vhost_hlen > 0 {
            // vhost supplies a plain header: no offloads, GSO none, then num_buffers.
            let mut hdr = [0u8; 12];
            hdr[10..12].copy_from_slice(&nheads.to_le_bytes());
            write_at(&mem, &scratch.segs, 0, &hdr[..vhost_hlen])
        } else if mergeable {
            // The socket wrote the header: patch num_buffers (offset 10).
            write_at(&mem, &scratch.segs, 10, &nheads.to_le_bytes())
        } else {
            Ok(())
        };
        let done = fixup.and_then(|()| q.ring.add_used_n(&mem, &scratch.heads));
        if let Err(e) = done {
            q.queue_error(e);
            break;
        }
        // As vhost_net (`VHOST_NET_BATCH`): a signal every batch, not only at the end.
        unsignalled += usize::from(nheads);
        if unsignalled >= TX_BATCH {
            q.signal_used(&mem);
            unsignalled = 0;
        }
        packets += 1;
        bytes += sock_len;
        if packets >= WEIGHT_PACKETS || bytes >= WEIGHT_BYTES {
            more = true;
            break;
        }
    }
    if unsignalled > 0 {
        q.signal_used(&mem);
    }
    more
}
