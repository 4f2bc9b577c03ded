// SPDX-License-Identifier: GPL-2.0

//! A vCPU on VMX: guest general registers, XCR0, the VMCS it runs on, and the entry stub.
//!
//! `vmx_run(regs, launched)` saves the host's callee-saved registers, pushes `regs`, writes
//! the resulting RSP into `HOST_RSP`, loads the guest's general registers and executes
//! `vmlaunch` (first entry) or `vmresume`. A VM exit lands at `vmx_exit` (`HOST_RIP`) with
//! the stack as it was pushed; the guest registers are stored and 0 returned. A failed
//! entry (VMfailValid/Invalid) falls through and returns 1. RSP, RIP and RFLAGS live in
//! the VMCS.
//!
//! [`init_vmcs`] fills a VMCS for a 64-bit guest entering at a [`LongModeEntry`]; it is
//! written against the [`Vmcs`] trait and host-tested on a map.

use crate::caps::Controls;
use crate::fixed::{Fixed, GuestCr};
use crate::instr::VmxFail;
use crate::vmcs::*;
pub use acrn_hv_boot::linux::LongModeEntry;

/// Guest general registers (layout shared with the entry stub). RSP is in the VMCS.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestRegs {
    /// RAX.
    pub rax: u64,
    /// RBX.
    pub rbx: u64,
    /// RCX.
    pub rcx: u64,
    /// RDX.
    pub rdx: u64,
    /// RSI.
    pub rsi: u64,
    /// RDI.
    pub rdi: u64,
    /// RBP.
    pub rbp: u64,
    /// R8.
    pub r8: u64,
    /// R9.
    pub r9: u64,
    /// R10.
    pub r10: u64,
    /// R11.
    pub r11: u64,
    /// R12.
    pub r12: u64,
    /// R13.
    pub r13: u64,
    /// R14.
    pub r14: u64,
    /// R15.
    pub r15: u64,
}

impl GuestRegs {
    /// Register `n` in instruction-encoding order (0 = RAX … 15 = R15); RSP (4) is in the
    /// VMCS, so `None`.
    pub fn gpr(&mut self, n: u8) -> Option<&mut u64> {
        Some(match n {
            0 => &mut self.rax,
            1 => &mut self.rcx,
            2 => &mut self.rdx,
            3 => &mut self.rbx,
            5 => &mut self.rbp,
            6 => &mut self.rsi,
            7 => &mut self.rdi,
            8 => &mut self.r8,
            9 => &mut self.r9,
            10 => &mut self.r10,
            11 => &mut self.r11,
            12 => &mut self.r12,
            13 => &mut self.r13,
            14 => &mut self.r14,
            15 => &mut self.r15,
            _ => return None,
        })
    }
}

#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    .section .text.vmx_run, "ax"
    .global vmx_run
    .global vmx_exit
vmx_run:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi
    mov $0x6c14, %rax
    vmwrite %rsp, %rax
    jbe 2f
    cmp $0, %rsi
    mov %rdi, %rax
    mov 8(%rax), %rbx
    mov 16(%rax), %rcx
    mov 24(%rax), %rdx
    mov 32(%rax), %rsi
    mov 40(%rax), %rdi
    mov 48(%rax), %rbp
    mov 56(%rax), %r8
    mov 64(%rax), %r9
    mov 72(%rax), %r10
    mov 80(%rax), %r11
    mov 88(%rax), %r12
    mov 96(%rax), %r13
    mov 104(%rax), %r14
    mov 112(%rax), %r15
    mov 0(%rax), %rax
    jne 1f
    vmlaunch
    jmp 2f
1:
    vmresume
2:
    pop %rdi
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    mov $1, %eax
    ret
vmx_exit:
    push %rax
    mov 8(%rsp), %rax
    mov %rbx, 8(%rax)
    mov %rcx, 16(%rax)
    mov %rdx, 24(%rax)
    mov %rsi, 32(%rax)
    mov %rdi, 40(%rax)
    mov %rbp, 48(%rax)
    mov %r8, 56(%rax)
    mov %r9, 64(%rax)
    mov %r10, 72(%rax)
    mov %r11, 80(%rax)
    mov %r12, 88(%rax)
    mov %r13, 96(%rax)
    mov %r14, 104(%rax)
    mov %r15, 112(%rax)
    pop %rbx
    mov %rbx, 0(%rax)
    pop %rdi
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    xor %eax, %eax
    ret
