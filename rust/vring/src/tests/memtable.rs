//! `MemTable` and `MappedMemory` tests.

use std::vec;
use std::vec::Vec;

use crate::mock::{MockMemory, UADDR_BASE};
use crate::vring::{Error, GuestMemory, MemTable, Region, MAX_MEM_REGIONS};

fn pieces(t: &MemTable, gpa: u64, len: u64) -> Vec<Result<(u64, u64), Error>> {
    t.pieces(gpa, len).collect()
}

#[test]
fn empty_table() {
    let t = MemTable::<4>::new();
    assert!(t.is_empty());
    assert_eq!(t.translate(0, 1), Err(Error::OutOfBounds));
    assert_eq!(t.check_range(0x1000, 1), Err(Error::OutOfBounds));
    // Zero-length ranges are fine anywhere, like a zero-length descriptor in vhost.
    assert_eq!(t.check_range(0x1000, 0), Ok(()));
    assert_eq!(t.pieces(u64::MAX, 0).count(), 0);
}

#[test]
fn single_region_boundaries() {
    let t = MemTable::<64>::from_regions(&[Region::new(0x1000, 0x2000, 0x7000_0000)]).unwrap();
    assert_eq!(t.len(), 1);
    // First byte, last byte, one before, one past.
    assert_eq!(t.translate(0x1000, 1), Ok((0x7000_0000, 1)));
    assert_eq!(t.translate(0x2fff, 1), Ok((0x7000_1fff, 1)));
    assert_eq!(t.translate(0xfff, 1), Err(Error::OutOfBounds));
    assert_eq!(t.translate(0x3000, 1), Err(Error::OutOfBounds));
    // Contiguous length is clamped at the region end.
    assert_eq!(t.translate(0x1000, 0x2000), Ok((0x7000_0000, 0x2000)));
    assert_eq!(t.translate(0x1000, 0x2001), Ok((0x7000_0000, 0x2000)));
    assert_eq!(t.translate(0x2fff, u64::MAX), Ok((0x7000_1fff, 1)));
    assert_eq!(t.translate(0x1800, 0), Ok((0x7000_0800, 0)));
    assert_eq!(t.check_range(0x1000, 0x2000), Ok(()));
    assert_eq!(t.check_range(0x1000, 0x2001), Err(Error::OutOfBounds));
    assert_eq!(t.check_range(0xfff, 2), Err(Error::OutOfBounds));
    assert_eq!(t.check_range(0x2fff, 1), Ok(()));
    assert_eq!(
        t.regions().collect::<Vec<_>>(),
        vec![Region::new(0x1000, 0x2000, 0x7000_0000)]
    );
}

#[test]
fn ranges_spanning_regions() {
    // Adjacent in guest space, scattered in user space, pushed out of order.
    let t = MemTable::<64>::from_regions(&[
        Region::new(0x3000, 0x1000, 0x9000),
        Region::new(0x1000, 0x1000, 0x5000),
        Region::new(0x2000, 0x1000, 0x1_0000),
        Region::new(0x8000, 0x100, 0x2_0000),
    ])
    .unwrap();
    let gpas: Vec<u64> = t.regions().map(|r| r.guest_phys_addr).collect();
    assert_eq!(gpas, vec![0x1000, 0x2000, 0x3000, 0x8000]);
    assert_eq!(
        pieces(&t, 0x1ff0, 0x1020),
        vec![
            Ok((0x5ff0, 0x10)),
            Ok((0x1_0000, 0x1000)),
            Ok((0x9000, 0x10))
        ]
    );
    assert_eq!(pieces(&t, 0x1000, 0x3000).len(), 3);
    assert_eq!(t.check_range(0x1000, 0x3000), Ok(()));
    // Into the hole after 0x4000: one good piece, then the error, then nothing.
    assert_eq!(
        pieces(&t, 0x3ff0, 0x20),
        vec![Ok((0x9ff0, 0x10)), Err(Error::OutOfBounds)]
    );
    assert_eq!(t.check_range(0x3ff0, 0x20), Err(Error::OutOfBounds));
    assert_eq!(pieces(&t, 0x80ff, 1), vec![Ok((0x2_00ff, 1))]);
    assert_eq!(
        pieces(&t, 0x80ff, 2),
        vec![Ok((0x2_00ff, 1)), Err(Error::OutOfBounds)]
    );
    assert_eq!(pieces(&t, 0x5000, 1), vec![Err(Error::OutOfBounds)]);
}

