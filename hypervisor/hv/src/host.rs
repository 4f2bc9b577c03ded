// SPDX-License-Identifier: GPL-2.0

//! The rest of the hypervisor as the SVM exit handlers see it ([`ExitHost`]): hypercalls
//! run [`acrn_hv_core::hypercall::vmcall`] under the VM table lock; CPUID gets the TSC
//! frequency and the leak counters of the debug leaf.

use crate::arch::SvmArch;
use crate::guest_mem::ServiceVmRam;
use crate::sync::SpinLock;
use acrn_hv_boot::debug;
use acrn_hv_boot::x86::{cpuid, xsetbv0, CpuidResult};
use acrn_hv_core::cpuid::{CpuidCtx, DEBUG_MAGIC, DEBUG_SUBLEAVES};
use acrn_hv_core::exit::ExitHost;
use acrn_hv_core::hypercall::{hypercall_info, vmcall, HcArgs, HcCaller, HcOutcome};
use acrn_hv_core::vm::SERVICE_VM_ID;
use acrn_hv_core::vm_table::VmTable;

/// Everything the exit handlers reach.
pub struct Host {
    /// The VM table.
    pub vms: &'static SpinLock<VmTable>,
    /// Service VM RAM.
    pub mem: ServiceVmRam,
    /// Nested page tables.
    pub arch: SvmArch,
    /// TSC frequency in kHz.
    pub tsc_khz: u32,
    /// Host XCR0, if XSAVE is on.
    pub host_xcr0: Option<u64>,
    /// Hypervisor memory `[start, end)`.
    pub hv_range: (u64, u64),
}

impl ExitHost for Host {
    type Mem = ServiceVmRam;

    fn mem(&self) -> &ServiceVmRam {
        &self.mem
    }

    fn hypercall(&mut self, caller: HcCaller, args: HcArgs) -> HcOutcome {
        let mut vms = self.vms.lock();
        let out = vmcall(&mut vms, &mut self.mem, &mut self.arch, caller, args);
        crate::user_vcpu::UPCALL_VECTOR
            .store(vms.upcall_vector(), core::sync::atomic::Ordering::Relaxed);
        debug!(
            "hypercall {:#x} ({}) p1 {:#x} p2 {:#x} cpl {} -> {:?}",
            args.id,
            hypercall_info(args.id).map_or("?", |h| h.name),
            args.param1,
            args.param2,
            caller.cpl,
            out
        );
        out
    }

    fn cpuid_ctx(&self, vmid: u16, guest_cr4: u64) -> CpuidCtx {
        let privileged = vmid == SERVICE_VM_ID;
        let mut debug = [[0; 4]; DEBUG_SUBLEAVES];
        if privileged {
            let vms = self.vms.lock();
            let (l, c) = (vms.live(), vms.counters());
            let n = |v: usize| v.min(u32::MAX as usize) as u32;
            debug = [
                [DEBUG_MAGIC, n(l.vms), n(l.vcpus), n(l.regions)],
                [
                    n(l.ioreq_bufs),
                    c.vm_creates as u32,
                    c.vm_destroys as u32,
                    // The Service VM's own table is part of the count: tests compare deltas.
                    n(self.arch.frames.in_use()),
                ],
                [
                    (self.hv_range.0 >> 12) as u32,
                    (self.hv_range.1 >> 12) as u32,
                    0,
                    0,
                ],
            ];
        }
        CpuidCtx {
            tsc_khz: self.tsc_khz,
            privileged,
            guest_cr4,
            debug,
        }
    }

    fn native_cpuid(&self, leaf: u32, subleaf: u32, xcr0: u64) -> CpuidResult {
        match self.host_xcr0 {
            Some(host) if leaf == 0xd && xcr0 != host => {
                // SAFETY: CR4.OSXSAVE is set (host_xcr0 is Some) and both values were
                // accepted by the CPU before (the guest's when it set it).
                unsafe { xsetbv0(xcr0) };
                let r = cpuid(leaf, subleaf);
                // SAFETY: as above.
                unsafe { xsetbv0(host) };
                r
            }
            _ => cpuid(leaf, subleaf),
        }
    }
}
