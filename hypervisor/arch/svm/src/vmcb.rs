// SPDX-License-Identifier: GPL-2.0

//! The VMCB (APM vol. 2, appendix B): a 4 KiB page, control area at 0, state save area at
//! 0x400. Only the fields this hypervisor uses are named; the rest is reserved padding.
//! Offsets are checked by the host tests below (and match QEMU's `target/i386/svm.h`).

/// A segment register in the VMCB (attributes in SVM's compressed form: descriptor bits
/// 40..47 in 0..7, bits 52..55 in 8..11).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Selector.
    pub selector: u16,
    /// Compressed attributes.
    pub attrib: u16,
    /// Limit.
    pub limit: u32,
    /// Base.
    pub base: u64,
}

impl Segment {
    /// A flat segment with `attrib` (limit 4 GiB - 1, base 0).
    pub const fn flat(selector: u16, attrib: u16) -> Self {
        Self {
            selector,
            attrib,
            limit: 0xffff_ffff,
            base: 0,
        }
    }
}

/// Attributes of a 64-bit code segment: P, DPL 0, S, type execute/read accessed, L, G.
pub const ATTR_CODE64: u16 = 0x0a9b;
/// Attributes of a data segment: P, DPL 0, S, type read/write accessed, D/B, G.
pub const ATTR_DATA: u16 = 0x0c93;
/// Attributes of a busy 64-bit TSS.
pub const ATTR_TSS64: u16 = 0x008b;
/// Attributes of an LDT.
pub const ATTR_LDT: u16 = 0x0082;

/// The control area (0x000..0x400).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Control {
    /// CR0..15 read intercepts.
    pub intercept_cr_read: u16,
    /// CR0..15 write intercepts.
    pub intercept_cr_write: u16,
    /// DR read intercepts.
    pub intercept_dr_read: u16,
    /// DR write intercepts.
    pub intercept_dr_write: u16,
    /// Exception intercepts (bit n = vector n).
    pub intercept_exceptions: u32,
    /// Intercept vector 3 (INTR … SHUTDOWN), see `INTERCEPT1_*`.
    pub intercept1: u32,
    /// Intercept vector 4 (VMRUN …), see `INTERCEPT2_*`.
    pub intercept2: u32,
    /// Intercept vector 5.
    pub intercept3: u32,
    _rsvd0: [u8; 0x24],
    /// Pause filter threshold.
    pub pause_filter_threshold: u16,
    /// Pause filter count.
    pub pause_filter_count: u16,
    /// Physical address of the I/O permission map (12 KiB).
    pub iopm_base_pa: u64,
    /// Physical address of the MSR permission map (8 KiB).
    pub msrpm_base_pa: u64,
    /// Added to the TSC in the guest.
    pub tsc_offset: u64,
    /// Guest ASID (≠ 0).
    pub guest_asid: u32,
    /// TLB control (1 = flush all on VMRUN).
    pub tlb_control: u8,
    _rsvd1: [u8; 3],
    /// V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING (bit 24), V_INTR_VECTOR.
    pub int_ctl: u64,
    /// Interrupt shadow (bit 0).
    pub int_state: u64,
    /// Exit code.
    pub exit_code: u64,
    /// Exit information 1.
    pub exit_info1: u64,
    /// Exit information 2.
    pub exit_info2: u64,
    /// Event being delivered when the exit happened.
    pub exit_int_info: u64,
    /// Bit 0: nested paging.
    pub np_control: u64,
    _rsvd2: [u8; 0x10],
    /// Event to inject at VMRUN.
    pub event_inj: u64,
    /// Nested page table root.
    pub n_cr3: u64,
    /// LBR virtualisation.
    pub virt_ext: u64,
    /// Clean bits (ignored by QEMU).
    pub vmcb_clean: u32,
    _rsvd3: u32,
    /// Next RIP (NRIP save; not provided by QEMU TCG).
    pub next_rip: u64,
    /// Bytes fetched (decode assists; not provided by QEMU TCG).
    pub insn_len: u8,
    /// Instruction bytes (decode assists).
    pub insn_bytes: [u8; 15],
    _rsvd4: [u8; 0x400 - 0xe0],
}

