//! Malformed input from the driver: each case gives its specific error, never a panic.

use std::vec;
use std::vec::Vec;

use super::queue_for;
use crate::mock::{Buf, MockDriver, MockMemory};
use crate::vring::layout::{
    Descriptor, UsedElem, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE,
};
use crate::vring::{DescChain, Error, SplitQueue};

const SIZE: u16 = 8;
const DATA: u64 = 0x10_0000;
const TABLE: u64 = 0x20_0000;

struct Env {
    mem: MockMemory,
}

impl Env {
    fn new() -> Self {
        // Guest memory [0, 4 MiB) plus a separate region at 1 GiB; a hole in between.
        Env {
            mem: MockMemory::new(&[(0, 0x40_0000), (0x4000_0000, 0x1000)]),
        }
    }
}

fn d(addr: u64, len: u32, flags: u16, next: u16) -> Descriptor {
    Descriptor {
        addr,
        len,
        flags,
        next,
    }
}

/// Publishes a hand-written main-table chain (`descs[i]` at index `i`, head 0) and
/// returns the outcome of walking it.
fn walk_direct(descs: &[Descriptor]) -> Result<usize, Error> {
    let env = Env::new();
    let mut drv = MockDriver::with_base(&env.mem, SIZE, 0);
    let mut q = queue_for(&env.mem, &drv, false);
    for (i, x) in descs.iter().enumerate() {
        drv.write_desc(i as u16, *x);
    }
    drv.publish(0);
    drv.kick();
    let mut c = q.pop_chain(&env.mem).unwrap().unwrap();
    finish(&mut c, &env.mem)
}

/// Publishes a chain of one indirect descriptor (`ind`) whose table is `table`.
fn walk_indirect(ind: Descriptor, table: &[Descriptor]) -> Result<usize, Error> {
    let env = Env::new();
    let mut drv = MockDriver::with_base(&env.mem, SIZE, 0);
    let mut q = queue_for(&env.mem, &drv, false);
    for (i, x) in table.iter().enumerate() {
        drv.write_table_desc(TABLE, i as u16, *x);
    }
    drv.write_desc(0, ind);
    drv.publish(0);
    drv.kick();
    let mut c = q.pop_chain(&env.mem).unwrap().unwrap();
    finish(&mut c, &env.mem)
}

/// Walks to the end; returns the number of good descriptors or the error, checking that
/// the walk stops after an error. The deferred walk of the same chain must agree, except
/// that it yields buffers outside guest memory (checked by `buffers_outside_memory`).
fn finish(c: &mut DescChain, mem: &MockMemory) -> Result<usize, Error> {
    let deferred = walk(&mut { *c }, mem, DescChain::next_desc_deferred);
    let checked = walk(c, mem, DescChain::next_desc);
    if deferred != checked {
        assert!(
            matches!(checked, Err(Error::OutOfBounds | Error::Overflow)),
            "checked {checked:?}, deferred {deferred:?}"
        );
    }
    checked
}

type Step = fn(&mut DescChain, &MockMemory) -> Option<Result<Descriptor, Error>>;

/// Walks `c` to the end with `step`.
fn walk(c: &mut DescChain, mem: &MockMemory, step: Step) -> Result<usize, Error> {
    let mut n = 0;
    while let Some(r) = step(c, mem) {
        match r {
            Ok(_) => n += 1,
            Err(e) => {
                assert!(c.is_done());
                assert_eq!(step(c, mem), None);
                return Err(e);
            }
        }
    }
    Ok(n)
}

/// Publishes the one-descriptor chain `x` and walks it with the deferred check: the
/// descriptor it yields, or the error.
fn walk_deferred(x: Descriptor) -> Result<Descriptor, Error> {
    let env = Env::new();
    let mut drv = MockDriver::with_base(&env.mem, SIZE, 0);
    let mut q = queue_for(&env.mem, &drv, false);
    drv.write_desc(0, x);
    drv.publish(0);
    drv.kick();
    let mut c = q.pop_chain(&env.mem).unwrap().unwrap();
    let r = c.next_desc_deferred(&env.mem).unwrap();
    assert!(c.is_done());
    r
}

const N: u16 = VRING_DESC_F_NEXT;
const W: u16 = VRING_DESC_F_WRITE;
const I: u16 = VRING_DESC_F_INDIRECT;

