// SPDX-License-Identifier: GPL-2.0

//! Split virtqueues for vhost devices: guest memory access and the
//! `VHOST_SET_MEM_TABLE` translation, the ring layout, descriptor chains (direct and
//! indirect) and the device-side queue (avail/used rings, event idx, notification
//! suppression), with the semantics of Linux 6.12 `drivers/vhost/vhost.c`.
//!
//! `core` only, no allocation, no `unsafe`, no panics on guest-controlled data. Kernel
//! modules include this directory by source:
//!
//! ```text
//! #[allow(unreachable_pub, dead_code)]
//! #[path = "../rust/vring/src/vring/mod.rs"]
//! mod vring;
//! ```
//!
//! so nothing here names `crate::`; modules refer to each other through `super::`.

pub mod chain;
pub mod error;
pub mod layout;
pub mod memory;
pub mod memtable;
pub mod queue;
pub mod readahead;

// Short paths for users. A kernel module that includes this file uses only some of
// them; the allow keeps `-D warnings` quiet about the others.
#[allow(unused_imports)]
pub use chain::{ChainInfo, ChainIter, DescChain, Segment};
#[allow(unused_imports)]
pub use error::Error;
#[allow(unused_imports)]
pub use layout::{Descriptor, RingAddrs, UsedElem, VringAddr};
#[allow(unused_imports)]
pub use memory::{GuestMemory, MappedMemory, UserAccess};
#[allow(unused_imports)]
pub use memtable::{MemTable, Pieces, Region, MAX_MEM_REGIONS};
#[allow(unused_imports)]
pub use queue::{vring_need_event, SplitQueue};
