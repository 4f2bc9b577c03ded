// SPDX-License-Identifier: GPL-2.0

//! #VMEXIT handling: [`handle_exit`] is the one `match` over exit codes; each arm calls a
//! small `handle_*`. A handler either resumes the guest (possibly with an event to inject)
//! or returns [`Park`]: the caller then logs the guest state and parks this pCPU. Nothing
//! a guest does can panic the hypervisor.
//!
//! | exit | action |
//! |---|---|
//! | #UD (0x46) | `vmcall` at RIP → ACRN hypercall (R8 id, RDI/RSI, RAX result, RIP += 3); #UD / #GP(0) injected per [`HcOutcome`]; any other instruction: #UD reflected |
//! | CPUID (0x72) | [`guest_cpuid`], RIP += 2 |
//! | MSR (0x7c) | EFER (SVME kept, hidden), VM_CR (reads "disabled"), VM_HSAVE_PA (reads 0, writes ignored); MSRs outside the map: #GP(0) |
//! | VMRUN, VMMCALL, VMLOAD, VMSAVE, STGI, CLGI, SKINIT, INVLPGA | #UD (SVM is hidden) |
//! | SHUTDOWN, NPF, INVALID (low 32 bits 0xffff_ffff), anything else | park |

use crate::decode::is_vmcall;
use crate::event::{self, INJECT_GP0, INJECT_UD};
use crate::perm::{MSR_EFER, MSR_VM_CR, MSR_VM_HSAVE_PA};
use crate::vcpu::Vcpu;
use acrn_hv_core::cpuid::{guest_cpuid, is_hypervisor_leaf, CpuidResult};
pub use acrn_hv_core::exit::ExitHost;
use acrn_hv_core::hypercall::{HcArgs, HcCaller, HcOutcome};

/// Exit code: exception 6 (#UD).
pub const EXIT_EXCP_UD: u64 = 0x46;
/// Exit code: physical interrupt.
pub const EXIT_INTR: u64 = 0x60;
/// Exit code: CPUID.
pub const EXIT_CPUID: u64 = 0x72;
/// Exit code: HLT.
pub const EXIT_HLT: u64 = 0x78;
/// Exit code: INVLPGA.
pub const EXIT_INVLPGA: u64 = 0x7a;
/// Exit code: I/O instruction.
pub const EXIT_IOIO: u64 = 0x7b;
/// Exit code: RDMSR/WRMSR.
pub const EXIT_MSR: u64 = 0x7c;
/// Exit code: shutdown (triple fault).
pub const EXIT_SHUTDOWN: u64 = 0x7f;
/// Exit code: VMRUN.
pub const EXIT_VMRUN: u64 = 0x80;
/// Exit code: VMMCALL.
pub const EXIT_VMMCALL: u64 = 0x81;
/// Exit code: VMLOAD.
pub const EXIT_VMLOAD: u64 = 0x82;
/// Exit code: VMSAVE.
pub const EXIT_VMSAVE: u64 = 0x83;
/// Exit code: STGI.
pub const EXIT_STGI: u64 = 0x84;
/// Exit code: CLGI.
pub const EXIT_CLGI: u64 = 0x85;
/// Exit code: SKINIT.
pub const EXIT_SKINIT: u64 = 0x86;
/// Exit code: nested page fault.
pub const EXIT_NPF: u64 = 0x400;

/// Whether `code` is VMEXIT_INVALID (-1). QEMU 7.2 stores it as a 32-bit value, so only
/// the low 32 bits are compared.
pub const fn is_invalid(code: u64) -> bool {
    code as u32 == u32::MAX
}

/// Instruction lengths (no NRIP save).
const LEN_CPUID: u64 = 2;
const LEN_MSR: u64 = 2;
const LEN_VMCALL: u64 = 3;

/// Why a vCPU is parked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Park {
    /// VMRUN refused the VMCB.
    InvalidVmcb,
    /// The guest triple-faulted.
    Shutdown,
    /// The guest touched guest-physical memory it has no mapping for.
    NestedPageFault,
    /// No handler for this exit code.
    Unhandled(u64),
}