#[test]
fn direct_loops() {
    assert_eq!(walk_direct(&[d(DATA, 1, N, 0)]), Err(Error::LoopDetected));
    assert_eq!(
        walk_direct(&[d(DATA, 1, N, 1), d(DATA, 1, N, 0)]),
        Err(Error::LoopDetected)
    );
    let mut ring: Vec<Descriptor> = (0..SIZE).map(|i| d(DATA, 1, N, i + 1)).collect();
    ring[usize::from(SIZE) - 1].next = 3;
    assert_eq!(walk_direct(&ring), Err(Error::LoopDetected));
    // Exactly SIZE descriptors is the longest legal chain.
    ring[usize::from(SIZE) - 1].flags = 0;
    assert_eq!(walk_direct(&ring), Ok(usize::from(SIZE)));
    assert_eq!(Error::LoopDetected.errno(), 22);
}

#[test]
fn indirect_loops() {
    let ind = d(TABLE, 3 * 16, I, 0);
    assert_eq!(
        walk_indirect(ind, &[d(DATA, 1, N, 1), d(DATA, 1, N, 2), d(DATA, 1, N, 0)]),
        Err(Error::LoopDetected)
    );
    assert_eq!(
        walk_indirect(ind, &[d(DATA, 1, N, 0), d(DATA, 1, 0, 0), d(DATA, 1, 0, 0)]),
        Err(Error::LoopDetected)
    );
    assert_eq!(
        walk_indirect(ind, &[d(DATA, 1, N, 1), d(DATA, 1, N, 2), d(DATA, 1, 0, 0)]),
        Ok(3)
    );
}

#[test]
fn next_out_of_range() {
    assert_eq!(
        walk_direct(&[d(DATA, 1, N, SIZE)]),
        Err(Error::NextOutOfRange)
    );
    assert_eq!(
        walk_direct(&[d(DATA, 1, N, u16::MAX)]),
        Err(Error::NextOutOfRange)
    );
    // In an indirect table the bound is the table's entry count, not the ring size.
    let ind = d(TABLE, 2 * 16, I, 0);
    assert_eq!(
        walk_indirect(ind, &[d(DATA, 1, N, 2), d(DATA, 1, 0, 0)]),
        Err(Error::NextOutOfRange)
    );
    assert_eq!(
        walk_indirect(ind, &[d(DATA, 1, N, 1), d(DATA, 1, 0, 0)]),
        Ok(2)
    );
    // Without NEXT, `next` is ignored.
    assert_eq!(walk_direct(&[d(DATA, 1, 0, u16::MAX)]), Ok(1));
}

#[test]
fn indirect_rules() {
    let ok = [d(DATA, 1, 0, 0)];
    assert_eq!(
        walk_indirect(d(TABLE, 16, I, 0), &[d(TABLE, 16, I, 0)]),
        Err(Error::IndirectInIndirect)
    );
    for len in [0u32, 1, 8, 15, 17, 24, 0xffff_fff0 + 8] {
        assert_eq!(
            walk_indirect(d(TABLE, len, I, 0), &ok),
            Err(Error::BadIndirectLength),
            "len {len}"
        );
    }
    assert_eq!(
        walk_indirect(d(TABLE, 16 * 65537, I, 0), &ok),
        Err(Error::IndirectTooBig)
    );
    assert_eq!(Error::IndirectTooBig.errno(), 7);
    assert_eq!(
        walk_direct(&[d(TABLE, 16, I | N, 1), d(DATA, 1, 0, 0)]),
        Err(Error::IndirectWithNext)
    );
    // Table outside guest memory, across the end of memory, or wrapping.
    assert_eq!(
        walk_indirect(d(0x8000_0000, 16, I, 0), &ok),
        Err(Error::OutOfBounds)
    );
    assert_eq!(
        walk_indirect(d(0x40_0000 - 16, 32, I, 0), &ok),
        Err(Error::OutOfBounds)
    );
    assert_eq!(
        walk_indirect(d(u64::MAX - 15, 32, I, 0), &ok),
        Err(Error::Overflow)
    );
    // A table of exactly 65536 entries (1 MiB) passes the size check.
    assert_eq!(walk_indirect(d(TABLE, 16 * 65536, I, 0), &ok), Ok(1));
}