/// The state save area (0x400..0x1000).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Save {
    /// ES.
    pub es: Segment,
    /// CS.
    pub cs: Segment,
    /// SS.
    pub ss: Segment,
    /// DS.
    pub ds: Segment,
    /// FS.
    pub fs: Segment,
    /// GS.
    pub gs: Segment,
    /// GDTR (base, limit).
    pub gdtr: Segment,
    /// LDTR.
    pub ldtr: Segment,
    /// IDTR (base, limit).
    pub idtr: Segment,
    /// TR.
    pub tr: Segment,
    _rsvd0: [u8; 0x2b],
    /// Current privilege level.
    pub cpl: u8,
    _rsvd1: u32,
    /// EFER (SVME must stay set).
    pub efer: u64,
    _rsvd2: [u8; 0x70],
    /// CR4.
    pub cr4: u64,
    /// CR3.
    pub cr3: u64,
    /// CR0.
    pub cr0: u64,
    /// DR7.
    pub dr7: u64,
    /// DR6.
    pub dr6: u64,
    /// RFLAGS.
    pub rflags: u64,
    /// RIP.
    pub rip: u64,
    _rsvd3: [u8; 0x58],
    /// RSP.
    pub rsp: u64,
    /// S_CET.
    pub s_cet: u64,
    /// SSP.
    pub ssp: u64,
    /// ISST_ADDR.
    pub isst_addr: u64,
    /// RAX.
    pub rax: u64,
    /// STAR.
    pub star: u64,
    /// LSTAR.
    pub lstar: u64,
    /// CSTAR.
    pub cstar: u64,
    /// SFMASK.
    pub sfmask: u64,
    /// KernelGSbase.
    pub kernel_gs_base: u64,
    /// SYSENTER_CS.
    pub sysenter_cs: u64,
    /// SYSENTER_ESP.
    pub sysenter_esp: u64,
    /// SYSENTER_EIP.
    pub sysenter_eip: u64,
    /// CR2.
    pub cr2: u64,
    _rsvd4: [u8; 0x20],
    /// Guest PAT (used with nested paging).
    pub g_pat: u64,
    /// DBGCTL.
    pub dbgctl: u64,
    _rsvd5: [u8; 0x1000 - 0x400 - 0x278],
}

/// A VMCB.
#[repr(C, align(4096))]
#[derive(Clone, Copy, Debug)]
pub struct Vmcb {
    /// Control area.
    pub control: Control,
    /// State save area.
    pub save: Save,
}

/// `intercept1` bit: physical interrupts (not used: interrupts go straight to the guest).
pub const INTERCEPT1_INTR: u32 = 1 << 0;
/// `intercept1` bit: NMI.
pub const INTERCEPT1_NMI: u32 = 1 << 1;
/// `intercept1` bit: HLT.
pub const INTERCEPT1_HLT: u32 = 1 << 24;
/// `int_state` bit 0: the guest is in an interrupt shadow (after STI or MOV SS).
pub const INTERRUPT_SHADOW: u64 = 1 << 0;
/// `int_ctl`: V_IRQ, a virtual interrupt is pending.
pub const V_IRQ: u64 = 1 << 8;
/// `int_ctl`: V_INTR_PRIO (bits 19:16).
pub const V_INTR_PRIO_SHIFT: u32 = 16;
/// `int_ctl`: V_IGN_TPR, deliver the virtual interrupt whatever the guest's TPR.
pub const V_IGN_TPR: u64 = 1 << 20;
/// `int_ctl`: V_INTR_MASKING, physical interrupts are masked by the host's RFLAGS.IF,
/// not the guest's.
pub const V_INTR_MASKING: u64 = 1 << 24;
/// `int_ctl`: V_INTR_VECTOR (bits 39:32).
pub const V_INTR_VECTOR_SHIFT: u32 = 32;
/// `intercept1` bit: CPUID.
pub const INTERCEPT1_CPUID: u32 = 1 << 18;
/// `intercept1` bit: INVLPGA.
pub const INTERCEPT1_INVLPGA: u32 = 1 << 26;
/// `intercept1` bit: I/O through the IOPM.
pub const INTERCEPT1_IOIO_PROT: u32 = 1 << 27;
/// `intercept1` bit: MSRs through the MSRPM.
pub const INTERCEPT1_MSR_PROT: u32 = 1 << 28;
/// `intercept1` bit: shutdown (triple fault).
pub const INTERCEPT1_SHUTDOWN: u32 = 1 << 31;
/// `intercept2` bit: VMRUN (mandatory).
pub const INTERCEPT2_VMRUN: u32 = 1 << 0;
/// `intercept2` bit: VMMCALL.
pub const INTERCEPT2_VMMCALL: u32 = 1 << 1;
/// `intercept2` bit: VMLOAD.
pub const INTERCEPT2_VMLOAD: u32 = 1 << 2;
/// `intercept2` bit: VMSAVE.
pub const INTERCEPT2_VMSAVE: u32 = 1 << 3;
/// `intercept2` bit: STGI.
pub const INTERCEPT2_STGI: u32 = 1 << 4;
/// `intercept2` bit: CLGI.
pub const INTERCEPT2_CLGI: u32 = 1 << 5;
/// `intercept2` bit: SKINIT.
pub const INTERCEPT2_SKINIT: u32 = 1 << 6;
/// `np_control` bit: nested paging on.
pub const NP_ENABLE: u64 = 1 << 0;
/// `tlb_control`: flush every ASID's TLB entries at VMRUN.
pub const TLB_FLUSH_ALL: u8 = 1;

