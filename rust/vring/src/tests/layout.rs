//! Layout, ring-size, alignment and errno tests.

use std::collections::HashSet;
use std::format;

use crate::vring::layout::*;
use crate::vring::Error;

#[test]
fn descriptor_roundtrip_and_byte_order() {
    let d = Descriptor {
        addr: 0x0102_0304_0506_0708,
        len: 0x1122_3344,
        flags: VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
        next: 0xabcd,
    };
    let b = d.to_bytes();
    assert_eq!(
        b,
        [8, 7, 6, 5, 4, 3, 2, 1, 0x44, 0x33, 0x22, 0x11, 3, 0, 0xcd, 0xab]
    );
    assert_eq!(Descriptor::from_bytes(&b), d);
    assert!(d.has_next() && d.is_write_only() && !d.is_indirect());
    let i = Descriptor {
        flags: VRING_DESC_F_INDIRECT,
        ..d
    };
    assert!(i.is_indirect() && !i.has_next() && !i.is_write_only());
    let u = UsedElem::new(0x0102_0304, 0x0a0b_0c0d);
    assert_eq!(u.to_bytes(), [4, 3, 2, 1, 0xd, 0xc, 0xb, 0xa]);
    assert_eq!(UsedElem::from_bytes(&u.to_bytes()), u);
}

#[test]
fn flag_and_feature_values_match_virtio_ring_h() {
    assert_eq!(
        (VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_DESC_F_INDIRECT),
        (1, 2, 4)
    );
    assert_eq!((VRING_USED_F_NO_NOTIFY, VRING_AVAIL_F_NO_INTERRUPT), (1, 1));
    assert_eq!(
        (
            VIRTIO_F_NOTIFY_ON_EMPTY,
            VIRTIO_RING_F_INDIRECT_DESC,
            VIRTIO_RING_F_EVENT_IDX
        ),
        (24, 28, 29)
    );
    assert_eq!(
        (
            VRING_DESC_ALIGN_SIZE,
            VRING_AVAIL_ALIGN_SIZE,
            VRING_USED_ALIGN_SIZE
        ),
        (16, 2, 4)
    );
    assert_eq!(VHOST_VRING_F_LOG, 0);
    assert_eq!(core::mem::size_of::<VringAddr>(), 40);
}

#[test]
fn sizes_and_offsets() {
    for size in [1u16, 2, 4, 256, 32768] {
        let s = u64::from(size);
        assert_eq!(desc_table_size(size), 16 * s);
        assert_eq!(avail_ring_size(size, false), 4 + 2 * s);
        assert_eq!(avail_ring_size(size, true), 6 + 2 * s);
        assert_eq!(used_ring_size(size, false), 4 + 8 * s);
        assert_eq!(used_ring_size(size, true), 6 + 8 * s);
        assert_eq!(avail_ring_offset(0), 4);
        assert_eq!(avail_ring_offset(size - 1), 4 + 2 * (s - 1));
        // vring_used_event(vr) == avail->ring[num], vring_avail_event == used->ring[num].
        assert_eq!(used_event_offset(size), 4 + 2 * s);
        assert_eq!(used_elem_offset(size - 1), 4 + 8 * (s - 1));
        assert_eq!(avail_event_offset(size), 4 + 8 * s);
        // The event fields are the last two bytes of the event-idx ring sizes.
        assert_eq!(used_event_offset(size) + 2, avail_ring_size(size, true));
        assert_eq!(avail_event_offset(size) + 2, used_ring_size(size, true));
    }
    assert_eq!(
        (
            AVAIL_FLAGS_OFFSET,
            AVAIL_IDX_OFFSET,
            USED_FLAGS_OFFSET,
            USED_IDX_OFFSET
        ),
        (0, 2, 0, 2)
    );
}

