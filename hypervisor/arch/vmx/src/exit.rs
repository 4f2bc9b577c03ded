// SPDX-License-Identifier: GPL-2.0

//! VM-exit handling: [`handle_exit`] is the one `match` over basic exit reasons, mirroring
//! the SVM backend's and mapping to the same core actions ([`ExitHost`]). A handler either
//! resumes the guest (possibly with an event to inject) or returns [`Park`]; nothing a
//! guest does can panic the hypervisor. Instruction lengths always come from the VM-exit
//! instruction-length field.
//!
//! | exit | action |
//! |---|---|
//! | VMCALL (18) | ACRN hypercall directly (no #UD decode): R8 id, RDI/RSI, RAX result, RIP += exit length; #UD / #GP(0) injected per [`HcOutcome`]; CPL = SS.DPL |
//! | CPUID (10) | [`guest_cpuid`] (shared with SVM), RIP += exit length |
//! | XSETBV (55) | checked against the host's XCR0 (else #GP(0)), becomes the guest's XCR0 |
//! | CR access (28) | MOV to CR0/CR4 keeps the VMX-forced bits (read shadow = guest value); MOV to/from CR3 if CR3 exiting is forced; else park |
//! | RDMSR/WRMSR (31/32) | IA32_FEATURE_CONTROL reads "locked, VMX off"; VMX capability MSRs and MSRs outside the bitmap: #GP(0) |
//! | VMX instructions (19-27, 50, 53), GETSEC | #UD (VMX is hidden) |
//! | INVD (13) | skipped |
//! | EPT violation (48) | park with the GPA and decoded qualification (like SVM's NPF) |
//! | triple fault, EPT misconfiguration, entry failure, anything else | park |

use crate::caps::MSR_FEATURE_CONTROL;
use crate::exit_reason::{CrAccess, EptViolation, ExitInfo, ExitReason};
use crate::fixed::GuestCr;
use crate::instr::VmxFail;
use crate::vcpu::Vcpu;
use crate::vmcs::*;
use acrn_hv_core::cpuid::{guest_cpuid, is_hypervisor_leaf, CpuidResult};
pub use acrn_hv_core::exit::ExitHost;
use acrn_hv_core::hypercall::{HcArgs, HcCaller, HcOutcome};

/// Interruption information: valid.
pub const INTR_VALID: u32 = 1 << 31;
/// Interruption information: deliver an error code.
pub const INTR_ERROR_CODE: u32 = 1 << 11;
/// Interruption type: hardware exception.
pub const INTR_TYPE_HW_EXCEPTION: u32 = 3 << 8;
/// #UD for the VM-entry interruption-information field.
pub const INJECT_UD: u32 = INTR_VALID | INTR_TYPE_HW_EXCEPTION | 6;
/// #GP(0).
pub const INJECT_GP0: u32 = INTR_VALID | INTR_TYPE_HW_EXCEPTION | INTR_ERROR_CODE | 13;

/// Why a vCPU is parked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Park {
    /// VM entry failed (exit reason bit 31) with this basic reason.
    EntryFailure(u16),
    /// The guest triple-faulted.
    TripleFault,
    /// The guest touched guest-physical memory it has no mapping for.
    EptViolation {
        /// Guest-physical address.
        gpa: u64,
        /// The decoded qualification.
        qual: EptViolation,
    },
    /// An EPT entry is malformed (a hypervisor bug).
    EptMisconfig(u64),
    /// A VMREAD/VMWRITE failed.
    Vmcs(VmxFail),
    /// No handler for this exit (basic reason, qualification).
    Unhandled(u16, u64),
}

impl From<VmxFail> for Park {
    fn from(f: VmxFail) -> Self {
        Self::Vmcs(f)
    }
}

fn inject<V: Vmcs>(v: &mut V, info: u32) -> Result<(), VmxFail> {
    v.write(ENTRY_INTR_INFO, info.into())?;
    if info & INTR_ERROR_CODE != 0 {
        v.write(ENTRY_EXCEPTION_ERROR_CODE, 0)?;
    }
    Ok(())
}

