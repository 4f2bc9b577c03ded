// SPDX-License-Identifier: GPL-2.0

//! VMX capability MSRs (SDM vol. 3D, appendix A) and the VM-execution, exit and entry
//! controls derived from them, as pure functions over raw MSR values.
//!
//! Each control MSR holds the allowed-0 settings in bits 31:0 (a 1 there means the control
//! must be 1) and the allowed-1 settings in bits 63:32 (a 0 there means it must be 0). When
//! `IA32_VMX_BASIC` bit 55 is set, the `TRUE_` MSRs replace the pin-based, primary
//! processor-based, exit and entry ones (they may allow some "default1" controls to be 0).
//! [`adjust`] turns "required" and "optional" control sets into the value to write, or an
//! error naming the required controls the CPU does not allow.

/// `IA32_FEATURE_CONTROL`.
pub const MSR_FEATURE_CONTROL: u32 = 0x3a;
/// `IA32_VMX_BASIC`.
pub const MSR_VMX_BASIC: u32 = 0x480;
/// `IA32_VMX_PINBASED_CTLS`.
pub const MSR_VMX_PINBASED_CTLS: u32 = 0x481;
/// `IA32_VMX_PROCBASED_CTLS`.
pub const MSR_VMX_PROCBASED_CTLS: u32 = 0x482;
/// `IA32_VMX_EXIT_CTLS`.
pub const MSR_VMX_EXIT_CTLS: u32 = 0x483;
/// `IA32_VMX_ENTRY_CTLS`.
pub const MSR_VMX_ENTRY_CTLS: u32 = 0x484;
/// `IA32_VMX_CR0_FIXED0`.
pub const MSR_VMX_CR0_FIXED0: u32 = 0x486;
/// `IA32_VMX_CR0_FIXED1`.
pub const MSR_VMX_CR0_FIXED1: u32 = 0x487;
/// `IA32_VMX_CR4_FIXED0`.
pub const MSR_VMX_CR4_FIXED0: u32 = 0x488;
/// `IA32_VMX_CR4_FIXED1`.
pub const MSR_VMX_CR4_FIXED1: u32 = 0x489;
/// `IA32_VMX_PROCBASED_CTLS2`.
pub const MSR_VMX_PROCBASED_CTLS2: u32 = 0x48b;
/// `IA32_VMX_EPT_VPID_CAP`.
pub const MSR_VMX_EPT_VPID_CAP: u32 = 0x48c;
/// `IA32_VMX_TRUE_PINBASED_CTLS`.
pub const MSR_VMX_TRUE_PINBASED_CTLS: u32 = 0x48d;
/// `IA32_VMX_TRUE_PROCBASED_CTLS`.
pub const MSR_VMX_TRUE_PROCBASED_CTLS: u32 = 0x48e;
/// `IA32_VMX_TRUE_EXIT_CTLS`.
pub const MSR_VMX_TRUE_EXIT_CTLS: u32 = 0x48f;
/// `IA32_VMX_TRUE_ENTRY_CTLS`.
pub const MSR_VMX_TRUE_ENTRY_CTLS: u32 = 0x490;

/// Primary processor-based: use MSR bitmaps.
pub const PROC_USE_MSR_BITMAPS: u32 = 1 << 28;
/// Primary processor-based: activate secondary controls.
pub const PROC_SECONDARY: u32 = 1 << 31;
/// Secondary: enable EPT.
pub const PROC2_EPT: u32 = 1 << 1;
/// Secondary: enable RDTSCP (else RDTSCP is #UD in the guest).
pub const PROC2_RDTSCP: u32 = 1 << 3;
/// Secondary: enable VPID.
pub const PROC2_VPID: u32 = 1 << 5;
/// Secondary: unrestricted guest (real mode and paging off without emulation).
pub const PROC2_UNRESTRICTED: u32 = 1 << 7;
/// Secondary: enable INVPCID.
pub const PROC2_INVPCID: u32 = 1 << 12;
/// Secondary: enable XSAVES/XRSTORS.
pub const PROC2_XSAVES: u32 = 1 << 20;
/// Exit: host address-space size (64-bit host).
pub const EXIT_HOST_64: u32 = 1 << 9;
/// Exit: save IA32_PAT.
pub const EXIT_SAVE_PAT: u32 = 1 << 18;
/// Exit: load IA32_PAT.
pub const EXIT_LOAD_PAT: u32 = 1 << 19;
/// Exit: save IA32_EFER.
pub const EXIT_SAVE_EFER: u32 = 1 << 20;
/// Exit: load IA32_EFER.
pub const EXIT_LOAD_EFER: u32 = 1 << 21;
/// Entry: IA-32e mode guest.
pub const ENTRY_IA32E: u32 = 1 << 9;
/// Entry: load IA32_PAT.
pub const ENTRY_LOAD_PAT: u32 = 1 << 14;
/// Entry: load IA32_EFER.
pub const ENTRY_LOAD_EFER: u32 = 1 << 15;