#[test]
fn queue_size_rules() {
    for ok in [1u32, 2, 4, 8, 64, 256, 1024, 16384, 32768] {
        assert_eq!(check_queue_size(ok), Ok(ok as u16), "{ok}");
    }
    for bad in [
        0u32,
        3,
        5,
        6,
        7,
        100,
        255,
        257,
        32767,
        32769,
        65535,
        65536,
        1 << 20,
        u32::MAX,
    ] {
        assert_eq!(check_queue_size(bad), Err(Error::BadRingSize), "{bad}");
    }
}

#[test]
fn ring_alignment() {
    let good = RingAddrs {
        desc: 0x1000,
        avail: 0x2002,
        used: 0x3004,
    };
    assert_eq!(good.check_alignment(), Ok(()));
    for d in [1u64, 2, 4, 8, 15] {
        let r = RingAddrs {
            desc: 0x1000 + d,
            ..good
        };
        assert_eq!(r.check_alignment(), Err(Error::Misaligned), "desc +{d}");
    }
    let r = RingAddrs {
        avail: 0x2001,
        ..good
    };
    assert_eq!(r.check_alignment(), Err(Error::Misaligned));
    for u in [1u64, 2, 3] {
        let r = RingAddrs {
            used: 0x3000 + u,
            ..good
        };
        assert_eq!(r.check_alignment(), Err(Error::Misaligned), "used +{u}");
    }
}

#[test]
fn vhost_vring_addr_validation() {
    let a = VringAddr {
        index: 0,
        flags: 0,
        desc_user_addr: 0x10000,
        used_user_addr: 0x20000,
        avail_user_addr: 0x18000,
        log_guest_addr: 0,
    };
    assert_eq!(
        a.ring_addrs(),
        Ok(RingAddrs {
            desc: 0x10000,
            avail: 0x18000,
            used: 0x20000
        })
    );
    assert!(!a.log_enabled());
    let l = VringAddr {
        flags: 1 << VHOST_VRING_F_LOG,
        ..a
    };
    assert!(l.log_enabled() && l.ring_addrs().is_ok());
    for f in [2u32, 4, 0x8000_0000, 3] {
        let b = VringAddr { flags: f, ..a };
        assert_eq!(b.ring_addrs(), Err(Error::UnsupportedFlags), "{f:#x}");
        assert_eq!(Error::UnsupportedFlags.errno(), 95);
    }
    // log_guest_addr must be 4-aligned even with logging off, as vhost checks.
    let m = VringAddr {
        log_guest_addr: 2,
        ..a
    };
    assert_eq!(m.ring_addrs(), Err(Error::Misaligned));
    let m = VringAddr {
        used_user_addr: 0x20002,
        ..a
    };
    assert_eq!(m.ring_addrs(), Err(Error::Misaligned));
    let m = VringAddr {
        avail_user_addr: 0x18001,
        ..a
    };
    assert_eq!(m.ring_addrs(), Err(Error::Misaligned));
}

#[test]
fn errno_mapping() {
    use Error::*;
    let table = [
        (OutOfBounds, 14),
        (Overflow, 14),
        (BadRegion, 14),
        (RegionOverlap, 14),
        (TooManyRegions, 7),
        (Fault, 14),
        (BadRingSize, 22),
        (Misaligned, 22),
        (UnsupportedFlags, 95),
        (BadBase, 22),
        (Busy, 16),
        (NotReady, 22),
        (Broken, 5),
        (AvailIndexTooFar, 22),
        (HeadOutOfRange, 22),
        (NextOutOfRange, 22),
        (LoopDetected, 22),
        (ChainTooLong, 22),
        (IndirectInIndirect, 22),
        (BadIndirectLength, 22),
        (IndirectTooBig, 7),
        (IndirectWithNext, 22),
        (ReadableAfterWritable, 22),
        (TooManySegments, 105),
        (TooManyUsed, 22),
    ];
    let mut names = HashSet::new();
    for (e, errno) in table {
        assert_eq!(e.errno(), errno, "{e:?}");
        assert!(!e.as_str().is_empty());
        assert!(names.insert(e.as_str()), "duplicate text for {e:?}");
        assert_eq!(format!("{e}"), e.as_str());
    }
}