/// Re-delivers an event whose delivery the exit interrupted (IDT-vectoring information),
/// else clears any injection left from the previous exit.
fn reinject<V: Vmcs>(v: &mut V) -> Result<(), VmxFail> {
    let idt = v.read(IDT_VECTORING_INFO)? as u32;
    if idt & INTR_VALID == 0 {
        return v.write(ENTRY_INTR_INFO, 0);
    }
    // Bit 12 is undefined in IDT-vectoring info and reserved in the entry field.
    v.write(ENTRY_INTR_INFO, u64::from(idt & !(1 << 12)))?;
    if idt & INTR_ERROR_CODE != 0 {
        let ec = v.read(IDT_VECTORING_ERROR_CODE)?;
        v.write(ENTRY_EXCEPTION_ERROR_CODE, ec)?;
    }
    // Software interrupts and exceptions (types 4-6) need the instruction length.
    if matches!((idt >> 8) & 7, 4..=6) {
        let len = v.read(EXIT_INSTRUCTION_LEN)?;
        v.write(ENTRY_INSTRUCTION_LEN, len)?;
    }
    Ok(())
}

/// Handles the exit that just happened on `vcpu`.
pub fn handle_exit<V: Vmcs, H: ExitHost>(vcpu: &mut Vcpu<V>, host: &mut H) -> Result<(), Park> {
    vcpu.exits += 1;
    let info = ExitInfo::decode(vcpu.vmcs.read(EXIT_REASON)? as u32);
    if info.entry_failure {
        return Err(Park::EntryFailure(info.basic));
    }
    reinject(&mut vcpu.vmcs)?;
    let qual = vcpu.vmcs.read(EXIT_QUALIFICATION)?;
    match info.reason() {
        Some(ExitReason::Vmcall) => handle_vmcall(vcpu, host)?,
        Some(ExitReason::Cpuid) => handle_cpuid(vcpu, host)?,
        Some(ExitReason::Xsetbv) => handle_xsetbv(vcpu)?,
        Some(ExitReason::CrAccess) => handle_cr(vcpu, CrAccess::decode(qual), qual)?,
        Some(ExitReason::Rdmsr) => handle_msr(vcpu, false)?,
        Some(ExitReason::Wrmsr) => handle_msr(vcpu, true)?,
        Some(
            ExitReason::Vmclear
            | ExitReason::Vmlaunch
            | ExitReason::Vmptrld
            | ExitReason::Vmptrst
            | ExitReason::Vmread
            | ExitReason::Vmresume
            | ExitReason::Vmwrite
            | ExitReason::Vmxoff
            | ExitReason::Vmxon
            | ExitReason::Invept
            | ExitReason::Invvpid
            | ExitReason::Getsec,
        ) => inject(&mut vcpu.vmcs, INJECT_UD)?,
        Some(ExitReason::Invd) => vcpu.skip_instruction()?,
        Some(ExitReason::TripleFault) => return Err(Park::TripleFault),
        Some(ExitReason::EptViolation) => {
            return Err(Park::EptViolation {
                gpa: vcpu.vmcs.read(GUEST_PHYSICAL_ADDR)?,
                qual: EptViolation::decode(qual),
            })
        }
        Some(ExitReason::EptMisconfig) => {
            return Err(Park::EptMisconfig(vcpu.vmcs.read(GUEST_PHYSICAL_ADDR)?))
        }
        _ => return Err(Park::Unhandled(info.basic, qual)),
    }
    Ok(())
}

