// SPDX-License-Identifier: GPL-2.0

//! A vCPU: its VMCB, the guest registers the VMCB does not hold, its XCR0, and the VMRUN
//! stub.
//!
//! `svm_vmrun(vmcb_pa, regs)` saves the host's callee-saved registers, loads the guest's
//! general registers, runs `vmload; vmrun; vmsave` on the VMCB (so FS/GS/TR/LDTR, the
//! SYSCALL MSRs and KernelGsBase are the guest's while it runs and are saved back on exit),
//! stores the guest registers and returns. RAX, RSP, RIP and RFLAGS live in the VMCB. VMRUN
//! runs with the host's RFLAGS.IF set (GIF is still clear, so the host takes nothing): with
//! V_INTR_MASKING (User VMs) that IF is what lets physical interrupts make the guest exit.
//!
//! XCR0 is not switched by SVM and QEMU cannot intercept XSETBV, so [`Vcpu::enter`] loads
//! the guest's XCR0 before VMRUN, reads it back after the exit and restores the host's. The
//! host XCR0 enables every component the CPU supports, so switching back never discards
//! guest register state (the hypervisor, built soft-float, never touches those registers).

use crate::vmcb::*;

/// Guest general registers not in the VMCB (layout shared with the VMRUN stub).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestRegs {
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

#[cfg(target_os = "none")]
core::arch::global_asm!(
    r#"
    .section .text.svm_vmrun, "ax"
    .global svm_vmrun
svm_vmrun:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    push %rsi
    push %rdi
    mov %rsi, %rax
    mov 0(%rax), %rbx
    mov 8(%rax), %rcx
    mov 16(%rax), %rdx
    mov 24(%rax), %rsi
    mov 32(%rax), %rdi
    mov 40(%rax), %rbp
    mov 48(%rax), %r8
    mov 56(%rax), %r9
    mov 64(%rax), %r10
    mov 72(%rax), %r11
    mov 80(%rax), %r12
    mov 88(%rax), %r13
    mov 96(%rax), %r14
    mov 104(%rax), %r15
    mov (%rsp), %rax
    vmload %rax
    sti
    vmrun %rax
    cli
    vmsave %rax
    mov 8(%rsp), %rax
    mov %rbx, 0(%rax)
    mov %rcx, 8(%rax)
    mov %rdx, 16(%rax)
    mov %rsi, 24(%rax)
    mov %rdi, 32(%rax)
    mov %rbp, 40(%rax)
    mov %r8, 48(%rax)
    mov %r9, 56(%rax)
    mov %r10, 64(%rax)
    mov %r11, 72(%rax)
    mov %r12, 80(%rax)
    mov %r13, 88(%rax)
    mov %r14, 96(%rax)
    mov %r15, 104(%rax)
    add $16, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
"#,
    options(att_syntax)
);

#[cfg(target_os = "none")]
extern "C" {
    fn svm_vmrun(vmcb_pa: u64, regs: *mut GuestRegs);
}

pub use acrn_hv_boot::linux::LongModeEntry;

/// VM-wide settings of a VMCB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmcbConfig {
    /// ASID (≥ 1).
    pub asid: u32,
    /// Nested page table root.
    pub n_cr3: u64,
    /// IOPM physical address.
    pub iopm_pa: u64,
    /// MSRPM physical address.
    pub msrpm_pa: u64,
}

/// CR0 of a 64-bit guest at entry: PE, MP, ET, NE, WP, PG.
pub const ENTRY_CR0: u64 = 0x8001_0033;
/// CR4 at entry: PAE.
pub const ENTRY_CR4: u64 = 0x20;
/// EFER at entry: LME, LMA, SVME (VMRUN requires SVME; the guest never sees it).
pub const ENTRY_EFER: u64 = (1 << 8) | (1 << 10) | (1 << 12);
/// Power-on PAT.
pub const DEFAULT_PAT: u64 = 0x0007_0406_0007_0406;

/// The exceptions intercepted: #UD only (ACRN's `vmcall` arrives as #UD on AMD).
pub const EXCEPTION_INTERCEPTS: u32 = 1 << crate::event::UD;
/// Intercepts of vector 3: CPUID, INVLPGA, IOPM, MSRPM, shutdown. No INTR/NMI/HLT:
/// interrupts, NMIs and idling belong to the Service VM.
pub const INTERCEPTS1: u32 = INTERCEPT1_CPUID
    | INTERCEPT1_INVLPGA
    | INTERCEPT1_IOIO_PROT
    | INTERCEPT1_MSR_PROT
    | INTERCEPT1_SHUTDOWN;
