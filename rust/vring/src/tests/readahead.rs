//! Read-ahead of avail entries and descriptors by `pop_chain`: fewer ring accesses, and
//! never a stale or failed read where reading one entry at a time would succeed.

use std::vec::Vec;

use crate::mock::{Buf, MockDriver, MockMemory};
use crate::vring::layout::{avail_ring_offset, DESC_SIZE};
use crate::vring::DescChain;

use super::queue_for;

const SIZE: u16 = 256;
const DATA: u64 = 0x10_0000;

/// 64 one-buffer chains (heads 0..64) cost one `avail->idx` read, one read of the 64 avail
/// entries and one read per block of 16 descriptors, plus each buffer's range check: not
/// one access per avail entry and per descriptor.
#[test]
fn few_accesses_per_batch() {
    let mem = MockMemory::flat(0x20_0000);
    let mut drv = MockDriver::with_base(&mem, SIZE, 0);
    let mut q = queue_for(&mem, &drv, false);
    for i in 0..64u64 {
        let head = drv.add_chain(&[Buf::r(DATA + i * 0x100, 64)]).unwrap();
        assert_eq!(u64::from(head), i);
    }
    drv.kick();
    let before = mem.accesses();
    for i in 0..64u64 {
        let mut c = q.pop_chain(&mem).unwrap().unwrap();
        assert_eq!(u64::from(c.head()), i);
        let d = c.next_desc(&mem).unwrap().unwrap();
        assert_eq!((d.addr, d.len), (DATA + i * 0x100, 64));
        assert!(c.next_desc(&mem).is_none());
    }
    assert_eq!(mem.accesses() - before, 1 + 1 + 4 + 64);
}

/// Descriptors read ahead before the driver rewrote and published them are not used: the
/// new `avail->idx` drops them.
#[test]
fn rewritten_descriptors_are_read_again() {
    let mem = MockMemory::flat(0x20_0000);
    let mut drv = MockDriver::with_base(&mem, SIZE, 0);
    let mut q = queue_for(&mem, &drv, false);
    drv.add_chain(&[Buf::r(DATA, 10)]).unwrap();
    drv.kick();
    // Reads the block of descriptors 0..16 with the first chain.
    let mut c = q.pop_chain(&mem).unwrap().unwrap();
    assert_eq!(c.next_desc(&mem).unwrap().unwrap().addr, DATA);
    // The driver now fills descriptor 1, read ahead while it was still free, and publishes it.
    let head = drv.add_chain(&[Buf::r(DATA + 0x1000, 20)]).unwrap();
    assert_eq!(head, 1);
    drv.kick();
    let mut c = q.pop_chain(&mem).unwrap().unwrap();
    assert_eq!(c.head(), 1);
    let d = c.next_desc(&mem).unwrap().unwrap();
    assert_eq!((d.addr, d.len), (DATA + 0x1000, 20));
}

/// A read-ahead that would touch faulting memory past the entries needed falls back to
/// reading the one entry: the chain is still taken and walked.
#[test]
fn faulting_read_ahead_falls_back() {
    let mem = MockMemory::flat(0x20_0000);
    let mut drv = MockDriver::with_base(&mem, SIZE, 0);
    let mut q = queue_for(&mem, &drv, false);
    for i in 0..2u64 {
        drv.add_chain(&[Buf::r(DATA + i * 0x100, 8)]).unwrap();
    }
    drv.kick();
    let (desc, avail, _) = drv.ring_gpas();
    // Descriptor 1 and avail entry 1 fault; descriptor 0 and avail entry 0 do not.
    let desc1 = mem.uaddr(desc + DESC_SIZE as u64);
    mem.set_fault(Some((desc1, DESC_SIZE as u64)));
    let mut c = q.pop_chain(&mem).unwrap().unwrap();
    assert_eq!(c.head(), 0);
    assert_eq!(c.next_desc(&mem).unwrap().unwrap().addr, DATA);
    mem.set_fault(None);
    let mut c = q.pop_chain(&mem).unwrap().unwrap();
    assert_eq!(c.next_desc(&mem).unwrap().unwrap().addr, DATA + 0x100);

    // Same for the avail ring: entry 3 faults while entry 2 is taken.
    for i in 2..4u64 {
        drv.add_chain(&[Buf::r(DATA + i * 0x100, 8)]).unwrap();
    }
    drv.kick();
    let slot3 = mem.uaddr(avail + avail_ring_offset(3));
    mem.set_fault(Some((slot3, 2)));
    let mut c = q.pop_chain(&mem).unwrap().unwrap();
    assert_eq!(c.head(), 2);
    assert_eq!(c.next_desc(&mem).unwrap().unwrap().addr, DATA + 0x200);
    // Entry 3 itself faults: an error, and the chain stays available.
    assert!(q.pop_chain(&mem).is_err());
    mem.set_fault(None);
    let mut c = q.pop_chain(&mem).unwrap().unwrap();
    assert_eq!(c.head(), 3);
    assert_eq!(c.next_desc(&mem).unwrap().unwrap().addr, DATA + 0x300);
}