#[test]
fn top_of_address_space() {
    // A region ending exactly at u64::MAX (gpa + size == 2^64) is valid, as in vhost.
    let t = MemTable::<64>::from_regions(&[Region::new(u64::MAX - 0xfff, 0x1000, 0x4000)]).unwrap();
    assert_eq!(t.translate(u64::MAX, 1), Ok((0x4fff, 1)));
    assert_eq!(t.translate(u64::MAX, u64::MAX), Ok((0x4fff, 1)));
    assert_eq!(t.check_range(u64::MAX - 0xfff, 0x1000), Ok(()));
    assert_eq!(pieces(&t, u64::MAX, 1), vec![Ok((0x4fff, 1))]);
    // Past the end of the address space: overflow, never a wrap to 0.
    assert_eq!(pieces(&t, u64::MAX, 2), vec![Err(Error::Overflow)]);
    assert_eq!(
        t.check_range(u64::MAX - 0xfff, 0x1001),
        Err(Error::Overflow)
    );
    assert_eq!(t.check_range(1, u64::MAX), Err(Error::OutOfBounds));
    assert_eq!(t.check_range(2, u64::MAX), Err(Error::Overflow));
    assert_eq!(t.check_range(u64::MAX, u64::MAX), Err(Error::Overflow));

    // A user range ending at u64::MAX too.
    let t = MemTable::<64>::from_regions(&[Region::new(0, 0x1000, u64::MAX - 0xfff)]).unwrap();
    assert_eq!(t.translate(0xfff, 1), Ok((u64::MAX, 1)));

    // The largest region: all but one byte of the address space, either end.
    let t = MemTable::<64>::from_regions(&[Region::new(0, u64::MAX, 0)]).unwrap();
    assert_eq!(t.translate(0, u64::MAX), Ok((0, u64::MAX)));
    assert_eq!(t.translate(u64::MAX - 1, u64::MAX), Ok((u64::MAX - 1, 1)));
    assert_eq!(t.translate(u64::MAX, 1), Err(Error::OutOfBounds));
    assert_eq!(t.regions().next().unwrap().memory_size, u64::MAX);
    let t = MemTable::<64>::from_regions(&[Region::new(1, u64::MAX, 1)]).unwrap();
    assert_eq!(t.translate(u64::MAX, 1), Ok((u64::MAX, 1)));
    assert_eq!(t.translate(1, u64::MAX), Ok((1, u64::MAX)));
    assert_eq!(t.check_range(1, u64::MAX), Ok(()));
    // Two pieces covering [0, MAX] entirely.
    let t = MemTable::<64>::from_regions(&[
        Region::new(0, 1 << 63, 0),
        Region::new(1 << 63, 1 << 63, 0),
    ])
    .unwrap();
    assert_eq!(
        pieces(&t, 0, u64::MAX),
        vec![Ok((0, 1 << 63)), Ok((0, (1 << 63) - 1))]
    );
}

