//! Randomized tests with fixed seeds: random driver/device interleavings checked against
//! a simple model (order, data, indices, no missed kick or interrupt), and random
//! garbage in the rings that must only ever produce errors.

use std::collections::{HashMap, VecDeque};
use std::vec::Vec;

use super::{reply, serve_chain, Rng};
use crate::mock::{Buf, MockDriver, MockMemory};
use crate::vring::layout::{UsedElem, VRING_AVAIL_F_NO_INTERRUPT};
use crate::vring::{DescChain, Error, GuestMemory, Segment, SplitQueue};

const DATA: u64 = 0x1_0000;
const SLOT: u64 = 0x1000;

fn memory() -> MockMemory {
    // Rings in the first region; data slots cross the odd region boundaries.
    MockMemory::new(&[
        (0, 0x1_0000),
        (0x1_0000, 0x1357),
        (0x1_1357, 0x80),
        (0x1_13d7, 0x20_0000),
    ])
}

/// A chain the driver made available, as the model remembers it.
struct Pending {
    readable: Vec<u8>,
    writable: Vec<Buf>,
}

struct Sim<'m> {
    rng: Rng,
    mem: &'m MockMemory,
    drv: MockDriver<'m>,
    q: SplitQueue,
    event_idx: bool,
    /// Heads added but not yet visible (no kick yet).
    unpublished: Vec<u16>,
    /// Heads visible to the device, in order, not yet popped.
    queued: VecDeque<u16>,
    /// Chains the device popped and has not completed: (head, bytes written).
    held: Vec<(u16, u32)>,
    /// Driver-side record of every outstanding chain, by head.
    pending: HashMap<u16, Pending>,
    /// The device enabled kicks and found nothing: it waits for a kick.
    sleeping: bool,
    /// The driver enabled interrupts and found nothing: it waits for an interrupt.
    waiting_irq: bool,
    base: u16,
    popped: u64,
    completed: u64,
    reaped: u64,
    kicks: u64,
    irqs: u64,
}

impl<'m> Sim<'m> {
    fn new(mem: &'m MockMemory, seed: u64, size: u16, event_idx: bool, base: u16) -> Self {
        let mut drv = MockDriver::with_base(mem, size, 0);
        drv.set_event_idx(event_idx);
        drv.set_base(base);
        let mut q = SplitQueue::new();
        q.set_size(u32::from(size)).unwrap();
        q.set_base(u32::from(base)).unwrap();
        q.set_event_idx(event_idx);
        q.set_addrs(drv.ring_addrs(), mem).unwrap();
        q.activate(mem).unwrap();
        Sim {
            rng: Rng::new(seed),
            mem,
            drv,
            q,
            event_idx,
            unpublished: Vec::new(),
            queued: VecDeque::new(),
            held: Vec::new(),
            pending: HashMap::new(),
            sleeping: false,
            waiting_irq: false,
            base,
            popped: 0,
            completed: 0,
            reaped: 0,
            kicks: 0,
            irqs: 0,
        }
    }

    fn driver_add(&mut self) {
        let indirect = self.rng.chance(1, 3);
        let n = if indirect {
            1 + self.rng.below(8) as usize
        } else {
            1 + self.rng.below(4) as usize
        };
        if self.drv.num_free() < if indirect { 1 } else { n } {
            return;
        }
        let n_read = self.rng.below(n as u64 + 1) as usize;
        let mut bufs = Vec::new();
        let mut lens = Vec::new();
        for i in 0..n {
            let len = match self.rng.below(4) {
                0 => 0,
                1 => 1 + self.rng.below(8) as u32,
                _ => 1 + self.rng.below(400) as u32,
            };
            lens.push((len, i >= n_read));
        }
        let head = self.drv.peek_free().unwrap();
        let slot = DATA + u64::from(head) * SLOT;
        let mut off = 0u64;
        let mut readable = Vec::new();
        for &(len, w) in &lens {
            let a = slot + off;
            off += u64::from(len) + 3;
            if w {
                bufs.push(Buf::w(a, len));
            } else {
                let data = self.rng.bytes(len as usize);
                self.mem.write(a, &data).unwrap();
                readable.extend_from_slice(&data);
                bufs.push(Buf::r(a, len));
            }
        }
        let got = if indirect {
            self.drv.add_indirect(slot + 0xe00, &bufs).unwrap()
        } else {
            self.drv.add_chain(&bufs).unwrap()
        };
        assert_eq!(got, head);
        let writable = bufs.into_iter().filter(|b| b.write).collect();
        assert!(self
            .pending
            .insert(head, Pending { readable, writable })
            .is_none());
        self.unpublished.push(head);
    }