#[test]
fn buffers_outside_memory() {
    for (addr, len, e) in [
        (0x40_0000u64, 1u32, Error::OutOfBounds), // just past the end
        (0x40_0000 - 1, 2, Error::OutOfBounds),   // straddles the end
        (0x3fff_ffff, 2, Error::OutOfBounds),     // straddles into the far region
        (0x4000_0fff, 2, Error::OutOfBounds),     // past the far region
        (u64::MAX, 2, Error::Overflow),           // wraps
        (u64::MAX - 9, u32::MAX, Error::Overflow), // wraps
        (0x2000_0000, 0x10, Error::OutOfBounds),  // in the hole
    ] {
        assert_eq!(
            walk_direct(&[d(addr, len, 0, 0)]),
            Err(e),
            "{addr:#x}+{len}"
        );
        assert_eq!(
            walk_direct(&[d(addr, len, W, 0)]),
            Err(e),
            "{addr:#x}+{len} W"
        );
        assert_eq!(
            walk_indirect(d(TABLE, 16, I, 0), &[d(addr, len, W, 0)]),
            Err(e),
            "{addr:#x}+{len} indirect"
        );
        // After good descriptors too.
        assert_eq!(walk_direct(&[d(DATA, 4, N, 1), d(addr, len, W, 0)]), Err(e));
        // The deferred walk yields the buffer; its translation is what fails.
        assert_eq!(walk_deferred(d(addr, len, W, 0)), Ok(d(addr, len, W, 0)));
        let env = Env::new();
        let mut pieces = env.mem.table().pieces(addr, u64::from(len));
        assert!(pieces.any(|p| p.is_err()), "{addr:#x}+{len} translates");
    }
    // An indirect table outside guest memory is refused by the deferred walk too.
    assert_eq!(
        walk_deferred(d(0x40_0000, 16, I, 0)),
        Err(Error::OutOfBounds)
    );
    // The last byte of each region, and zero-length buffers anywhere, are fine.
    assert_eq!(walk_direct(&[d(0x40_0000 - 1, 1, 0, 0)]), Ok(1));
    assert_eq!(walk_direct(&[d(0x4000_0fff, 1, 0, 0)]), Ok(1));
    assert_eq!(walk_direct(&[d(0x2000_0000, 0, 0, 0)]), Ok(1));
    assert_eq!(walk_direct(&[d(u64::MAX, 0, W, 0)]), Ok(1));
}

#[test]
fn readable_after_writable() {
    assert_eq!(
        walk_direct(&[d(DATA, 1, W | N, 1), d(DATA, 1, 0, 0)]),
        Err(Error::ReadableAfterWritable)
    );
    assert_eq!(
        walk_direct(&[d(DATA, 1, N, 1), d(DATA, 1, W | N, 2), d(DATA, 0, 0, 0)]),
        Err(Error::ReadableAfterWritable)
    );
    assert_eq!(
        walk_indirect(
            d(TABLE, 32, I, 0),
            &[d(DATA, 1, W | N, 1), d(DATA, 1, 0, 0)]
        ),
        Err(Error::ReadableAfterWritable)
    );
    // A writable direct descriptor before an indirect table with readable entries.
    let env = Env::new();
    let mut drv = MockDriver::with_base(&env.mem, SIZE, 0);
    let mut q = queue_for(&env.mem, &drv, false);
    drv.write_table_desc(TABLE, 0, d(DATA, 1, 0, 0));
    drv.write_desc(0, d(DATA, 1, W | N, 1));
    drv.write_desc(1, d(TABLE, 16, I, 0));
    drv.publish(0);
    drv.kick();
    let mut c = q.pop_chain(&env.mem).unwrap().unwrap();
    assert_eq!(finish(&mut c, &env.mem), Err(Error::ReadableAfterWritable));
    assert_eq!(Error::ReadableAfterWritable.errno(), 22);
}