#[test]
fn invalid_regions() {
    let mut t = MemTable::<64>::new();
    assert_eq!(
        t.push(Region::new(0x1000, 0, 0x1000)),
        Err(Error::BadRegion)
    );
    assert_eq!(t.push(Region::new(0, 0, 0)), Err(Error::BadRegion));
    // gpa + size - 1 overflows.
    assert_eq!(t.push(Region::new(u64::MAX, 2, 0)), Err(Error::BadRegion));
    assert!(t.push(Region::new(1, u64::MAX, 0)).is_ok());
    t.clear();
    assert_eq!(t.push(Region::new(2, u64::MAX, 0)), Err(Error::BadRegion));
    // uaddr + size - 1 overflows (vhost_overflow).
    assert_eq!(
        t.push(Region::new(0, 0x1000, u64::MAX - 0xffe)),
        Err(Error::BadRegion)
    );
    assert_eq!(t.push(Region::new(0, u64::MAX, 2)), Err(Error::BadRegion));
    assert!(t.is_empty());
    assert_eq!(Error::BadRegion.errno(), 14);
}

#[test]
fn overlaps() {
    let base = Region::new(0x10000, 0x1000, 0x100_0000);
    let cases = [
        Region::new(0x10000, 0x1000, 0x200_0000), // identical
        Region::new(0xf000, 0x1001, 0x200_0000),  // ends on first byte
        Region::new(0x10fff, 0x10, 0x200_0000),   // starts on last byte
        Region::new(0x10800, 0x10, 0x200_0000),   // inside
        Region::new(0x8000, 0x10000, 0x200_0000), // around
        Region::new(0, u64::MAX, 0),              // everything
    ];
    for c in cases {
        let mut t = MemTable::<64>::from_regions(&[base]).unwrap();
        assert_eq!(t.push(c), Err(Error::RegionOverlap), "{c:?}");
        assert_eq!(t.len(), 1, "unchanged after failure");
        assert_eq!(
            MemTable::<64>::from_regions(&[c, base]).err(),
            Some(Error::RegionOverlap)
        );
    }
    // Adjacent on both sides is fine, and user ranges may overlap (aliases).
    let t = MemTable::<64>::from_regions(&[
        base,
        Region::new(0xf000, 0x1000, 0x100_0000),
        Region::new(0x11000, 0x1000, 0x100_0000),
    ])
    .unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t.check_range(0xf000, 0x3000), Ok(()));
}

#[test]
fn capacity() {
    let mut t = MemTable::<MAX_MEM_REGIONS>::new();
    for i in 0..MAX_MEM_REGIONS as u64 {
        // Pushed in descending order to exercise the sorted insert.
        let gpa = (MAX_MEM_REGIONS as u64 - i) * 0x10000;
        t.push(Region::new(gpa, 0x1000, gpa * 2)).unwrap();
    }
    assert_eq!(t.len(), 64);
    assert_eq!(
        t.push(Region::new(0x1000_0000, 0x1000, 0)),
        Err(Error::TooManyRegions)
    );
    // An overlapping region on a full table reports the overlap.
    assert_eq!(
        t.push(Region::new(0x10000, 0x1000, 0)),
        Err(Error::RegionOverlap)
    );
    let gpas: Vec<u64> = t.regions().map(|r| r.guest_phys_addr).collect();
    assert!(gpas.windows(2).all(|w| w[0] < w[1]));
    for i in 1..=64u64 {
        assert_eq!(t.translate(i * 0x10000 + 5, 1), Ok((i * 0x20000 + 5, 1)));
        assert_eq!(
            t.translate(i * 0x10000 + 0x1000, 1),
            Err(Error::OutOfBounds)
        );
    }
    let many: Vec<Region> = (0..65u64).map(|i| Region::new(i << 20, 1, 0)).collect();
    assert_eq!(
        MemTable::<64>::from_regions(&many).err(),
        Some(Error::TooManyRegions)
    );
    assert_eq!(Error::TooManyRegions.errno(), 7);
    let mut small = MemTable::<2>::new();
    small.push(Region::new(0, 1, 0)).unwrap();
    small.push(Region::new(2, 1, 0)).unwrap();
    assert_eq!(small.push(Region::new(4, 1, 0)), Err(Error::TooManyRegions));
    small.clear();
    assert!(small.is_empty());
    small.push(Region::new(4, 1, 0)).unwrap();
}