/// One chain refilled in place by `pop_chain_into` walks each chain afresh: after an
/// indirect chain (whose table filled the read-ahead buffer), direct and indirect chains
/// yield their own descriptors; an empty ring leaves the chain as it was.
#[test]
fn chain_refilled_in_place() {
    let mem = MockMemory::flat(0x40_0000);
    let mut drv = MockDriver::with_base(&mem, SIZE, 0);
    let mut q = queue_for(&mem, &drv, false);
    let table = 0x30_0000;
    drv.add_indirect(table, &[Buf::r(DATA, 1), Buf::r(DATA + 0x10, 2)])
        .unwrap();
    drv.add_chain(&[Buf::r(DATA + 0x20, 3), Buf::r(DATA + 0x30, 4)])
        .unwrap();
    drv.add_indirect(table + 0x1000, &[Buf::r(DATA + 0x40, 5)])
        .unwrap();
    drv.kick();
    let mut c = DescChain::default();
    assert!(c.next_desc(&mem).is_none(), "a default chain is finished");
    let walk = |c: &mut DescChain| -> Vec<(u64, u32)> {
        c.iter(&mem)
            .map(|d| d.map(|d| (d.addr, d.len)).unwrap())
            .collect()
    };
    assert!(q.pop_chain_into(&mem, &mut c).unwrap());
    assert_eq!(walk(&mut c), [(DATA, 1), (DATA + 0x10, 2)]);
    assert!(q.pop_chain_into(&mem, &mut c).unwrap());
    assert_eq!(walk(&mut c), [(DATA + 0x20, 3), (DATA + 0x30, 4)]);
    assert!(q.pop_chain_into(&mem, &mut c).unwrap());
    let head = c.head();
    assert_eq!(walk(&mut c), [(DATA + 0x40, 5)]);
    assert!(!q.pop_chain_into(&mem, &mut c).unwrap());
    assert_eq!(c.head(), head);
}

/// A chain refilled in place never walks on entries its previous use read ahead from an
/// indirect table, even when its own head could not be read ahead (a fault in its block).
#[test]
fn refilled_chain_forgets_indirect_entries() {
    let mem = MockMemory::flat(0x40_0000);
    let mut drv = MockDriver::with_base(&mem, SIZE, 0);
    let mut q = queue_for(&mem, &drv, false);
    let table = 0x30_0000;
    let bufs = [
        Buf::r(DATA, 1),
        Buf::r(DATA + 0x10, 2),
        Buf::r(DATA + 0x20, 3),
    ];
    assert_eq!(drv.add_indirect(table, &bufs), Some(0));
    drv.kick();
    let mut c = DescChain::default();
    assert!(q.pop_chain_into(&mem, &mut c).unwrap());
    assert_eq!(c.iter(&mem).count(), 3);
    // Head 1 is direct; descriptor 2 faults, so its block is not read ahead.
    assert_eq!(drv.add_chain(&[Buf::r(DATA + 0x100, 7)]), Some(1));
    drv.kick();
    let (desc, _, _) = drv.ring_gpas();
    mem.set_fault(Some((
        mem.uaddr(desc + 2 * DESC_SIZE as u64),
        DESC_SIZE as u64,
    )));
    assert!(q.pop_chain_into(&mem, &mut c).unwrap());
    let d = c.next_desc(&mem).unwrap().unwrap();
    assert_eq!((d.addr, d.len), (DATA + 0x100, 7));
}