/// Handles the exit that just happened on `vcpu`.
pub fn handle_exit<H: ExitHost>(vcpu: &mut Vcpu, host: &mut H) -> Result<(), Park> {
    vcpu.exits += 1;
    let c = &mut vcpu.vmcb.control;
    let code = c.exit_code;
    // An event whose delivery the exit interrupted is delivered again (handlers may
    // replace it with their own).
    c.event_inj = if c.exit_int_info & event::VALID != 0 {
        c.exit_int_info
    } else {
        0
    };
    match code {
        c if is_invalid(c) => Err(Park::InvalidVmcb),
        EXIT_EXCP_UD => {
            handle_ud(vcpu, host);
            Ok(())
        }
        EXIT_CPUID => {
            handle_cpuid(vcpu, host);
            Ok(())
        }
        EXIT_MSR => {
            handle_msr(vcpu);
            Ok(())
        }
        EXIT_VMRUN | EXIT_VMMCALL | EXIT_VMLOAD | EXIT_VMSAVE | EXIT_STGI | EXIT_CLGI
        | EXIT_SKINIT | EXIT_INVLPGA => {
            vcpu.inject(INJECT_UD);
            Ok(())
        }
        EXIT_SHUTDOWN => Err(Park::Shutdown),
        EXIT_NPF => Err(Park::NestedPageFault),
        other => Err(Park::Unhandled(other)),
    }
}

/// #UD: ACRN's `vmcall`, or a genuine #UD to reflect.
fn handle_ud<H: ExitHost>(vcpu: &mut Vcpu, host: &mut H) {
    let s = &vcpu.vmcb.save;
    let la = s.cs.base.wrapping_add(s.rip);
    if !is_vmcall(host.mem(), &vcpu.paging(), la) {
        vcpu.inject(INJECT_UD);
        return;
    }
    let caller = HcCaller {
        vmid: vcpu.vmid,
        cpl: s.cpl,
    };
    let args = HcArgs {
        id: vcpu.regs.r8,
        param1: vcpu.regs.rdi,
        param2: vcpu.regs.rsi,
    };
    match host.hypercall(caller, args) {
        HcOutcome::InjectUd => vcpu.inject(INJECT_UD),
        HcOutcome::InjectGp => vcpu.inject(INJECT_GP0),
        HcOutcome::Return(v) => {
            vcpu.vmcb.save.rax = v as u64;
            vcpu.advance_rip(LEN_VMCALL);
        }
    }
}

fn handle_cpuid<H: ExitHost>(vcpu: &mut Vcpu, host: &mut H) {
    let (leaf, subleaf) = (vcpu.vmcb.save.rax as u32, vcpu.regs.rcx as u32);
    let native = if is_hypervisor_leaf(leaf) {
        CpuidResult::default()
    } else {
        host.native_cpuid(leaf, subleaf, vcpu.guest_xcr0)
    };
    let ctx = host.cpuid_ctx(vcpu.vmid, vcpu.vmcb.save.cr4);
    let r = guest_cpuid(leaf, subleaf, native, &ctx);
    vcpu.vmcb.save.rax = u64::from(r.eax);
    vcpu.regs.rbx = u64::from(r.ebx);
    vcpu.regs.rcx = u64::from(r.ecx);
    vcpu.regs.rdx = u64::from(r.edx);
    vcpu.advance_rip(LEN_CPUID);
}

/// EFER bits a guest may write: SCE, LME, LMA, NXE, SVME, LMSLE, FFXSR, TCE.
const EFER_WRITABLE: u64 = 1 | (0xff << 8);
const EFER_LMA: u64 = 1 << 10;
const EFER_SVME: u64 = 1 << 12;
/// VM_CR as the guest reads it: LOCK and SVMDIS (SVM disabled by firmware).
const VM_CR_GUEST: u64 = (1 << 3) | (1 << 4);