/// Intercepts of vector 4: every SVM instruction (SVM is hidden from the guest).
pub const INTERCEPTS2: u32 = INTERCEPT2_VMRUN
    | INTERCEPT2_VMMCALL
    | INTERCEPT2_VMLOAD
    | INTERCEPT2_VMSAVE
    | INTERCEPT2_STGI
    | INTERCEPT2_CLGI
    | INTERCEPT2_SKINIT;

/// Fills `vmcb` for a guest entering 64-bit mode at `e` (everything else zero).
pub fn init_vmcb(vmcb: &mut Vmcb, cfg: &VmcbConfig, e: &LongModeEntry) {
    *vmcb = Vmcb::ZERO;
    let c = &mut vmcb.control;
    c.intercept_exceptions = EXCEPTION_INTERCEPTS;
    c.intercept1 = INTERCEPTS1;
    c.intercept2 = INTERCEPTS2;
    c.iopm_base_pa = cfg.iopm_pa;
    c.msrpm_base_pa = cfg.msrpm_pa;
    c.guest_asid = cfg.asid;
    c.tlb_control = TLB_FLUSH_ALL;
    // V_INTR_MASKING off: the guest's RFLAGS.IF masks physical interrupts directly.
    c.int_ctl = 0;
    c.np_control = NP_ENABLE;
    c.n_cr3 = cfg.n_cr3;
    let s = &mut vmcb.save;
    s.cs = Segment::flat(e.cs, ATTR_CODE64);
    let data = Segment::flat(e.ds, ATTR_DATA);
    (s.ds, s.es, s.ss, s.fs, s.gs) = (data, data, data, data, data);
    s.gdtr = Segment {
        limit: e.gdt_limit,
        base: e.gdt_base,
        ..Segment::default()
    };
    s.idtr = Segment::default();
    s.tr = Segment {
        attrib: ATTR_TSS64,
        limit: 0x67,
        ..Segment::default()
    };
    s.ldtr = Segment {
        attrib: ATTR_LDT,
        limit: 0xffff,
        ..Segment::default()
    };
    s.cpl = 0;
    s.efer = ENTRY_EFER;
    s.cr0 = ENTRY_CR0;
    s.cr3 = e.cr3;
    s.cr4 = ENTRY_CR4;
    s.dr6 = 0xffff_0ff0;
    s.dr7 = 0x400;
    s.rflags = 0x2;
    s.rip = e.rip;
    s.g_pat = DEFAULT_PAT;
}

/// A virtual CPU on SVM.
pub struct Vcpu {
    /// Its VMCB (identity mapped: virtual address = physical address).
    pub vmcb: &'static mut Vmcb,
    /// General registers outside the VMCB.
    pub regs: GuestRegs,
    /// Absolute id of its VM.
    pub vmid: u16,
    /// The guest's XCR0 (meaningful when `host_xcr0` is `Some`).
    pub guest_xcr0: u64,
    /// The host's XCR0 if the CPU has XSAVE (host CR4.OSXSAVE set), else `None`.
    pub host_xcr0: Option<u64>,
    /// Number of exits handled.
    pub exits: u64,
}

impl Vcpu {
    /// A vCPU of VM `vmid` over `vmcb`.
    pub fn new(vmcb: &'static mut Vmcb, vmid: u16, host_xcr0: Option<u64>) -> Self {
        Self {
            vmcb,
            regs: GuestRegs::default(),
            vmid,
            guest_xcr0: 1,
            host_xcr0,
            exits: 0,
        }
    }

    /// Physical address of the VMCB.
    pub fn vmcb_pa(&self) -> u64 {
        core::ptr::addr_of!(*self.vmcb) as u64
    }

    /// Skips `len` bytes of guest code (no NRIP save under QEMU: lengths are known).
    ///
    /// The skipped instruction completes, and so does an interrupt shadow it was in (after STI
    /// or MOV SS): the shadow bit is cleared, as the CPU would. Otherwise `sti; hlt; cli` with
    /// a pending interrupt would return to `cli` still shadowed, and the interrupt that should
    /// end the HLT would never be taken.
    pub fn advance_rip(&mut self, len: u64) {
        self.vmcb.save.rip = self.vmcb.save.rip.wrapping_add(len);
        self.vmcb.control.int_state &= !INTERRUPT_SHADOW;
    }

    /// Injects `event` (EVENTINJ format) at the next VMRUN.
    pub fn inject(&mut self, event: u64) {
        self.vmcb.control.event_inj = event;
    }

    /// The guest's paging state.
    pub fn paging(&self) -> crate::decode::Paging {
        let s = &self.vmcb.save;
        crate::decode::Paging {
            cr0: s.cr0,
            cr3: s.cr3,
            cr4: s.cr4,
            efer: s.efer,
        }
    }