"#,
    options(att_syntax)
);

#[cfg(target_os = "none")]
extern "C" {
    fn vmx_run(regs: *mut GuestRegs, launched: u64) -> u64;
    fn vmx_exit();
}

/// The host state a VM exit returns to (read from the CPU once per pCPU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostState {
    /// CR0.
    pub cr0: u64,
    /// CR3.
    pub cr3: u64,
    /// CR4 (VMXE set).
    pub cr4: u64,
    /// CS selector.
    pub cs: u16,
    /// Data selector for SS/DS/ES (FS/GS 0).
    pub ds: u16,
    /// TR selector: must not be null for VM entry.
    pub tr: u16,
    /// TR base.
    pub tr_base: u64,
    /// GDTR base.
    pub gdtr_base: u64,
    /// IDTR base.
    pub idtr_base: u64,
    /// IA32_EFER.
    pub efer: u64,
    /// IA32_PAT.
    pub pat: u64,
    /// Exit landing address (`vmx_exit`).
    pub rip: u64,
}

/// VM-wide settings of a VMCS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmcsConfig {
    /// Control values ([`crate::caps::CapMsrs::controls`]).
    pub ctls: Controls,
    /// EPT pointer (`EptFormat::eptp`).
    pub eptp: u64,
    /// VPID (≥ 1), used if the VPID control is on.
    pub vpid: u16,
    /// MSR bitmap physical address.
    pub msr_bitmap_pa: u64,
    /// CR0 constraints for the guest (unrestricted-guest exemption applied).
    pub cr0: Fixed,
    /// CR4 constraints.
    pub cr4: Fixed,
}

/// Guest CR0 at entry: PE, MP, ET, NE, WP, PG.
pub const ENTRY_CR0: u64 = 0x8001_0033;
/// Guest CR4 at entry: PAE.
pub const ENTRY_CR4: u64 = 0x20;
/// Guest EFER at entry: LME, LMA.
pub const ENTRY_EFER: u64 = (1 << 8) | (1 << 10);
/// Power-on PAT.
pub const DEFAULT_PAT: u64 = 0x0007_0406_0007_0406;
/// Access rights: 64-bit code, present, DPL 0, accessed, granular.
pub const AR_CODE64: u64 = 0xa09b;
/// Access rights: read/write data, present, DPL 0, accessed, 32-bit, granular.
pub const AR_DATA: u64 = 0xc093;
/// Access rights: busy 64-bit TSS, present.
pub const AR_TSS64: u64 = 0x8b;
/// Access rights: unusable segment.
pub const AR_UNUSABLE: u64 = 1 << 16;

