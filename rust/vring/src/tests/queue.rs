//! `SplitQueue` end-to-end tests: data integrity, wrap-around, used ring, state.

use std::vec;
use std::vec::Vec;

use super::{queue_for, reply, serve_all, serve_chain, Rng};
use crate::mock::{Buf, MockDriver, MockMemory};
use crate::vring::layout::{used_ring_size, RingAddrs, UsedElem};
use crate::vring::{Error, GuestMemory, SplitQueue};

/// Guest memory: rings in [0, 0x10000), then three adjacent data regions of odd sizes.
fn memory() -> MockMemory {
    MockMemory::new(&[
        (0, 0x10000),
        (0x10000, 0x12345),
        (0x22345, 0x777),
        (0x22abc, 0x10_0000),
    ])
}

const DATA_START: u64 = 0x10000;
const DATA_END: u64 = 0x12_2abc;

/// Bump allocator over the data regions.
struct Alloc(u64);

impl Alloc {
    fn get(&mut self, len: u64) -> u64 {
        if self.0 + len > DATA_END {
            self.0 = DATA_START;
        }
        let a = self.0;
        self.0 += len;
        a
    }
}

/// Splits `total` bytes into `parts` buffers (some may be empty).
fn split(total: usize, parts: usize, rng: &mut Rng) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..parts - 1)
        .map(|_| rng.below(total as u64 + 1) as usize)
        .collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut prev = 0;
    for c in cuts {
        out.push(c - prev);
        prev = c;
    }
    out.push(total - prev);
    out
}

#[test]
fn roundtrip_single_chain() {
    let mem = MockMemory::flat(0x10_0000);
    let mut drv = MockDriver::with_base(&mem, 8, 0);
    let mut q = queue_for(&mem, &drv, false);
    assert_eq!(q.pop_chain(&mem), Ok(None));
    let data: Vec<u8> = (0..64).collect();
    mem.write(0x4_0000, &data).unwrap();
    let head = drv
        .add_chain(&[Buf::r(0x4_0000, 64), Buf::w(0x5_0000, 100)])
        .unwrap();
    // Not visible before the driver publishes avail->idx.
    assert_eq!(q.pop_chain(&mem), Ok(None));
    drv.kick();
    let mut c = q.pop_chain(&mem).unwrap().unwrap();
    assert_eq!(c.head(), head);
    let (rd, written) = serve_chain(&mut c, &mem).unwrap();
    assert_eq!((rd, written), (data.clone(), 100));
    q.add_used(&mem, c.head(), written).unwrap();
    assert_eq!(q.pop_chain(&mem), Ok(None));
    let u = drv.pop_used().unwrap();
    assert_eq!(u, UsedElem::new(u32::from(head), 100));
    assert_eq!(mem.read_vec(0x5_0000, 100), reply(&data, head, 100));
    assert_eq!(drv.pop_used(), None);
    assert_eq!((q.last_avail_idx(), q.last_used_idx()), (1, 1));
    assert_eq!(drv.num_free(), 8);
}

#[test]
fn data_integrity_many_sizes_direct_and_indirect() {
    let mem = memory();
    let mut drv = MockDriver::with_base(&mem, 64, 0);
    let mut q = queue_for(&mem, &drv, false);
    let mut rng = Rng::new(1);
    let mut alloc = Alloc(DATA_START);
    let sizes = [
        0usize, 1, 2, 3, 7, 15, 16, 17, 100, 255, 256, 511, 1500, 4095, 4096, 4097, 9000, 65535,
        65536, 65537, 200_000,
    ];
    let mut n = 0;
    for &rlen in &sizes {
        for &wlen in &[0usize, 1, 1500, 4097, 65536] {
            for parts in [1usize, 2, 5, 16] {
                if rlen + wlen == 0 {
                    continue;
                }
                let indirect = n % 2 == 1;
                n += 1;
                let data = rng.bytes(rlen);
                let mut bufs = Vec::new();
                let mut off = 0;
                for l in split(rlen, parts, &mut rng) {
                    let a = alloc.get(l as u64 + 1);
                    mem.write(a, &data[off..off + l]).unwrap();
                    off += l;
                    bufs.push(Buf::r(a, l as u32));
                }
                if wlen > 0 {
                    for l in split(wlen, parts, &mut rng) {
                        bufs.push(Buf::w(alloc.get(l as u64 + 1), l as u32));
                    }
                }
                let head = if indirect {
                    let t = alloc.get(16 * bufs.len() as u64);
                    drv.add_indirect(t, &bufs).unwrap()
                } else {
                    drv.add_chain(&bufs).unwrap()
                };
                drv.kick();
                let mut c = q.pop_chain(&mem).unwrap().unwrap();
                assert_eq!(c.head(), head);
                let (rd, written) = serve_chain(&mut c, &mem).unwrap();
                assert_eq!(rd, data, "readable bytes, {rlen}/{wlen}/{parts}");
                assert_eq!(written as usize, wlen);
                assert_eq!(c.total_len() as usize, rlen + wlen);
                q.add_used(&mem, head, written).unwrap();
                let u = drv.pop_used().unwrap();
                assert_eq!(u, UsedElem::new(u32::from(head), wlen as u32));
                let expect = reply(&data, head, wlen);
                let mut got = Vec::new();
                for b in bufs.iter().filter(|b| b.write) {
                    got.extend(mem.read_vec(b.addr, b.len as usize));
                }
                assert_eq!(got, expect, "writable bytes, {rlen}/{wlen}/{parts}");
            }
        }
    }
    assert!(n > 300);
    assert_eq!(drv.num_free(), 64);
}

