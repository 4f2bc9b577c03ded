// SPDX-License-Identifier: GPL-2.0

//! Host-testable core of the acrn-rs hypervisor: everything that is policy rather than
//! hardware, written against small traits so the SVM and VMX backends share it and
//! `cargo test` exercises it on the host.
//!
//! * [`error`]: `HvError { errno, file, line }`, [`hv_err!`], `HvResult`.
//! * [`vm`], [`vm_table`]: VM slots and their lifecycle (ACRN `vm.c`, `hypercall.c`).
//! * [`hypercall`]: `vmcall` permission checks and dispatch (ACRN `vmcall.c`).
//! * [`memory`]: the Service VM's physical map and User VM region sets.
//! * [`npt`]: nested page tables (AMD NPT / Intel EPT) over a [`npt::FrameAllocator`].
//! * [`ioreq`]: the I/O request slot machine (ACRN `dm/io_req.c`).
//! * [`decode`], [`mmio`], [`page_walk`]: MMIO instruction decoding (`iced-x86`),
//!   register write-back and flags, the guest page-table walk that fetches the bytes.
//! * [`cpuid`]: the guest's CPUID (ACRN leaves, hypervisor bit, VMX/SVM hidden).
//! * [`exit`]: [`exit::ExitHost`], what either backend's exit handlers ask of the rest of
//!   the hypervisor (hypercalls, CPUID context).
//! * [`guest_mem`], [`arch`]: what the backend provides: copies from/to Service VM
//!   memory, nested-paging and vCPU hooks.
//!
//! `no_std`, no allocation: every table has a fixed capacity. The ABI (hypercall ids,
//! argument structs, flags) comes from `acrn-uapi`.

#![cfg_attr(not(test), no_std)]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]

pub mod error;

pub mod arch;
pub mod cpuid;
pub mod decode;
pub mod exit;
pub mod guest_mem;
pub mod hypercall;
pub mod ioreq;
pub mod memory;
pub mod mmio;
pub mod npt;
pub mod page_walk;
pub mod vioapic;
pub mod vlapic;
pub mod vm;
pub mod vm_table;

#[cfg(test)]
mod tests;

pub use error::{HvError, HvResult};