/// Fills the current VMCS for a guest entering 64-bit mode at `e`.
pub fn init_vmcs<V: Vmcs>(
    v: &mut V,
    cfg: &VmcsConfig,
    host: &HostState,
    e: &LongModeEntry,
) -> Result<(), VmxFail> {
    let c = &cfg.ctls;
    v.write(PIN_BASED_CTLS, c.pin.into())?;
    v.write(PROC_BASED_CTLS, c.proc.into())?;
    v.write(PROC_BASED_CTLS2, c.proc2.into())?;
    v.write(EXIT_CTLS, c.exit.into())?;
    v.write(ENTRY_CTLS, c.entry.into())?;
    v.write(EXCEPTION_BITMAP, 0)?;
    v.write(CR3_TARGET_COUNT, 0)?;
    v.write(MSR_BITMAP, cfg.msr_bitmap_pa)?;
    v.write(EPT_POINTER, cfg.eptp)?;
    if c.proc2 & crate::caps::PROC2_VPID != 0 {
        v.write(VPID, cfg.vpid.into())?;
    }
    v.write(VMCS_LINK_POINTER, u64::MAX)?;
    v.write(ENTRY_INTR_INFO, 0)?;

    // Host state.
    v.write(HOST_CR0, host.cr0)?;
    v.write(HOST_CR3, host.cr3)?;
    v.write(HOST_CR4, host.cr4)?;
    v.write(HOST_CS_SEL, host.cs.into())?;
    for f in [HOST_SS_SEL, HOST_DS_SEL, HOST_ES_SEL] {
        v.write(f, host.ds.into())?;
    }
    v.write(HOST_FS_SEL, 0)?;
    v.write(HOST_GS_SEL, 0)?;
    v.write(HOST_TR_SEL, host.tr.into())?;
    v.write(HOST_FS_BASE, 0)?;
    v.write(HOST_GS_BASE, 0)?;
    v.write(HOST_TR_BASE, host.tr_base)?;
    v.write(HOST_GDTR_BASE, host.gdtr_base)?;
    v.write(HOST_IDTR_BASE, host.idtr_base)?;
    v.write(HOST_IA32_EFER, host.efer)?;
    v.write(HOST_IA32_PAT, host.pat)?;
    v.write(HOST_RIP, host.rip)?;

    // Guest state.
    let cr0 = GuestCr::new(ENTRY_CR0, cfg.cr0);
    let cr4 = GuestCr::new(ENTRY_CR4, cfg.cr4);
    v.write(GUEST_CR0, cr0.value)?;
    v.write(CR0_READ_SHADOW, cr0.shadow)?;
    v.write(CR0_GUEST_HOST_MASK, cr0.mask)?;
    v.write(GUEST_CR4, cr4.value)?;
    v.write(CR4_READ_SHADOW, cr4.shadow)?;
    v.write(CR4_GUEST_HOST_MASK, cr4.mask)?;
    v.write(GUEST_CR3, e.cr3)?;
    v.write(GUEST_IA32_EFER, ENTRY_EFER)?;
    v.write(GUEST_IA32_PAT, DEFAULT_PAT)?;
    v.write(GUEST_CS_SEL, e.cs.into())?;
    v.write(GUEST_CS_BASE, 0)?;
    v.write(GUEST_CS_LIMIT, 0xffff_ffff)?;
    v.write(GUEST_CS_AR, AR_CODE64)?;
    for (sel, base, limit, ar) in [
        (GUEST_DS_SEL, GUEST_DS_BASE, GUEST_DS_LIMIT, GUEST_DS_AR),
        (GUEST_ES_SEL, GUEST_ES_BASE, GUEST_ES_LIMIT, GUEST_ES_AR),
        (GUEST_SS_SEL, GUEST_SS_BASE, GUEST_SS_LIMIT, GUEST_SS_AR),
        (GUEST_FS_SEL, GUEST_FS_BASE, GUEST_FS_LIMIT, GUEST_FS_AR),
        (GUEST_GS_SEL, GUEST_GS_BASE, GUEST_GS_LIMIT, GUEST_GS_AR),
    ] {
        v.write(sel, e.ds.into())?;
        v.write(base, 0)?;
        v.write(limit, 0xffff_ffff)?;
        v.write(ar, AR_DATA)?;
    }
    v.write(GUEST_TR_SEL, 0)?;
    v.write(GUEST_TR_BASE, 0)?;
    v.write(GUEST_TR_LIMIT, 0x67)?;
    v.write(GUEST_TR_AR, AR_TSS64)?;
    v.write(GUEST_LDTR_SEL, 0)?;
    v.write(GUEST_LDTR_BASE, 0)?;
    v.write(GUEST_LDTR_LIMIT, 0)?;
    v.write(GUEST_LDTR_AR, AR_UNUSABLE)?;
    v.write(GUEST_GDTR_BASE, e.gdt_base)?;
    v.write(GUEST_GDTR_LIMIT, e.gdt_limit.into())?;
    v.write(GUEST_IDTR_BASE, 0)?;
    v.write(GUEST_IDTR_LIMIT, 0)?;
    v.write(GUEST_DR7, 0x400)?;
    v.write(GUEST_RFLAGS, 0x2)?;
    v.write(GUEST_RIP, e.rip)?;
    v.write(GUEST_RSP, 0)?;
    v.write(GUEST_INTERRUPTIBILITY, 0)?;
    v.write(GUEST_ACTIVITY_STATE, 0)?;
    v.write(GUEST_PENDING_DBG, 0)?;
    Ok(())
}

