// SPDX-License-Identifier: GPL-2.0

//! One virtio-blk request (VIRTIO 1.x 5.2.6): a chain popped from a queue, split into the
//! 16-byte header at the start of its device-readable part, the data, and the status byte at
//! the end of its device-writable part. Any descriptor layout is accepted (a header or a
//! buffer may span descriptors); data of `IN` requests is the device-writable part before
//! the status byte, data of the others the device-readable part after the header.

use crate::{
    kext::kvec::{clear, push_within},
    uapi::VirtioBlkOuthdr,
    vhost::rings::RingAccess,
    vring::{DescChain, GuestMemory, MappedMemory, MemTable, Segment},
};
use core::ffi::c_void;
use kernel::{bindings, prelude::*};

/// Most descriptors of one direction in a request.
pub(crate) const MAX_SEGS: usize = 256;
/// Most iovecs of one request's data (a descriptor may cross memory regions).
pub(crate) const MAX_IOV: usize = 512;

/// Guest memory as the worker and the owner's ioctls see it: ring metadata through the
/// queue's ring map if it has one, the rest by user copies.
pub(crate) type Mem<'a> = MappedMemory<'a, RingAccess<'a>>;

/// Segment arrays for parsing, allocated once per queue.
pub(crate) struct Segments {
    readable: KVec<Segment>,
    writable: KVec<Segment>,
}

impl Segments {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            readable: KVec::from_elem(Segment::default(), MAX_SEGS, GFP_KERNEL)?,
            writable: KVec::from_elem(Segment::default(), MAX_SEGS, GFP_KERNEL)?,
        })
    }
}

/// A parsed request: its header and where its parts are.
pub(crate) struct Request {
    /// The chain's head, for the used ring.
    pub(crate) head: u16,
    /// `VIRTIO_BLK_T_*`.
    pub(crate) kind: u32,
    /// First sector.
    pub(crate) sector: u64,
    /// Owner's address of the status byte.
    pub(crate) status: u64,
    /// Device-readable segments (`readable_len` bytes), the header first.
    nreadable: usize,
    /// Device-writable segments (`writable_len` bytes), the status byte last.
    nwritable: usize,
    readable_len: u32,
    writable_len: u32,
}

/// Header size.
const HDR: u32 = core::mem::size_of::<VirtioBlkOuthdr>() as u32;

impl Request {
    /// Walks `chain` into `segs`. Errors (the chain is malformed, has too many segments,
    /// no room for the header or no status byte) break the queue.
    pub(crate) fn parse(
        chain: &mut DescChain,
        mem: &Mem<'_>,
        segs: &mut Segments,
    ) -> core::result::Result<Self, &'static str> {
        let info = chain
            .collect_segments(mem, &mut segs.readable, &mut segs.writable)
            .map_err(|e| e.as_str())?;
        if info.readable_len < HDR {
            return Err("virtio-blk request without a header");
        }
        if info.writable_len < 1 {
            return Err("virtio-blk request without a status byte");
        }
        let mut hdr = [0u8; HDR as usize];
        read_at(&segs.readable[..info.readable], mem, 0, &mut hdr)?;
        let last = segs.writable[info.writable - 1];
        let status_gpa = last.addr + u64::from(last.len) - 1;
        let (status, _) = mem.table.translate(status_gpa, 1).map_err(|e| e.as_str())?;
        Ok(Self {
            head: chain.head(),
            kind: u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]),
            sector: u64::from_le_bytes([
                hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13], hdr[14], hdr[15],
            ]),
            status,
            nreadable: info.readable,
            nwritable: info.writable,
            readable_len: info.readable_len,
            writable_len: info.writable_len,
        })
    }

    /// Bytes of device-readable data after the header (`OUT`, `DISCARD`, `WRITE_ZEROES`).
    pub(crate) fn out_len(&self) -> u32 {
        self.readable_len - HDR
    }

    /// Bytes of device-writable data before the status byte (`IN`, `GET_ID`).
    pub(crate) fn in_len(&self) -> u32 {
        self.writable_len - 1
    }

    /// Reads `buf.len()` bytes of the device-readable data from offset `off`.
    pub(crate) fn read_out(
        &self,
        segs: &Segments,
        mem: &Mem<'_>,
        off: u32,
        buf: &mut [u8],
    ) -> core::result::Result<(), &'static str> {
        read_at(&segs.readable[..self.nreadable], mem, HDR + off, buf)
    }

    /// Writes `buf` to the device-writable data (at most [`Request::in_len`] bytes).
    pub(crate) fn write_in(
        &self,
        segs: &Segments,
        mem: &Mem<'_>,
        buf: &[u8],
    ) -> core::result::Result<(), &'static str> {
        let mut done = 0usize;
        for s in &segs.writable[..self.nwritable] {
            if done == buf.len() {
                break;
            }
            let n = (s.len as usize).min(buf.len() - done);
            mem.write(s.addr, &buf[done..done + n])
                .map_err(|e| e.as_str())?;
            done += n;
        }
        Ok(())
    }

    /// Fills `iov` with the owner's addresses of the data: the device-writable part before
    /// the status byte if `write_in`, else the device-readable part after the header.
    pub(crate) fn data_iov(
        &self,
        segs: &Segments,
        table: &MemTable,
        write_in: bool,
        iov: &mut KVec<bindings::iovec>,
    ) -> core::result::Result<(), &'static str> {
        clear(iov);
        let (list, mut skip, mut len) = if write_in {
            (&segs.writable[..self.nwritable], 0u32, self.in_len())
        } else {
            (&segs.readable[..self.nreadable], HDR, self.out_len())
        };
        for s in list {
            if len == 0 {
                break;
            }
            let drop = skip.min(s.len);
            skip -= drop;
            let n = (s.len - drop).min(len);
            if n == 0 {
                continue;
            }
            len -= n;
            for piece in table.pieces(s.addr + u64::from(drop), u64::from(n)) {
                let (uaddr, plen) = piece.map_err(|e| e.as_str())?;
                let entry = bindings::iovec {
                    iov_base: uaddr as usize as *mut c_void,
                    iov_len: plen as usize,
                };
                push_within(iov, entry).map_err(|_| "virtio-blk request with too many buffers")?;
            }
        }
        Ok(())
    }
}

/// Reads `buf.len()` bytes at byte offset `off` of the concatenated `segs`.
fn read_at(
    segs: &[Segment],
    mem: &Mem<'_>,
    mut off: u32,
    buf: &mut [u8],
) -> core::result::Result<(), &'static str> {
    let mut done = 0usize;
    for s in segs {
        if done == buf.len() {
            break;
        }
        if off >= s.len {
            off -= s.len;
            continue;
        }
        let n = ((s.len - off) as usize).min(buf.len() - done);
        mem.read(s.addr + u64::from(off), &mut buf[done..done + n])
            .map_err(|e| e.as_str())?;
        done += n;
        off = 0;
    }
    if done == buf.len() {
        Ok(())
    } else {
        Err("virtio-blk request shorter than its header says")
    }
}
