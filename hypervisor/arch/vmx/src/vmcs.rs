// SPDX-License-Identifier: GPL-2.0

//! VMCS field encodings (Intel SDM vol. 3C, appendix B) as typed constants, and the
//! [`Vmcs`] access trait the rest of the backend is written against (the hardware VMCS in
//! the hypervisor, a map in host tests).
//!
//! An encoding is 32 bits: bit 0 access type (1 = high half of a 64-bit field), bits 9:1
//! index, bits 11:10 type (control, read-only exit information, guest state, host state),
//! bit 12 reserved, bits 14:13 width (16-bit, 64-bit, 32-bit, natural), bits 31:15 reserved.
//! Each width has its own Rust type, so a field cannot be declared with the wrong width
//! without a host test noticing (`every_constant_follows_the_encoding_rules`).

use crate::instr::VmxFail;

/// Field width (encoding bits 14:13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// 16-bit.
    W16 = 0,
    /// 64-bit.
    W64 = 1,
    /// 32-bit.
    W32 = 2,
    /// Natural width (64 bits on x86-64).
    Natural = 3,
}

impl Width {
    /// Mask of the bits a field of this width holds.
    pub const fn mask(self) -> u64 {
        match self {
            Self::W16 => 0xffff,
            Self::W32 => 0xffff_ffff,
            Self::W64 | Self::Natural => u64::MAX,
        }
    }
}

/// Field type (encoding bits 11:10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// VM-execution, exit and entry controls.
    Control = 0,
    /// Read-only VM-exit information.
    ExitInfo = 1,
    /// Guest state.
    Guest = 2,
    /// Host state.
    Host = 3,
}

/// Width of an encoding.
pub const fn width(enc: u32) -> Width {
    match (enc >> 13) & 3 {
        0 => Width::W16,
        1 => Width::W64,
        2 => Width::W32,
        _ => Width::Natural,
    }
}

/// Type of an encoding.
pub const fn field_type(enc: u32) -> FieldType {
    match (enc >> 10) & 3 {
        0 => FieldType::Control,
        1 => FieldType::ExitInfo,
        2 => FieldType::Guest,
        _ => FieldType::Host,
    }
}

/// Index of an encoding (bits 9:1).
pub const fn index(enc: u32) -> u32 {
    (enc >> 1) & 0x1ff
}

/// Whether an encoding accesses the high half of a 64-bit field (bit 0).
pub const fn is_high(enc: u32) -> bool {
    enc & 1 != 0
}

/// A VMCS field of a known width.
pub trait VmcsField: Copy {
    /// Its width.
    const WIDTH: Width;
    /// Its encoding (for VMREAD/VMWRITE).
    fn encoding(self) -> u32;
}

macro_rules! field_type {
    ($name:ident, $width:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name(pub u32);

        impl VmcsField for $name {
            const WIDTH: Width = $width;
            fn encoding(self) -> u32 {
                self.0
            }
        }
    };
}

field_type!(Field16, Width::W16, "A 16-bit field.");
field_type!(Field32, Width::W32, "A 32-bit field.");
field_type!(
    Field64,
    Width::W64,
    "A 64-bit field (full access; see [`Field64::high`])."
);
field_type!(FieldNat, Width::Natural, "A natural-width field.");

impl Field64 {
    /// The encoding of the field's high 32 bits (needed only by 32-bit software).
    pub const fn high(self) -> u32 {
        self.0 | 1
    }
}