/// A virtual CPU on VMX, over VMCS access `V`.
pub struct Vcpu<V: Vmcs> {
    /// Its VMCS (current on this pCPU while the vCPU runs).
    pub vmcs: V,
    /// General registers (RSP is in the VMCS).
    pub regs: GuestRegs,
    /// Absolute id of its VM.
    pub vmid: u16,
    /// The guest's XCR0 (meaningful when `host_xcr0` is `Some`).
    pub guest_xcr0: u64,
    /// The host's XCR0 if XSAVE is on, else `None`.
    pub host_xcr0: Option<u64>,
    /// CR0 constraints (for guest writes to CR0).
    pub cr0_fixed: Fixed,
    /// CR4 constraints.
    pub cr4_fixed: Fixed,
    /// Whether VMLAUNCH succeeded once (then VMRESUME).
    pub launched: bool,
    /// Number of exits handled.
    pub exits: u64,
}

impl<V: Vmcs> Vcpu<V> {
    /// A vCPU of VM `vmid`.
    pub fn new(vmcs: V, vmid: u16, host_xcr0: Option<u64>, cr0: Fixed, cr4: Fixed) -> Self {
        Self {
            vmcs,
            regs: GuestRegs::default(),
            vmid,
            guest_xcr0: 1,
            host_xcr0,
            cr0_fixed: cr0,
            cr4_fixed: cr4,
            launched: false,
            exits: 0,
        }
    }

    /// Skips the instruction that exited, by the VM-exit instruction-length field.
    pub fn skip_instruction(&mut self) -> Result<(), VmxFail> {
        let len = self.vmcs.read(EXIT_INSTRUCTION_LEN)?;
        let rip = self.vmcs.read(GUEST_RIP)?;
        self.vmcs.write(GUEST_RIP, rip.wrapping_add(len))
    }
}

#[cfg(target_os = "none")]
impl Vcpu<crate::instr::HwVmcs> {
    /// Address of the exit landing point, for [`HostState::rip`].
    pub fn exit_rip() -> u64 {
        vmx_exit as *const () as u64
    }

