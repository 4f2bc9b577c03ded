// SPDX-License-Identifier: GPL-2.0

//! The VMCB of a User VM vCPU, from the registers the device model gave with SET_VCPU_REGS
//! (ACRN `set_vcpu_regs` / `reset_vcpu_regs`): real, protected or long mode, as the
//! registers say; the architectural reset state (CS:IP = F000:FFF0) without them.
//!
//! Differences from the Service VM's VMCB ([`crate::vcpu::init_vmcb`]): everything the
//! guest can do to the platform exits. Every port (IOPM all ones) and MSR (MSRPM all ones)
//! is intercepted, HLT is intercepted (the vCPU waits in the hypervisor for an interrupt),
//! physical interrupts exit (INTR, NMI: the pCPU is the hypervisor's, a "kick" IPI brings
//! it back), and V_INTR_MASKING is on so that the guest's RFLAGS.IF masks only the
//! virtual interrupts the vLAPIC injects through V_IRQ.

use crate::vcpu::{GuestRegs, VmcbConfig, DEFAULT_PAT, EXCEPTION_INTERCEPTS, INTERCEPTS2};
use crate::vmcb::*;
use acrn_uapi::acrn::Regs;

/// Intercepts of vector 3 for a User VM.
pub const USER_INTERCEPTS1: u32 = INTERCEPT1_INTR
    | INTERCEPT1_NMI
    | INTERCEPT1_CPUID
    | INTERCEPT1_HLT
    | INTERCEPT1_INVLPGA
    | INTERCEPT1_IOIO_PROT
    | INTERCEPT1_MSR_PROT
    | INTERCEPT1_SHUTDOWN;

const CR0_PE: u64 = 1 << 0;
const CR0_PG: u64 = 1 << 31;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const EFER_SVME: u64 = 1 << 12;

/// Attributes of a real-mode data segment (present, read/write, accessed).
pub const ATTR_REAL_DATA: u16 = 0x0093;
/// Attributes of a real-mode code segment (present, execute/read, accessed).
pub const ATTR_REAL_CODE: u16 = 0x009b;
/// Attributes of a 32-bit TSS (busy), ACRN's `TR_AR` for new vCPUs.
pub const ATTR_TSS32_BUSY: u16 = 0x008b;

/// VMX access rights (`cs_ar`, SDM "guest segment access rights": descriptor bits 40..47
/// in 0..7, 52..55 in 12..15) to SVM's compressed attributes (bits 52..55 in 8..11).
pub const fn vmx_ar_to_svm(ar: u32) -> u16 {
    ((ar & 0xff) | ((ar >> 4) & 0xf00)) as u16
}