/// MSR exit (shared with User VMs, whose MSRPM intercepts every MSR).
pub(crate) fn handle_msr(vcpu: &mut Vcpu) {
    let msr = vcpu.regs.rcx as u32;
    let write = vcpu.vmcb.control.exit_info1 & 1 != 0;
    let value = (vcpu.regs.rdx << 32) | (vcpu.vmcb.save.rax & 0xffff_ffff);
    let read = match (msr, write) {
        (MSR_EFER, false) => Some(vcpu.vmcb.save.efer & !EFER_SVME),
        (MSR_EFER, true) if value & !EFER_WRITABLE == 0 => {
            // LMA is the CPU's to set; SVME stays on for VMRUN.
            let s = &mut vcpu.vmcb.save;
            s.efer = (value & !EFER_LMA) | (s.efer & EFER_LMA) | EFER_SVME;
            None
        }
        (MSR_VM_CR, false) => Some(VM_CR_GUEST),
        (MSR_VM_HSAVE_PA, false) => Some(0),
        (MSR_VM_CR | MSR_VM_HSAVE_PA, true) => None,
        _ => {
            vcpu.inject(INJECT_GP0);
            return;
        }
    };
    if let Some(v) = read {
        vcpu.vmcb.save.rax = v & 0xffff_ffff;
        vcpu.regs.rdx = v >> 32;
    }
    vcpu.advance_rip(LEN_MSR);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::VMCALL;
    use crate::vmcb::Vmcb;
    use acrn_hv_core::cpuid::{CpuidCtx, LEAF_SIGNATURE};
    use acrn_hv_core::error::{HvResult, EINVAL};
    use acrn_hv_core::guest_mem::GuestMemory;
    use acrn_hv_core::hv_err;

    /// Guest RAM with paging off: linear = physical.
    struct Host {
        mem: Mem,
        calls: Vec<(HcCaller, HcArgs)>,
        outcome: HcOutcome,
    }

    struct Mem(Vec<u8>);

    impl GuestMemory for Mem {
        fn read_bytes(&self, gpa: u64, buf: &mut [u8]) -> HvResult {
            let s = gpa as usize;
            buf.copy_from_slice(self.0.get(s..s + buf.len()).ok_or(hv_err!(EINVAL))?);
            Ok(())
        }
        fn write_bytes(&mut self, _: u64, _: &[u8]) -> HvResult {
            Err(hv_err!(EINVAL))
        }
    }

    impl ExitHost for Host {
        type Mem = Mem;
        fn mem(&self) -> &Mem {
            &self.mem
        }
        fn hypercall(&mut self, caller: HcCaller, args: HcArgs) -> HcOutcome {
            self.calls.push((caller, args));
            self.outcome
        }
        fn cpuid_ctx(&self, _: u16, cr4: u64) -> CpuidCtx {
            CpuidCtx {
                tsc_khz: 1000,
                privileged: true,
                guest_cr4: cr4,
                debug: [[0; 4]; 3],
            }
        }
        fn native_cpuid(&self, _: u32, _: u32, _: u64) -> CpuidResult {
            CpuidResult {
                eax: 1,
                ebx: 2,
                ecx: 3,
                edx: 4,
            }
        }
    }

    fn setup(code: u64, outcome: HcOutcome) -> (Vcpu, Host) {
        let vmcb: &'static mut Vmcb = Box::leak(Box::new(Vmcb::ZERO));
        vmcb.control.exit_code = code;
        vmcb.save.rip = 0x1000;
        let mut mem = Mem(vec![0; 0x2000]);
        mem.0[0x1000..0x1003].copy_from_slice(&VMCALL);
        mem.0[0x1800..0x1802].copy_from_slice(&[0x0f, 0x0b]); // ud2
        let v = Vcpu::new(vmcb, 0, None);
        (
            v,
            Host {
                mem,
                calls: vec![],
                outcome,
            },
        )
    }

    #[test]
    fn vmcall_runs_the_hypercall() {
        let (mut v, mut h) = setup(EXIT_EXCP_UD, HcOutcome::Return(-1));
        v.regs.r8 = 0x8000_0010;
        v.regs.rdi = 0x1234;
        v.regs.rsi = 0x5678;
        v.vmcb.save.cpl = 0;
        assert_eq!(handle_exit(&mut v, &mut h), Ok(()));
        assert_eq!(h.calls.len(), 1);
        assert_eq!(
            h.calls[0].1,
            HcArgs {
                id: 0x8000_0010,
                param1: 0x1234,
                param2: 0x5678
            }
        );
        assert_eq!(v.vmcb.save.rax, u64::MAX, "int32 -1 sign-extended");
        assert_eq!(v.vmcb.save.rip, 0x1003);
        assert_eq!(v.vmcb.control.event_inj, 0);
    }

    #[test]
    fn vmcall_refused_injects_without_advancing() {
        let (mut v, mut h) = setup(EXIT_EXCP_UD, HcOutcome::InjectGp);
        v.vmcb.save.cpl = 3;
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(h.calls[0].0.cpl, 3);
        assert_eq!(v.vmcb.control.event_inj, INJECT_GP0);
        assert_eq!(v.vmcb.save.rip, 0x1000);
        let (mut v, mut h) = setup(EXIT_EXCP_UD, HcOutcome::InjectUd);
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcb.control.event_inj, INJECT_UD);
    }

    #[test]
    fn other_ud_is_reflected() {
        let (mut v, mut h) = setup(EXIT_EXCP_UD, HcOutcome::Return(0));
        v.vmcb.save.rip = 0x1800;
        handle_exit(&mut v, &mut h).unwrap();
        assert!(h.calls.is_empty());
        assert_eq!(v.vmcb.control.event_inj, INJECT_UD);
        assert_eq!(v.vmcb.save.rip, 0x1800);
        // Unreadable RIP: #UD too, no panic.
        v.vmcb.save.rip = 0xffff_0000;
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcb.control.event_inj, INJECT_UD);
    }

    #[test]
    fn cpuid_and_svm_instructions() {
        let (mut v, mut h) = setup(EXIT_CPUID, HcOutcome::Return(0));
        v.vmcb.save.rax = u64::from(LEAF_SIGNATURE);
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcb.save.rax, 0x4000_0010);
        assert_eq!(v.regs.rbx, u64::from(u32::from_le_bytes(*b"ACRN")));
        assert_eq!(v.vmcb.save.rip, 0x1002);
        let (mut v, mut h) = setup(EXIT_VMRUN, HcOutcome::Return(0));
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcb.control.event_inj, INJECT_UD);
    }

    #[test]
    fn efer_keeps_svme_hidden() {
        let (mut v, mut h) = setup(EXIT_MSR, HcOutcome::Return(0));
        v.vmcb.save.efer = 0x1d00;
        v.regs.rcx = u64::from(MSR_EFER);
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcb.save.rax, 0xd00);
        v.vmcb.control.exit_info1 = 1;
        v.vmcb.save.rax = 0x901; // SCE | NXE | LME, without LMA
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcb.save.efer, 0x1d01);
        assert_eq!(v.vmcb.save.rip, 0x1004);
        v.vmcb.save.rax = 1 << 20;
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcb.control.event_inj, INJECT_GP0);
        assert_eq!(v.vmcb.save.rip, 0x1004);
    }

    #[test]
    fn parking_exits() {
        for (code, park) in [
            (0xffff_ffff, Park::InvalidVmcb),
            (u64::MAX, Park::InvalidVmcb),
            (EXIT_SHUTDOWN, Park::Shutdown),
            (EXIT_NPF, Park::NestedPageFault),
            (EXIT_HLT, Park::Unhandled(EXIT_HLT)),
        ] {
            let (mut v, mut h) = setup(code, HcOutcome::Return(0));
            assert_eq!(handle_exit(&mut v, &mut h), Err(park));
        }
    }

    #[test]
    fn interrupted_event_is_reinjected() {
        let (mut v, mut h) = setup(EXIT_CPUID, HcOutcome::Return(0));
        v.vmcb.control.exit_int_info = event::VALID | 0x30;
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcb.control.event_inj, event::VALID | 0x30);
    }
}