#[test]
fn ring_wraps_many_times() {
    for (size, event_idx) in [
        (1u16, false),
        (2, true),
        (4, false),
        (8, true),
        (256, false),
    ] {
        let mem = memory();
        let mut drv = MockDriver::with_base(&mem, size, 0);
        drv.set_event_idx(event_idx);
        let mut q = queue_for(&mem, &drv, event_idx);
        let mut rng = Rng::new(u64::from(size));
        let mut alloc = Alloc(DATA_START);
        let mut done = 0u32;
        for _ in 0..4000 {
            // Two descriptors per chain (one if the ring has one entry).
            let k = 1 + rng.below(u64::from(size / 2).max(1)) as usize;
            let mut heads = Vec::new();
            for _ in 0..k {
                let len = rng.below(300) as u32 + 1;
                let a = alloc.get(u64::from(len));
                let w = alloc.get(64);
                let two = [Buf::r(a, len), Buf::w(w, 64)];
                let bufs = if size == 1 { &two[1..] } else { &two[..] };
                heads.push(drv.add_chain(bufs).unwrap());
            }
            drv.kick();
            assert_eq!(serve_all(&mut q, &mem), heads);
            for h in heads {
                assert_eq!(drv.pop_used(), Some(UsedElem::new(u32::from(h), 64)));
            }
            assert_eq!(drv.pop_used(), None);
            done += k as u32;
        }
        assert_eq!(u32::from(q.last_avail_idx()), done & 0xffff);
        assert_eq!(u32::from(q.last_used_idx()), done & 0xffff);
        assert_eq!(u32::from(drv.used_idx()), done & 0xffff);
        assert!(done >= 4000, "{done}");
    }
}

#[test]
fn u16_index_wrap() {
    for base in [65530u16, 65535, 32768] {
        let mem = memory();
        let mut drv = MockDriver::with_base(&mem, 16, 0);
        drv.set_base(base);
        let mut q = SplitQueue::new();
        q.set_size(16).unwrap();
        q.set_base(u32::from(base)).unwrap();
        q.set_addrs(drv.ring_addrs(), &mem).unwrap();
        q.activate(&mem).unwrap();
        // activate takes the used index from the ring (vhost_vq_init_access).
        assert_eq!(q.last_used_idx(), base);
        assert_eq!(q.get_base(), u32::from(base));
        let mut alloc = Alloc(DATA_START);
        for i in 0..40u16 {
            let heads: Vec<u16> = (0..3)
                .map(|_| drv.add_chain(&[Buf::w(alloc.get(8), 8)]).unwrap())
                .collect();
            drv.kick();
            assert_eq!(serve_all(&mut q, &mem), heads);
            for h in heads {
                assert_eq!(drv.pop_used().unwrap().id, u32::from(h));
            }
            assert_eq!(q.last_avail_idx(), base.wrapping_add(3 * (i + 1)));
        }
        assert_eq!(q.get_base(), u32::from(base.wrapping_add(120)));
    }
}