macro_rules! fields {
    ($ty:ident: $($(#[$m:meta])* $name:ident = $enc:literal;)*) => {
        $($(#[$m])* pub const $name: $ty = $ty($enc);)*
    };
}

// 16-bit control.
fields! { Field16:
    /// Virtual-processor identifier.
    VPID = 0x0000;
}
// 16-bit guest state.
fields! { Field16:
    /// Guest ES selector.
    GUEST_ES_SEL = 0x0800;
    /// Guest CS selector.
    GUEST_CS_SEL = 0x0802;
    /// Guest SS selector.
    GUEST_SS_SEL = 0x0804;
    /// Guest DS selector.
    GUEST_DS_SEL = 0x0806;
    /// Guest FS selector.
    GUEST_FS_SEL = 0x0808;
    /// Guest GS selector.
    GUEST_GS_SEL = 0x080a;
    /// Guest LDTR selector.
    GUEST_LDTR_SEL = 0x080c;
    /// Guest TR selector.
    GUEST_TR_SEL = 0x080e;
}
// 16-bit host state.
fields! { Field16:
    /// Host ES selector.
    HOST_ES_SEL = 0x0c00;
    /// Host CS selector.
    HOST_CS_SEL = 0x0c02;
    /// Host SS selector.
    HOST_SS_SEL = 0x0c04;
    /// Host DS selector.
    HOST_DS_SEL = 0x0c06;
    /// Host FS selector.
    HOST_FS_SEL = 0x0c08;
    /// Host GS selector.
    HOST_GS_SEL = 0x0c0a;
    /// Host TR selector.
    HOST_TR_SEL = 0x0c0c;
}
// 64-bit control.
fields! { Field64:
    /// I/O bitmap A (ports 0-0x7fff).
    IO_BITMAP_A = 0x2000;
    /// I/O bitmap B (ports 0x8000-0xffff).
    IO_BITMAP_B = 0x2002;
    /// MSR bitmaps.
    MSR_BITMAP = 0x2004;
    /// VM-exit MSR-store address.
    EXIT_MSR_STORE_ADDR = 0x2006;
    /// VM-exit MSR-load address.
    EXIT_MSR_LOAD_ADDR = 0x2008;
    /// VM-entry MSR-load address.
    ENTRY_MSR_LOAD_ADDR = 0x200a;
    /// TSC offset.
    TSC_OFFSET = 0x2010;
    /// EPT pointer.
    EPT_POINTER = 0x201a;
}
// 64-bit read-only.
fields! { Field64:
    /// Guest-physical address of an EPT violation or misconfiguration.
    GUEST_PHYSICAL_ADDR = 0x2400;
}
// 64-bit guest state.
fields! { Field64:
    /// VMCS link pointer (all ones: no shadow VMCS).
    VMCS_LINK_POINTER = 0x2800;
    /// Guest IA32_DEBUGCTL.
    GUEST_IA32_DEBUGCTL = 0x2802;
    /// Guest IA32_PAT.
    GUEST_IA32_PAT = 0x2804;
    /// Guest IA32_EFER.
    GUEST_IA32_EFER = 0x2806;
}
// 64-bit host state.
fields! { Field64:
    /// Host IA32_PAT.
    HOST_IA32_PAT = 0x2c00;
    /// Host IA32_EFER.
    HOST_IA32_EFER = 0x2c02;
}
// 32-bit control.
fields! { Field32:
    /// Pin-based VM-execution controls.
    PIN_BASED_CTLS = 0x4000;
    /// Primary processor-based VM-execution controls.
    PROC_BASED_CTLS = 0x4002;
    /// Exception bitmap.
    EXCEPTION_BITMAP = 0x4004;
    /// Page-fault error-code mask.
    PF_ERROR_CODE_MASK = 0x4006;
    /// Page-fault error-code match.
    PF_ERROR_CODE_MATCH = 0x4008;
    /// CR3-target count.
    CR3_TARGET_COUNT = 0x400a;
    /// VM-exit controls.
    EXIT_CTLS = 0x400c;
    /// VM-exit MSR-store count.
    EXIT_MSR_STORE_COUNT = 0x400e;
    /// VM-exit MSR-load count.
    EXIT_MSR_LOAD_COUNT = 0x4010;
    /// VM-entry controls.
    ENTRY_CTLS = 0x4012;
    /// VM-entry MSR-load count.
    ENTRY_MSR_LOAD_COUNT = 0x4014;
    /// VM-entry interruption-information field.
    ENTRY_INTR_INFO = 0x4016;
    /// VM-entry exception error code.
    ENTRY_EXCEPTION_ERROR_CODE = 0x4018;
    /// VM-entry instruction length.
    ENTRY_INSTRUCTION_LEN = 0x401a;
    /// Secondary processor-based VM-execution controls.
    PROC_BASED_CTLS2 = 0x401e;
}
// 32-bit read-only.
fields! { Field32:
    /// VM-instruction error.
    VM_INSTRUCTION_ERROR = 0x4400;
    /// Exit reason.
    EXIT_REASON = 0x4402;
    /// VM-exit interruption information.
    EXIT_INTR_INFO = 0x4404;
    /// VM-exit interruption error code.
    EXIT_INTR_ERROR_CODE = 0x4406;
    /// IDT-vectoring information.
    IDT_VECTORING_INFO = 0x4408;
    /// IDT-vectoring error code.
    IDT_VECTORING_ERROR_CODE = 0x440a;
    /// VM-exit instruction length.
    EXIT_INSTRUCTION_LEN = 0x440c;
    /// VM-exit instruction information.
    EXIT_INSTRUCTION_INFO = 0x440e;
}
// 32-bit guest state.
fields! { Field32:
    /// Guest ES limit.
    GUEST_ES_LIMIT = 0x4800;
    /// Guest CS limit.
    GUEST_CS_LIMIT = 0x4802;
    /// Guest SS limit.
    GUEST_SS_LIMIT = 0x4804;
    /// Guest DS limit.
    GUEST_DS_LIMIT = 0x4806;
    /// Guest FS limit.
    GUEST_FS_LIMIT = 0x4808;
    /// Guest GS limit.
    GUEST_GS_LIMIT = 0x480a;
    /// Guest LDTR limit.
    GUEST_LDTR_LIMIT = 0x480c;
    /// Guest TR limit.
    GUEST_TR_LIMIT = 0x480e;
    /// Guest GDTR limit.
    GUEST_GDTR_LIMIT = 0x4810;
    /// Guest IDTR limit.
    GUEST_IDTR_LIMIT = 0x4812;
    /// Guest ES access rights.
    GUEST_ES_AR = 0x4814;
    /// Guest CS access rights.
    GUEST_CS_AR = 0x4816;
    /// Guest SS access rights.
    GUEST_SS_AR = 0x4818;
    /// Guest DS access rights.
    GUEST_DS_AR = 0x481a;
    /// Guest FS access rights.
    GUEST_FS_AR = 0x481c;
    /// Guest GS access rights.
    GUEST_GS_AR = 0x481e;
    /// Guest LDTR access rights.
    GUEST_LDTR_AR = 0x4820;
    /// Guest TR access rights.
    GUEST_TR_AR = 0x4822;
    /// Guest interruptibility state.
    GUEST_INTERRUPTIBILITY = 0x4824;
    /// Guest activity state.
    GUEST_ACTIVITY_STATE = 0x4826;
    /// Guest IA32_SYSENTER_CS.
    GUEST_SYSENTER_CS = 0x482a;
}
// 32-bit host state.
fields! { Field32:
    /// Host IA32_SYSENTER_CS.
    HOST_SYSENTER_CS = 0x4c00;
}
// Natural-width control.
fields! { FieldNat:
    /// CR0 guest/host mask.
    CR0_GUEST_HOST_MASK = 0x6000;
    /// CR4 guest/host mask.
    CR4_GUEST_HOST_MASK = 0x6002;
    /// CR0 read shadow.
    CR0_READ_SHADOW = 0x6004;
    /// CR4 read shadow.
    CR4_READ_SHADOW = 0x6006;
}
// Natural-width read-only.
fields! { FieldNat:
    /// Exit qualification.
    EXIT_QUALIFICATION = 0x6400;
    /// Guest-linear address.
    GUEST_LINEAR_ADDR = 0x640a;
}
// Natural-width guest state.
fields! { FieldNat:
    /// Guest CR0.
    GUEST_CR0 = 0x6800;
    /// Guest CR3.
    GUEST_CR3 = 0x6802;
    /// Guest CR4.
    GUEST_CR4 = 0x6804;
    /// Guest ES base.
    GUEST_ES_BASE = 0x6806;
    /// Guest CS base.
    GUEST_CS_BASE = 0x6808;
    /// Guest SS base.
    GUEST_SS_BASE = 0x680a;
    /// Guest DS base.
    GUEST_DS_BASE = 0x680c;
    /// Guest FS base.
    GUEST_FS_BASE = 0x680e;
    /// Guest GS base.
    GUEST_GS_BASE = 0x6810;
    /// Guest LDTR base.
    GUEST_LDTR_BASE = 0x6812;
    /// Guest TR base.
    GUEST_TR_BASE = 0x6814;
    /// Guest GDTR base.
    GUEST_GDTR_BASE = 0x6816;
    /// Guest IDTR base.
    GUEST_IDTR_BASE = 0x6818;
    /// Guest DR7.
    GUEST_DR7 = 0x681a;
    /// Guest RSP.
    GUEST_RSP = 0x681c;
    /// Guest RIP.
    GUEST_RIP = 0x681e;
    /// Guest RFLAGS.
    GUEST_RFLAGS = 0x6820;
    /// Guest pending debug exceptions.
    GUEST_PENDING_DBG = 0x6822;
    /// Guest IA32_SYSENTER_ESP.
    GUEST_SYSENTER_ESP = 0x6824;
    /// Guest IA32_SYSENTER_EIP.
    GUEST_SYSENTER_EIP = 0x6826;
}
// Natural-width host state.
fields! { FieldNat:
    /// Host CR0.
    HOST_CR0 = 0x6c00;
    /// Host CR3.
    HOST_CR3 = 0x6c02;
    /// Host CR4.
    HOST_CR4 = 0x6c04;
    /// Host FS base.
    HOST_FS_BASE = 0x6c06;
    /// Host GS base.
    HOST_GS_BASE = 0x6c08;
    /// Host TR base.
    HOST_TR_BASE = 0x6c0a;
    /// Host GDTR base.
    HOST_GDTR_BASE = 0x6c0c;
    /// Host IDTR base.
    HOST_IDTR_BASE = 0x6c0e;
    /// Host IA32_SYSENTER_ESP.
    HOST_SYSENTER_ESP = 0x6c10;
    /// Host IA32_SYSENTER_EIP.
    HOST_SYSENTER_EIP = 0x6c12;
    /// Host RSP (written by the entry stub itself).
    HOST_RSP = 0x6c14;
    /// Host RIP (the stub's exit label).
    HOST_RIP = 0x6c16;
}

/// Access to the current VMCS. Reads are masked to the field's width.
pub trait Vmcs {
    /// VMREAD of encoding `enc`.
    fn read_raw(&self, enc: u32) -> Result<u64, VmxFail>;
    /// VMWRITE of encoding `enc`.
    fn write_raw(&mut self, enc: u32, value: u64) -> Result<(), VmxFail>;

    /// Reads field `f`.
    fn read<F: VmcsField>(&self, f: F) -> Result<u64, VmxFail> {
        self.read_raw(f.encoding()).map(|v| v & F::WIDTH.mask())
    }

    /// Writes field `f` (the value is truncated to the field's width).
    fn write<F: VmcsField>(&mut self, f: F, value: u64) -> Result<(), VmxFail> {
        self.write_raw(f.encoding(), value & F::WIDTH.mask())
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A VMCS in a map, for host tests.
    use super::*;
    use std::collections::BTreeMap;

    /// Fields never written read as 0; every access is allowed.
    #[derive(Default, Debug)]
    pub struct FakeVmcs(pub BTreeMap<u32, u64>);

    impl FakeVmcs {
        /// Value of `f` (0 if never written).
        pub fn get<F: VmcsField>(&self, f: F) -> u64 {
            self.0.get(&f.encoding()).copied().unwrap_or(0)
        }
        /// Sets `f`.
        pub fn set<F: VmcsField>(&mut self, f: F, v: u64) {
            self.0.insert(f.encoding(), v);
        }
    }

    impl Vmcs for FakeVmcs {
        fn read_raw(&self, enc: u32) -> Result<u64, VmxFail> {
            Ok(self.0.get(&enc).copied().unwrap_or(0))
        }
        fn write_raw(&mut self, enc: u32, value: u64) -> Result<(), VmxFail> {
            self.0.insert(enc, value);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// `(encoding, width of its Rust type)` for each listed constant.
    macro_rules! list {
        ($($f:ident),* $(,)?) => {
            vec![$((stringify!($f), $f.encoding(), width_of($f))),*]
        };
    }

    fn width_of<F: VmcsField>(_: F) -> Width {
        F::WIDTH
    }

    type Group = (Width, FieldType, Vec<(&'static str, u32, Width)>);

    fn groups() -> Vec<Group> {
        use FieldType::*;
        use Width::*;
        vec![
            (W16, Control, list![VPID]),
            (
                W16,
                Guest,
                list![
                    GUEST_ES_SEL,
                    GUEST_CS_SEL,
                    GUEST_SS_SEL,
                    GUEST_DS_SEL,
                    GUEST_FS_SEL,
                    GUEST_GS_SEL,
                    GUEST_LDTR_SEL,
                    GUEST_TR_SEL
                ],
            ),
            (
                W16,
                Host,
                list![
                    HOST_ES_SEL,
                    HOST_CS_SEL,
                    HOST_SS_SEL,
                    HOST_DS_SEL,
                    HOST_FS_SEL,
                    HOST_GS_SEL,
                    HOST_TR_SEL
                ],
            ),
            (
                W64,
                Control,
                list![
                    IO_BITMAP_A,
                    IO_BITMAP_B,
                    MSR_BITMAP,
                    EXIT_MSR_STORE_ADDR,
                    EXIT_MSR_LOAD_ADDR,
                    ENTRY_MSR_LOAD_ADDR,
                    TSC_OFFSET,
                    EPT_POINTER
                ],
            ),
            (W64, ExitInfo, list![GUEST_PHYSICAL_ADDR]),
            (
                W64,
                Guest,
                list![
                    VMCS_LINK_POINTER,
                    GUEST_IA32_DEBUGCTL,
                    GUEST_IA32_PAT,
                    GUEST_IA32_EFER
                ],
            ),
            (W64, Host, list![HOST_IA32_PAT, HOST_IA32_EFER]),
            (
                W32,
                Control,
                list![
                    PIN_BASED_CTLS,
                    PROC_BASED_CTLS,
                    EXCEPTION_BITMAP,
                    PF_ERROR_CODE_MASK,
                    PF_ERROR_CODE_MATCH,
                    CR3_TARGET_COUNT,
                    EXIT_CTLS,
                    EXIT_MSR_STORE_COUNT,
                    EXIT_MSR_LOAD_COUNT,
                    ENTRY_CTLS,
                    ENTRY_MSR_LOAD_COUNT,
                    ENTRY_INTR_INFO,
                    ENTRY_EXCEPTION_ERROR_CODE,
                    ENTRY_INSTRUCTION_LEN,
                    PROC_BASED_CTLS2
                ],
            ),
            (
                W32,
                ExitInfo,
                list![
                    VM_INSTRUCTION_ERROR,
                    EXIT_REASON,
                    EXIT_INTR_INFO,
                    EXIT_INTR_ERROR_CODE,
                    IDT_VECTORING_INFO,
                    IDT_VECTORING_ERROR_CODE,
                    EXIT_INSTRUCTION_LEN,
                    EXIT_INSTRUCTION_INFO
                ],
            ),
            (
                W32,
                Guest,
                list![
                    GUEST_ES_LIMIT,
                    GUEST_CS_LIMIT,
                    GUEST_SS_LIMIT,
                    GUEST_DS_LIMIT,
                    GUEST_FS_LIMIT,
                    GUEST_GS_LIMIT,
                    GUEST_LDTR_LIMIT,
                    GUEST_TR_LIMIT,
                    GUEST_GDTR_LIMIT,
                    GUEST_IDTR_LIMIT,
                    GUEST_ES_AR,
                    GUEST_CS_AR,
                    GUEST_SS_AR,
                    GUEST_DS_AR,
                    GUEST_FS_AR,
                    GUEST_GS_AR,
                    GUEST_LDTR_AR,
                    GUEST_TR_AR,
                    GUEST_INTERRUPTIBILITY,
                    GUEST_ACTIVITY_STATE,
                    GUEST_SYSENTER_CS
                ],
            ),
            (W32, Host, list![HOST_SYSENTER_CS]),
            (
                Natural,
                Control,
                list![
                    CR0_GUEST_HOST_MASK,
                    CR4_GUEST_HOST_MASK,
                    CR0_READ_SHADOW,
                    CR4_READ_SHADOW
                ],
            ),
            (
                Natural,
                ExitInfo,
                list![EXIT_QUALIFICATION, GUEST_LINEAR_ADDR],
            ),
            (
                Natural,
                Guest,
                list![
                    GUEST_CR0,
                    GUEST_CR3,
                    GUEST_CR4,
                    GUEST_ES_BASE,
                    GUEST_CS_BASE,
                    GUEST_SS_BASE,
                    GUEST_DS_BASE,
                    GUEST_FS_BASE,
                    GUEST_GS_BASE,
                    GUEST_LDTR_BASE,
                    GUEST_TR_BASE,
                    GUEST_GDTR_BASE,
                    GUEST_IDTR_BASE,
                    GUEST_DR7,
                    GUEST_RSP,
                    GUEST_RIP,
                    GUEST_RFLAGS,
                    GUEST_PENDING_DBG,
                    GUEST_SYSENTER_ESP,
                    GUEST_SYSENTER_EIP
                ],
            ),
            (
                Natural,
                Host,
                list![
                    HOST_CR0,
                    HOST_CR3,
                    HOST_CR4,
                    HOST_FS_BASE,
                    HOST_GS_BASE,
                    HOST_TR_BASE,
                    HOST_GDTR_BASE,
                    HOST_IDTR_BASE,
                    HOST_SYSENTER_ESP,
                    HOST_SYSENTER_EIP,
                    HOST_RSP,
                    HOST_RIP
                ],
            ),
        ]
    }

    #[test]
    fn every_constant_follows_the_encoding_rules() {
        let mut all = BTreeSet::new();
        let mut n = 0;
        for (w, t, fields) in groups() {
            let mut indexes = BTreeSet::new();
            for (name, enc, declared) in fields {
                n += 1;
                assert_eq!(declared, w, "{name}: Rust type of the wrong width");
                assert_eq!(width(enc), w, "{name}: width bits 14:13");
                assert_eq!(field_type(enc), t, "{name}: type bits 11:10");
                assert!(!is_high(enc), "{name}: full access (bit 0 clear)");
                assert_eq!(enc & (1 << 12), 0, "{name}: bit 12 reserved");
                assert_eq!(enc >> 15, 0, "{name}: bits 31:15 reserved");
                assert_eq!(
                    enc,
                    ((w as u32) << 13) | ((t as u32) << 10) | (index(enc) << 1),
                    "{name}: rebuilt from width, type and index"
                );
                assert!(indexes.insert(index(enc)), "{name}: index reused");
                assert!(all.insert(enc), "{name}: encoding reused");
            }
        }
        assert_eq!(n, all.len());
        assert!(n >= 100, "{n} constants checked");
    }

    #[test]
    fn high_half_access() {
        for f in [
            EPT_POINTER,
            MSR_BITMAP,
            GUEST_IA32_EFER,
            HOST_IA32_PAT,
            VMCS_LINK_POINTER,
        ] {
            let h = f.high();
            assert!(is_high(h));
            assert_eq!(index(h), index(f.0));
            assert_eq!(width(h), Width::W64);
            assert_eq!(field_type(h), field_type(f.0));
        }
        assert_eq!(EPT_POINTER.high(), 0x201b);
    }

    #[test]
    fn sdm_spot_checks() {
        assert_eq!(GUEST_RIP.0, 0x681e);
        assert_eq!(EXIT_REASON.0, 0x4402);
        assert_eq!(index(GUEST_RIP.0), 15);
        assert_eq!(Width::W16.mask(), 0xffff);
        let mut v = fake::FakeVmcs::default();
        v.write(GUEST_CS_SEL, 0x1_0010).unwrap();
        assert_eq!(v.read(GUEST_CS_SEL).unwrap(), 0x10, "truncated to 16 bits");
    }
}