/// The decoded `IA32_VMX_BASIC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmxBasic {
    /// VMCS revision identifier (bits 30:0), written at the start of VMXON and VMCS regions.
    pub revision: u32,
    /// Bytes to allocate for VMXON and VMCS regions (bits 44:32, at most 4096).
    pub region_size: u32,
    /// Memory type of VMCS accesses (bits 53:50; 6 = write-back).
    pub mem_type: u8,
    /// `TRUE_` control MSRs exist (bit 55).
    pub true_ctls: bool,
}

impl VmxBasic {
    /// Decodes the MSR value.
    pub const fn decode(msr: u64) -> Self {
        Self {
            revision: (msr & 0x7fff_ffff) as u32,
            region_size: ((msr >> 32) & 0x1fff) as u32,
            mem_type: ((msr >> 50) & 0xf) as u8,
            true_ctls: msr & (1 << 55) != 0,
        }
    }
}

/// The EPT features of `IA32_VMX_EPT_VPID_CAP` the backend looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EptCaps {
    /// 4-level page walk (bit 6).
    pub walk4: bool,
    /// Write-back paging structures (bit 14).
    pub wb: bool,
    /// 2 MiB leaves (bit 16).
    pub page_2m: bool,
    /// 1 GiB leaves (bit 17).
    pub page_1g: bool,
    /// INVEPT (bit 20).
    pub invept: bool,
    /// INVEPT single-context (bit 25).
    pub invept_single: bool,
    /// INVEPT all-context (bit 26).
    pub invept_all: bool,
}

impl EptCaps {
    /// Decodes the MSR value.
    pub const fn decode(msr: u64) -> Self {
        Self {
            walk4: msr & (1 << 6) != 0,
            wb: msr & (1 << 14) != 0,
            page_2m: msr & (1 << 16) != 0,
            page_1g: msr & (1 << 17) != 0,
            invept: msr & (1 << 20) != 0,
            invept_single: msr & (1 << 25) != 0,
            invept_all: msr & (1 << 26) != 0,
        }
    }

    /// Whether `EptFormat` tables (4 levels, write-back walks) work and can be flushed.
    pub const fn usable(&self) -> bool {
        self.walk4 && self.wb && self.invept && (self.invept_single || self.invept_all)
    }
}

/// Which control field a [`CapError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctl {
    /// Pin-based VM-execution controls.
    Pin,
    /// Primary processor-based controls.
    Proc,
    /// Secondary processor-based controls.
    Proc2,
    /// VM-exit controls.
    Exit,
    /// VM-entry controls.
    Entry,
}

/// Why VMX cannot be used as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapError {
    /// A required control is not allowed to be 1 (`bits` lists those controls).
    NotAllowed {
        /// The control field.
        ctl: Ctl,
        /// The missing controls.
        bits: u32,
    },
    /// The MSR claims a control must be 1 but may not be: not a real CPU.
    Inconsistent(Ctl),
    /// VMXON/VMCS regions larger than a page, or VMCS accesses not write-back.
    Region,
    /// No usable EPT (4-level, write-back, INVEPT).
    NoEpt,
    /// CPUID.1:ECX.VMX clear.
    NoVmx,
    /// IA32_FEATURE_CONTROL is locked with VMXON outside SMX disabled.
    Disabled,
}

/// A control field's request: controls that must be on, and controls wanted if allowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtlRequest {
    /// Needed: failing to get one is an error.
    pub required: u32,
    /// Turned on when the CPU allows.
    pub optional: u32,
}

/// The control value for `req` under capability MSR value `msr`: allowed-0 bits forced on,
/// optional bits kept only if allowed-1.
pub const fn adjust(ctl: Ctl, msr: u64, req: CtlRequest) -> Result<u32, CapError> {
    let must1 = msr as u32;
    let may1 = (msr >> 32) as u32;
    if must1 & !may1 != 0 {
        return Err(CapError::Inconsistent(ctl));
    }
    let missing = req.required & !may1;
    if missing != 0 {
        return Err(CapError::NotAllowed { ctl, bits: missing });
    }
    Ok(must1 | req.required | (req.optional & may1))
}