#[test]
fn add_used_n_across_ring_end_and_batches() {
    let mem = memory();
    let mut drv = MockDriver::with_base(&mem, 8, 0);
    let mut q = queue_for(&mem, &drv, false);
    let mut alloc = Alloc(DATA_START);
    for _ in 0..6 {
        drv.add_chain(&[Buf::w(alloc.get(4), 4)]).unwrap();
    }
    drv.kick();
    assert_eq!(serve_all(&mut q, &mem).len(), 6);
    while drv.pop_used().is_some() {}
    // Now at slot 6: pop 8 and complete them out of order in one call.
    let heads: Vec<u16> = (0..8)
        .map(|_| drv.add_chain(&[Buf::w(alloc.get(4), 4)]).unwrap())
        .collect();
    drv.kick();
    let mut chains = Vec::new();
    while let Some(c) = q.pop_chain(&mem).unwrap() {
        chains.push(c);
    }
    assert_eq!(chains.iter().map(|c| c.head()).collect::<Vec<_>>(), heads);
    let elems: Vec<UsedElem> = chains
        .iter()
        .rev()
        .enumerate()
        .map(|(i, c)| UsedElem::new(u32::from(c.head()), i as u32))
        .collect();
    q.add_used_n(&mem, &elems).unwrap();
    assert_eq!(q.last_used_idx(), 14);
    for e in &elems {
        assert_eq!(drv.pop_used().as_ref(), Some(e));
    }
    assert_eq!(drv.pop_used(), None);
    // Zero elements: nothing but a rewrite of the same index.
    q.add_used_n(&mem, &[]).unwrap();
    assert_eq!(drv.used_idx(), 14);

    // More than one internal batch (32), crossing the end of a 64-entry ring.
    let mut drv = MockDriver::with_base(&mem, 64, 0x8000);
    let mut q = queue_for(&mem, &drv, false);
    let mut rng = Rng::new(3);
    for round in 0..10 {
        let n = 1 + rng.below(64) as usize;
        let heads: Vec<u16> = (0..n)
            .map(|_| drv.add_chain(&[Buf::w(alloc.get(4), 4)]).unwrap())
            .collect();
        drv.kick();
        let mut popped = Vec::new();
        while let Some(c) = q.pop_chain(&mem).unwrap() {
            popped.push(c.head());
        }
        assert_eq!(popped, heads);
        let elems: Vec<UsedElem> = popped
            .iter()
            .map(|&h| UsedElem::new(u32::from(h), round))
            .collect();
        q.add_used_n(&mem, &elems).unwrap();
        for e in &elems {
            assert_eq!(drv.pop_used().as_ref(), Some(e));
        }
    }
}

#[test]
fn base_size_busy_and_reset() {
    let mem = memory();
    let drv = MockDriver::with_base(&mem, 8, 0);
    let mut q = SplitQueue::new();
    assert_eq!(q.size(), 1);
    assert_eq!(q.set_base(0x1_0000), Err(Error::BadBase));
    assert_eq!(q.set_base(u32::MAX), Err(Error::BadBase));
    q.set_base(0xffff).unwrap();
    assert_eq!((q.get_base(), q.cached_avail_idx()), (0xffff, 0xffff));
    q.set_base(5).unwrap();
    assert_eq!(q.set_size(6), Err(Error::BadRingSize));
    assert_eq!(q.size(), 1, "unchanged on error");
    q.set_size(8).unwrap();
    q.set_addrs(drv.ring_addrs(), &mem).unwrap();
    assert_eq!(q.addrs(), drv.ring_addrs());
    q.activate(&mem).unwrap();
    assert!(q.is_ready());
    assert_eq!(q.set_base(0), Err(Error::Busy));
    assert_eq!(q.set_size(16), Err(Error::Busy));
    assert_eq!(Error::Busy.errno(), 16);
    assert_eq!(q.get_base(), 5);
    q.deactivate();
    assert!(!q.is_ready());
    q.set_base(7).unwrap();
    assert_eq!(q.get_base(), 7);
    q.reset();
    assert_eq!(q, SplitQueue::new());
    assert_eq!(q.activate(&mem), Err(Error::NotReady));
}

