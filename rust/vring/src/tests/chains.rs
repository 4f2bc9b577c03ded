//! Well-formed chains: shapes, iteration, segment collection.

use std::vec;
use std::vec::Vec;

use super::queue_for;
use crate::mock::{Buf, MockDriver, MockMemory};
use crate::vring::layout::{
    Descriptor, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE,
};
use crate::vring::{ChainInfo, DescChain, Error, Segment, SplitQueue};

fn setup(size: u16) -> (MockMemory, u16) {
    (MockMemory::flat(0x40_0000), size)
}

fn pop(q: &mut SplitQueue, mem: &MockMemory) -> DescChain {
    q.pop_chain(mem).unwrap().unwrap()
}

fn walk(c: &mut DescChain, mem: &MockMemory) -> Vec<Result<Descriptor, Error>> {
    c.iter(mem).collect()
}

#[test]
fn chain_as_long_as_the_ring() {
    for size in [1u16, 2, 16, 256] {
        let (mem, size) = setup(size);
        let mut drv = MockDriver::with_base(&mem, size, 0);
        let mut q = queue_for(&mem, &drv, false);
        let bufs: Vec<Buf> = (0..size)
            .map(|i| {
                let a = 0x10_0000 + u64::from(i) * 0x100;
                if i < size / 2 {
                    Buf::r(a, u32::from(i) + 1)
                } else {
                    Buf::w(a, u32::from(i) + 1)
                }
            })
            .collect();
        let head = drv.add_chain(&bufs).unwrap();
        drv.kick();
        let mut c = pop(&mut q, &mem);
        assert_eq!(c.head(), head);
        let got: Vec<Descriptor> = walk(&mut c, &mem).into_iter().map(|d| d.unwrap()).collect();
        assert_eq!(got.len(), usize::from(size));
        for (d, b) in got.iter().zip(&bufs) {
            assert_eq!((d.addr, d.len, d.is_write_only()), (b.addr, b.len, b.write));
        }
        assert!(c.is_done());
        assert_eq!(c.next_desc(&mem), None);
        let n = u32::from(size);
        assert_eq!(c.total_len(), n * (n + 1) / 2);
    }
}

#[test]
fn collect_segments_and_for_each() {
    let (mem, size) = setup(16);
    let mut drv = MockDriver::with_base(&mem, size, 0);
    let mut q = queue_for(&mem, &drv, false);
    let bufs = [
        Buf::r(0x10_0000, 10),
        Buf::r(0x10_1000, 0),
        Buf::r(0x10_2000, 20),
        Buf::w(0x10_3000, 0),
        Buf::w(0x10_4000, 30),
        Buf::w(0x10_5000, 40),
    ];
    drv.add_chain(&bufs).unwrap();
    drv.kick();
    let c = pop(&mut q, &mem);
    // collect: zero-length buffers are skipped, like vhost makes no iovec for them.
    let mut rd = [Segment::default(); 4];
    let mut wr = [Segment::default(); 4];
    let info = c.clone().collect_segments(&mem, &mut rd, &mut wr).unwrap();
    assert_eq!(
        info,
        ChainInfo {
            readable: 2,
            writable: 2,
            readable_len: 30,
            writable_len: 70
        }
    );
    assert_eq!(
        rd[..2],
        [
            Segment {
                addr: 0x10_0000,
                len: 10
            },
            Segment {
                addr: 0x10_2000,
                len: 20
            }
        ]
    );
    assert_eq!(
        wr[1],
        Segment {
            addr: 0x10_5000,
            len: 40
        }
    );
    // for_each sees every descriptor, zero-length ones too.
    let mut seen = Vec::new();
    c.clone()
        .for_each_segment(&mem, |s, w| {
            seen.push((s.addr, s.len, w));
            Ok(())
        })
        .unwrap();
    let expect: Vec<_> = bufs.iter().map(|b| (b.addr, b.len, b.write)).collect();
    assert_eq!(seen, expect);
    // A callback error stops the walk and is returned.
    let mut calls = 0;
    let r = c.clone().for_each_segment(&mem, |_, _| {
        calls += 1;
        if calls == 3 {
            Err(Error::TooManySegments)
        } else {
            Ok(())
        }
    });
    assert_eq!((r, calls), (Err(Error::TooManySegments), 3));
    // Arrays too small: ENOBUFS like translate_desc.
    let mut one = [Segment::default(); 1];
    let mut many = [Segment::default(); 8];
    assert_eq!(
        c.clone().collect_segments(&mem, &mut one, &mut many),
        Err(Error::TooManySegments)
    );
    assert_eq!(
        c.clone().collect_segments(&mem, &mut many, &mut one),
        Err(Error::TooManySegments)
    );
    assert_eq!(
        c.clone().collect_segments(&mem, &mut many, &mut []),
        Err(Error::TooManySegments)
    );
    assert_eq!(Error::TooManySegments.errno(), 105);
    // A readable-only chain needs no writable array.
    let mut rd2 = [Segment::default(); 1];
    drv.add_chain(&[Buf::r(0x10_0000, 1)]).unwrap();
    drv.kick();
    let mut c = pop(&mut q, &mem);
    let info = c.collect_segments(&mem, &mut rd2, &mut []).unwrap();
    assert_eq!((info.readable, info.writable), (1, 0));
}

