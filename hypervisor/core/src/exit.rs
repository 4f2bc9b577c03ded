// SPDX-License-Identifier: GPL-2.0

//! What the exit handlers of either backend (SVM `#VMEXIT`, VMX VM exit) need from the
//! rest of the hypervisor: [`ExitHost`]. Each backend decodes its own exit information and
//! then maps it to the same actions: an ACRN hypercall, a CPUID answer from
//! [`guest_cpuid`](crate::cpuid::guest_cpuid), or parking the vCPU.

use crate::cpuid::{CpuidCtx, CpuidResult};
use crate::guest_mem::GuestMemory;
use crate::hypercall::{HcArgs, HcCaller, HcOutcome};

/// What the exit handlers need from the rest of the hypervisor.
pub trait ExitHost {
    /// Service VM memory.
    type Mem: GuestMemory;
    /// Service VM memory, for reading guest page tables and instructions.
    fn mem(&self) -> &Self::Mem;
    /// Runs an ACRN hypercall ([`crate::hypercall::vmcall`] under the VM table lock).
    fn hypercall(&mut self, caller: HcCaller, args: HcArgs) -> HcOutcome;
    /// CPUID context for VM `vmid` whose CR4 is `guest_cr4`.
    fn cpuid_ctx(&self, vmid: u16, guest_cr4: u64) -> CpuidCtx;
    /// The host's answer to CPUID `leaf`/`subleaf` with XCR0 = `xcr0` (leaf 0xD depends on
    /// the XCR0 in force).
    fn native_cpuid(&self, leaf: u32, subleaf: u32, xcr0: u64) -> CpuidResult;
}