    /// Runs the guest until the next VM exit; `Err` if VMLAUNCH/VMRESUME failed (then the
    /// VM-instruction error field says why).
    pub fn enter(&mut self) -> Result<(), VmxFail> {
        use acrn_hv_boot::x86::{xgetbv0, xsetbv0};
        if let Some(host) = self.host_xcr0 {
            if self.guest_xcr0 != host {
                // SAFETY: CR4.OSXSAVE is set (host_xcr0 is Some); guest_xcr0 passed the
                // XSETBV checks of the exit handler (or is the initial x87-only 1).
                unsafe { xsetbv0(self.guest_xcr0) };
            }
        }
        // SAFETY: `HwVmcs` guarantees VMX is on with this vCPU's VMCS current and its host
        // state valid; the stub restores every callee-saved host register and writes only
        // `self.regs`.
        let failed = unsafe { vmx_run(&mut self.regs, u64::from(self.launched)) } != 0;
        if let Some(host) = self.host_xcr0 {
            // SAFETY: CR4.OSXSAVE is set; `host` is the XCR0 the host ran with before.
            unsafe {
                if failed {
                    xsetbv0(host);
                } else {
                    self.guest_xcr0 = xgetbv0();
                    if self.guest_xcr0 != host {
                        xsetbv0(host);
                    }
                }
            }
        }
        if failed {
            return Err(VmxFail::Valid);
        }
        self.launched = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::tests::skylake;
    use crate::caps::SERVICE_VM_CONTROLS;
    use crate::fixed::CR4_VMXE;
    use crate::vmcs::fake::FakeVmcs;
    use acrn_hv_core::npt::EptFormat;
    use core::mem::offset_of;

    #[test]
    fn regs_layout_matches_the_stub() {
        assert_eq!(offset_of!(GuestRegs, rax), 0);
        assert_eq!(offset_of!(GuestRegs, rbx), 8);
        assert_eq!(offset_of!(GuestRegs, rsi), 32);
        assert_eq!(offset_of!(GuestRegs, rdi), 40);
        assert_eq!(offset_of!(GuestRegs, r8), 56);
        assert_eq!(offset_of!(GuestRegs, r15), 112);
        assert_eq!(core::mem::size_of::<GuestRegs>(), 120);
        assert_eq!(HOST_RSP.0, 0x6c14, "hard-coded in the stub");
        let mut r = GuestRegs {
            rbx: 3,
            r12: 12,
            ..Default::default()
        };
        assert_eq!(r.gpr(3).copied(), Some(3));
        assert_eq!(r.gpr(12).copied(), Some(12));
        assert!(r.gpr(4).is_none(), "RSP is in the VMCS");
    }

    #[test]
    fn long_mode_vmcs() {
        let m = skylake();
        let cfg = VmcsConfig {
            ctls: m.controls(&SERVICE_VM_CONTROLS).unwrap(),
            eptp: EptFormat::eptp(0x20_0000),
            vpid: 1,
            msr_bitmap_pa: 0x5000,
            cr0: Fixed {
                fixed0: m.cr0_fixed0,
                fixed1: m.cr0_fixed1,
            }
            .guest_cr0(true),
            cr4: Fixed {
                fixed0: m.cr4_fixed0,
                fixed1: m.cr4_fixed1,
            },
        };
        let host = HostState {
            tr: 0x28,
            rip: 0x1234,
            ..Default::default()
        };
        let e = LongModeEntry {
            rip: 0x100_0200,
            rsi: 0x8_0000,
            cr3: 0x8_3000,
            gdt_base: 0x8_2000,
            gdt_limit: 31,
            cs: 0x10,
            ds: 0x18,
        };
        let mut v = FakeVmcs::default();
        init_vmcs(&mut v, &cfg, &host, &e).unwrap();
        assert_eq!(v.get(EPT_POINTER), 0x20_0000 | 0x1e);
        assert_eq!(v.get(VPID), 1);
        assert_eq!(v.get(VMCS_LINK_POINTER), u64::MAX);
        assert_eq!(v.get(GUEST_RIP), 0x100_0200);
        assert_eq!(v.get(GUEST_CR3), 0x8_3000);
        assert_eq!(
            v.get(GUEST_CR4) & CR4_VMXE,
            CR4_VMXE,
            "VMX needs VMXE in the guest"
        );
        assert_eq!(
            v.get(CR4_READ_SHADOW),
            ENTRY_CR4,
            "the guest reads it clear"
        );
        assert_ne!(v.get(CR4_GUEST_HOST_MASK) & CR4_VMXE, 0);
        assert_eq!(v.get(GUEST_CS_AR), AR_CODE64);
        assert_eq!(v.get(GUEST_SS_SEL), 0x18);
        assert_eq!(v.get(GUEST_LDTR_AR), AR_UNUSABLE);
        assert_eq!(v.get(HOST_TR_SEL), 0x28);
        assert_eq!(v.get(HOST_RIP), 0x1234);
        assert_ne!(v.get(ENTRY_CTLS) & u64::from(crate::caps::ENTRY_IA32E), 0);
        assert_eq!(
            v.get(EXCEPTION_BITMAP),
            0,
            "no #UD intercept: vmcall exits directly"
        );
    }

    #[test]
    fn skip_uses_the_exit_instruction_length() {
        let mut v = Vcpu::new(
            FakeVmcs::default(),
            0,
            None,
            Fixed::default(),
            Fixed::default(),
        );
        v.vmcs.set(GUEST_RIP, 0x1000);
        v.vmcs.set(EXIT_INSTRUCTION_LEN, 3);
        v.skip_instruction().unwrap();
        assert_eq!(v.vmcs.get(GUEST_RIP), 0x1003);
    }
}
