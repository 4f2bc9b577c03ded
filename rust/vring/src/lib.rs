// SPDX-License-Identifier: GPL-2.0

//! acrn-vring: the split-virtqueue logic of the acrn-rs vhost backends.
//!
//! Everything the kernel modules use is in [`vring`] (`src/vring/`), which they compile
//! into themselves by source (`#[path = "…/rust/vring/src/vring/mod.rs"] mod vring;`):
//! guest memory ([`vring::GuestMemory`], [`vring::MemTable`]), ring layout
//! ([`vring::layout`]), descriptor chains ([`vring::DescChain`]) and the device-side
//! queue ([`vring::SplitQueue`]), following Linux 6.12 `drivers/vhost/vhost.c`.
//!
//! With the `mock` feature (always in tests), `mock` provides a `Vec`-backed guest
//! memory and a driver that builds rings in it.

#![no_std]
#![deny(missing_docs)]

#[cfg(any(test, feature = "mock"))]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod vring;

pub use vring::{
    DescChain, Descriptor, Error, GuestMemory, MappedMemory, MemTable, Region, RingAddrs, Segment,
    SplitQueue, UsedElem, UserAccess,
};

#[cfg(any(test, feature = "mock"))]
pub mod mock;

#[cfg(test)]
mod tests;