    fn driver_kick(&mut self) {
        let new = !self.unpublished.is_empty();
        let need = self.drv.kick();
        self.queued.extend(self.unpublished.drain(..));
        if new && self.sleeping {
            assert!(
                need,
                "missed kick: the device sleeps with buffers available"
            );
        }
        if need {
            self.kicks += 1;
            self.sleeping = false;
        }
    }

    /// vhost's handle_tx/handle_rx loop, with a budget.
    fn device_run(&mut self) {
        let mem = self.mem;
        // Running now; it only sleeps again if it finds the ring empty with kicks on.
        self.sleeping = false;
        self.q.disable_notification(mem).unwrap();
        let budget = 1 + self.rng.below(12);
        for _ in 0..budget {
            match self.q.pop_chain(mem).unwrap() {
                Some(mut c) => {
                    let head = c.head();
                    assert_eq!(Some(head), self.queued.pop_front(), "pop order");
                    self.popped += 1;
                    let (rd, written) = serve_chain(&mut c, mem).unwrap();
                    assert_eq!(rd, self.pending[&head].readable);
                    self.held.push((head, written));
                }
                None => {
                    assert!(self.queued.is_empty(), "device missed available buffers");
                    // The race enable_notification closes: the driver adds and kicks
                    // between the device finding the ring empty and re-enabling kicks;
                    // the kick is suppressed, so enabling must report the buffer.
                    if self.rng.chance(1, 3) {
                        self.driver_add();
                        self.driver_kick();
                    }
                    if self.q.enable_notification(mem).unwrap() {
                        // Slipped in while enabling: go on polling.
                        self.q.disable_notification(mem).unwrap();
                        assert!(!self.queued.is_empty() || self.unpublished.is_empty());
                        continue;
                    }
                    assert!(self.queued.is_empty(), "sleeping on available buffers");
                    self.sleeping = true;
                    return;
                }
            }
        }
        // Budget exhausted: vhost requeues the work; kicks stay disabled.
    }

    fn device_complete(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let mem = self.mem;
        // Complete a random subset in random order (out-of-order completion, like blk).
        let mut elems = Vec::new();
        let n = 1 + self.rng.below(self.held.len() as u64) as usize;
        for _ in 0..n {
            let i = self.rng.below(self.held.len() as u64) as usize;
            let (h, w) = self.held.swap_remove(i);
            elems.push(UsedElem::new(u32::from(h), w));
        }
        if self.rng.chance(1, 2) {
            self.q.add_used_n(mem, &elems).unwrap();
        } else {
            for e in &elems {
                self.q.add_used(mem, e.id as u16, e.len).unwrap();
            }
        }
        self.completed += elems.len() as u64;
        if self.q.needs_notification(mem) {
            self.irqs += 1;
            self.waiting_irq = false;
        } else {
            assert!(!self.waiting_irq, "missed interrupt");
        }
    }

    fn driver_reap(&mut self) {
        let max = self.rng.below(20);
        for _ in 0..max {
            let Some(u) = self.drv.pop_used() else { break };
            let head = u.id as u16;
            let p = self
                .pending
                .remove(&head)
                .expect("used a chain not outstanding");
            let wlen: u32 = p.writable.iter().map(|b| b.len).sum();
            assert_eq!(u.len, wlen);
            let mut got = Vec::new();
            for b in &p.writable {
                got.extend(self.mem.read_vec(b.addr, b.len as usize));
            }
            assert_eq!(got, reply(&p.readable, head, wlen as usize));
            self.reaped += 1;
        }
    }

