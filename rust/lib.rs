// SPDX-License-Identifier: GPL-2.0

//! acrn-rs kernel extensions: safe abstractions that the 6.12 `kernel` crate lacks.
//!
//! Shared by source, not as a crate: each module crate includes this file with
//! `#[path = "../rust/lib.rs"] mod kext;` and compiles `rust/shim.c` into its `.ko` by
//! `#include`-ing it from its own C shim file (see `rust/README.md`). Every module thus gets
//! its own copy, with no cross-module ABI to keep stable.
//!
//! A module uses only part of this code, so unused items are allowed here.
#![allow(dead_code)]

pub(crate) mod errno;
pub(crate) mod eventfd;
pub(crate) mod ioctl;
pub(crate) mod kvec;
pub(crate) mod miscdev;
pub(crate) mod pinned;
pub(crate) mod user;
pub(crate) mod worker;