impl Vmcb {
    /// An all-zero VMCB (for a `static`).
    pub const ZERO: Self = {
        // SAFETY: `Vmcb` consists of integers and integer arrays only, for which all-zero
        // bytes are valid values.
        unsafe { core::mem::zeroed() }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn size_is_one_page() {
        assert_eq!(size_of::<Control>(), 0x400);
        assert_eq!(size_of::<Save>(), 0xc00);
        assert_eq!(size_of::<Vmcb>(), 0x1000);
        assert_eq!(core::mem::align_of::<Vmcb>(), 0x1000);
        assert_eq!(size_of::<Segment>(), 16);
    }

    #[test]
    fn control_offsets() {
        assert_eq!(offset_of!(Control, intercept_exceptions), 0x008);
        assert_eq!(offset_of!(Control, intercept1), 0x00c);
        assert_eq!(offset_of!(Control, intercept2), 0x010);
        assert_eq!(offset_of!(Control, pause_filter_threshold), 0x03c);
        assert_eq!(offset_of!(Control, iopm_base_pa), 0x040);
        assert_eq!(offset_of!(Control, msrpm_base_pa), 0x048);
        assert_eq!(offset_of!(Control, tsc_offset), 0x050);
        assert_eq!(offset_of!(Control, guest_asid), 0x058);
        assert_eq!(offset_of!(Control, tlb_control), 0x05c);
        assert_eq!(offset_of!(Control, int_ctl), 0x060);
        assert_eq!(offset_of!(Control, int_state), 0x068);
        assert_eq!(offset_of!(Control, exit_code), 0x070);
        assert_eq!(offset_of!(Control, exit_info1), 0x078);
        assert_eq!(offset_of!(Control, exit_info2), 0x080);
        assert_eq!(offset_of!(Control, exit_int_info), 0x088);
        assert_eq!(offset_of!(Control, np_control), 0x090);
        assert_eq!(offset_of!(Control, event_inj), 0x0a8);
        assert_eq!(offset_of!(Control, n_cr3), 0x0b0);
        assert_eq!(offset_of!(Control, virt_ext), 0x0b8);
        assert_eq!(offset_of!(Control, vmcb_clean), 0x0c0);
        assert_eq!(offset_of!(Control, next_rip), 0x0c8);
        assert_eq!(offset_of!(Control, insn_len), 0x0d0);
        assert_eq!(offset_of!(Control, insn_bytes), 0x0d1);
    }

    #[test]
    fn save_offsets() {
        let s = |o: usize| o + 0x400;
        assert_eq!(s(offset_of!(Save, es)), 0x400);
        assert_eq!(s(offset_of!(Save, cs)), 0x410);
        assert_eq!(s(offset_of!(Save, gdtr)), 0x460);
        assert_eq!(s(offset_of!(Save, idtr)), 0x480);
        assert_eq!(s(offset_of!(Save, tr)), 0x490);
        assert_eq!(s(offset_of!(Save, cpl)), 0x4cb);
        assert_eq!(s(offset_of!(Save, efer)), 0x4d0);
        assert_eq!(s(offset_of!(Save, cr4)), 0x548);
        assert_eq!(s(offset_of!(Save, cr3)), 0x550);
        assert_eq!(s(offset_of!(Save, cr0)), 0x558);
        assert_eq!(s(offset_of!(Save, dr7)), 0x560);
        assert_eq!(s(offset_of!(Save, dr6)), 0x568);
        assert_eq!(s(offset_of!(Save, rflags)), 0x570);
        assert_eq!(s(offset_of!(Save, rip)), 0x578);
        assert_eq!(s(offset_of!(Save, rsp)), 0x5d8);
        assert_eq!(s(offset_of!(Save, rax)), 0x5f8);
        assert_eq!(s(offset_of!(Save, star)), 0x600);
        assert_eq!(s(offset_of!(Save, kernel_gs_base)), 0x620);
        assert_eq!(s(offset_of!(Save, sysenter_eip)), 0x638);
        assert_eq!(s(offset_of!(Save, cr2)), 0x640);
        assert_eq!(s(offset_of!(Save, g_pat)), 0x668);
        assert_eq!(s(offset_of!(Save, dbgctl)), 0x670);
    }
}