#[test]
fn avail_index_too_far() {
    let env = Env::new();
    let mem = &env.mem;
    let mut drv = MockDriver::with_base(mem, SIZE, 0);
    let mut q = queue_for(mem, &drv, false);
    // Exactly `size` ahead is allowed (a full ring).
    for _ in 0..SIZE {
        drv.add_chain(&[Buf::w(DATA, 1)]).unwrap();
    }
    drv.kick();
    assert!(q.pop_chain(mem).unwrap().is_some());
    q.undo_pop(1);
    for bad in [SIZE + 1, 100, 0x8000, 0xffff] {
        let mut drv2 = MockDriver::with_base(mem, SIZE, 0);
        let mut q2 = queue_for(mem, &drv2, false);
        drv2.set_avail_idx(bad);
        assert_eq!(q2.pop_chain(mem), Err(Error::AvailIndexTooFar), "{bad}");
        assert!(q2.is_broken());
        assert_eq!(q2.pop_chain(mem), Err(Error::Broken));
        assert_eq!(Error::Broken.errno(), 5);
        // enable_notification re-reads the index and reports the same error.
        q2.disable_notification(mem).unwrap();
        assert_eq!(q2.enable_notification(mem), Err(Error::AvailIndexTooFar));
        // Reactivating after the driver fixed things clears the broken state.
        drv2.set_avail_idx(0);
        q2.deactivate();
        q2.activate(mem).unwrap();
        assert_eq!(q2.pop_chain(mem), Ok(None));
    }
    // Relative to last_avail_idx, with wrap: base 65530, driver claims 65530 + 9.
    let mut drv3 = MockDriver::with_base(mem, SIZE, 0);
    drv3.set_base(65530);
    let mut q3 = SplitQueue::new();
    q3.set_size(u32::from(SIZE)).unwrap();
    q3.set_base(65530).unwrap();
    q3.set_addrs(drv3.ring_addrs(), mem).unwrap();
    q3.activate(mem).unwrap();
    drv3.set_avail_idx(65530u16.wrapping_add(9));
    assert_eq!(q3.pop_chain(mem), Err(Error::AvailIndexTooFar));
    assert_eq!(Error::AvailIndexTooFar.errno(), 22);
}

#[test]
fn head_out_of_range() {
    for head in [SIZE, SIZE + 1, 0xffff] {
        let env = Env::new();
        let mut drv = MockDriver::with_base(&env.mem, SIZE, 0);
        let mut q = queue_for(&env.mem, &drv, false);
        drv.publish(head);
        drv.kick();
        assert_eq!(q.pop_chain(&env.mem), Err(Error::HeadOutOfRange));
        assert!(q.is_broken());
        assert_eq!(q.last_avail_idx(), 0);
        assert_eq!(q.pop_chain(&env.mem), Err(Error::Broken));
    }
    // A good head after a bad slot is never reached; a bad slot after good ones is.
    let env = Env::new();
    let mut drv = MockDriver::with_base(&env.mem, SIZE, 0);
    let mut q = queue_for(&env.mem, &drv, false);
    drv.add_chain(&[Buf::w(DATA, 1)]).unwrap();
    drv.publish(SIZE);
    drv.kick();
    assert!(q.pop_chain(&env.mem).unwrap().is_some());
    assert_eq!(q.pop_chain(&env.mem), Err(Error::HeadOutOfRange));
}

#[test]
fn add_used_bounds() {
    let env = Env::new();
    let mem = &env.mem;
    let mut drv = MockDriver::with_base(mem, SIZE, 0);
    let mut q = queue_for(mem, &drv, false);
    assert_eq!(q.add_used(mem, SIZE, 0), Err(Error::HeadOutOfRange));
    assert_eq!(q.add_used(mem, u16::MAX, 0), Err(Error::HeadOutOfRange));
    let elems = [UsedElem::new(0, 1), UsedElem::new(u32::from(SIZE) << 16, 1)];
    assert_eq!(q.add_used_n(mem, &elems), Err(Error::HeadOutOfRange));
    let too_many = [UsedElem::new(0, 0); SIZE as usize + 1];
    assert_eq!(q.add_used_n(mem, &too_many), Err(Error::TooManyUsed));
    let way_too_many = std::vec![UsedElem::new(0, 0); 70_000];
    assert_eq!(q.add_used_n(mem, &way_too_many), Err(Error::TooManyUsed));
    assert_eq!(Error::TooManyUsed.errno(), 22);
    // Nothing was written.
    assert_eq!((q.last_used_idx(), drv.used_idx()), (0, 0));
    assert_eq!(drv.pop_used(), None);
    // Exactly `size` is fine.
    q.add_used_n(mem, &[UsedElem::new(SIZE as u32 - 1, 9); SIZE as usize])
        .unwrap();
    assert_eq!(drv.used_idx(), SIZE);
}