#[test]
fn zero_length_writable_then_readable_is_accepted() {
    // vhost counts iovecs: a zero-length writable descriptor adds none, so a readable one
    // may follow it.
    let (mem, size) = setup(8);
    let mut drv = MockDriver::with_base(&mem, size, 0);
    let mut q = queue_for(&mem, &drv, false);
    drv.add_chain(&[
        Buf::w(0x10_0000, 0),
        Buf::r(0x10_1000, 8),
        Buf::w(0x10_2000, 8),
    ])
    .unwrap();
    drv.kick();
    let mut c = pop(&mut q, &mem);
    assert!(walk(&mut c, &mem).iter().all(|d| d.is_ok()));
}

#[test]
fn indirect_tables() {
    let (mem, size) = setup(8);
    let mut drv = MockDriver::with_base(&mem, size, 0);
    let mut q = queue_for(&mem, &drv, false);
    // A table much larger than the ring.
    let bufs: Vec<Buf> = (0..300u32)
        .map(|i| {
            let a = 0x10_0000 + u64::from(i) * 64;
            if i < 100 {
                Buf::r(a, 64)
            } else {
                Buf::w(a, 64)
            }
        })
        .collect();
    let head = drv.add_indirect(0x30_0000, &bufs).unwrap();
    drv.kick();
    let mut c = pop(&mut q, &mem);
    assert_eq!(c.head(), head);
    assert!(!c.in_indirect());
    let got = walk(&mut c, &mem);
    assert!(c.in_indirect());
    assert_eq!(got.len(), 300);
    assert!(got.iter().all(|d| d.is_ok()));
    assert_eq!(c.total_len(), 300 * 64);

    // Entries linked in a scrambled order are followed by `next`, not by position.
    let order = [3u16, 0, 4, 1, 2];
    for (k, &i) in order.iter().enumerate() {
        let last = k + 1 == order.len();
        drv.write_table_desc(
            0x31_0000,
            i,
            Descriptor {
                addr: 0x20_0000 + u64::from(i),
                len: 1,
                flags: if last { 0 } else { VRING_DESC_F_NEXT },
                next: if last { 0 } else { order[k + 1] },
            },
        );
    }
    let h = drv.alloc_desc().unwrap();
    drv.write_desc(
        h,
        Descriptor {
            addr: 0x31_0000,
            len: 16 * 5,
            // WRITE on an indirect descriptor is ignored (VIRTIO 2.7.5.3.2).
            flags: VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE,
            next: 0,
        },
    );
    drv.publish(h);
    drv.kick();
    // The walk starts at entry 0 of the table.
    let mut c = pop(&mut q, &mem);
    let addrs: Vec<u64> = walk(&mut c, &mem)
        .into_iter()
        .map(|d| d.unwrap().addr)
        .collect();
    assert_eq!(addrs, vec![0x20_0000, 0x20_0004, 0x20_0001, 0x20_0002]);

    // Direct descriptors, then an indirect table at the end of the chain.
    let t = 0x32_0000;
    drv.write_table_desc(
        t,
        0,
        Descriptor {
            addr: 0x20_1000,
            len: 5,
            flags: VRING_DESC_F_WRITE,
            next: 0,
        },
    );
    let d0 = drv.alloc_desc().unwrap();
    let d1 = drv.alloc_desc().unwrap();
    drv.write_desc(
        d0,
        Descriptor {
            addr: 0x20_2000,
            len: 7,
            flags: VRING_DESC_F_NEXT,
            next: d1,
        },
    );
    drv.write_desc(
        d1,
        Descriptor {
            addr: t,
            len: 16,
            flags: VRING_DESC_F_INDIRECT,
            next: 0,
        },
    );
    drv.publish(d0);
    drv.kick();
    let mut c = pop(&mut q, &mem);
    let mut rd = [Segment::default(); 2];
    let mut wr = [Segment::default(); 2];
    let info = c.collect_segments(&mem, &mut rd, &mut wr).unwrap();
    assert_eq!((info.readable_len, info.writable_len), (7, 5));
}