/// Fills `vmcb` and `gprs` for a User VM vCPU: from `regs` if SET_VCPU_REGS gave them,
/// else the power-on state.
pub fn init_user_vmcb(
    vmcb: &mut Vmcb,
    gprs: &mut GuestRegs,
    cfg: &VmcbConfig,
    regs: Option<&Regs>,
) {
    *vmcb = Vmcb::ZERO;
    *gprs = GuestRegs::default();
    let c = &mut vmcb.control;
    c.intercept_exceptions = EXCEPTION_INTERCEPTS;
    c.intercept1 = USER_INTERCEPTS1;
    c.intercept2 = INTERCEPTS2;
    c.iopm_base_pa = cfg.iopm_pa;
    c.msrpm_base_pa = cfg.msrpm_pa;
    c.guest_asid = cfg.asid;
    c.tlb_control = TLB_FLUSH_ALL;
    c.int_ctl = V_INTR_MASKING;
    c.np_control = NP_ENABLE;
    c.n_cr3 = cfg.n_cr3;
    let s = &mut vmcb.save;
    s.dr6 = 0xffff_0ff0;
    s.dr7 = 0x400;
    s.g_pat = DEFAULT_PAT;
    s.ldtr = Segment {
        attrib: ATTR_LDT,
        limit: 0xffff,
        ..Segment::default()
    };
    s.tr = Segment {
        attrib: ATTR_TSS32_BUSY,
        limit: 0xffff,
        ..Segment::default()
    };
    let Some(r) = regs else {
        // Power-on state (SDM vol. 3 table 10-1): CS.base 0xffff_0000, IP 0xfff0.
        s.cs = Segment {
            selector: 0xf000,
            attrib: ATTR_REAL_CODE,
            limit: 0xffff,
            base: 0xffff_0000,
        };
        let d = Segment {
            attrib: ATTR_REAL_DATA,
            limit: 0xffff,
            ..Segment::default()
        };
        (s.ds, s.es, s.ss, s.fs, s.gs) = (d, d, d, d, d);
        s.gdtr.limit = 0xffff;
        s.idtr.limit = 0xffff;
        s.cr0 = 0x6000_0010;
        s.efer = EFER_SVME;
        s.rflags = 2;
        s.rip = 0xfff0;
        gprs.rdx = 0x600;
        return;
    };
    let protected = r.cr0 & CR0_PE != 0;
    s.cs = Segment {
        selector: r.cs_sel,
        attrib: vmx_ar_to_svm(r.cs_ar),
        limit: r.cs_limit,
        base: r.cs_base,
    };
    let data = |sel: u16| {
        if protected {
            Segment {
                selector: sel,
                attrib: vmx_ar_to_svm(0xc093),
                limit: 0xffff_ffff,
                base: 0,
            }
        } else {
            Segment {
                selector: sel,
                attrib: ATTR_REAL_DATA,
                limit: 0xffff,
                base: u64::from(sel) << 4,
            }
        }
    };
    (s.ds, s.es, s.ss, s.fs, s.gs) = (
        data(r.ds_sel),
        data(r.es_sel),
        data(r.ss_sel),
        data(r.fs_sel),
        data(r.gs_sel),
    );
    let (gdt, idt) = (r.gdt, r.idt);
    s.gdtr = Segment {
        limit: u32::from(gdt.limit),
        base: gdt.base,
        ..Segment::default()
    };
    s.idtr = Segment {
        limit: u32::from(idt.limit),
        base: idt.base,
        ..Segment::default()
    };
    s.cpl = if protected {
        ((r.cs_ar >> 5) & 3) as u8
    } else {
        0
    };
    s.cr0 = r.cr0;
    s.cr3 = r.cr3;
    s.cr4 = r.cr4;
    let mut efer = r.ia32_efer | EFER_SVME;
    if efer & EFER_LME != 0 && r.cr0 & CR0_PG != 0 {
        efer |= EFER_LMA;
    }
    s.efer = efer;
    s.rflags = r.rflags | 2;
    s.rip = r.rip;
    let g = r.gprs;
    s.rax = g.rax;
    s.rsp = g.rsp;
    *gprs = GuestRegs {
        rbx: g.rbx,
        rcx: g.rcx,
        rdx: g.rdx,
        rsi: g.rsi,
        rdi: g.rdi,
        rbp: g.rbp,
        r8: g.r8,
        r9: g.r9,
        r10: g.r10,
        r11: g.r11,
        r12: g.r12,
        r13: g.r13,
        r14: g.r14,
        r15: g.r15,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> VmcbConfig {
        VmcbConfig {
            asid: 2,
            n_cr3: 0x5000,
            iopm_pa: 0x1_0000,
            msrpm_pa: 0x2_0000,
        }
    }

    #[test]
    fn access_rights_conversion() {
        assert_eq!(vmx_ar_to_svm(0xa09b), 0xa9b, "64-bit code");
        assert_eq!(vmx_ar_to_svm(0xc09b), 0xc9b, "32-bit code");
        assert_eq!(vmx_ar_to_svm(0x009b), 0x9b, "real-mode code");
    }

    #[test]
    fn power_on_state_without_regs() {
        let mut v = Box::new(Vmcb::ZERO);
        let mut g = GuestRegs::default();
        init_user_vmcb(&mut v, &mut g, &cfg(), None);
        assert_eq!(v.save.cs.base + v.save.rip, 0xffff_fff0);
        assert_eq!(v.save.efer, EFER_SVME);
        assert_eq!(g.rdx, 0x600);
        assert_eq!(v.control.intercept1, USER_INTERCEPTS1);
        assert_eq!(v.control.int_ctl, V_INTR_MASKING);
        assert_eq!(v.control.n_cr3, 0x5000);
    }

    #[test]
    fn real_protected_and_long_mode_regs() {
        let mut r = Regs {
            cs_ar: 0x9b,
            cs_limit: 0xffff,
            cs_sel: 0x100,
            cs_base: 0x1000,
            ds_sel: 0x200,
            rip: 0x10,
            rflags: 0,
            ..Default::default()
        };
        r.gprs.rax = 7;
        r.gprs.rsp = 0x8000;
        r.gprs.r15 = 15;
        let mut v = Box::new(Vmcb::ZERO);
        let mut g = GuestRegs::default();
        init_user_vmcb(&mut v, &mut g, &cfg(), Some(&r));
        assert_eq!(v.save.cs.base, 0x1000);
        assert_eq!(v.save.ds.base, 0x2000, "real mode: base = selector << 4");
        assert_eq!((v.save.rax, v.save.rsp, g.r15), (7, 0x8000, 15));
        assert_eq!(v.save.rflags, 2);
        assert_eq!(v.save.cpl, 0);

        r.cr0 = 0x11; // PE | ET
        r.cs_ar = 0xc09b;
        r.cs_limit = 0xffff_ffff;
        r.cs_sel = 0x8;
        r.ds_sel = 0x10;
        init_user_vmcb(&mut v, &mut g, &cfg(), Some(&r));
        assert_eq!(v.save.cs.attrib, 0xc9b);
        assert_eq!(
            (v.save.ds.base, v.save.ds.limit, v.save.ds.attrib),
            (0, 0xffff_ffff, 0xc93)
        );
        assert_eq!(v.save.efer & EFER_LMA, 0);

        r.cr0 = 0x8000_0011;
        r.cr4 = 0x20;
        r.cr3 = 0x3000;
        r.ia32_efer = EFER_LME;
        r.cs_ar = 0xa09b;
        init_user_vmcb(&mut v, &mut g, &cfg(), Some(&r));
        assert_eq!(v.save.efer, EFER_LME | EFER_LMA | EFER_SVME);
        assert_eq!(v.save.cs.attrib, 0xa9b);
        assert_eq!(v.save.cr3, 0x3000);
    }
}