#[test]
fn mapped_memory_scatters_and_gathers() {
    // Three adjacent guest regions of odd sizes, reversed and gapped in user space.
    let mem = MockMemory::new(&[(0x1000, 0x123), (0x1123, 0x7), (0x112a, 0x1000)]);
    let data: Vec<u8> = (0..0x1200u32).map(|i| (i * 7 + 3) as u8).collect();
    let gpa = 0x1000;
    mem.write(gpa, &data[..0x112a]).unwrap();
    assert_eq!(mem.read_vec(gpa, 0x112a), &data[..0x112a]);
    // Bytes really are scattered: the host copies are not contiguous.
    let (u0, n0) = mem.table().translate(0x1000, 0x200).unwrap();
    let (u1, _) = mem.table().translate(0x1123, 1).unwrap();
    assert_eq!(n0, 0x123);
    assert_ne!(u0 + 0x123, u1);
    assert!(u0 >= UADDR_BASE);
    // Typed accessors across a boundary.
    mem.write_u64(0x1120, 0x0102_0304_0506_0708).unwrap();
    assert_eq!(mem.read_u64(0x1120).unwrap(), 0x0102_0304_0506_0708);
    assert_eq!(mem.read_u32(0x1121).unwrap(), 0x0405_0607);
    mem.write_u32(0x1126, 0xdead_beef).unwrap();
    assert_eq!(mem.read_u16(0x1128).unwrap(), 0xdead);
    mem.write_u16(0x1000, 0x55aa).unwrap();
    assert_eq!(mem.read_vec(0x1000, 2), vec![0xaa, 0x55]);
    // Out of bounds at either end; nothing partial is reported as success.
    let mut b = [0u8; 4];
    assert_eq!(mem.read(0xffe, &mut b), Err(Error::OutOfBounds));
    assert_eq!(mem.read(0x2128, &mut b), Err(Error::OutOfBounds));
    assert_eq!(mem.write(0x2129, &b[..2]), Err(Error::OutOfBounds));
    assert_eq!(mem.read(u64::MAX - 1, &mut b), Err(Error::Overflow));
    assert_eq!(mem.read(0x2129, &mut b[..1]), Ok(()));
    assert_eq!(mem.read(0x9999_0000, &mut []), Ok(()));
    // Ring accesses are by user address.
    let u = mem.uaddr(0x1000);
    assert_eq!(mem.read_ring_u16(u).unwrap(), 0x55aa);
    assert_eq!(mem.read_ring_u16(0x1000), Err(Error::Fault));
    assert_eq!(mem.check_ring_range(u, 0x123), Ok(()));
    assert_eq!(mem.check_ring_range(u, 0x124), Err(Error::Fault));
    assert_eq!(mem.check_ring_range(u64::MAX, 2), Err(Error::Fault));
    // Faults from the accessor propagate.
    mem.set_fault(Some((u, 1)));
    assert_eq!(mem.read_u16(0x1000), Err(Error::Fault));
    assert!(mem.read_u16(0x1002).is_ok());
    mem.set_fault(None);
}

#[test]
fn default_user_check_rejects_wrapping() {
    struct Nothing;
    impl crate::vring::UserAccess for Nothing {
        fn read_user(&self, _: u64, _: &mut [u8]) -> Result<(), Error> {
            Err(Error::Fault)
        }
        fn write_user(&self, _: u64, _: &[u8]) -> Result<(), Error> {
            Err(Error::Fault)
        }
    }
    use crate::vring::UserAccess;
    assert_eq!(Nothing.check_user(u64::MAX, 1), Ok(()));
    assert_eq!(Nothing.check_user(u64::MAX, 2), Err(Error::Overflow));
    assert_eq!(Nothing.check_user(5, 0), Ok(()));
    assert_eq!(Nothing.read_user_u16(0), Err(Error::Fault));
    assert_eq!(Nothing.write_user_u16(0, 1), Err(Error::Fault));
}