#[test]
fn total_length_up_to_u32_max() {
    // Lengths are checked with checked_add against u32: exactly u32::MAX is fine. Use a
    // memory that accepts any range above 1 TiB without backing it.
    struct Big<'a>(&'a MockMemory);
    impl crate::vring::GuestMemory for Big<'_> {
        fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), Error> {
            self.0.read(gpa, buf)
        }
        fn write(&self, gpa: u64, buf: &[u8]) -> Result<(), Error> {
            self.0.write(gpa, buf)
        }
        fn check_range(&self, gpa: u64, len: u64) -> Result<(), Error> {
            if gpa >= 1 << 40 {
                Ok(())
            } else {
                self.0.check_range(gpa, len)
            }
        }
        fn read_ring(&self, a: u64, buf: &mut [u8]) -> Result<(), Error> {
            self.0.read_ring(a, buf)
        }
        fn write_ring(&self, a: u64, buf: &[u8]) -> Result<(), Error> {
            self.0.write_ring(a, buf)
        }
        fn check_ring_range(&self, a: u64, len: u64) -> Result<(), Error> {
            self.0.check_ring_range(a, len)
        }
    }
    let (mem, size) = setup(8);
    let big = Big(&mem);
    let mut drv = MockDriver::with_base(&mem, size, 0);
    let mut q = queue_for(&mem, &drv, false);
    drv.add_chain(&[Buf::r(1 << 40, u32::MAX - 1), Buf::w(1 << 41, 1)])
        .unwrap();
    drv.kick();
    let mut c = q.pop_chain(&big).unwrap().unwrap();
    let mut rd = [Segment::default(); 1];
    let mut wr = [Segment::default(); 1];
    let info = c.collect_segments(&big, &mut rd, &mut wr).unwrap();
    assert_eq!((info.readable_len, info.writable_len), (u32::MAX - 1, 1));
    assert_eq!(c.total_len(), u32::MAX);
    // One more byte is too long.
    drv.add_chain(&[
        Buf::r(1 << 40, u32::MAX - 1),
        Buf::w(1 << 41, 1),
        Buf::w(1 << 42, 1),
    ])
    .unwrap();
    drv.kick();
    let mut c = q.pop_chain(&big).unwrap().unwrap();
    let r: Vec<_> = c.iter(&big).collect();
    assert_eq!(r.len(), 3);
    assert_eq!(r[2], Err(Error::ChainTooLong));
    assert_eq!(c.next_desc(&big), None);
    // Same through an indirect table.
    drv.add_indirect(0x30_0000, &[Buf::r(1 << 40, u32::MAX), Buf::w(1 << 41, 1)])
        .unwrap();
    drv.kick();
    let mut c = q.pop_chain(&big).unwrap().unwrap();
    let mut wr2 = [Segment::default(); 2];
    assert_eq!(
        c.collect_segments(&big, &mut rd, &mut wr2),
        Err(Error::ChainTooLong)
    );
}