/// The raw capability MSRs (read once at boot; zero for MSRs the CPU lacks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapMsrs {
    /// IA32_VMX_BASIC.
    pub basic: u64,
    /// IA32_VMX_PINBASED_CTLS.
    pub pinbased: u64,
    /// IA32_VMX_PROCBASED_CTLS.
    pub procbased: u64,
    /// IA32_VMX_PROCBASED_CTLS2 (only read if secondary controls may be 1).
    pub procbased2: u64,
    /// IA32_VMX_EXIT_CTLS.
    pub exit: u64,
    /// IA32_VMX_ENTRY_CTLS.
    pub entry: u64,
    /// IA32_VMX_TRUE_PINBASED_CTLS (if BASIC bit 55).
    pub true_pinbased: u64,
    /// IA32_VMX_TRUE_PROCBASED_CTLS.
    pub true_procbased: u64,
    /// IA32_VMX_TRUE_EXIT_CTLS.
    pub true_exit: u64,
    /// IA32_VMX_TRUE_ENTRY_CTLS.
    pub true_entry: u64,
    /// IA32_VMX_EPT_VPID_CAP.
    pub ept_vpid: u64,
    /// IA32_VMX_CR0_FIXED0.
    pub cr0_fixed0: u64,
    /// IA32_VMX_CR0_FIXED1.
    pub cr0_fixed1: u64,
    /// IA32_VMX_CR4_FIXED0.
    pub cr4_fixed0: u64,
    /// IA32_VMX_CR4_FIXED1.
    pub cr4_fixed1: u64,
}

/// What the backend asks of each control field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ControlRequest {
    /// Pin-based.
    pub pin: CtlRequest,
    /// Primary processor-based.
    pub proc: CtlRequest,
    /// Secondary processor-based.
    pub proc2: CtlRequest,
    /// VM-exit.
    pub exit: CtlRequest,
    /// VM-entry.
    pub entry: CtlRequest,
}

/// The Service VM's controls: no pin-based control (interrupts and NMIs go straight to the
/// guest, as on SVM); MSR bitmaps and secondary controls; EPT, and VPID / unrestricted
/// guest / the instructions a guest would otherwise see #UD for, when available; a 64-bit
/// host; EFER (and PAT when possible) switched by the CPU; a 64-bit guest.
pub const SERVICE_VM_CONTROLS: ControlRequest = ControlRequest {
    pin: CtlRequest {
        required: 0,
        optional: 0,
    },
    proc: CtlRequest {
        required: PROC_USE_MSR_BITMAPS | PROC_SECONDARY,
        optional: 0,
    },
    proc2: CtlRequest {
        required: PROC2_EPT,
        optional: PROC2_RDTSCP | PROC2_VPID | PROC2_UNRESTRICTED | PROC2_INVPCID | PROC2_XSAVES,
    },
    exit: CtlRequest {
        required: EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER,
        optional: EXIT_SAVE_PAT | EXIT_LOAD_PAT,
    },
    entry: CtlRequest {
        required: ENTRY_IA32E | ENTRY_LOAD_EFER,
        optional: ENTRY_LOAD_PAT,
    },
};

/// Control values ready for the VMCS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Controls {
    /// Pin-based.
    pub pin: u32,
    /// Primary processor-based.
    pub proc: u32,
    /// Secondary processor-based.
    pub proc2: u32,
    /// VM-exit.
    pub exit: u32,
    /// VM-entry.
    pub entry: u32,
}

impl CapMsrs {
    /// The decoded IA32_VMX_BASIC.
    pub const fn basic(&self) -> VmxBasic {
        VmxBasic::decode(self.basic)
    }