/// ACRN's hypercall: VMCALL exits unconditionally in VMX non-root operation.
fn handle_vmcall<V: Vmcs, H: ExitHost>(vcpu: &mut Vcpu<V>, host: &mut H) -> Result<(), VmxFail> {
    // CPL is SS.DPL (SDM 25.4.1: the access rights of SS hold the current privilege level).
    let cpl = ((vcpu.vmcs.read(GUEST_SS_AR)? >> 5) & 3) as u8;
    let caller = HcCaller {
        vmid: vcpu.vmid,
        cpl,
    };
    let r = &vcpu.regs;
    let args = HcArgs {
        id: r.r8,
        param1: r.rdi,
        param2: r.rsi,
    };
    match host.hypercall(caller, args) {
        HcOutcome::InjectUd => inject(&mut vcpu.vmcs, INJECT_UD),
        HcOutcome::InjectGp => inject(&mut vcpu.vmcs, INJECT_GP0),
        HcOutcome::Return(v) => {
            vcpu.regs.rax = v as u64;
            vcpu.skip_instruction()
        }
    }
}

fn handle_cpuid<V: Vmcs, H: ExitHost>(vcpu: &mut Vcpu<V>, host: &mut H) -> Result<(), VmxFail> {
    let (leaf, subleaf) = (vcpu.regs.rax as u32, vcpu.regs.rcx as u32);
    let native = if is_hypervisor_leaf(leaf) {
        CpuidResult::default()
    } else {
        host.native_cpuid(leaf, subleaf, vcpu.guest_xcr0)
    };
    let cr4 = GuestCr::guest_view(
        vcpu.vmcs.read(GUEST_CR4)?,
        vcpu.vmcs.read(CR4_READ_SHADOW)?,
        vcpu.vmcs.read(CR4_GUEST_HOST_MASK)?,
    );
    let ctx = host.cpuid_ctx(vcpu.vmid, cr4);
    let r = guest_cpuid(leaf, subleaf, native, &ctx);
    vcpu.regs.rax = r.eax.into();
    vcpu.regs.rbx = r.ebx.into();
    vcpu.regs.rcx = r.ecx.into();
    vcpu.regs.rdx = r.edx.into();
    vcpu.skip_instruction()
}

/// Whether the guest may load `xcr0` on a host running with `host` (SDM XSETBV: x87 always
/// on, AVX needs SSE, the AVX-512 state components all or none and only with AVX, nothing
/// the host does not enable).
pub const fn xcr0_valid(xcr0: u64, host: u64) -> bool {
    const X87: u64 = 1;
    const SSE: u64 = 2;
    const AVX: u64 = 4;
    const BNDS: u64 = 0x18;
    const AVX512: u64 = 0xe0;
    xcr0 & X87 != 0
        && xcr0 & !host == 0
        && (xcr0 & AVX == 0 || xcr0 & SSE != 0)
        && (xcr0 & AVX512 == 0 || (xcr0 & AVX512 == AVX512 && xcr0 & AVX != 0))
        && (xcr0 & BNDS == 0 || xcr0 & BNDS == BNDS)
}

/// XSETBV exits unconditionally on VMX (on SVM under QEMU it cannot be intercepted and is
/// picked up from the CPU after the exit).
fn handle_xsetbv<V: Vmcs>(vcpu: &mut Vcpu<V>) -> Result<(), VmxFail> {
    let value = (vcpu.regs.rdx << 32) | (vcpu.regs.rax & 0xffff_ffff);
    match vcpu.host_xcr0 {
        Some(host) if vcpu.regs.rcx as u32 == 0 && xcr0_valid(value, host) => {
            vcpu.guest_xcr0 = value;
            vcpu.skip_instruction()
        }
        _ => inject(&mut vcpu.vmcs, INJECT_GP0),
    }
}

