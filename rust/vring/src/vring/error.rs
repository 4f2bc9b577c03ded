// SPDX-License-Identifier: GPL-2.0

//! Errors of the ring, chain and memory code, and the Linux errno each maps to.
//!
//! One variant per failure. [`Error::errno`] gives the errno Linux 6.12's
//! `drivers/vhost/vhost.c` returns for the same condition (positive; negate it for
//! `kernel::error::Error::from_errno`).

use core::fmt;

const EIO: i32 = 5;
const E2BIG: i32 = 7;
const EFAULT: i32 = 14;
const EBUSY: i32 = 16;
const EINVAL: i32 = 22;
const EOPNOTSUPP: i32 = 95;
const ENOBUFS: i32 = 105;

/// Why a ring, descriptor chain, memory-table or guest-memory operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// A guest address range is not (entirely) covered by the memory table, or a
    /// host range is outside the backing memory (`translate_desc`: `-EFAULT`).
    OutOfBounds,
    /// `address + length` overflows `u64` (`-EFAULT`).
    Overflow,
    /// A memory region has size zero, or its guest or user range wraps past
    /// `u64::MAX` (`vhost_set_memory` / `vhost_overflow`: `-EFAULT`).
    BadRegion,
    /// Two memory regions overlap in guest-physical space (`-EFAULT`, like the other
    /// `vhost_set_memory` failures).
    RegionOverlap,
    /// More regions than the table holds (`vhost_set_memory`: `-E2BIG`).
    TooManyRegions,
    /// Reading or writing memory failed (`copy_{from,to}_user`, `__get_user`: `-EFAULT`).
    Fault,
    /// Ring size zero, not a power of two or above 32768 (`vhost_vring_set_num`: `-EINVAL`).
    BadRingSize,
    /// A ring address violates its alignment (`vhost_vring_set_addr`: `-EINVAL`).
    Misaligned,
    /// Unknown `vhost_vring_addr.flags` bits (`vhost_vring_set_addr`: `-EOPNOTSUPP`).
    UnsupportedFlags,
    /// `VHOST_SET_VRING_BASE` value above `0xffff` (`-EINVAL`).
    BadBase,
    /// Size or base changed while the queue is active (`-EBUSY`).
    Busy,
    /// The queue is not active, or its addresses were never set (`-EINVAL`).
    NotReady,
    /// The queue was marked broken after a guest protocol violation (`-EIO`).
    Broken,
    /// `avail->idx` is more than the ring size ahead of the device (`vhost_get_avail_idx`:
    /// `-EINVAL`).
    AvailIndexTooFar,
    /// A head index in the avail ring, or one given to `add_used`, is `>=` the ring size
    /// (`vhost_get_vq_desc`: `-EINVAL`).
    HeadOutOfRange,
    /// A descriptor's `next` is outside its table (`-EINVAL`).
    NextOutOfRange,
    /// The chain has more descriptors than its table: it loops (`-EINVAL`).
    LoopDetected,
    /// The chain's total length exceeds `u32::MAX` (VIRTIO 1.x 2.7.5; `-EINVAL`).
    ChainTooLong,
    /// An indirect table holds an indirect descriptor (`get_indirect`: `-EINVAL`).
    IndirectInIndirect,
    /// Indirect table length zero or not a multiple of 16 (`get_indirect`: `-EINVAL`).
    BadIndirectLength,
    /// Indirect table with more than 65536 entries (`get_indirect`: `-E2BIG`).
    IndirectTooBig,
    /// A descriptor has both `VRING_DESC_F_INDIRECT` and `VRING_DESC_F_NEXT`
    /// (forbidden by VIRTIO 1.x 2.7.5.3.1; `-EINVAL`).
    IndirectWithNext,
    /// A device-readable descriptor follows a device-writable one (`vhost_get_vq_desc`:
    /// `-EINVAL`).
    ReadableAfterWritable,
    /// The caller's segment array is full (`translate_desc`: `-ENOBUFS`).
    TooManySegments,
    /// `add_used_n` with more elements than the ring size (`-EINVAL`).
    TooManyUsed,
}

impl Error {
    /// The Linux errno (positive) vhost returns for this condition.
    pub const fn errno(&self) -> i32 {
        match self {
            Error::OutOfBounds
            | Error::Overflow
            | Error::BadRegion
            | Error::RegionOverlap
            | Error::Fault => EFAULT,
            Error::TooManyRegions | Error::IndirectTooBig => E2BIG,
            Error::UnsupportedFlags => EOPNOTSUPP,
            Error::Busy => EBUSY,
            Error::Broken => EIO,
            Error::TooManySegments => ENOBUFS,
            Error::BadRingSize
            | Error::Misaligned
            | Error::BadBase
            | Error::NotReady
            | Error::AvailIndexTooFar
            | Error::HeadOutOfRange
            | Error::NextOutOfRange
            | Error::LoopDetected
            | Error::ChainTooLong
            | Error::IndirectInIndirect
            | Error::BadIndirectLength
            | Error::IndirectWithNext
            | Error::ReadableAfterWritable
            | Error::TooManyUsed => EINVAL,
        }
    }

    /// A short description, e.g. for `vq_err`-style logging.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Error::OutOfBounds => "address range not in guest memory",
            Error::Overflow => "address range overflows",
            Error::BadRegion => "invalid memory region",
            Error::RegionOverlap => "overlapping memory regions",
            Error::TooManyRegions => "too many memory regions",
            Error::Fault => "memory access fault",
            Error::BadRingSize => "invalid ring size",
            Error::Misaligned => "misaligned ring address",
            Error::UnsupportedFlags => "unsupported vring address flags",
            Error::BadBase => "invalid vring base",
            Error::Busy => "queue is active",
            Error::NotReady => "queue not ready",
            Error::Broken => "queue is broken",
            Error::AvailIndexTooFar => "avail index too far ahead",
            Error::HeadOutOfRange => "head index out of range",
            Error::NextOutOfRange => "next index out of range",
            Error::LoopDetected => "descriptor loop detected",
            Error::ChainTooLong => "chain length exceeds u32",
            Error::IndirectInIndirect => "nested indirect descriptor",
            Error::BadIndirectLength => "invalid indirect table length",
            Error::IndirectTooBig => "indirect table too big",
            Error::IndirectWithNext => "indirect descriptor with NEXT",
            Error::ReadableAfterWritable => "readable descriptor after writable",
            Error::TooManySegments => "too many segments",
            Error::TooManyUsed => "too many used elements",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
