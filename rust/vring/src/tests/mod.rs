//! Tests of the vring code against the mock driver, plus shared helpers.

use std::vec;
use std::vec::Vec;

use crate::mock::{MockDriver, MockMemory};
use crate::vring::{DescChain, Error, GuestMemory, Segment, SplitQueue};

mod chains;
mod layout;
mod malformed;
mod memtable;
mod notify;
mod queue;
mod random;
mod readahead;

/// xorshift64*: small deterministic PRNG for tests.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `num / den`.
    pub(crate) fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// FNV-1a 64.
pub(crate) fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// What the mock device writes into a chain's writable buffers: a stream derived from
/// the chain's readable bytes and head.
pub(crate) fn reply(readable: &[u8], head: u16, len: usize) -> Vec<u8> {
    let mut r = Rng::new(fnv(readable) ^ u64::from(head));
    r.bytes(len)
}

/// A queue configured from the driver's rings and activated.
pub(crate) fn queue_for(mem: &MockMemory, drv: &MockDriver<'_>, event_idx: bool) -> SplitQueue {
    let mut q = SplitQueue::new();
    q.set_size(u32::from(drv.size())).unwrap();
    q.set_event_idx(event_idx);
    q.set_addrs(drv.ring_addrs(), mem).unwrap();
    q.activate(mem).unwrap();
    q
}

/// Reads a chain's readable bytes, writes [`reply`] into its writable buffers; returns
/// `(readable bytes, bytes written)`.
pub(crate) fn serve_chain<M: GuestMemory>(
    chain: &mut DescChain,
    mem: &M,
) -> Result<(Vec<u8>, u32), Error> {
    let mut rd = [Segment::default(); 64];
    let mut wr = [Segment::default(); 64];
    let head = chain.head();
    let info = chain.collect_segments(mem, &mut rd, &mut wr)?;
    let mut data = Vec::new();
    for s in &rd[..info.readable] {
        let mut b = vec![0; s.len as usize];
        mem.read(s.addr, &mut b)?;
        data.extend_from_slice(&b);
    }
    assert_eq!(data.len(), info.readable_len as usize);
    let out = reply(&data, head, info.writable_len as usize);
    let mut off = 0;
    for s in &wr[..info.writable] {
        mem.write(s.addr, &out[off..off + s.len as usize])?;
        off += s.len as usize;
    }
    Ok((data, info.writable_len))
}

/// Pops and serves every available chain, completing each with `add_used` and
/// returning their heads. Panics on any error.
pub(crate) fn serve_all<M: GuestMemory>(q: &mut SplitQueue, mem: &M) -> Vec<u16> {
    let mut heads = Vec::new();
    while let Some(mut c) = q.pop_chain(mem).unwrap() {
        let (_, written) = serve_chain(&mut c, mem).unwrap();
        q.add_used(mem, c.head(), written).unwrap();
        heads.push(c.head());
    }
    heads
}