fn handle_cr<V: Vmcs>(vcpu: &mut Vcpu<V>, access: CrAccess, qual: u64) -> Result<(), Park> {
    match access {
        CrAccess::MovTo { cr, gpr } => {
            let value = match gpr {
                4 => vcpu.vmcs.read(GUEST_RSP)?,
                n => vcpu.regs.gpr(n).map_or(0, |r| *r),
            };
            match cr {
                0 => {
                    let c = GuestCr::new(value, vcpu.cr0_fixed);
                    vcpu.vmcs.write(GUEST_CR0, c.value)?;
                    vcpu.vmcs.write(CR0_READ_SHADOW, c.shadow)?;
                }
                3 => vcpu.vmcs.write(GUEST_CR3, value)?,
                4 => {
                    let c = GuestCr::new(value, vcpu.cr4_fixed);
                    vcpu.vmcs.write(GUEST_CR4, c.value)?;
                    vcpu.vmcs.write(CR4_READ_SHADOW, c.shadow)?;
                }
                _ => return Err(Park::Unhandled(ExitReason::CrAccess as u16, qual)),
            }
        }
        CrAccess::MovFrom { cr: 3, gpr } => {
            let v = vcpu.vmcs.read(GUEST_CR3)?;
            match vcpu.regs.gpr(gpr) {
                Some(r) => *r = v,
                None => vcpu.vmcs.write(GUEST_RSP, v)?,
            }
        }
        _ => return Err(Park::Unhandled(ExitReason::CrAccess as u16, qual)),
    }
    vcpu.skip_instruction()?;
    Ok(())
}

/// IA32_FEATURE_CONTROL as the guest reads it: locked, VMX disabled.
const FEATURE_CONTROL_GUEST: u64 = 1;