#[test]
fn activation_checks_ring_access() {
    // Put the used ring at the end of a region so that it fits without the event field
    // but not with it; user memory past the region faults.
    let mem = MockMemory::new(&[(0, 0x1000), (0x2000, 0x1000)]);
    let size = 8u16;
    let used = 0x1000 - used_ring_size(size, false);
    let drv = MockDriver::new(&mem, size, 0, 0x800, used);
    let mut q = SplitQueue::new();
    q.set_size(8).unwrap();
    q.set_addrs(drv.ring_addrs(), &mem).unwrap();
    q.activate(&mem).unwrap();
    q.deactivate();
    q.set_event_idx(true);
    assert_eq!(q.activate(&mem), Err(Error::Fault));
    assert!(!q.is_ready());
    q.set_event_idx(false);
    q.activate(&mem).unwrap();
    // While active, new addresses are checked immediately (vq_access_ok).
    let good = drv.ring_addrs();
    let bad = RingAddrs {
        desc: mem.uaddr(0xf90),
        ..good
    };
    assert_eq!(q.set_addrs(bad, &mem), Err(Error::Fault));
    assert_eq!(q.addrs(), good, "unchanged on error");
    let moved = RingAddrs {
        desc: mem.uaddr(0x2000),
        ..good
    };
    q.set_addrs(moved, &mem).unwrap();
    assert_eq!(q.addrs(), moved);
    // Misaligned is refused before anything else.
    let mis = RingAddrs {
        used: good.used + 2,
        ..good
    };
    assert_eq!(q.set_addrs(mis, &mem), Err(Error::Misaligned));
    // Guest-physical addresses are not user addresses.
    let mut q = SplitQueue::new();
    q.set_size(8).unwrap();
    q.set_addrs(
        RingAddrs {
            desc: 0,
            avail: 0x800,
            used,
        },
        &mem,
    )
    .unwrap();
    assert_eq!(q.activate(&mem), Err(Error::Fault));
}

#[test]
fn inactive_queue() {
    let mem = memory();
    let drv = MockDriver::with_base(&mem, 8, 0);
    let mut q = SplitQueue::new();
    q.set_size(8).unwrap();
    q.set_addrs(drv.ring_addrs(), &mem).unwrap();
    assert_eq!(q.pop_chain(&mem), Err(Error::NotReady));
    assert_eq!(q.add_used(&mem, 0, 0), Err(Error::NotReady));
    assert_eq!(q.enable_notification(&mem), Err(Error::NotReady));
    assert_eq!(q.disable_notification(&mem), Err(Error::NotReady));
    assert!(!q.needs_notification(&mem));
    assert!(q.avail_empty(&mem));
    assert_eq!(Error::NotReady.errno(), 22);
}

#[test]
fn undo_pop_and_avail_empty() {
    let mem = memory();
    let mut drv = MockDriver::with_base(&mem, 8, 0);
    let mut q = queue_for(&mem, &drv, false);
    assert!(q.avail_empty(&mem));
    let a = drv.add_chain(&[Buf::w(0x10000, 4)]).unwrap();
    let b = drv.add_chain(&[Buf::w(0x10010, 4)]).unwrap();
    assert!(q.avail_empty(&mem), "not published yet");
    drv.kick();
    assert!(!q.avail_empty(&mem));
    assert_eq!(q.pop_chain(&mem).unwrap().unwrap().head(), a);
    assert!(!q.avail_empty(&mem));
    assert_eq!(q.pop_chain(&mem).unwrap().unwrap().head(), b);
    assert!(q.avail_empty(&mem));
    q.undo_pop(2);
    assert_eq!(q.last_avail_idx(), 0);
    assert!(!q.avail_empty(&mem));
    assert_eq!(serve_all(&mut q, &mem), vec![a, b]);
    // undo_pop wraps like vhost_discard_vq_desc.
    q.undo_pop(3);
    assert_eq!(q.last_avail_idx(), 0xffff);
}

#[test]
fn memory_fault_leaves_state_unchanged() {
    let mem = memory();
    let mut drv = MockDriver::with_base(&mem, 8, 0);
    let mut q = queue_for(&mem, &drv, false);
    let (_, avail, used) = drv.ring_gpas();
    let h = drv.add_chain(&[Buf::w(0x10000, 4)]).unwrap();
    drv.kick();
    mem.set_fault(Some((mem.uaddr(avail + 2), 2)));
    assert_eq!(q.pop_chain(&mem), Err(Error::Fault));
    mem.set_fault(Some((mem.uaddr(avail + 4), 2)));
    assert_eq!(q.pop_chain(&mem), Err(Error::Fault));
    assert!(!q.is_broken());
    assert_eq!(q.last_avail_idx(), 0);
    mem.set_fault(None);
    let c = q.pop_chain(&mem).unwrap().unwrap();
    assert_eq!(c.head(), h);
    mem.set_fault(Some((mem.uaddr(used + 4), 8)));
    assert_eq!(q.add_used(&mem, h, 4), Err(Error::Fault));
    assert_eq!(q.last_used_idx(), 0);
    mem.set_fault(None);
    q.add_used(&mem, h, 4).unwrap();
    assert_eq!(drv.pop_used(), Some(UsedElem::new(u32::from(h), 4)));
    // Faulting used flags on activation.
    q.deactivate();
    mem.set_fault(Some((mem.uaddr(used), 2)));
    assert_eq!(q.activate(&mem), Err(Error::Fault));
    mem.set_fault(None);
    assert_eq!(Error::Fault.errno(), 14);
}
