// SPDX-License-Identifier: GPL-2.0

//! What every vhost device shares (drivers/vhost/vhost.c in C): the owner and its address
//! space, the virtqueue configuration with its checks, and the device-independent ioctls
//! (memory table, vring size/addresses/base/eventfds, feature checks); and the ring
//! metadata through pinned, kernel-mapped pages.
//!
//! Included by source by the vhost modules only, after `kext`, `uapi` and `vring`:
//!
//! ```text
//! #[path = "../rust/vhost/mod.rs"]
//! mod vhost;
//! ```
//!
//! so it names `crate::kext`, `crate::uapi` (uapi/rust/src/vhost.rs) and `crate::vring`
//! (rust/vring). A module uses only part of it, so unused items are allowed here.
#![allow(dead_code)]

pub(crate) mod ioctl;
pub(crate) mod owner;
pub(crate) mod rings;
pub(crate) mod vq;