fn handle_msr<V: Vmcs>(vcpu: &mut Vcpu<V>, write: bool) -> Result<(), VmxFail> {
    let msr = vcpu.regs.rcx as u32;
    match (msr, write) {
        (MSR_FEATURE_CONTROL, false) => {
            vcpu.regs.rax = FEATURE_CONTROL_GUEST & 0xffff_ffff;
            vcpu.regs.rdx = FEATURE_CONTROL_GUEST >> 32;
            vcpu.skip_instruction()
        }
        // Writes to the locked register, the VMX capability MSRs
        // (MSR_VMX_FIRST..=MSR_VMX_LAST), and MSRs outside the bitmap ranges (which always
        // exit): #GP(0).
        _ => inject(&mut vcpu.vmcs, INJECT_GP0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_reason::ExitReason as R;
    use crate::fixed::{Fixed, CR4_VMXE};
    use crate::vmcs::fake::FakeVmcs;
    use acrn_hv_core::cpuid::{CpuidCtx, LEAF_SIGNATURE};
    use acrn_hv_core::error::{HvResult, EINVAL};
    use acrn_hv_core::guest_mem::GuestMemory;
    use acrn_hv_core::hv_err;

    struct Mem;

    impl GuestMemory for Mem {
        fn read_bytes(&self, _: u64, _: &mut [u8]) -> HvResult {
            Err(hv_err!(EINVAL))
        }
        fn write_bytes(&mut self, _: u64, _: &[u8]) -> HvResult {
            Err(hv_err!(EINVAL))
        }
    }

    struct Host {
        mem: Mem,
        calls: Vec<(HcCaller, HcArgs)>,
        outcome: HcOutcome,
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
                ecx: u32::MAX,
                edx: 4,
            }
        }
    }

    const CR4: Fixed = Fixed {
        fixed0: CR4_VMXE,
        fixed1: 0x0037_27ff,
    };

    fn setup(reason: ExitReason, outcome: HcOutcome) -> (Vcpu<FakeVmcs>, Host) {
        let mut vmcs = FakeVmcs::default();
        vmcs.set(EXIT_REASON, reason as u64);
        vmcs.set(GUEST_RIP, 0x1000);
        vmcs.set(EXIT_INSTRUCTION_LEN, 3);
        let cr0 = Fixed {
            fixed0: 0x21,
            fixed1: u64::MAX,
        };
        let v = Vcpu::new(vmcs, 0, Some(0x7), cr0, CR4);
        (
            v,
            Host {
                mem: Mem,
                calls: vec![],
                outcome,
            },
        )
    }

    #[test]
    fn vmcall_runs_the_hypercall() {
        let (mut v, mut h) = setup(R::Vmcall, HcOutcome::Return(-1));
        v.regs.r8 = 0x8000_0010;
        v.regs.rdi = 0x1234;
        v.regs.rsi = 0x5678;
        v.vmcs.set(GUEST_SS_AR, 0xc093);
        assert_eq!(handle_exit(&mut v, &mut h), Ok(()));
        assert_eq!(h.calls.len(), 1);
        assert_eq!(h.calls[0].0, HcCaller { vmid: 0, cpl: 0 });
        assert_eq!(
            h.calls[0].1,
            HcArgs {
                id: 0x8000_0010,
                param1: 0x1234,
                param2: 0x5678
            }
        );
        assert_eq!(v.regs.rax, u64::MAX, "int32 -1 sign-extended");
        assert_eq!(v.vmcs.get(GUEST_RIP), 0x1003);
        assert_eq!(v.vmcs.get(ENTRY_INTR_INFO), 0);
        // The length comes from the VMCS, not a constant.
        v.vmcs.set(EXIT_INSTRUCTION_LEN, 4);
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcs.get(GUEST_RIP), 0x1007);
    }

    #[test]
    fn vmcall_refused_injects_without_advancing() {
        let (mut v, mut h) = setup(R::Vmcall, HcOutcome::InjectGp);
        v.vmcs.set(GUEST_SS_AR, 0xc0f3); // DPL 3
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(h.calls[0].0.cpl, 3);
        assert_eq!(v.vmcs.get(ENTRY_INTR_INFO), u64::from(INJECT_GP0));
        assert_eq!(v.vmcs.get(ENTRY_EXCEPTION_ERROR_CODE), 0);
        assert_eq!(v.vmcs.get(GUEST_RIP), 0x1000);
        let (mut v, mut h) = setup(R::Vmcall, HcOutcome::InjectUd);
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcs.get(ENTRY_INTR_INFO), u64::from(INJECT_UD));
    }

    #[test]
    fn cpuid_uses_the_shared_policy() {
        let (mut v, mut h) = setup(R::Cpuid, HcOutcome::Return(0));
        v.vmcs.set(EXIT_INSTRUCTION_LEN, 2);
        v.regs.rax = u64::from(LEAF_SIGNATURE);
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.regs.rax, 0x4000_0010);
        assert_eq!(v.regs.rbx, u64::from(u32::from_le_bytes(*b"ACRN")));
        assert_eq!(v.vmcs.get(GUEST_RIP), 0x1002);
        v.regs.rax = 1;
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.regs.rcx & (1 << 5), 0, "VMX hidden");
        assert_ne!(v.regs.rcx & (1 << 31), 0, "hypervisor bit");
    }

    #[test]
    fn xsetbv() {
        let (mut v, mut h) = setup(R::Xsetbv, HcOutcome::Return(0));
        v.regs.rax = 0x3;
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.guest_xcr0, 3);
        assert_eq!(v.vmcs.get(GUEST_RIP), 0x1003);
        v.regs.rax = 0x5; // AVX without SSE
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcs.get(ENTRY_INTR_INFO), u64::from(INJECT_GP0));
        assert_eq!(v.guest_xcr0, 3);
        assert!(!xcr0_valid(0xf, 0x7), "beyond the host's XCR0");
        assert!(!xcr0_valid(0x2, 0x7), "x87 must stay on");
        assert!(xcr0_valid(0xe7, 0xff));
        assert!(!xcr0_valid(0x67, 0xff), "AVX-512 all or none");
    }

    #[test]
    fn cr4_write_keeps_vmxe_hidden() {
        let (mut v, mut h) = setup(R::CrAccess, HcOutcome::Return(0));
        v.vmcs.set(EXIT_QUALIFICATION, 0x0304); // mov cr4, rbx
        v.regs.rbx = 0x6f0;
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcs.get(GUEST_CR4), 0x6f0 | CR4_VMXE);
        assert_eq!(v.vmcs.get(CR4_READ_SHADOW), 0x6f0);
        assert_eq!(v.vmcs.get(GUEST_RIP), 0x1003);
        // mov rsp, cr3 (CR3 exiting forced on a CPU without TRUE_ controls).
        v.vmcs.set(EXIT_QUALIFICATION, 0x0413);
        v.vmcs.set(GUEST_CR3, 0x9000);
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcs.get(GUEST_RSP), 0x9000);
        // CLTS: not expected (TS is not masked): park, no panic.
        v.vmcs.set(EXIT_QUALIFICATION, 0x20);
        assert_eq!(handle_exit(&mut v, &mut h), Err(Park::Unhandled(28, 0x20)));
    }

    #[test]
    fn msrs_hide_vmx() {
        let (mut v, mut h) = setup(R::Rdmsr, HcOutcome::Return(0));
        v.regs.rcx = u64::from(MSR_FEATURE_CONTROL);
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!((v.regs.rax, v.regs.rdx), (1, 0));
        v.regs.rcx = 0x480;
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcs.get(ENTRY_INTR_INFO), u64::from(INJECT_GP0));
    }

    #[test]
    fn vmx_instructions_are_ud() {
        for r in [R::Vmxon, R::Vmlaunch, R::Vmread, R::Invept, R::Getsec] {
            let (mut v, mut h) = setup(r, HcOutcome::Return(0));
            handle_exit(&mut v, &mut h).unwrap();
            assert_eq!(v.vmcs.get(ENTRY_INTR_INFO), u64::from(INJECT_UD));
            assert_eq!(v.vmcs.get(GUEST_RIP), 0x1000);
        }
    }

    #[test]
    fn parking_exits() {
        let (mut v, mut h) = setup(R::EptViolation, HcOutcome::Return(0));
        v.vmcs.set(GUEST_PHYSICAL_ADDR, 0x1000_0000);
        v.vmcs.set(EXIT_QUALIFICATION, 0x182);
        match handle_exit(&mut v, &mut h) {
            Err(Park::EptViolation { gpa, qual }) => {
                assert_eq!(gpa, 0x1000_0000);
                assert!(qual.write);
            }
            other => panic!("{other:?}"),
        }
        let (mut v, mut h) = setup(R::TripleFault, HcOutcome::Return(0));
        assert_eq!(handle_exit(&mut v, &mut h), Err(Park::TripleFault));
        let (mut v, mut h) = setup(R::Hlt, HcOutcome::Return(0));
        assert_eq!(handle_exit(&mut v, &mut h), Err(Park::Unhandled(12, 0)));
        v.vmcs.set(EXIT_REASON, 0x8000_0021);
        assert_eq!(handle_exit(&mut v, &mut h), Err(Park::EntryFailure(33)));
        v.vmcs.set(EXIT_REASON, 35);
        assert_eq!(handle_exit(&mut v, &mut h), Err(Park::Unhandled(35, 0)));
    }

    #[test]
    fn interrupted_event_is_reinjected() {
        let (mut v, mut h) = setup(R::Cpuid, HcOutcome::Return(0));
        // A page fault (#PF, error code 2) interrupted by an EPT-related exit.
        v.vmcs.set(
            IDT_VECTORING_INFO,
            u64::from(INTR_VALID | INTR_TYPE_HW_EXCEPTION | INTR_ERROR_CODE | 14),
        );
        v.vmcs.set(IDT_VECTORING_ERROR_CODE, 2);
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(
            v.vmcs.get(ENTRY_INTR_INFO),
            u64::from(INTR_VALID | INTR_TYPE_HW_EXCEPTION | INTR_ERROR_CODE | 14)
        );
        assert_eq!(v.vmcs.get(ENTRY_EXCEPTION_ERROR_CODE), 2);
        // A software interrupt (type 4) also needs the instruction length.
        v.vmcs
            .set(IDT_VECTORING_INFO, u64::from(INTR_VALID | (4 << 8) | 0x80));
        v.vmcs.set(EXIT_INSTRUCTION_LEN, 2);
        handle_exit(&mut v, &mut h).unwrap();
        assert_eq!(v.vmcs.get(ENTRY_INSTRUCTION_LEN), 2);
    }
}