    /// Computes the control values for `req`, using the `TRUE_` MSRs when BASIC bit 55 says
    /// they exist. Secondary controls are requested only if the primary controls allow
    /// activating them.
    pub fn controls(&self, req: &ControlRequest) -> Result<Controls, CapError> {
        let t = self.basic().true_ctls;
        let pick = |plain: u64, tru: u64| if t { tru } else { plain };
        let pin = adjust(Ctl::Pin, pick(self.pinbased, self.true_pinbased), req.pin)?;
        let proc = adjust(
            Ctl::Proc,
            pick(self.procbased, self.true_procbased),
            req.proc,
        )?;
        let exit = adjust(Ctl::Exit, pick(self.exit, self.true_exit), req.exit)?;
        let entry = adjust(Ctl::Entry, pick(self.entry, self.true_entry), req.entry)?;
        let proc2 = if proc & PROC_SECONDARY != 0 {
            adjust(Ctl::Proc2, self.procbased2, req.proc2)?
        } else if req.proc2.required != 0 {
            return Err(CapError::NotAllowed {
                ctl: Ctl::Proc2,
                bits: req.proc2.required,
            });
        } else {
            0
        };
        Ok(Controls {
            pin,
            proc,
            proc2,
            exit,
            entry,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Capability MSRs of a Skylake-class CPU (values as KVM's `vmx_setup_config` sees them
    /// on such parts; TRUE_ MSRs present).
    pub fn skylake() -> CapMsrs {
        CapMsrs {
            basic: 0x00da_0400_0000_0004,
            pinbased: 0x0000_007f_0000_0016,
            procbased: 0xfff9_fffe_0401_e172,
            procbased2: 0x0053_7fff_0000_0000,
            exit: 0x01ff_ffff_0003_6dff,
            entry: 0x0003_ffff_0000_11ff,
            true_pinbased: 0x0000_007f_0000_0016,
            true_procbased: 0xfff9_fffe_0400_6172,
            true_exit: 0x01ff_ffff_0003_6dfb,
            true_entry: 0x0003_ffff_0000_11fb,
            ept_vpid: 0x0000_0f01_0673_4141,
            cr0_fixed0: 0x8000_0021,
            cr0_fixed1: 0xffff_ffff,
            cr4_fixed0: 0x2000,
            cr4_fixed1: 0x0037_27ff,
        }
    }

    #[test]
    fn basic_and_ept_decoding() {
        let m = skylake();
        let b = m.basic();
        assert_eq!(b.revision, 4);
        assert_eq!(b.region_size, 0x400);
        assert_eq!(b.mem_type, 6);
        assert!(b.true_ctls);
        let e = EptCaps::decode(m.ept_vpid);
        assert!(e.walk4 && e.wb && e.page_2m && e.page_1g && e.invept);
        assert!(e.invept_single && e.invept_all && e.usable());
        assert!(!EptCaps::decode(m.ept_vpid & !(1 << 14)).usable());
    }

    #[test]
    fn adjust_forces_allowed0_and_drops_disallowed_optionals() {
        let msr = (0x0000_00ffu64 << 32) | 0x16;
        let r = CtlRequest {
            required: 0x1,
            optional: 0x100 | 0x8,
        };
        assert_eq!(adjust(Ctl::Pin, msr, r), Ok(0x16 | 0x1 | 0x8));
        assert_eq!(
            adjust(
                Ctl::Pin,
                msr,
                CtlRequest {
                    required: 0x300,
                    optional: 0
                }
            ),
            Err(CapError::NotAllowed {
                ctl: Ctl::Pin,
                bits: 0x300
            })
        );
        assert_eq!(
            adjust(Ctl::Exit, 0x1, CtlRequest::default()),
            Err(CapError::Inconsistent(Ctl::Exit))
        );
    }

    #[test]
    fn service_vm_controls_on_skylake() {
        let c = skylake().controls(&SERVICE_VM_CONTROLS).unwrap();
        // TRUE_ MSRs: CR3-load/store exiting (bits 15, 16) are not forced on.
        assert_eq!(c.proc & (3 << 15), 0);
        assert_eq!(
            c.proc & (PROC_USE_MSR_BITMAPS | PROC_SECONDARY),
            PROC_USE_MSR_BITMAPS | PROC_SECONDARY
        );
        assert_eq!(c.proc & (1 << 7), 0, "no HLT exiting");
        assert_eq!(c.proc & (1 << 24), 0, "no unconditional I/O exiting");
        assert_eq!(
            c.pin, 0x16,
            "default1 bits only: no external-interrupt exiting"
        );
        assert_eq!(
            c.proc2,
            PROC2_EPT
                | PROC2_RDTSCP
                | PROC2_VPID
                | PROC2_UNRESTRICTED
                | PROC2_INVPCID
                | PROC2_XSAVES
        );
        assert_ne!(c.exit & EXIT_HOST_64, 0);
        assert_ne!(c.exit & EXIT_LOAD_PAT, 0);
        assert_ne!(c.entry & ENTRY_IA32E, 0);
        assert_ne!(c.entry & ENTRY_LOAD_EFER, 0);
    }

    #[test]
    fn plain_msrs_without_true_ctls() {
        let mut m = skylake();
        m.basic &= !(1 << 55);
        let c = m.controls(&SERVICE_VM_CONTROLS).unwrap();
        assert_eq!(c.proc & (3 << 15), 3 << 15, "default1 CR3 exiting stays on");
    }

    #[test]
    fn required_control_not_allowed() {
        let mut m = skylake();
        m.procbased2 &= !(u64::from(PROC2_EPT) << 32);
        assert_eq!(
            m.controls(&SERVICE_VM_CONTROLS),
            Err(CapError::NotAllowed {
                ctl: Ctl::Proc2,
                bits: PROC2_EPT
            })
        );
        let mut m = skylake();
        m.true_procbased &= !(u64::from(PROC_SECONDARY) << 32);
        assert_eq!(
            m.controls(&SERVICE_VM_CONTROLS),
            Err(CapError::NotAllowed {
                ctl: Ctl::Proc,
                bits: PROC_SECONDARY
            })
        );
        let mut m = skylake();
        m.true_entry &= !(u64::from(ENTRY_IA32E) << 32);
        assert!(matches!(
            m.controls(&SERVICE_VM_CONTROLS),
            Err(CapError::NotAllowed {
                ctl: Ctl::Entry,
                ..
            })
        ));
    }
}