    /// Runs the guest until the next #VMEXIT.
    #[cfg(target_os = "none")]
    pub fn enter(&mut self) {
        use acrn_hv_boot::x86::{xgetbv0, xsetbv0};
        let pa = self.vmcb_pa();
        if let Some(host) = self.host_xcr0 {
            if self.guest_xcr0 != host {
                // SAFETY: CR4.OSXSAVE is set (host_xcr0 is Some); guest_xcr0 was accepted
                // by the CPU when the guest set it (or is the initial x87-only 1).
                unsafe { xsetbv0(self.guest_xcr0) };
            }
        }
        // SAFETY: SVM is enabled, `pa` is this vCPU's VMCB in hypervisor memory, set up by
        // `init_vmcb`; the stub saves and restores every callee-saved host register and
        // only writes `self.regs`.
        unsafe { svm_vmrun(pa, &mut self.regs) };
        if let Some(host) = self.host_xcr0 {
            // SAFETY: CR4.OSXSAVE is set; `host` is the XCR0 the host ran with before.
            unsafe {
                self.guest_xcr0 = xgetbv0();
                if self.guest_xcr0 != host {
                    xsetbv0(host);
                }
            }
        }
        // After the first run the TLB needs no flushing (one ASID per VM).
        self.vmcb.control.tlb_control = 0;
    }

    /// Logs the guest state (for parked vCPUs and failed VMRUNs).
    pub fn dump(&self) {
        use acrn_hv_boot::error;
        let (c, s, r) = (&self.vmcb.control, &self.vmcb.save, &self.regs);
        error!(
            "vm{} exit {:#x} info1 {:#x} info2 {:#x} intinfo {:#x} after {} exits",
            self.vmid, c.exit_code, c.exit_info1, c.exit_info2, c.exit_int_info, self.exits
        );
        error!(
            "rip {:#x} rsp {:#x} rflags {:#x} cpl {} cs {:#x}/{:#x} efer {:#x}",
            s.rip, s.rsp, s.rflags, s.cpl, s.cs.selector, s.cs.attrib, s.efer
        );
        error!(
            "cr0 {:#x} cr2 {:#x} cr3 {:#x} cr4 {:#x} ncr3 {:#x} asid {}",
            s.cr0, s.cr2, s.cr3, s.cr4, c.n_cr3, c.guest_asid
        );
        error!(
            "rax {:#x} rbx {:#x} rcx {:#x} rdx {:#x} rsi {:#x} rdi {:#x} rbp {:#x}",
            s.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp
        );
        error!(
            "r8 {:#x} r9 {:#x} r10 {:#x} r11 {:#x} r12 {:#x} r13 {:#x} r14 {:#x} r15 {:#x}",
            r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn regs_layout_matches_the_stub() {
        assert_eq!(offset_of!(GuestRegs, rbx), 0);
        assert_eq!(offset_of!(GuestRegs, rsi), 24);
        assert_eq!(offset_of!(GuestRegs, rdi), 32);
        assert_eq!(offset_of!(GuestRegs, r8), 48);
        assert_eq!(offset_of!(GuestRegs, r15), 104);
        assert_eq!(core::mem::size_of::<GuestRegs>(), 112);
    }

    #[test]
    fn long_mode_vmcb() {
        let mut v = Box::new(Vmcb::ZERO);
        let cfg = VmcbConfig {
            asid: 1,
            n_cr3: 0x1000,
            iopm_pa: 0x2000,
            msrpm_pa: 0x5000,
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
        init_vmcb(&mut v, &cfg, &e);
        assert_eq!(
            v.control.intercept2 & INTERCEPT2_VMRUN,
            INTERCEPT2_VMRUN,
            "VMRUN must be intercepted"
        );
        assert_eq!(
            v.control.intercept1 & INTERCEPT1_INTR,
            0,
            "interrupts pass through"
        );
        assert_eq!(v.control.int_ctl & (1 << 24), 0, "no V_INTR_MASKING");
        assert_eq!(v.control.intercept_exceptions, 1 << 6);
        assert_eq!(v.control.np_control, NP_ENABLE);
        assert_ne!(v.control.guest_asid, 0);
        assert_eq!(v.save.efer & (1 << 12), 1 << 12, "SVME");
        assert_eq!(v.save.cs.attrib, 0xa9b);
        assert_eq!(v.save.ss.selector, 0x18);
        assert_eq!(v.save.rip, 0x100_0200);
        assert_eq!(v.save.cr3, 0x8_3000);
    }
}