    /// `virtqueue_enable_cb`: ask for an interrupt at the next used entry; if some are
    /// already there, reap instead of waiting.
    fn driver_enable_irq(&mut self) {
        if self.event_idx {
            self.drv.set_used_event(self.drv.last_used());
        } else {
            self.drv.set_avail_flags(0);
        }
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        if self.drv.used_idx() == self.drv.last_used() {
            self.waiting_irq = true;
        } else {
            self.driver_reap();
        }
    }

    fn driver_disable_irq(&mut self) {
        self.waiting_irq = false;
        if self.event_idx {
            // Linux writes 0 here too ("this is a hack").
            self.drv.set_used_event(0);
        } else {
            self.drv.set_avail_flags(VRING_AVAIL_F_NO_INTERRUPT);
        }
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..=29 => self.driver_add(),
            30..=44 => self.driver_kick(),
            45..=64 => {
                if !self.sleeping || self.rng.chance(1, 10) {
                    self.device_run();
                }
            }
            65..=79 => self.device_complete(),
            80..=91 => self.driver_reap(),
            92..=95 => self.driver_enable_irq(),
            _ => self.driver_disable_irq(),
        }
        self.check_indices();
    }

    fn check_indices(&self) {
        assert_eq!(
            u64::from(self.q.last_avail_idx().wrapping_sub(self.base)),
            self.popped % 0x1_0000
        );
        assert_eq!(self.drv.used_idx(), self.q.last_used_idx());
        assert_eq!(
            self.pending.len() as u64,
            self.unpublished.len() as u64 + self.queued.len() as u64 + self.popped - self.reaped
        );
        assert!(self.completed >= self.reaped && self.popped >= self.completed);
    }

    fn drain(&mut self) {
        self.driver_kick();
        for _ in 0..1000 {
            self.sleeping = false;
            self.device_run();
            while !self.held.is_empty() {
                self.device_complete();
            }
            while self.drv.used_idx() != self.drv.last_used() {
                self.driver_reap();
            }
            if self.pending.is_empty() {
                break;
            }
        }
        assert!(self.pending.is_empty());
        assert_eq!(self.drv.num_free(), usize::from(self.q.size()));
    }
}

#[test]
fn random_driver_device_interleavings() {
    let mut total = (0u64, 0u64, 0u64);
    for (seed, size, event_idx, base) in [
        (1u64, 1u16, false, 0u16),
        (2, 2, true, 65000),
        (3, 4, false, 65530),
        (4, 8, true, 0),
        (5, 16, false, 12345),
        (6, 32, true, 65535),
        (7, 64, false, 65400),
        (8, 64, true, 64000),
    ] {
        let mem = memory();
        let mut sim = Sim::new(&mem, seed, size, event_idx, base);
        for _ in 0..6000 {
            sim.step();
        }
        sim.drain();
        std::eprintln!(
            "seed {seed} size {size}: {} chains, {} kicks, {} irqs",
            sim.reaped,
            sim.kicks,
            sim.irqs
        );
        assert!(sim.reaped > 150, "seed {seed}: only {} chains", sim.reaped);
        assert_eq!(sim.reaped, sim.completed);
        total.0 += sim.reaped;
        total.1 += sim.kicks;
        total.2 += sim.irqs;
    }
    assert!(total.1 > 100 && total.2 > 100, "{total:?}");
}

/// Allowed outcomes of garbage: errors only, of the chain/ring kinds.
fn garbage_error(e: Error) -> bool {
    matches!(
        e,
        Error::OutOfBounds
            | Error::Overflow
            | Error::AvailIndexTooFar
            | Error::HeadOutOfRange
            | Error::NextOutOfRange
            | Error::LoopDetected
            | Error::ChainTooLong
            | Error::IndirectInIndirect
            | Error::BadIndirectLength
            | Error::IndirectTooBig
            | Error::IndirectWithNext
            | Error::ReadableAfterWritable
            | Error::TooManySegments
    )
}

