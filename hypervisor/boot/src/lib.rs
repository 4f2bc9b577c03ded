// SPDX-License-Identifier: GPL-2.0

//! Boot of the acrn-rs hypervisor and of its Service VM.
//!
//! * [`entry`]: the multiboot1 header and the 32→64-bit trampoline (`global_asm!`), which
//!   calls `hv_entry64(magic, mbi)` in long mode on an identity map of the low 4 GiB;
//! * [`x86`]: port I/O, MSRs, control registers, CPUID;
//! * [`log`]: the COM1 serial log with levels ([`error!`], [`warn!`], [`info!`], [`debug!`]);
//! * [`phys`]: reading and writing physical memory ([`phys::PhysMem`]);
//! * [`multiboot`]: the boot information QEMU or GRUB hands over (memory map, modules);
//! * [`e820`]: the Service VM's memory map (firmware map minus hypervisor memory);
//! * [`ap`], [`lapic`]: starting the reserved pCPUs (INIT/SIPI, a real-mode trampoline),
//!   IPIs and EOI on the xAPIC;
//! * [`acpi`]: hiding the pCPUs reserved for User VMs in the MADT;
//! * [`linux`]: the Linux boot protocol (bzImage setup header, zero page, 64-bit entry).
//!
//! Everything but `entry` and the hardware accessors is plain data manipulation, tested on
//! the host.

#![cfg_attr(not(test), no_std)]

pub mod acpi;
pub mod ap;
pub mod e820;
pub mod entry;
pub mod lapic;
pub mod linux;
pub mod log;
pub mod multiboot;
pub mod phys;
pub mod x86;