#[test]
fn ring_setup_errors() {
    let env = Env::new();
    let mem = &env.mem;
    let drv = MockDriver::with_base(mem, SIZE, 0);
    let mut q = SplitQueue::new();
    for bad in [0u32, 3, 12, 32769, 65536, u32::MAX] {
        assert_eq!(q.set_size(bad), Err(Error::BadRingSize), "{bad}");
    }
    assert_eq!(Error::BadRingSize.errno(), 22);
    q.set_size(32768).unwrap();
    q.set_size(u32::from(SIZE)).unwrap();
    let good = drv.ring_addrs();
    for (desc, avail, used) in [
        (good.desc + 8, good.avail, good.used),
        (good.desc + 1, good.avail, good.used),
        (good.desc, good.avail + 1, good.used),
        (good.desc, good.avail, good.used + 2),
        (good.desc, good.avail, good.used + 1),
    ] {
        let a = crate::vring::RingAddrs { desc, avail, used };
        assert_eq!(q.set_addrs(a, mem), Err(Error::Misaligned));
    }
    assert_eq!(q.activate(mem), Err(Error::NotReady), "addresses never set");
    q.set_addrs(good, mem).unwrap();
    q.activate(mem).unwrap();
}

/// Indirect tables are read ahead in windows of 8 entries: a chain that jumps back and
/// forth across windows yields every descriptor in chain order, and a 20-entry table in
/// order costs 3 table reads, not 20.
#[test]
fn indirect_read_ahead() {
    // Chain order 0, 17, 3, 9, 16, 1, then 2..=8 except 3, then 10..=15, 18, 19.
    let mut order: Vec<u16> = vec![0, 17, 3, 9, 16, 1];
    order.extend((2..=8).filter(|i| *i != 3));
    order.extend(10..=15);
    order.extend([18, 19]);
    assert_eq!(order.len(), 20);
    let mut table = vec![d(0, 0, 0, 0); 20];
    for (k, &i) in order.iter().enumerate() {
        let next = order.get(k + 1).copied();
        table[usize::from(i)] = d(
            DATA + u64::from(i) * 0x100,
            u32::from(i) + 1,
            if next.is_some() { N } else { 0 },
            next.unwrap_or(0),
        );
    }
    let env = Env::new();
    let mut drv = MockDriver::with_base(&env.mem, SIZE, 0);
    let mut q = queue_for(&env.mem, &drv, false);
    for (i, x) in table.iter().enumerate() {
        drv.write_table_desc(TABLE, i as u16, *x);
    }
    drv.write_desc(0, d(TABLE, 16 * 20, I, 0));
    drv.publish(0);
    drv.kick();
    let mut c = q.pop_chain(&env.mem).unwrap().unwrap();
    let seen: Vec<u64> = c
        .iter(&env.mem)
        .map(|r| (r.unwrap().addr - DATA) / 0x100)
        .collect();
    let want: Vec<u64> = order.iter().map(|&i| u64::from(i)).collect();
    assert_eq!(seen, want);

    // In order: one read per window of 8 (not one per entry), plus the range checks of the
    // table and of the 20 buffers; the indirect descriptor itself came with `pop_chain`'s
    // read-ahead of the main table.
    let mut in_order = vec![d(0, 0, 0, 0); 20];
    for (i, x) in in_order.iter_mut().enumerate() {
        *x = d(DATA, 1, if i < 19 { N } else { 0 }, i as u16 + 1);
    }
    for (i, x) in in_order.iter().enumerate() {
        drv.write_table_desc(TABLE, i as u16, *x);
    }
    drv.write_desc(1, d(TABLE, 16 * 20, I, 0));
    drv.publish(1);
    drv.kick();
    let mut c = q.pop_chain(&env.mem).unwrap().unwrap();
    let mut again = c;
    let before = env.mem.accesses();
    assert_eq!(walk(&mut c, &env.mem, DescChain::next_desc), Ok(20));
    assert_eq!(env.mem.accesses() - before, 3 + 21);
    // The deferred walk checks the table's range only.
    let before = env.mem.accesses();
    assert_eq!(
        walk(&mut again, &env.mem, DescChain::next_desc_deferred),
        Ok(20)
    );
    assert_eq!(env.mem.accesses() - before, 3 + 1);
}