#[test]
fn garbage_rings_never_panic() {
    let mut counts: HashMap<Error, u32> = HashMap::new();
    let mut ok_chains = 0;
    for seed in 0..6u64 {
        let mem = memory();
        let size = 1u16 << (seed % 5 + 1);
        let drv = MockDriver::with_base(&mem, size, 0);
        let (desc, avail, _) = drv.ring_gpas();
        let mut rng = Rng::new(seed + 100);
        let mut q = SplitQueue::new();
        q.set_size(u32::from(size)).unwrap();
        q.set_event_idx(seed % 2 == 0);
        q.set_addrs(drv.ring_addrs(), &mem).unwrap();
        q.activate(&mem).unwrap();
        for _ in 0..1500 {
            // Scribble over descriptors (mostly plausible ones), avail ring and some
            // indirect-table memory.
            for _ in 0..rng.below(6) {
                let i = rng.below(u64::from(size));
                let addr = match rng.below(4) {
                    0 => rng.next(),
                    1 => DATA + rng.below(0x8000) * 16,
                    _ => DATA + rng.below(0x20_0000),
                };
                let len = match rng.below(4) {
                    0 => rng.next() as u32,
                    1 => 16 * (1 + rng.below(40) as u32),
                    _ => rng.below(0x2000) as u32,
                };
                let flags = rng.below(8) as u16 | if rng.chance(1, 20) { 0xfff8 } else { 0 };
                let next = if rng.chance(1, 4) {
                    rng.next() as u16
                } else {
                    rng.below(u64::from(size) + 1) as u16
                };
                let d = crate::vring::Descriptor {
                    addr,
                    len,
                    flags,
                    next,
                };
                mem.write(desc + i * 16, &d.to_bytes()).unwrap();
                if rng.chance(1, 2) {
                    let t = DATA + rng.below(0x8000) * 16;
                    mem.write(t, &d.to_bytes()).unwrap();
                }
            }
            for _ in 0..rng.below(3) {
                let slot = rng.below(u64::from(size));
                let head = if rng.chance(1, 8) {
                    rng.next() as u16
                } else {
                    rng.below(u64::from(size)) as u16
                };
                mem.write_u16(avail + 4 + 2 * slot, head).unwrap();
            }
            let idx = if rng.chance(1, 10) {
                rng.next() as u16
            } else {
                q.last_avail_idx()
                    .wrapping_add(rng.below(u64::from(size) + 1) as u16)
            };
            mem.write_u16(avail + 2, idx).unwrap();
            let mut rd = [Segment::default(); 8];
            let mut wr = [Segment::default(); 8];
            loop {
                let c: Option<DescChain> = match q.pop_chain(&mem) {
                    Ok(c) => c,
                    Err(e) => {
                        assert!(garbage_error(e), "{e:?}");
                        *counts.entry(e).or_default() += 1;
                        // Recover like a reset device would.
                        q.deactivate();
                        q.set_base(u32::from(idx)).unwrap();
                        q.activate(&mem).unwrap();
                        break;
                    }
                };
                let Some(mut c) = c else { break };
                match c.collect_segments(&mem, &mut rd, &mut wr) {
                    Ok(info) => {
                        ok_chains += 1;
                        q.add_used(&mem, c.head(), info.writable_len).unwrap();
                    }
                    Err(e) => {
                        assert!(garbage_error(e), "{e:?}");
                        *counts.entry(e).or_default() += 1;
                        q.add_used(&mem, c.head(), 0).unwrap();
                    }
                }
                let _ = q.needs_notification(&mem);
            }
        }
    }
    // The garbage reached the interesting checks.
    for e in [
        Error::OutOfBounds,
        Error::AvailIndexTooFar,
        Error::HeadOutOfRange,
        Error::NextOutOfRange,
        Error::LoopDetected,
        Error::IndirectInIndirect,
        Error::BadIndirectLength,
        Error::IndirectWithNext,
        Error::ReadableAfterWritable,
    ] {
        assert!(
            counts.get(&e).copied().unwrap_or(0) > 0,
            "{e:?} never hit: {counts:?}"
        );
    }
    assert!(ok_chains > 100, "{ok_chains}");
}
